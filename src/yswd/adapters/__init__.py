"""The edges: HTTP, persistence, NATS, auth, CLI. They depend on the domain, never the reverse."""
