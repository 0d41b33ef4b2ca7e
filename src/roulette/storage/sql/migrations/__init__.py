"""Alembic migrations of the durable store (found through the package, see ``database.py``)."""
