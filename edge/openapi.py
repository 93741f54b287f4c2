"""The service's OpenAPI 3.1 document (``GET /openapi.json``), written by hand.

Hand-written rather than generated: starlette has no schema generator without extra packages,
and the document is a contract the tests check against real answers (tests/edge/test_service_api.py),
so it should read as one. Only a small JSON-Schema subset is used (type, properties, required,
additionalProperties, items, minItems, maxItems, enum, oneOf, $ref).
"""

from __future__ import annotations

from edgepack import __version__ as EDGEPACK_VERSION


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str, headers: dict | None = None) -> dict:
    out = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        out["headers"] = headers
    return out


RETRY_AFTER = {"Retry-After": {"description": "Seconds after which a retry may be admitted.",
                               "schema": {"type": "integer"}}}
MODEL_HEADERS = {name: {"description": f"The served model's {what} (once the model is loaded).", "schema": {"type": "string"}}
                 for name, what in (("X-Edgepack-Model", "name"), ("X-Edgepack-Version", "version"),
                                    ("X-Edgepack-Precision", "precision"))}


def _errors(limits, *, inference: bool) -> dict:
    err = _ref("Error")
    out = {"503": _json(err, "The model is not loaded or failed its self-test (see /readyz).", RETRY_AFTER)}
    if inference:
        out.update({
            "400": _json(err, "The body is not UTF-8 JSON, or is nested too deeply."),
            "404": _json(err, "This model's task is served on the other inference endpoint (named in the message)."),
            "408": _json(err, f"The body did not arrive within {limits.body_timeout_s:g} s; the connection is closed."),
            "413": _json(err, f"Body over {limits.max_body_bytes} bytes or more than {limits.max_texts} texts."),
            "422": _json(err, "Valid JSON of the wrong shape."),
            "429": _json(err, "Overloaded: the texts pending for the model would not fit the latency budget, "
                              "or too many connections are open. Retry after Retry-After seconds.", RETRY_AFTER),
        })
    return out


def openapi_document(limits) -> dict:
    text_request = {
        "oneOf": [
            {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"],
             "additionalProperties": False},
            {"type": "object", "required": ["texts"], "additionalProperties": False,
             "properties": {"texts": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                                      "maxItems": limits.max_texts}}},
        ]
    }
    head = {"model": {"type": "string"}, "version": {"type": "string"}, "precision": {"type": "string"}}
    schemas = {
        "Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"],
                  "additionalProperties": False},
        "TextRequest": text_request,
        "Classification": {
            "type": "object", "required": ["label", "score", "probabilities"], "additionalProperties": False,
            "properties": {"label": {"type": "string"}, "score": {"type": "number"},
                           "probabilities": {"type": "object", "additionalProperties": {"type": "number"}}}},
        "Embedding": {"type": "object", "required": ["embedding"], "additionalProperties": False,
                      "properties": {"embedding": {"type": "array", "items": {"type": "number"}}}},
        "PredictResponse": {
            "type": "object", "required": ["model", "version", "precision", "results"], "additionalProperties": False,
            "properties": dict(head, results={"type": "array", "items": _ref("Classification")})},
        "EmbedResponse": {
            "type": "object", "required": ["model", "version", "precision", "dim", "results"],
            "additionalProperties": False,
            "properties": dict(head, dim={"type": "integer"}, results={"type": "array", "items": _ref("Embedding")})},
        "Health": {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"],
                   "additionalProperties": False},
        "Ready": {"type": "object", "required": ["ok", "state"],
                  "properties": {"ok": {"type": "boolean"}, "state": {"enum": ["loading", "ready", "failed"]},
                                 "error": {"type": "string"}, "precision": {"type": "string"},
                                 "task": {"type": "string"}, "capacity": {"type": "integer"},
                                 "admission": {"type": "object"}}},
    }

    def inference(summary: str, response: str) -> dict:
        return {"post": {
            "summary": summary,
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("TextRequest")}}},
            "responses": {"200": _json(_ref(response), "One result per text, in order.", MODEL_HEADERS),
                          **_errors(limits, inference=True)},
        }}

    return {
        "openapi": "3.1.0",
        "info": {"title": "edgepack on-device service", "version": EDGEPACK_VERSION},
        "paths": {
            "/v1/predict": inference("Classify texts (text-classification models).", "PredictResponse"),
            "/v1/embed": inference("Embed texts (feature-extraction models).", "EmbedResponse"),
            "/healthz": {"get": {"summary": "The process answers.",
                                 "responses": {"200": _json(_ref("Health"), "Alive.")}}},
            "/readyz": {"get": {"summary": "The model passed its self-test on the golden vectors.", "responses": {
                "200": _json(_ref("Ready"), "Ready to serve; includes the admission figures."),
                "503": _json(_ref("Ready"), "Loading, or the self-test failed (see error)."),
            }}},
            "/metrics": {"get": {"summary": "Prometheus text exposition.", "responses": {
                "200": {"description": "Counters, gauges and histograms with # HELP and # TYPE.",
                        "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/openapi.json": {"get": {"summary": "This document.", "responses": {
                "200": {"description": "OpenAPI 3.1.", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
        },
        "components": {"schemas": schemas},
    }
