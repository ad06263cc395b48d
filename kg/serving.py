"""Catalog state the serving facade needs: stored item content, hashes, embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import neo4j
import numpy as np
from neo4j.exceptions import DriverError, Neo4jError

from kg import queries_explain as qe
from kgrec.errors import GraphError, WriteError

__all__ = ["StoredItem", "items_updated_since", "read_item_embeddings", "read_items",
           "set_content_hashes"]


@dataclass(frozen=True)
class StoredItem:
    """An item as stored in Neo4j (``updated_at`` in Unix ms; ``users`` interacted)."""

    id: str
    title: str
    description: str
    attribute_ids: tuple[str, ...]
    content_hash: str | None
    has_embedding: bool
    version: str | None
    updated_at: int | None
    users: tuple[str, ...]


def read_items(driver: neo4j.Driver, ids: Sequence[str],
               database: str = "neo4j") -> dict[str, StoredItem]:
    """The stored state of the items among ``ids`` that exist.

    Raises:
        GraphError: Neo4j failed.
    """
    try:
        # contentHash is unknown to a fresh graph: silence "unrecognized property" notices
        with driver.session(database=database, default_access_mode=neo4j.READ_ACCESS,
                            notifications_disabled_classifications=["UNRECOGNIZED"]) as session:
            records = list(session.run(qe.ITEM_STATE, ids=list(ids)))
    except (Neo4jError, DriverError) as e:
        raise GraphError(f"reading {len(ids)} items failed: {e}") from e
    return {r["id"]: StoredItem(r["id"], r["title"], r["description"],
                                tuple(sorted(r["attributes"])), r["content_hash"],
                                bool(r["has_embedding"]), r["version"], r["updated_at"],
                                tuple(sorted(r["users"])))
            for r in records}


def set_content_hashes(driver: neo4j.Driver, hashes: dict[str, str],
                       database: str = "neo4j") -> None:
    """Set ``Item.contentHash`` of existing items.

    Raises:
        WriteError: Neo4j failed.
    """
    try:
        driver.execute_query(qe.SET_CONTENT_HASHES, rows=[[k, v] for k, v in hashes.items()],
                             database_=database)
    except (Neo4jError, DriverError) as e:
        raise WriteError(f"setting {len(hashes)} content hashes failed: {e}") from e


def read_item_embeddings(driver: neo4j.Driver, ids: Sequence[str], version: str,
                         database: str = "neo4j") -> tuple[list[str], np.ndarray]:
    """Stored embeddings of ``ids`` written by model ``version`` (others are left out).

    Returns:
        ``(ids, float32 [n, D])`` (``[0, 0]`` when none).

    Raises:
        GraphError: Neo4j failed.
    """
    try:
        records = driver.execute_query(qe.READ_ITEM_EMBEDDINGS, ids=list(ids), version=version,
                                       database_=database,
                                       routing_=neo4j.RoutingControl.READ).records
    except (Neo4jError, DriverError) as e:
        raise GraphError(f"reading embeddings of {len(ids)} items failed: {e}") from e
    if not records:
        return [], np.zeros((0, 0), np.float32)
    return [r["id"] for r in records], np.asarray([r["embedding"] for r in records], np.float32)


def items_updated_since(driver: neo4j.Driver, since: int, version: str,
                        database: str = "neo4j") -> list[str]:
    """Ids of the items written at or after ``since`` (Unix ms, the database clock) that
    hold an embedding of model ``version``: what ``add_items`` re-embedded after it.

    Raises:
        GraphError: Neo4j failed.
    """
    try:
        with driver.session(database=database, default_access_mode=neo4j.READ_ACCESS,
                            notifications_disabled_classifications=["UNRECOGNIZED"]) as session:
            return [r["id"] for r in session.run(qe.ITEMS_UPDATED_SINCE, since=since,
                                                 version=version)]
    except (Neo4jError, DriverError) as e:
        raise GraphError(f"reading the items updated since {since} failed: {e}") from e
