"""Events: every committed change to the served tables, whoever wrote it (triggers capture
it in the writer's own transaction), read as a change feed and sent to webhook subscribers."""
