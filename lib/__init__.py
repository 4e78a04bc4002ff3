"""The server's machinery, in floors that import only downwards: cli.py (the command) →
web/ (HTTP edge) → events/ (change feed, webhooks) → modules/ (definitions) → access/
(keys, roles, scope) → core/ (the call pipeline) → db/ (the database) → itflow/ (ITFlow's
own rules). README.md, "Layout", says more."""
