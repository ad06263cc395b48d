"""Explanation paths in Neo4j: confirm that paths exist, run one for analysts.

Three path shapes (see :mod:`kg.queries_explain`)::

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

from kg import queries_explain as qe
from kgrec.errors import GraphError

__all__ = ["existing_paths", "run_path"]

_PATH_QUERIES = (qe.PATH_ATTRIBUTE, qe.PATH_COLLABORATIVE, qe.PATH_PROFILE)


def _known(cypher: str) -> str:
    """The library constant equal to ``cypher`` (only those are ever run)."""
    for q in _PATH_QUERIES:
        if q == cypher:
            return q
    raise GraphError("only the kg.queries_explain PATH_* queries can be run")


def existing_paths(driver: neo4j.Driver, paths: Sequence[tuple[str, dict[str, Any]]],
                   database: str = "neo4j") -> list[bool]:
    """For each ``(PATH_* query, parameters)``, whether Neo4j holds that path.

    One read session for the batch; every node of a path is anchored by its id.

    Raises:
        GraphError: a query that is not a ``PATH_*`` constant, or Neo4j failed.
    """
    queries = [(_known(c), p) for c, p in paths]
    try:
        with driver.session(database=database,
                            default_access_mode=neo4j.READ_ACCESS) as session:
            return [session.run(q, p).peek() is not None for q, p in queries]
    except (Neo4jError, DriverError) as e:
        raise GraphError(f"confirming explanation paths failed: {e}") from e


def run_path(driver: neo4j.Driver, cypher: str, parameters: dict[str, object],
             database: str = "neo4j") -> int:
    """Run a ``PATH_*`` query and return the number of paths it matched (tests, checks).

    ``cypher`` must be one of the :mod:`kg.queries_explain` ``PATH_*`` constants.

    Raises:
        GraphError: ``cypher`` is not one of them, or Neo4j failed.
    """
    query = _known(cypher)
    try:
        records = driver.execute_query(query, parameters, database_=database,
                                       routing_=neo4j.RoutingControl.READ).records
    except (Neo4jError, DriverError) as e:
        raise GraphError(f"running an explanation path failed: {e}") from e
    return len(records)
