"""``roulette lab``: the whole scaling stack on one machine, faults on demand, reliability figures.

The lab starts real processes (``redis-server`` ×6 as a Redis Cluster, PostgreSQL or a database
in the machine's, ``roulette cluster`` nodes, ``roulette lb run``, Prometheus, Alertmanager),
records them in a JSON state file, and finds them again for ``status``, ``chaos`` and ``down``.
"""
