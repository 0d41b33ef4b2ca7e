"""The composition root: a node's services, its gateway and HTTP server, their background work."""
