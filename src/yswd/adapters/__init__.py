"""The edges: HTTP, persistence, NATS, auth, mail, backups. They depend on the domain,
never the reverse; they are handed what the composition root built (``container.py``)
and never import it."""
