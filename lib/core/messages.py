"""Every message the call pipeline answers with that is not about one module's fields: one
place for each text, read by the handlers that send it and by the OpenAPI examples that
show it. Module-specific refusals stay beside their rule."""

# ITFlow's own wording, kept to the letter because scripts match on it.
AUTH_FAILED = "Authentication failed. API key is invalid or has expired."
NO_RESOURCE = "No resource (for this client and company) with the specified parameter(s)."
ONLY_METHOD = "Can only send {method} requests to this endpoint."
# ITFlow 2.4.7+ (keys acting as users), also to the letter.
NOT_TIED = "This API key is not tied to a user and is no longer valid. Please recreate it."
BAD_USER = "The user linked to this API key is inactive, archived, or invalid."
NO_PERMISSION = "The user linked to this API key does not have permission for this action."
NO_CLIENT_ACCESS = "The user linked to this API key does not have access to the target client for this write."
UNMAPPED = "This API resource is not mapped to a permission module."

# Ours.
NO_KEY = ("Missing API key: send api_key in the query string or JSON body, "
          "or an X-API-KEY or 'Authorization: Bearer' header.")
UNKNOWN_ENDPOINT = "Unknown endpoint {path}: endpoints are /api/v1/<module>/<function>.php."
BODY_TOO_LARGE = "Request body is larger than the {max_bytes} bytes this server accepts."
BODY_TOO_LARGE_UNSIZED = "Request body is larger than this server accepts."
BODY_NOT_JSON = "Request body is not valid JSON: send a JSON object (Content-Type: application/json)."
BODY_NOT_OBJECT = "Request body must be a JSON object of field names and values."
QUOTA_USED = "This API key has used its {limit} requests for now; try again in {wait} seconds."
TOO_MANY_FAILURES = ("Too many failed authentications from this address or with this key; "
                     "try again in {wait} seconds.")
DATABASE_UNAVAILABLE = ("The database is not reachable or refused the request; "
                        "try again shortly, or ask the administrator to check the server log.")
COMMIT_UNKNOWN = ("The database stopped answering while this write was being saved, so it may or may not "
                  "have been saved; read the record before sending it again (or send it with an Idempotency-Key).")
BATCH_NOT_RUN = "Not run: the database stopped serving at an earlier item of this batch; send this item again."
STORAGE_FULL = ("The database's disk is full, so nothing of this request was written; "
                "try again once the administrator has freed space.")
WRITE_CONFLICTS = ("The database refused this write {attempts} times because of concurrent changes to the "
                   "same data; nothing of it was saved. Send it again in a moment.")
VALUE_REFUSED = "{reason}: nothing was written."
INTERNAL_ERROR = "Internal error (reference {reference}); the server log has the details."
