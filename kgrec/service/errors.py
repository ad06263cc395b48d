"""Errors of the HTTP service, mapped from the one tree (:mod:`kgrec.errors`) in one place.

Every error body is ``{"error": TYPE, "message": ONE LINE, "field": NAME or null}``
(``errors``: one entry per problem for a malformed request):

================================  ======  ==============================================
``RequestError``, ``RecordError``  422    the field and what was expected
malformed body or parameters       422    FastAPI's validation, in the same shape
``NotFoundError``                  404    unknown user, item or model
``GraphError`` (Neo4j down)        503    with ``Retry-After``; reads from the model go on
``EncoderError``, ``ResourceError`` 503   the text encoder or memory is short
other ``KGRecError``               500
================================  ======  ==============================================
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ingest.validation import shown
from kgrec.errors import (
    EncoderError,
    GraphError,
    KGRecError,
    NotFoundError,
    RecordError,
    RequestError,
    ResourceError,
)

__all__ = ["install_error_handlers", "status_of"]

logger = logging.getLogger(__name__)

#: seconds a client should wait before retrying a 503
RETRY_AFTER_S = 5


def status_of(error: KGRecError) -> int:
    """The HTTP status of an error of the tree."""
    if isinstance(error, RequestError | RecordError):
        return 422
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, GraphError | EncoderError | ResourceError):
        return 503
    return 500


def _body(error: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": error, "message": message, "field": field, **extra}


def _field(loc: Sequence[Any]) -> tuple[str, str]:
    """``("query", "k")`` -> ``("query parameter", "k")``; body paths as ``items[0].id``."""
    where = {"query": "query parameter", "path": "path parameter", "body": "body field",
             "header": "header"}.get(str(loc[0]) if loc else "", "field")
    name = ""
    for part in loc[1:]:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return where, name or "body"


async def _kgrec_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, KGRecError)
    status = status_of(exc)
    headers = {}
    if isinstance(exc, GraphError):
        request.app.state.metrics.neo4j_errors += 1
        headers["Retry-After"] = str(RETRY_AFTER_S)
        logger.warning("Neo4j failed, answering 503: %s", exc)
    elif status == 500:
        logger.error("request failed: %s: %s", type(exc).__name__, exc)
    field = exc.field if isinstance(exc, RecordError) else None
    return JSONResponse(_body(type(exc).__name__, str(exc), field), status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for e in exc.errors():
        where, name = _field(e.get("loc", ()))
        message = f"{where} '{name}': {e.get('msg', 'invalid')}"
        if e.get("type") not in ("missing", "extra_forbidden") and "input" in e:
            message += f", got {shown(e['input'])}"
        elif e.get("type") == "extra_forbidden":
            message = f"{where} '{name}' is not accepted here"
        problems.append({"field": name, "message": message})
    first = problems[0] if problems else {"field": None, "message": "invalid request"}
    return JSONResponse(_body("RequestError", "; ".join(p["message"] for p in problems[:5]),
                              first["field"], errors=problems), 422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    kind = {401: "Unauthorized", 403: "Forbidden", 404: "NotFoundError",
            405: "MethodNotAllowed", 413: "RequestError"}.get(exc.status_code, "HTTPError")
    field = "body" if exc.status_code == 413 else None
    return JSONResponse(_body(kind, str(exc.detail), field), exc.status_code,
                        headers=dict(exc.headers or {}))


def install_error_handlers(app: FastAPI) -> None:
    """Map the error tree, validation errors and HTTP errors to JSON bodies."""
    app.add_exception_handler(KGRecError, _kgrec_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
