"""The composition root: a node's services, its gateway and HTTP server, and their background work."""
