"""The call pipeline: endpoints and the Call they get, routing, the envelope and its typed
errors and messages, generic CRUD over module definitions, value parsers, filters, retries."""
