"""What serving reads from Neo4j: the stored state of items, and what changed since a
point of the database clock.

A serving process starts from a model checkpoint and reads only the items and users
whose ``changedAt`` is at or after the model's graph clock (:func:`read_changes`),
then, on every refresh, what changed since its last read. Deletions leave nothing to
read, so the node counts are compared with what the process knows and, when they
disagree, the ids are read (:func:`read_ids`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import neo4j
import numpy as np
from neo4j.exceptions import DriverError, Neo4jError

from kg import queries as q
from kg import queries_serving as qs
from kg.connection import graph_error

__all__ = ["Changes", "StoredItem", "StoredUser", "read_changes", "read_ids", "read_items",
           "read_users", "stored_item"]


@dataclass(frozen=True, eq=False)
class StoredItem:
    """An item as stored in Neo4j.

    Attributes:
        id, title, description: its content.
        attribute_ids: sorted ``kind:value`` keys.
        content_hash: the hash of the content its embedding was computed from (None when
            never embedded by a model that stores it).
        embedding: ``float32 [dim]`` or None; version: the model that wrote it.
        text_feature: ``float32 [D]`` the text features ``add_items`` encoded, or None.
        hidden: never recommended while set.
        changed_at: its ``changedAt`` (Unix ms) or None.
        users: ids of the users who interacted with it (empty in :class:`Changes`:
            read with :func:`read_items` where needed).
    """

    id: str
    title: str
    description: str
    attribute_ids: tuple[str, ...]
    content_hash: str | None
    embedding: np.ndarray | None
    version: str | None
    text_feature: np.ndarray | None
    hidden: bool
    changed_at: int | None
    users: tuple[str, ...]


@dataclass(frozen=True)
class StoredUser:
    """A user whose interactions or profile changed: its items and profile attributes."""

    id: str
    item_ids: tuple[str, ...]
    attribute_ids: tuple[str, ...]
    changed_at: int | None


@dataclass(frozen=True, eq=False)
class Changes:
    """What :func:`read_changes` read, in one read transaction.

    Attributes:
        clock: the database clock (Unix ms) when the read started.
        items, users: the changed nodes.
        item_count, user_count: how many items and users the graph holds.
    """

    clock: int
    items: list[StoredItem]
    users: list[StoredUser]
    item_count: int
    user_count: int


def _vector(value: object) -> np.ndarray | None:
    return None if value is None else np.asarray(value, np.float32)


def stored_item(r: neo4j.Record) -> StoredItem:
    """A row of :data:`kg.queries_serving.ITEM_STATE` as a :class:`StoredItem`."""
    return StoredItem(r["id"], r["title"], r["description"], tuple(sorted(r["attributes"])),
                      r["content_hash"], _vector(r["embedding"]), r["version"],
                      _vector(r["text_feature"]), bool(r["hidden"]), r["changed_at"],
                      tuple(sorted(r["users"])))


def _session(driver: neo4j.Driver, database: str) -> neo4j.Session:
    return driver.session(database=database, default_access_mode=neo4j.READ_ACCESS)


def read_items(driver: neo4j.Driver, ids: Sequence[str],
               database: str = "neo4j") -> dict[str, StoredItem]:
    """The stored state of the items among ``ids`` that exist.

    Raises:
        GraphError: Neo4j failed.
    """
    try:
        with _session(driver, database) as session:
            records = list(session.run(qs.ITEM_STATE, ids=list(ids)))
    except (Neo4jError, DriverError) as e:
        raise graph_error(f"reading {len(ids)} items", e, driver) from e
    return {r["id"]: stored_item(r) for r in records}


def _user(r: neo4j.Record) -> StoredUser:
    return StoredUser(r["id"], tuple(sorted(r["items"])), tuple(sorted(r["attributes"])),
                      r["changed_at"])


def read_users(driver: neo4j.Driver, ids: Sequence[str],
               database: str = "neo4j") -> dict[str, StoredUser]:
    """The items and profile attributes of the users among ``ids`` that exist.

    Raises:
        GraphError: Neo4j failed.
    """
    try:
        with _session(driver, database) as session:
            records = list(session.run(qs.USER_STATE, ids=list(ids)))
    except (Neo4jError, DriverError) as e:
        raise graph_error(f"reading {len(ids)} users", e, driver) from e
    return {r["id"]: _user(r) for r in records}


def _read_changes(tx: neo4j.ManagedTransaction, since: int) -> Changes:
    clock = int(tx.run(q.NOW).single(strict=True)["now"])
    items = [stored_item(r) for r in tx.run(qs.ITEMS_CHANGED_SINCE, since=since)]
    users = [_user(r) for r in tx.run(qs.USERS_CHANGED_SINCE, since=since)]
    n_items = int(tx.run(qs.COUNT_ITEMS).single(strict=True)["n"])
    n_users = int(tx.run(qs.COUNT_USERS).single(strict=True)["n"])
    return Changes(clock, items, users, n_items, n_users)


def read_changes(driver: neo4j.Driver, since: int, database: str = "neo4j") -> Changes:
    """Items and users whose ``changedAt`` is at or after ``since``, and the node counts.

    Args:
        driver: connected driver.
        since: Unix ms of the database clock.
        database: database name.

    Raises:
        GraphError: Neo4j failed.
    """
    try:
        with _session(driver, database) as session:
            return session.execute_read(_read_changes, int(since))
    except (Neo4jError, DriverError) as e:
        raise graph_error(f"reading the changes since {since}", e, driver) from e


def read_ids(driver: neo4j.Driver, label: Literal["Item", "User"],
             database: str = "neo4j") -> set[str]:
    """Every id of ``label`` (read when the counts say something was deleted).

    Raises:
        GraphError: Neo4j failed.
    """
    query = qs.ITEM_IDS if label == "Item" else qs.USER_IDS
    try:
        records = driver.execute_query(query, database_=database,
                                       routing_=neo4j.RoutingControl.READ).records
    except (Neo4jError, DriverError) as e:
        raise graph_error(f"reading the {label} ids", e, driver) from e
    return {r["id"] for r in records}
