"""The HTTP edge: authentication, CORS, the caller's address, the OpenAPI document and the
stream page. Calls services and the domain; never adapters (``app.py`` routes to these)."""
