"""The JSON API (``/api/v1``): routers, dependencies, error handlers."""
