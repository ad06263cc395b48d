"""ASGI middleware of the HTTP service: metrics and the access log, and the body cap.

Both are plain ASGI (no ``BaseHTTPMiddleware``: it costs a task per request).

The access log (logger ``kgrec.access``) writes one JSON line per request: time, method,
route template, status, milliseconds and the worker's pid; never a path, a query
string, a body, a key or a client address, so no user id reaches the log.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kgrec.service.metrics import Metrics

__all__ = ["BodyLimit", "Observe", "access_logger"]

access_logger = logging.getLogger("kgrec.access")


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class Observe:
    """Count and time every HTTP request by route template and status; log it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.pid = os.getpid()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500
        done = False

        def record() -> None:
            nonlocal done
            if done:
                return
            done = True
            seconds = time.perf_counter() - t0
            route = _route(scope)
            self.metrics.observe(scope["method"], route, status, seconds)
            if access_logger.isEnabledFor(logging.INFO):
                access_logger.info(json.dumps({
                    "ts": round(time.time(), 3), "method": scope["method"], "route": route,
                    "status": status, "ms": round(seconds * 1000, 2), "pid": self.pid}))

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                record()  # before the last bytes leave: a client that got them sees it counted
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            record()


def _too_large(limit: int) -> str:
    return f"request body larger than {limit} bytes (KGREC_MAX_BODY_BYTES)"


class _TooLarge(HTTPException):
    """Raised from ``receive``: FastAPI re-raises an ``HTTPException`` met while reading a
    body, and the app's handler answers it."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large(limit))


async def _reply_413(send: Send, limit: int) -> None:
    body = json.dumps({"error": "RequestError", "field": "body",
                       "message": _too_large(limit)}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Answer 413 to a request body over ``limit`` bytes: at once when its
    ``Content-Length`` says so, else as soon as the streamed body passes the limit."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_large = int(value) > self.limit
                except ValueError:
                    too_large = False
                if too_large:
                    await _reply_413(send, self.limit)
                    return
        seen = 0
        started = False

        async def receiving() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge(self.limit)
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receiving, sending)
        except _TooLarge:
            if not started:
                await _reply_413(send, self.limit)


def json_line(**fields: Any) -> str:
    """One JSON log line (for the service's own start-up messages)."""
    return json.dumps(fields, default=str)
