"""The HTTP edge: FastAPI routers, server-rendered pages and their templates."""
