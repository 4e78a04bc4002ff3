"""The OpenAPI 3.1 document, generated from the route table and the module definitions (so it
cannot drift from what the server serves), and the routes that publish it:

    GET /api/v1/openapi.json   the document (no key needed)
    GET /api/v1/docs           a Swagger UI page to read it and try requests (lib/docs_page.html)

`itflow-api openapi` prints the same document.
"""
import base64
import functools
import hashlib
import json
import os
import re

from ..core import envelope, filters, messages
from ..core.crud import Read, RecordOperation, Update
from ..core.envelope import RouteNotFound, ServerError
from ..core.values import PARSERS
from ..itflow import schema
from . import idempotency

OPENAPI_PATH = "/api/v1/openapi.json"
DOCS_PATH = "/api/v1/docs"
_ROW_VALUE = {"type": ["string", "null"]}

# Field kinds (fields.PARSERS) as JSON Schema. ITFlow reads ids and flags through PHP's
# intval, so numeric strings are as good as numbers; a schema says what a client should send.
_KIND_SCHEMA = {
    "int": {"type": "integer", "minimum": -2147483648, "maximum": 2147483647},
    "flag": {"type": "integer", "enum": [0, 1], "description": "1 or 0 (true/false accepted)"},
    "text": {"type": "string", "description": "HTML tags are stripped, surrounding space trimmed"},
    "html": {"type": "string", "description": "stored as given (HTML kept)"},
    "phone": {"type": "string", "description": "only the digits are kept"},
    "decimal": {"type": "number"},
    "date": {"type": ["string", "null"], "description": "YYYY-MM-DD (also YYYY/MM/DD, YYYYMMDD, 0000-00-00); '' is NULL",
             "examples": ["2024-01-31"]},
    "datetime": {"type": ["string", "null"], "description": "YYYY-MM-DD HH:MM:SS; '' is NULL",
                 "examples": ["2024-01-31 13:05:00"]},
    "time": {"type": "string", "pattern": r"^\d{1,3}:[0-5]\d(:[0-5]\d)?$", "examples": ["01:30:00"]},
    "list": {"type": "array", "items": {"type": "object"}},
    "ids": {"type": ["array", "string"], "items": {"type": "integer"},
            "description": "a JSON list of ids, or ids separated by commas"},
    "lines": {"type": ["array", "string"], "items": {"type": "string"},
              "description": "a JSON list, or one text with one per line; HTML tags are stripped"},
}

# Only on a write that stored something other than as sent (docs/contract.md section 2).
_NOTES = {"type": "string", "description": "only when something was stored other than as sent: a list's first "
          "element, a number read as 0, a reference left empty", "examples": [
              "Created; asset_location_id 1 is not a location of client 3 and was left empty."]}

# Real answers, made by the same functions the server answers with.
_READ_EXAMPLE_ROW = {"example_id": "12", "example_name": "Acme", "example_archived_at": None}
EXAMPLES = {
    "read": envelope.read_ok([_READ_EXAMPLE_ROW]),
    "created": envelope.created(12),
    "changed": envelope.changed(1),
    "nothing_found": envelope.failure(messages.NO_RESOURCE),
    "refused": envelope.failure("Missing required field(s): client_name."),
    "bad_filter": envelope.failure("Parameter 'filter': unknown column 'nope' for clients (its columns: ...)."),
    "bad_json": envelope.failure(messages.BODY_NOT_JSON),
    "no_key": envelope.failure(messages.NO_KEY),
    "bad_key": envelope.failure(messages.AUTH_FAILED),
    "forbidden": envelope.failure(messages.NO_PERMISSION),
    "unknown_endpoint": envelope.failure(messages.UNKNOWN_ENDPOINT.format(path="/api/v1/nope/read.php")),
    "wrong_method_get": envelope.failure(messages.ONLY_METHOD.format(method="GET")),
    "wrong_method_post": envelope.failure(messages.ONLY_METHOD.format(method="POST")),
    "too_large": envelope.failure(messages.BODY_TOO_LARGE.format(max_bytes=1048576)),
    "rate_limited": envelope.failure(messages.TOO_MANY_FAILURES.format(wait=42)),
    "unavailable": envelope.failure(messages.DATABASE_UNAVAILABLE),
}

_DESCRIPTION = """An ITFlow-compatible v1 API: ITFlow's scripts and integrations work unchanged.

**Keys.** Send the API key in one of these ways: the `api_key` query parameter, an `api_key`
member of the JSON body (POST; the body wins over the query), an `X-API-KEY` header, or
`Authorization: Bearer <key>`. A key is for all clients, or scoped to one: a scoped key only
ever sees and writes its own client's records.

**Status rule.** Once the key is accepted, every refusal (a missing or malformed field, no such
record, a bad filter) is **HTTP 200** with `success` "False" and a message, as ITFlow answers,
so that scripts built on PowerShell's `Invoke-RestMethod` or `raise_for_status` can branch on it.
Other statuses: 400 a body that is not JSON, 401 a missing, wrong or expired key, 403 a role or
client refusal (keys acting as users, ITFlow 2.4.7+), 404 an unknown endpoint, 405 the wrong
method, 413 a body over the size limit, 429 rate limited, 503 the database unreachable or a
write that still lost to concurrent ones after its retries (both with Retry-After).

**Filtering and sorting** (every module read; ITFlow ignores these parameters):
`filter=asset_name=like=*srv*;(asset_status==Deployed,asset_make=in=(Dell,HP))` with `==`, `!=`,
`<`, `<=`, `>`, `>=`, `=like=` (`*` matches anything), `=in=(a,b)`, `=out=(a,b)`, `=isnull=true`,
`;` for AND, `,` for OR and parentheses, over the module's own columns; `filter[column]=value`
for `column==value`; `sort=col,-col` (also `sort=col:desc`, `sort=col&order=desc`);
`fields=col,col` to return only those columns.

**Opt-in extras** (without them every answer is ITFlow's): `POST /api/v1/batch.php` runs many
operations in one request; an `Idempotency-Key` header on any POST makes a retry safe (the first
answer comes back again, `Idempotent-Replayed: true`; 409 while it still runs, 422 with another
body); reads answer an `ETag` (by id also `Last-Modified`) and `If-None-Match` gets 304;
update, delete, archive and unarchive honour `If-Match` / `If-Unmodified-Since` (412 with the
current record); list reads page with `cursor=` (next page in `X-Next-Cursor`) and count with
`total=1` (`X-Total-Count`).

**Credentials** need the key's decrypt password: `api_key_decrypt_password` in the body or
query, or an `X-API-Decrypt-Password` header.
"""


def _const(value, description=None):
    """A fixed value; typed generators make it a literal, and a union of answers is told apart by it."""
    found = {"type": "string" if isinstance(value, str) else "integer", "const": value}
    if description:
        found["description"] = description
    return found


_ANY_ROW = {"type": "object", "additionalProperties": True,
            "description": "One row, its values as the endpoint answers them."}


def _envelope_schemas():
    """One schema per answer shape (no shape is a union of others): `success` is the string "True" or
    "False" and `count` an integer, except a create's, which is the string "1", as ITFlow answers."""
    row = {"type": "object", "additionalProperties": _ROW_VALUE,
           "description": "One record: its columns in table order, every value a string or null."}
    return {
        "Row": row,
        "ReadOk": {"type": "object", "required": ["success", "count", "data"], "properties": {
            "success": _const("True"), "count": {"type": "integer", "minimum": 1},
            "data": {"type": "array", "items": _ANY_ROW}}},
        "Created": {"type": "object", "required": ["success", "count", "data"], "properties": {
            "success": _const("True"), "count": _const("1", "the string \"1\", as ITFlow"),
            "data": {"type": "array", "items": {"type": "object", "required": ["insert_id"],
                                                "properties": {"insert_id": {"type": "integer"}}}},
            "message": _NOTES}},
        "Changed": {"type": "object", "required": ["success", "count"], "properties": {
            "success": _const("True"), "count": {"type": "integer", "minimum": 0}, "message": _NOTES}},
        "Failure": {"type": "object", "required": ["success", "message", "count", "data"], "properties": {
            "success": _const("False"), "message": {"type": "string"}, "count": _const(0),
            "data": {"type": "array", "maxItems": 0, "items": _ANY_ROW, "description": "always empty"}}},
        "PreconditionFailed": {
            "type": "object", "required": ["success", "message", "count", "data"],
            "description": "If-Match or If-Unmodified-Since did not hold: nothing was written; `data` holds "
                           "the record as it is now (its ETag is in the ETag header).",
            "properties": {"success": _const("False"), "message": {"type": "string"},
                           "count": {"type": "integer", "minimum": 0},
                           "data": {"type": "array", "maxItems": 1, "items": {"$ref": "#/components/schemas/Row"}}}},
        **_batch_schemas(),
    }


# --- batches (POST /api/v1/batch.php) ----------------------------------------------------------

BATCH_PATH = "/api/v1/batch.php"
_BATCH_REQUEST_EXAMPLE = {"api_key": "<your key>", "atomic": False, "operations": [
    {"module": "assets", "function": "create", "body": {"asset_name": "PC-01", "client_id": 3}},
    {"module": "assets", "function": "update", "ids": [4, 5, 6], "body": {"asset_status": "Retired"}},
    {"module": "assets", "function": "delete", "ids": [7, 8]},
    {"module": "clients", "function": "read", "body": {"client_id": 3}}]}


def _batch_item(index, function, body, status=200, **extra):
    return {"index": index, "module": "assets", "function": function, "status": status, **body, **extra}


_BATCH_ANSWER_EXAMPLE = {"success": "False", "count": 2, "data": [
    _batch_item(0, "create", envelope.created(12)),
    _batch_item(1, "delete", envelope.failure(messages.NO_RESOURCE))],
    "message": "1 of 2 items succeeded; item(s) 1 did not (see each item's message); the others went through."}
_BATCH_ATOMIC_EXAMPLE = {"success": "False", "count": 2, "data": [
    _batch_item(0, "create", envelope.created(12), rolled_back=True),
    _batch_item(1, "delete", envelope.failure(messages.NO_RESOURCE))],
    "message": f"Item 1 (assets/delete) did not succeed: {messages.NO_RESOURCE} Nothing was written, as the batch "
               "is atomic; items 0 to 0 were rolled back."}


def _batch_schemas():
    success = {"type": "string", "enum": ["True", "False"]}
    return {
        "BatchOperation": {
            "type": "object", "required": ["module", "function"], "additionalProperties": False,
            "description": "One call of an endpoint /api/v1/<module>/<function>.php, GET or POST.",
            "properties": {
                "module": {"type": "string", "examples": ["assets"]},
                "function": {"type": "string", "examples": ["update"]},
                "body": {"type": "object", "additionalProperties": True,
                         "description": "the endpoint's JSON body; for a GET endpoint, its query parameters"},
                "ids": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1,
                        "description": "update, delete, archive, unarchive: one operation per id, the id put in "
                                       "the body under the module's id column (e.g. asset_id)"}}},
        "BatchRequest": {
            "type": "object", "required": ["operations"],
            "properties": {
                "api_key": {"type": "string", "description": "the API key (or a header: X-API-KEY, Bearer)"},
                "api_key_decrypt_password": {"type": "string", "description": "credentials: the key's decrypt "
                                             "password, for every operation (or X-API-Decrypt-Password)"},
                "atomic": {"type": "boolean", "default": False,
                           "description": "true: all operations in one transaction; the first that does not "
                                          "succeed undoes the ones before it and the rest are not run"},
                "operations": {"type": "array", "minItems": 1,
                               "items": {"$ref": "#/components/schemas/BatchOperation"}}}},
        "BatchItem": {
            "type": "object", "required": ["index", "module", "function", "status", "success"],
            "description": "The operation's own answer (the envelope the single call answers) with its place "
                           "in the batch and the HTTP status the single call would have had.",
            "properties": {
                "index": {"type": "integer", "minimum": 0, "description": "its place, `ids` expanded"},
                "module": {"type": "string"}, "function": {"type": "string"},
                "status": {"type": "integer", "description": "200 for a result or a refusal, 403 a role refusal, "
                           "404 no such endpoint, 503 the database failed for this item"},
                "success": success, "message": {"type": "string"},
                "count": {"type": ["integer", "string"], "description": "as the single call: the string \"1\" "
                          "for a create, else an integer"},
                "data": {"type": "array", "items": _ANY_ROW},
                "rolled_back": {"type": "boolean", "description": "atomic batches: it succeeded, but was undone "
                                "because a later operation did not"}}},
        "BatchAnswer": {
            "type": "object", "required": ["success", "message", "count", "data"],
            "properties": {
                "success": {**success, "description": "\"True\" when every operation succeeded"},
                "message": {"type": "string", "description": "a summary; names the operations that did not succeed"},
                "count": {"type": "integer", "minimum": 0, "description": "the number of items"},
                "data": {"type": "array", "items": {"$ref": "#/components/schemas/BatchItem"}}}},
    }


def _batch_operation(max_batch, max_batch_bytes):
    ok = {"description": "Always HTTP 200 once the key is accepted: every item carries its own status and "
                         "envelope; `success` is \"True\" only when every item succeeded.",
          "headers": {idempotency.REPLAYED: _REPLAYED},
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BatchAnswer"}, "examples": {
              "one_failed": {"value": _BATCH_ANSWER_EXAMPLE},
              "atomic_rolled_back": {"value": _BATCH_ATOMIC_EXAMPLE}}}}}
    too_large = _failure_response(f"The body is over {max_batch_bytes} bytes.", "too_large")
    too_large["content"]["application/json"]["examples"]["too_large"]["value"] = envelope.failure(
        messages.BODY_TOO_LARGE.format(max_bytes=max_batch_bytes))
    malformed = _failure_response(
        f"Nothing ran: the body is not a JSON object; `operations` is missing, empty or malformed; more than "
        f"{max_batch} items (`ids` expanded); a batch inside a batch; or a malformed Idempotency-Key.",
        "bad_json", "batch_empty", "bad_idempotency_key")
    responses = {"200": ok, **_error_refs("post"), "400": malformed, "413": too_large}
    responses.update(_idempotency_responses())
    return {"tags": ["batch"], "operationId": "batch", "summary": "Run many operations in one request",
            "description": "Each operation is any endpoint `/api/v1/<module>/<function>.php`, checked, scoped "
                           "and logged as the single call would be; the key is checked once and each operation "
                           "counts once against the rate limit. `ids` runs an update, delete, archive or unarchive "
                           f"once per id. At most {max_batch} operations. A batch inside a batch is refused.",
            "security": _SECURITY,
            "parameters": [_IDEMPOTENCY_KEY],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/BatchRequest"},
                "examples": {"mixed": {"value": _BATCH_REQUEST_EXAMPLE}}}}},
            "responses": dict(sorted(responses.items()))}


# --- opt-in request headers: idempotency, conditional requests, cursor paging ------------------

_SECURITY: list[dict[str, list[str]]] = [{"ApiKeyQuery": []}, {"ApiKeyHeader": []}, {"Bearer": []}]
_ETAG_EXAMPLE = '"3f5a9c0e1b7d2a64"'
_HTTP_DATE = "Wed, 31 Jan 2024 13:05:00 GMT"
_IDEMPOTENCY_KEY = {
    "name": idempotency.HEADER, "in": "header", "required": False,
    "description": f"Opt-in: 1-{idempotency.MAX_LENGTH} printable ASCII characters (a UUID is a good choice), "
                   "new for each intended write. The first answer is kept for 24 hours for this API key; a "
                   "repeat with the same body gets that answer again (with `Idempotent-Replayed: true`) instead "
                   "of writing twice; the same key with another body or endpoint is 422; a repeat while the "
                   "first still runs is 409. A request refused before writing frees the key.",
    "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.MAX_LENGTH, "pattern": "^[ -~]*[!-~][ -~]*$",
               "examples": ["9b2f6c1e-4d3a-4a8e-b0c2-7e5d1f3a9c44"]}}
_REPLAYED = {"description": "\"true\" when this is the stored answer of an earlier request with the same "
                            "Idempotency-Key (nothing was written again)",
             "schema": {"type": "string", "enum": ["true"]}}
_IF_NONE_MATCH = {
    "name": "If-None-Match", "in": "header", "required": False,
    "description": "Opt-in: the ETag of an earlier answer (or several, comma-separated); unchanged → 304 with "
                   "no body",
    "schema": {"type": "string", "examples": [_ETAG_EXAMPLE]}}
_IF_MATCH = {
    "name": "If-Match", "in": "header", "required": False,
    "description": "Opt-in: write only if the record's ETag (from a read by id) is still this one, or `*` "
                   "(it exists); otherwise 412 with the current record",
    "schema": {"type": "string", "examples": [_ETAG_EXAMPLE]}}
_IF_UNMODIFIED_SINCE = {
    "name": "If-Unmodified-Since", "in": "header", "required": False,
    "description": "Opt-in: write only if the record was not changed after this HTTP date; otherwise 412",
    "schema": {"type": "string", "examples": [_HTTP_DATE]}}
_CONDITIONAL_FUNCTIONS = ("update", "delete", "archive", "unarchive")

EXAMPLES.update({
    "idempotency_running": envelope.failure(idempotency.STILL_RUNNING),
    "idempotency_other_body": envelope.failure(idempotency.OTHER_REQUEST),
    "bad_idempotency_key": envelope.failure(idempotency.MALFORMED),
    "bad_etag": envelope.failure("Header If-None-Match is empty: send the ETag of an earlier answer, or leave the "
                                 "header out."),
    "batch_empty": envelope.failure("'operations' is empty: send at least one operation."),
    "precondition_failed": {**envelope.failure(f"The record has changed since the ETag you sent (If-Match): its "
                                               f"current ETag is {_ETAG_EXAMPLE}. Nothing was changed; read it "
                                               "again (its current state is in data), then retry."),
                            "count": 1, "data": [_READ_EXAMPLE_ROW]},
    "bad_cursor": envelope.failure("Parameter 'cursor': made for another sort, filter, look-up or API key than "
                                   "this request's: send the same sort=, order=, filter= and look-up parameters "
                                   "on every page (limit= may change). Start again with cursor= (empty) for the "
                                   "first page."),
})


def _idempotency_responses():
    conflict = _failure_response("An earlier request with this Idempotency-Key is still running.",
                                 "idempotency_running")
    conflict["headers"] = {"Retry-After": {"schema": {"type": "string"}, "description": "seconds to wait",
                                           "example": "1"}}
    return {"409": conflict,
            "422": _failure_response("This Idempotency-Key was used before with a different body.",
                                     "idempotency_other_body")}


def _not_modified():
    return {"description": "Not Modified: the If-None-Match ETag still matches; no body.",
            "headers": {"ETag": {"schema": {"type": "string"}, "example": _ETAG_EXAMPLE}}}


def _precondition_failed():
    return {"description": "If-Match or If-Unmodified-Since did not hold: nothing was written. The ETag header "
                           "and `data` hold the record as it is now.",
            "headers": {"ETag": {"schema": {"type": "string"}, "description": "the record's current ETag",
                                 "example": _ETAG_EXAMPLE},
                        "Last-Modified": {"schema": {"type": "string"}, "example": _HTTP_DATE,
                                          "description": "when the record last changed, where it says"}},
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PreconditionFailed"},
                                             "examples": {"changed": {"value": EXAMPLES["precondition_failed"]}}}}}


def _cursor_parameters():
    return [
        _string_param("cursor", "Opt-in keyset paging: empty (`cursor=`) starts at the first page, a value from "
                      "the X-Next-Cursor header continues; rows added or removed meanwhile never make a page skip "
                      "or repeat a row. Follows `sort` (and the id column); `limit` sets the page size; not "
                      "with `offset`.", examples=["", "eyJrIjpbIjEyIl19"]),
        {"name": "total", "in": "query", "required": False,
         "description": "Opt-in: 1 adds the X-Total-Count header (rows matching the scope and filter, ignoring "
                        "paging)", "schema": {"type": "integer", "minimum": 0, "maximum": 1}},
    ]


def _read_headers(module):
    """Response headers of a read: ETag always; paging and dates on module reads."""
    headers = {"ETag": {"description": "strong (\"…\") on a read by id, a hash of the stored row; weak "
                                       "(W/\"…\") on a list, a hash of the answer. Send it back in If-None-Match "
                                       "(reads) or If-Match (writes).",
                        "schema": {"type": "string"}, "example": _ETAG_EXAMPLE}}
    if module is None:
        return headers
    columns = [c.name for c in schema.columns(module.table)]
    stamps = [c for c in columns if c.endswith("_updated_at")] + [c for c in columns if c.endswith("_created_at")]
    if stamps:
        headers["Last-Modified"] = {"description": "read by id: when the record last changed (" + " or ".join(stamps)
                                    + ")", "schema": {"type": "string"}, "example": _HTTP_DATE}
    headers["X-Next-Cursor"] = {"description": "cursor mode: the `cursor` of the next page (absent on the last)",
                                "schema": {"type": "string"}, "example": "eyJrIjpbIjYyIl19"}
    headers["X-Total-Count"] = {"description": "with `total=1`: the rows matching, ignoring paging",
                                "schema": {"type": "integer"}, "example": 1234}
    return headers


def _failure_response(description, *example_names):
    return {"description": description, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Failure"},
        "examples": {name: {"value": EXAMPLES[name]} for name in example_names}}}}


def _shared_responses(max_body_bytes):
    too_large = dict(EXAMPLES["too_large"])
    too_large["message"] = messages.BODY_TOO_LARGE.format(max_bytes=max_body_bytes)
    responses = {
        "BadRequest": _failure_response("The body is not a JSON object.", "bad_json"),
        "Unauthorized": _failure_response("No key, or a wrong or expired one.", "no_key", "bad_key"),
        "Forbidden": _failure_response("The key's user may not do this (ITFlow 2.4.7+ keys acting as users).",
                                       "forbidden"),
        "NotFound": _failure_response("No such endpoint.", "unknown_endpoint"),
        "MethodNotAllowed": _failure_response("Wrong HTTP method; the Allow header names the right one.",
                                              "wrong_method_get", "wrong_method_post"),
        "PayloadTooLarge": _failure_response(f"The body is over {max_body_bytes} bytes.", "too_large"),
        "TooManyRequests": _failure_response("Rate limited.", "rate_limited"),
        "InternalError": _failure_response("An unexpected error; the server log has the reference.", "refused"),
        "Unavailable": _failure_response("The database is not reachable.", "unavailable"),
    }
    responses["PayloadTooLarge"]["content"]["application/json"]["examples"]["too_large"]["value"] = too_large
    responses["MethodNotAllowed"]["headers"] = {"Allow": {"schema": {"type": "string"}}}
    responses["TooManyRequests"]["headers"] = {"Retry-After": {"schema": {"type": "string"},
                                                               "description": "seconds to wait"}}
    return responses


def _error_refs(method):
    refs = {"401": "Unauthorized", "403": "Forbidden", "404": "NotFound", "405": "MethodNotAllowed",
            "429": "TooManyRequests", "500": "InternalError", "503": "Unavailable"}
    refs["400"] = "BadRequest"
    if method == "post":
        refs["413"] = "PayloadTooLarge"
    return {status: {"$ref": f"#/components/responses/{name}"} for status, name in sorted(refs.items())}


def _ok_response(success_schema, success_example, refusal_examples):
    examples = {success_example: {"value": EXAMPLES[success_example]}}
    examples.update({name: {"value": EXAMPLES[name]} for name in refusal_examples})
    return {"description": "Done (`success` \"True\"), or refused (`success` \"False\" with a message): "
                           "after authentication every refusal is HTTP 200.",
            "content": {"application/json": {
                "schema": {"oneOf": [{"$ref": success_schema}, {"$ref": "#/components/schemas/Failure"}]},
                "examples": examples}}}


def _kind_schema(kind, column=None):
    found = dict(_KIND_SCHEMA.get(kind if kind in PARSERS else "text", _KIND_SCHEMA["text"]))
    if column is not None and column.max_length and found.get("type") == "string":
        found["maxLength"] = column.max_length
    return found


def _action_fields(endpoint):
    """(name, JSON schema, required) of each parameter an action declares in `body_fields`."""
    declared = getattr(endpoint, "body_fields", ())
    if isinstance(declared, dict):
        for name, (value_schema, description, needed) in declared.items():
            yield name, {**value_schema, "description": description}, needed
        return
    for f in declared:
        prop = _kind_schema(f.kind, f.column_spec if f.stored else None)
        prop["description"] = "; ".join(p for p in (f.description, prop.get("description")) if p)
        yield f.name, prop, f.required


def _int_param(name, where, description, **limits):
    return {"name": name, "in": where, "required": False, "description": description,
            "schema": {"type": "integer", **limits}}


def _string_param(name, description, where="query", **extra):
    return {"name": name, "in": where, "required": False, "description": description,
            "schema": {"type": "string", **extra}}


def _paging(max_limit):
    return [_int_param("limit", "query", f"rows per page (default 50, at most {max_limit}); read with PHP's "
                       "intval as ITFlow reads it, so an empty, non-numeric or 0 limit finds nothing",
                       minimum=0, maximum=max_limit),
            _int_param("offset", "query", "rows to skip (default 0)", minimum=0, maximum=2147483647)]


def _named_in(text):
    """Parameter names written as `name` (or `name=1`) in a definition's one-line notes."""
    return list(dict.fromkeys(re.findall(r"`(\w+)(?:=[^`]*)?`", text or "")))


def _note_on(name, notes):
    """The part of a one-line note that is about `name` ("`month` (1-12)" → "month (1-12)")."""
    parts = [p.strip().replace("`", "") for p in re.split(r"[;,](?![^(]*\))", notes) if f"`{name}" in p]
    return parts[0] if parts else notes


def _decrypt_parameters(method):
    header = _string_param("X-API-Decrypt-Password", "the key's decrypt password (or api_key_decrypt_password)",
                           where="header")
    if method == "get":
        return [header, _string_param("api_key_decrypt_password", "the key's decrypt password")]
    return [header]


def _needs_decrypt(module):
    return module is not None and bool(module.secret_columns)


def _read_parameters(module, max_limit):
    params = []
    for lookup in module.lookups:
        note = "; ".join(p for p in ("look-up", lookup.description,
                                     "returns that one record" if lookup.single else "",
                                     "at most one row" if lookup.first_only else "") if p)
        column = schema.column_types().get(lookup.target)
        params.append({"name": lookup.param, "in": "query", "required": False, "description": note,
                       "schema": _kind_schema(lookup.kind, column)})
    for name in _named_in(module.read_notes):
        if name not in {p["name"] for p in params}:
            params.append(_string_param(name, _note_on(name, module.read_notes)))
    if module.client_column:
        params.append(_int_param("client_id", "query", "an all-clients key: only this client's records "
                                 "(a scoped key always reads its own client)", minimum=0, maximum=2147483647))
    params += _paging(max_limit)
    own = list(filters.filterable_columns(module))
    params += [
        _string_param("filter", "RSQL/FIQL filter over this module's own columns (see the description at the "
                      "top); also `filter[column]=value` for column==value. Columns: " + ", ".join(own),
                      examples=[f"{own[0]}>0"]),
        _string_param("sort", "comma-separated columns, '-' (or ':desc') for descending", examples=[f"-{own[0]}"]),
        {"name": "order", "in": "query", "required": False, "description": "asc or desc: the direction of "
         "sort columns that do not give their own", "schema": {"type": "string", "enum": ["asc", "desc"]}},
        _string_param("fields", "comma-separated columns to return (default: all). Columns: "
                      + ", ".join(filters.output_columns(module))),
    ]
    return params


def _row_schema(module):
    properties = {name: _ROW_VALUE for name in filters.output_columns(module)}
    if _needs_decrypt(module):  # ITFlow answers false for a field it cannot decrypt
        for name in module.secret_columns:
            properties[name] = {"type": ["string", "boolean", "null"]}
    return {"type": "object", "properties": properties, "additionalProperties": _ROW_VALUE}


def _body(module, endpoint):
    """(JSON body schema, required names) of a POST endpoint."""
    properties = {"api_key": {"type": "string", "description": "the API key (or a header: X-API-KEY, Bearer)"}}
    required = []
    if isinstance(endpoint, RecordOperation):
        id_name = getattr(endpoint, "id_param", module.id_column)  # a task action names a task_id
        properties[id_name] = {**_KIND_SCHEMA["int"], "description": "the record"}
        required.append(id_name)
        if isinstance(endpoint, Update):
            properties.update(_field_properties(module, skip=module.id_column))
        # What an action on a record takes besides its id (tickets/assign's assignee,
        # documents/move's folder_id): lib/core/definitions.py Field objects, or name ->
        # (JSON schema, description, required) where no field kind fits (a list of ids).
        for name, prop, needed in _action_fields(endpoint):
            properties[name] = prop
            if needed and name not in required:
                required.append(name)
    else:  # a create
        properties.update(_field_properties(module))
        required += [f.name for f in module.fields if f.required]
    if module.client_column and module.client_column != module.id_column and "client_id" not in properties:
        properties["client_id"] = {**_KIND_SCHEMA["int"], "description": "the client (all-clients keys; "
                                   "a scoped key always writes its own client)"}
    if _needs_decrypt(module):
        properties["api_key_decrypt_password"] = {"type": "string", "description": "the key's decrypt password"}
    return {"type": "object", "properties": properties, "required": required}


def _field_properties(module, skip=None):
    properties = {}
    for f in module.fields:
        if f.name == skip:
            continue
        column = schema.column_types().get(f.target) if f.stored else None
        prop = _kind_schema(f.kind, column)
        description = "; ".join(p for p in (f.description, prop.get("description")) if p)
        if description:
            prop["description"] = description
        properties[f.name] = prop
    return properties


def _function_body(notes):
    """The JSON body of a hand-written POST endpoint: the parameters its notes name."""
    properties = {"api_key": {"type": "string", "description": "the API key (or a header: X-API-KEY, Bearer)"}}
    properties.update({name: {"description": _note_on(name, notes)} for name in _named_in(notes)})
    return {"type": "object", "properties": properties, "additionalProperties": True}


def _function_answer(function):
    """The success schema of a hand-written POST endpoint, by the function it is."""
    if function == "create":
        return "#/components/schemas/Created", "created", ["refused"]
    if function == "test":
        return "#/components/schemas/ReadOk", "read", ["refused"]
    return "#/components/schemas/Changed", "changed", ["nothing_found"]


def _operation(path, endpoint, max_limit):
    module_name, function = path.split("/")[3], path.split("/")[4][:-len(".php")]
    module = getattr(endpoint, "module", None)
    method = endpoint.method.lower()
    operation = {"tags": [module_name], "operationId": f"{module_name}_{function}",
                 "summary": getattr(endpoint, "summary", "") or f"{function} {module_name}",
                 "security": _SECURITY}
    notes = getattr(endpoint, "parameters", "")  # hand-written endpoints name their parameters
    if module is not None and module.description:
        operation["description"] = module.description
        if method == "get" and module.read_notes:
            operation["description"] += f" Read: {module.read_notes}."
    elif notes:
        operation["description"] = notes
    parameters, extra = [], {}
    if method == "get":
        if isinstance(endpoint, Read):
            parameters = _read_parameters(module, max_limit)
            parameters += [p for p in _cursor_parameters() if p["name"] not in {q["name"] for q in parameters}]
            success = f"#/components/schemas/Read_{module.name}"
        else:
            parameters = [_string_param(n, _note_on(n, notes)) for n in _named_in(notes) if n not in ("limit", "offset")]
            parameters += _paging(max_limit)
            success = "#/components/schemas/ReadOk"
        ok = _ok_response(success, "read", ["nothing_found", "bad_filter"])
        ok["headers"] = _read_headers(module if isinstance(endpoint, Read) else None)
        parameters.append(_IF_NONE_MATCH)
        extra["304"] = _not_modified()
        if isinstance(endpoint, Read):
            extra["400"] = _failure_response("A malformed If-None-Match, or a `cursor` that is not one of this "
                                             "read or comes with `offset`.", "bad_cursor", "bad_etag")
        else:
            extra["400"] = _failure_response("A malformed If-None-Match.", "bad_etag")
    else:
        body = _body(module, endpoint) if module is not None else _function_body(notes)
        operation["requestBody"] = {"required": False, "content": {"application/json": {"schema": body}}}
        if isinstance(endpoint, RecordOperation):
            ok = _ok_response("#/components/schemas/Changed", "changed", ["nothing_found"])
        elif module is None:
            ok = _ok_response(*_function_answer(function))
        else:
            ok = _ok_response("#/components/schemas/Created", "created", ["refused"])
        ok["headers"] = {idempotency.REPLAYED: _REPLAYED}
        parameters.append(_IDEMPOTENCY_KEY)
        extra.update(_idempotency_responses())
        extra["400"] = _failure_response("The body is not a JSON object, or a malformed Idempotency-Key.",
                                         "bad_json", "bad_idempotency_key")
        if isinstance(endpoint, RecordOperation) and function in _CONDITIONAL_FUNCTIONS:
            parameters += [_IF_MATCH, _IF_UNMODIFIED_SINCE]
            extra["412"] = _precondition_failed()
            extra["400"]["description"] = ("The body is not a JSON object, or a malformed Idempotency-Key, If-Match "
                                           "or If-Unmodified-Since.")
    if _needs_decrypt(module):
        parameters += _decrypt_parameters(method)
    operation["parameters"] = parameters
    operation["responses"] = dict(sorted({"200": ok, **_error_refs(method), **extra}.items()))
    return method, operation, module


def _read_schema(module):
    return {"type": "object", "required": ["success", "count", "data"], "properties": {
        "success": _const("True"), "count": {"type": "integer", "minimum": 1},
        "data": {"type": "array", "items": {"$ref": f"#/components/schemas/Row_{module.name}"}}}}


def document(routes, max_limit=1000, max_body_bytes=1048576, version="1", max_batch=1000,
             max_batch_bytes=16 * 1024 * 1024):
    """The OpenAPI 3.1 document (a dict) for this route table (and POST /api/v1/batch.php)."""
    paths, schemas = {}, _envelope_schemas()
    tags = {"batch": {"name": "batch", "description": "Many operations in one request"}}
    for path, endpoint in sorted(routes.items()):
        if path.count("/") != 4:  # batch.php, documented below
            continue
        method, operation, module = _operation(path, endpoint, max_limit)
        paths[path] = {method: operation}
        name = path.split("/")[3]
        tags.setdefault(name, {"name": name, "description": getattr(module, "description", "") or name})
        if method == "get" and isinstance(endpoint, Read):
            schemas[f"Row_{module.name}"] = _row_schema(module)
            schemas[f"Read_{module.name}"] = _read_schema(module)
    paths[BATCH_PATH] = {"post": _batch_operation(max_batch, max_batch_bytes)}
    return {
        "openapi": "3.1.0",
        "info": {"title": "ITFlow-compatible API", "version": version, "description": _DESCRIPTION,
                 "license": {"name": "GPL-3.0-only", "identifier": "GPL-3.0-only"}},
        "servers": [{"url": "/"}],
        "tags": sorted(tags.values(), key=lambda t: t["name"]),
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "responses": _shared_responses(max_body_bytes),
            "securitySchemes": {
                "ApiKeyQuery": {"type": "apiKey", "in": "query", "name": "api_key",
                                "description": "the key in the query string (POST: also `api_key` in the JSON body)"},
                "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-KEY"},
                "Bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <key>"},
            },
        },
    }


def encoded(routes, settings):
    from ... import __version__
    body = document(routes, settings.max_limit, settings.max_body_bytes, __version__,
                    getattr(settings, "max_batch", 1000), getattr(settings, "max_batch_bytes", 16 * 1024 * 1024))
    return json.dumps(body, indent=1).encode("utf-8")


class DocumentResource:
    """GET /api/v1/openapi.json: built once, when first asked for (about 1 MB that a worker
    which is never asked does not hold)."""

    def __init__(self, routes, settings):
        self._routes, self._settings = routes, settings

    @functools.cached_property
    def body(self):  # two threads asking at once may both build it: the same bytes
        return encoded(self._routes, self._settings)

    def on_get(self, req, resp):
        resp.content_type = "application/json"
        resp.data = self.body


# --- the docs page ------------------------------------------------------------------------
# Swagger UI's files come from the swagger-ui-bundle-v2 package (Apache-2.0), served by this
# server itself: many installs have no internet, and no CDN is ever asked for anything.

_PAGE_FILE = os.path.join(os.path.dirname(__file__), "docs_page.html")
_ASSETS = {"swagger-ui-bundle.js": "application/javascript", "swagger-ui.css": "text/css",
           "favicon-32x32.png": "image/png", "favicon-16x16.png": "image/png"}


def _swagger_ui_dir():
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        return None
    return swagger_ui_path


class DocsPage:
    """GET /api/v1/docs (the page) and /api/v1/docs/<asset>."""

    def __init__(self):
        with open(_PAGE_FILE, encoding="utf-8") as handle:
            self.page = handle.read().encode("utf-8")
        script = re.search(r"<script>(.*?)</script>", self.page.decode("utf-8"), re.S).group(1)
        digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
        # Only this server's own files, and only the page's own inline script.
        self.policy = (f"default-src 'self'; script-src 'self' 'sha256-{digest}'; "
                       "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
                       "frame-ancestors 'none'")

    @functools.cached_property
    def assets(self):
        """Swagger UI's files (about 1.7 MB), read when the page is first asked for."""
        folder = _swagger_ui_dir()
        found = {}
        for name, content_type in _ASSETS.items():
            path = os.path.join(folder, name) if folder else None
            if path and os.path.exists(path):
                with open(path, "rb") as handle:
                    found[name] = (handle.read(), content_type)
        return found

    def on_get(self, req, resp):
        if "swagger-ui-bundle.js" not in self.assets:
            raise ServerError("The docs page needs the swagger-ui-bundle-v2 package: pip install swagger-ui-bundle-v2")
        resp.content_type = "text/html; charset=utf-8"
        resp.set_header("Content-Security-Policy", self.policy)
        resp.data = self.page

    def on_get_asset(self, req, resp, name):
        if name not in self.assets:
            raise RouteNotFound(f"Unknown endpoint {req.path}: endpoints are /api/v1/<module>/<function>.php.")
        resp.data, resp.content_type = self.assets[name]
        resp.cache_control = ["public", "max-age=86400"]


def add_routes(app, routes, service):
    """The document and the page (no key needed: they show what exists, never any data)."""
    app.add_route(OPENAPI_PATH, DocumentResource(routes, service.settings))
    page = DocsPage()
    app.add_route(DOCS_PATH, page)
    app.add_route(DOCS_PATH + "/{name}", page, suffix="asset")
