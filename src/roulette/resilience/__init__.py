"""Protecting the node from inside: circuit breakers around Redis and SQL, and load shedding."""
