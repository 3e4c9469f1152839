"""Server-rendered pages, one module per area: thin handlers that parse a form, call
one service and render a template."""
