"""Catalog state the serving facade needs: stored item content, hashes, embeddings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import neo4j
import numpy as np
from neo4j.exceptions import DriverError, Neo4jError

from kg import queries_explain as qe
from kgrec.errors import GraphError, WriteError

__all__ = ["StoredItem", "items_updated_since", "read_item_embeddings", "read_items",
           "rehearse_item_write"]


@dataclass(frozen=True)
class StoredItem:
    """An item as stored in Neo4j (``users``: those that interacted with it)."""

    id: str
    title: str
    description: str
    attribute_ids: tuple[str, ...]
    content_hash: str | None
    has_embedding: bool
    version: str | None
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
    return {r["id"]: _stored(r) for r in records}


def _stored(r: neo4j.Record) -> StoredItem:
    return StoredItem(r["id"], r["title"], r["description"], tuple(sorted(r["attributes"])),
                      r["content_hash"], bool(r["has_embedding"]), r["version"],
                      tuple(sorted(r["users"])))


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


class _Rollback(Exception):
    """Ends :func:`rehearse_item_write`'s transaction function: the driver rolls back."""


def rehearse_item_write(driver: neo4j.Driver, dim: int, database: str = "neo4j") -> StoredItem:
    """Run the statements that ``Recommender.add_items`` runs for one item — read its
    state, MERGE it with an attribute edge, set its embedding and content hash —
    for a sentinel item, in a transaction that is rolled back: nothing is written.

    A freshly started server plans those statements and loads their write paths on
    their first run (seconds, which would otherwise fall on the first new item).

    Returns:
        The sentinel as the transaction saw it before the rollback.

    Raises:
        WriteError: Neo4j failed.
    """
    from kg.embeddings import set_embeddings_tx
    from kg.records import ItemRecord
    from kg.writer import GraphWriter

    item = ItemRecord(f"kgrec-warm-up-{uuid.uuid4().hex}", "warm-up", "",
                      {"kgrec": ("warm-up",)})
    vector = [1.0] + [0.0] * (dim - 1)

    seen: list[StoredItem] = []

    def work(tx: neo4j.ManagedTransaction) -> None:
        tx.run(qe.ITEM_STATE, ids=[item.id]).consume()
        GraphWriter.items_tx(tx, [item])
        set_embeddings_tx(tx, "Item", [[item.id, vector, ""]], "warm-up")
        seen.append(_stored(tx.run(qe.ITEM_STATE, ids=[item.id]).single(strict=True)))
        raise _Rollback

    try:
        with driver.session(database=database) as session:
            session.execute_write(work)
    except _Rollback:
        pass
    except (Neo4jError, DriverError) as e:
        raise WriteError(f"rehearsing an item write failed: {e}") from e
    return seen[0]
