"""The HTTP edge: the falcon app, request parameters, edge middleware and access log, rate
limits, health, the OpenAPI document and docs page, the config file, and the HTTP servers."""
