"""Candidate explanation paths between a user and an item, read from Neo4j.

Three path shapes (see :mod:`kg.queries_explain`)::

    attribute:      (u)-[:INTERACTED]->(j)-[:HAS_ATTRIBUTE]->(a)<-[:HAS_ATTRIBUTE]-(i)
    collaborative:  (u)-[:INTERACTED]->(j)<-[:INTERACTED]-(v)-[:INTERACTED]->(i)
    profile:        (u)-[:HAS_ATTRIBUTE]->(a)<-[:HAS_ATTRIBUTE]-(i)

``kg`` only finds the candidates (plain dataclasses); ranking them by the model's
embeddings happens in the facade (:mod:`kgrec.explain`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import neo4j
from neo4j.exceptions import DriverError, Neo4jError

from kg import queries_explain as qe
from kgrec.errors import GraphError

__all__ = ["PathCandidate", "PathShape", "fetch_path_candidates", "run_path"]

PathShape = Literal["attribute", "collaborative", "profile"]


@dataclass(frozen=True)
class PathCandidate:
    """One user→item path found in the graph.

    Attributes:
        shape: ``attribute``, ``collaborative`` or ``profile``.
        via_item, via_title: the user's item ``j`` (attribute/collaborative paths).
        via_user: the other user ``v`` (collaborative paths).
        attribute, kind, value: the shared attribute ``a`` (attribute/profile paths).
    """

    shape: PathShape
    via_item: str | None = None
    via_title: str = ""
    via_user: str | None = None
    attribute: str | None = None
    kind: str = ""
    value: str = ""


def fetch_path_candidates(driver: neo4j.Driver, user_id: str, item_id: str, *,
                          limit: int = 2_000, database: str = "neo4j") -> list[PathCandidate]:
    """All (up to ``limit`` per shape) paths of the three shapes from user to item.

    Raises:
        GraphError: Neo4j failed.
    """
    params = {"user": user_id, "item": item_id, "limit": int(limit)}
    out: list[PathCandidate] = []
    try:
        with driver.session(database=database,
                            default_access_mode=neo4j.READ_ACCESS) as session:
            for r in session.run(qe.ATTRIBUTE_PATH_CANDIDATES, params):
                out.append(PathCandidate("attribute", via_item=r["via"], via_title=r["via_title"],
                                         attribute=r["attribute"], kind=r["kind"] or "",
                                         value=r["value"] or ""))
            for r in session.run(qe.COLLABORATIVE_PATH_CANDIDATES, params):
                out.append(PathCandidate("collaborative", via_item=r["via"],
                                         via_title=r["via_title"], via_user=r["via_user"]))
            for r in session.run(qe.PROFILE_PATH_CANDIDATES, params):
                out.append(PathCandidate("profile", attribute=r["attribute"],
                                         kind=r["kind"] or "", value=r["value"] or ""))
    except (Neo4jError, DriverError) as e:
        raise GraphError(f"reading explanation paths of user {user_id!r} and item "
                         f"{item_id!r} failed: {e}") from e
    return out


def run_path(driver: neo4j.Driver, cypher: str, parameters: dict[str, object],
             database: str = "neo4j") -> int:
    """Run a ``PATH_*`` query and return the number of paths it matched (tests, checks).

    ``cypher`` must be one of the :mod:`kg.queries_explain` ``PATH_*`` constants.

    Raises:
        GraphError: ``cypher`` is not one of them, or Neo4j failed.
    """
    allowed = {qe.PATH_ATTRIBUTE, qe.PATH_COLLABORATIVE, qe.PATH_PROFILE}
    if cypher not in allowed:
        raise GraphError("run_path runs only the kg.queries_explain PATH_* queries")
    query = next(q for q in allowed if q == cypher)
    try:
        records = driver.execute_query(query, parameters, database_=database,
                                       routing_=neo4j.RoutingControl.READ).records
    except (Neo4jError, DriverError) as e:
        raise GraphError(f"running an explanation path failed: {e}") from e
    return len(records)
