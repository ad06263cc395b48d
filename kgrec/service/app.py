"""The kgrec HTTP service: an ASGI app over one :class:`kgrec.Recommender` per worker.

Why FastAPI (over Litestar or a bare Starlette app): pydantic is already a dependency
and FastAPI turns the request/response models into validation *and* the OpenAPI schema
(``/docs``, ``/openapi.json``) with no hand-written spec; dependencies express auth
scopes per router; its ``lifespan`` owns the recommender's start and close; it is the
most widely known Python API framework, so a web team can read and extend the routes.
It runs on uvicorn (``kgrec serve``), whose ``--workers`` gives one process, one
recommender, per core.

Layers of a request, outermost first: :class:`~kgrec.service.middleware.Observe`
(metrics, access log), :class:`~kgrec.service.middleware.BodyLimit` (413), CORS (only
with ``KGREC_CORS_ORIGINS``), FastAPI's routing and validation, the key check of the
route's scope (:mod:`kgrec.service.auth`), the route, the facade. Errors of the tree
map to status codes in :mod:`kgrec.service.errors`. The web page at ``/``
(:mod:`kgrec.service.page`) is static files that call the same routes.

Consistency across workers and replicas: each worker's recommender refreshes in the
background every ``refresh_seconds`` (reading what any process wrote, and switching to a
newly trained model when ``models/latest`` moves: a request sees the old state or the
new one, never a mix), and folds its own writes in before answering them.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from kgrec.service import page, routes_ops, routes_read, routes_write
from kgrec.service.auth import KeyRing
from kgrec.service.errors import install_error_handlers
from kgrec.service.metrics import Metrics
from kgrec.service.middleware import BodyLimit, Observe, access_logger
from kgrec.settings import Settings

if TYPE_CHECKING:
    from kgrec.recommender import Recommender

__all__ = ["OPTIONS_ENV", "ServeOptions", "create_app", "create_app_from_env"]

logger = logging.getLogger(__name__)

#: how ``kgrec serve`` hands its options to the uvicorn workers it starts
OPTIONS_ENV = "KGREC_SERVE_OPTIONS"


@dataclass(frozen=True)
class ServeOptions:
    """How the service runs (beyond :class:`kgrec.settings.Settings`).

    Attributes:
        open_access: with no API key configured, serve without keys (``kgrec serve``
            allows it on a loopback host, or with ``--insecure``); else refuse to start.
        refresh_seconds: background refresh of the recommender (0 = only ``POST
            /v1/refresh``).
        warm_up: pay the first-call costs (encoder, Neo4j statements) at start.
        access_log: write the JSON access log (logger ``kgrec.access``).
    """

    open_access: bool = False
    refresh_seconds: float = 1.0
    warm_up: bool = True
    access_log: bool = True

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls, text: str | None) -> ServeOptions:
        return cls(**json.loads(text)) if text else cls()


def _open_recommender(settings: Settings, options: ServeOptions) -> Recommender:
    from kgrec.recommender import Recommender

    rec = Recommender(settings, refresh_seconds=options.refresh_seconds)
    if options.warm_up:
        rec.warm_up()
    return rec


def create_app(settings: Settings | None = None, recommender: Recommender | None = None,
               options: ServeOptions | None = None) -> FastAPI:
    """The ASGI app.

    Args:
        settings: configuration (default :meth:`Settings.from_env`): API keys, body cap,
            CORS origins, and everything the recommender needs.
        recommender: serve this recommender (the caller closes it); default: open one at
            start-up (following ``models/latest``) and close it at shutdown.
        options: :class:`ServeOptions`.

    Raises:
        ConfigError: malformed keys, or no key without ``options.open_access``.

    Example:
        >>> import uvicorn                                          # doctest: +SKIP
        >>> uvicorn.run(create_app(), host="127.0.0.1", port=8000)  # doctest: +SKIP
    """
    from importlib.metadata import version

    settings = settings or Settings.from_env()
    options = options or ServeOptions()
    keys = KeyRing.from_settings(settings.service, options.open_access)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rec = recommender if recommender is not None else _open_recommender(settings, options)
        app.state.rec = rec
        logger.info("serving model %s, %d items", rec.model.version, len(rec.state.catalog))
        try:
            yield
        finally:
            if recommender is None:
                rec.close()

    app = FastAPI(title="kgrec", version=version("kgrec"), lifespan=lifespan,
                  description="Knowledge-graph recommendations: users, items, events, "
                              "explanations. Send `Authorization: Bearer KEY` (scopes "
                              "`read`, `write`); `/healthz`, `/readyz` need none.")
    app.state.keys = keys
    app.state.metrics = Metrics(lambda: getattr(app.state, "rec", None))
    install_error_handlers(app)
    app.include_router(routes_ops.router)
    app.include_router(routes_read.router)
    app.include_router(routes_write.router)
    app.include_router(page.router)  # the web page at / (its own Content-Security-Policy)
    if settings.service.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.service.cors_origins),
                           allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"], max_age=600)
    app.add_middleware(BodyLimit, limit=settings.service.max_body_bytes)
    app.add_middleware(Observe, metrics=app.state.metrics)
    if keys.open:
        logger.warning("no API key configured: every request is let through")
    return app


def configure_access_log(enabled: bool) -> None:
    """JSON lines on stderr for ``kgrec.access`` (its own handler: no level/name prefix)."""
    access_logger.propagate = False
    access_logger.handlers.clear()
    access_logger.setLevel(logging.INFO if enabled else logging.WARNING)
    if enabled:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_logger.addHandler(handler)


def create_app_from_env() -> FastAPI:
    """The app of a ``kgrec serve`` worker (a uvicorn factory): settings from the
    environment, options from ``KGREC_SERVE_OPTIONS`` (set by ``kgrec serve``)."""
    if not logging.getLogger().handlers:  # a worker process: nothing configured logging
        logging.basicConfig(level=logging.WARNING,
                            format="%(levelname)s %(name)s: %(message)s")
        logging.getLogger("kgrec").setLevel(logging.INFO)
    options = ServeOptions.from_env(os.environ.get(OPTIONS_ENV))
    configure_access_log(options.access_log)
    return create_app(Settings.from_env(), None, options)
