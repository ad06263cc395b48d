"""Explanation paths in Neo4j: confirm that paths exist, run one for analysts.

Three path shapes (see :mod:`kg.queries_serving`)::

    attribute:      (u)-[:INTERACTED]->(j)-[:HAS_ATTRIBUTE]->(a)<-[:HAS_ATTRIBUTE]-(i)
    collaborative:  (u)-[:INTERACTED]->(j)<-[:INTERACTED]-(v)-[:INTERACTED]->(i)
    profile:        (u)-[:HAS_ATTRIBUTE]->(a)<-[:HAS_ATTRIBUTE]-(i)

The facade (:mod:`kgrec.explain`) searches and ranks paths with the model's
embeddings; ``kg`` confirms the winners with their ``PATH_*`` query, each anchored on
its nodes' unique ids, so a check costs a few index lookups.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import neo4j
from neo4j.exceptions import DriverError, Neo4jError

from kg import queries_serving as qe
from kg.connection import graph_error
from kgrec.errors import GraphError

__all__ = ["existing_paths", "run_path"]

_KIND = {qe.PATH_ATTRIBUTE: "attribute", qe.PATH_COLLABORATIVE: "collaborative",
         qe.PATH_PROFILE: "profile"}


def _known(cypher: str) -> str:
    """The library constant equal to ``cypher`` (only those are ever run)."""
    for q in _KIND:
        if q == cypher:
            return q
    raise GraphError("only the kg.queries_serving PATH_* queries can be run")


def existing_paths(driver: neo4j.Driver, paths: Sequence[tuple[str, dict[str, Any]]],
                   database: str = "neo4j") -> list[bool]:
    """For each ``(PATH_* query, parameters)``, whether Neo4j holds that path.

    One round trip for the batch (:data:`kg.queries_serving.PATHS_EXIST`); every
    node of a path is anchored by its unique id.

    Raises:
        GraphError: a query that is not a ``PATH_*`` constant, or Neo4j failed.
    """
    if not paths:
        return []
    checks = [{**p, "kind": _KIND[_known(c)]} for c, p in paths]
    try:
        record = driver.execute_query(qe.PATHS_EXIST, {"checks": checks}, database_=database,
                                      routing_=neo4j.RoutingControl.READ).records[0]
    except (Neo4jError, DriverError) as e:
        raise graph_error("confirming explanation paths", e, driver) from e
    return [bool(f) for f in record["found"]]


def run_path(driver: neo4j.Driver, cypher: str, parameters: dict[str, object],
             database: str = "neo4j") -> int:
    """Run a ``PATH_*`` query and return the number of paths it matched (tests, checks).

    ``cypher`` must be one of the :mod:`kg.queries_serving` ``PATH_*`` constants.

    Raises:
        GraphError: ``cypher`` is not one of them, or Neo4j failed.
    """
    query = _known(cypher)
    try:
        records = driver.execute_query(query, parameters, database_=database,
                                       routing_=neo4j.RoutingControl.READ).records
    except (Neo4jError, DriverError) as e:
        raise graph_error("running an explanation path", e, driver) from e
    return len(records)
