"""Open a Neo4j driver from :class:`~kgrec.settings.Settings`.

``NEO4J_URI`` (``settings.neo4j.uri``) selects an external server (production,
docker-compose). Without it, the local server of ``settings.home`` is used
(:class:`kg.server.LocalNeo4j`).
"""

from __future__ import annotations

import logging

import neo4j
from neo4j.exceptions import AuthError, DriverError, Neo4jError, ServiceUnavailable

from kg.server import LocalNeo4j
from kgrec.errors import ServerError
from kgrec.settings import Settings

__all__ = ["connect"]

logger = logging.getLogger(__name__)


def connect(settings: Settings, *, start: bool = False) -> neo4j.Driver:
    """Return a connected driver; the caller closes it (``with connect(s) as driver:``).

    Args:
        settings: ``settings.neo4j.uri``/``user``/``password`` when ``uri`` is set,
            else the local server's stored credentials.
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
    try:
        # notifications off at the driver: "index already exists" and "property key does
        # not exist" notices are ~700 characters each and say nothing to a user
        driver = neo4j.GraphDatabase.driver(
            uri, auth=(user, password),
            notifications_min_severity=neo4j.NotificationMinimumSeverity.OFF)
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
    logger.debug("connected to %s as %s", uri, user)
    return driver
