"""The JSON shapes of the API, one module per resource, in the full-stack FastAPI
template's families: ``XPublic`` is what a route sends, ``XCreate`` (and the like)
what it accepts.

Every response model forbids undeclared keys, so a key the archive adds is a loud
failure in the tests rather than a silent omission, and the OpenAPI document shows
exactly what clients get. Keys that only some answers carry are declared with a
default, and their routes serialise with ``response_model_exclude_unset``.
Timestamps are the archive's own ISO-8601 strings, sent as they are.
May import ``archive``; never the routers.
"""
