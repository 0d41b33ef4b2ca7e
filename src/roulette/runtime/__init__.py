"""The composition root: a node's services, gateway, HTTP server and background work."""
