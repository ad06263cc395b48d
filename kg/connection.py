"""Open a Neo4j driver from :class:`~kgrec.settings.Settings`.

``NEO4J_URI`` (``settings.neo4j.uri``) selects an external server (production,
docker-compose). Without it, the local server of ``settings.home`` is used
(:class:`kg.server.LocalNeo4j`).

Every driver :func:`connect` returns gives up on an unreachable server after
``settings.neo4j.timeout`` seconds (``KGREC_NEO4J_TIMEOUT``, default 5): connecting,
waiting for a pooled connection and retrying a failed transaction are all bounded by it
(a retried transaction may take up to about 1.5 times that, the driver's back-off being
exponential). :func:`graph_error` turns what the driver then raises into one
``GraphError`` that says "Neo4j at URI is unreachable".
"""

from __future__ import annotations

import logging
import weakref

import neo4j
from neo4j.exceptions import (
    AuthError,
    DriverError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
)

from kg.server import LocalNeo4j
from kgrec.errors import GraphError, ServerError
from kgrec.settings import Settings, register_secret

__all__ = ["connect", "graph_error"]

logger = logging.getLogger(__name__)

#: the URI each driver of :func:`connect` was opened on (for error messages)
_URIS: weakref.WeakKeyDictionary[neo4j.Driver, str] = weakref.WeakKeyDictionary()


def connect(settings: Settings, *, start: bool = False) -> neo4j.Driver:
    """Return a connected driver; the caller closes it (``with connect(s) as driver:``).

    Args:
        settings: ``settings.neo4j.uri``/``user``/``password`` when ``uri`` is set,
            else the local server's stored credentials; ``settings.neo4j.timeout``
            bounds every wait of the driver.
        start: start the local server when it is not running (ignored with ``uri``).

    Returns:
        A driver whose connectivity and credentials were verified.

    Raises:
        ServerError: the server is unreachable, the login fails, or the local
            server is not running and ``start`` is False.
    """
    cfg = settings.neo4j
    if cfg.uri is not None:
        uri, user = cfg.uri, cfg.user
        password = cfg.password.get_secret_value() if cfg.password is not None else ""
    else:
        server = LocalNeo4j(settings)
        if start:
            server.start()
        elif not server.status().running:
            raise ServerError(f"the local Neo4j under {server.home} is not running: "
                              "run 'kgrec db start' (or set NEO4J_URI)")
        creds = server.credentials()
        uri, user, password = creds.uri, creds.user, creds.password.get_secret_value()
    register_secret(password)
    try:
        # notifications off at the driver: "index already exists" and "property key does
        # not exist" notices are ~700 characters each and say nothing to a user
        driver = neo4j.GraphDatabase.driver(
            uri, auth=(user, password),
            notifications_min_severity=neo4j.NotificationMinimumSeverity.OFF,
            connection_timeout=cfg.timeout, connection_acquisition_timeout=cfg.timeout,
            max_transaction_retry_time=cfg.timeout)
    except (DriverError, ValueError) as e:
        raise ServerError(f"cannot create a Neo4j driver for {uri!r}: {e}") from e
    try:
        driver.verify_connectivity()
        driver.verify_authentication()
    except AuthError as e:
        driver.close()
        raise ServerError(f"Neo4j at {uri} rejected the login of user {user!r}: "
                          f"{e.message}") from e
    except (ServiceUnavailable, Neo4jError, DriverError, OSError) as e:
        driver.close()
        raise ServerError(f"Neo4j at {uri} is unreachable: {e}") from e
    _URIS[driver] = uri
    logger.debug("connected to %s as %s", uri, user)
    return driver


def graph_error(what: str, error: Exception, driver: neo4j.Driver | None = None) -> GraphError:
    """One :class:`~kgrec.errors.GraphError` for a failed driver call.

    Args:
        what: the action, e.g. ``"counting nodes"``; the message reads ``"<what> failed: ..."``.
        error: what the driver raised (``Neo4jError`` or ``DriverError``).
        driver: the driver used, to name its server.

    Returns:
        The error to raise (``raise graph_error(...) from e``); a lost server reads
        ``"<what> failed: Neo4j at bolt://... is unreachable (...); ..."``.
    """
    if isinstance(error, ServiceUnavailable | SessionExpired):
        where = _URIS.get(driver, "its address") if driver is not None else "its address"
        reason = str(error).splitlines()[-1].strip() if str(error).strip() else "no answer"
        return GraphError(f"{what} failed: Neo4j at {where} is unreachable ({reason}); "
                          "check that it runs ('kgrec db status') or NEO4J_URI")
    message = error.message if isinstance(error, Neo4jError) and error.message else str(error)
    return GraphError(f"{what} failed: {message}")
