"""Catalog and user administration in Neo4j: hide (and show) items, erase users.

Both stamp what serving processes need to see: hiding sets ``Item.hidden`` and
``changedAt`` (:mod:`kg.changes` reads it on the next refresh); erasing removes the user
node, so the node count drops and every refreshing process drops the user
(:class:`kgrec.sync.StateSync` compares counts). Training exports from Neo4j, so an
erased user is in no later model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import neo4j
from neo4j.exceptions import DriverError, Neo4jError

from kg import queries_admin as qa
from kg.connection import graph_error
from kgrec.errors import NotFoundError

__all__ = ["ErasedUser", "delete_user", "set_items_hidden"]


def _quoted(ids: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(repr(i) for i in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def set_items_hidden(driver: neo4j.Driver, ids: Sequence[str], hidden: bool,
                     database: str = "neo4j") -> list[str]:
    """Hide (``hidden=True``) or show items, all or nothing.

    Args:
        driver: connected driver.
        ids: item ids (each must exist).
        hidden: the flag to set.
        database: database name.

    Returns:
        The ids whose flag changed (an item already in that state is left untouched).

    Raises:
        NotFoundError: some ids are not items (nothing is written).
        GraphError: Neo4j failed.
    """
    wanted = list(dict.fromkeys(ids))

    def work(tx: neo4j.ManagedTransaction) -> tuple[list[str], list[str]]:
        found = {r["id"] for r in tx.run(qa.EXISTING_ITEMS, ids=wanted)}
        missing = [i for i in wanted if i not in found]
        if missing:
            return missing, []
        return [], [r["id"] for r in tx.run(qa.SET_ITEMS_HIDDEN, ids=wanted, hidden=hidden)]

    try:
        with driver.session(database=database) as session:
            missing, changed = session.execute_write(work)
    except (Neo4jError, DriverError) as e:
        raise graph_error(f"{'hiding' if hidden else 'showing'} {len(wanted)} items", e,
                          driver) from e
    if missing:
        raise NotFoundError(f"unknown item{'s' if len(missing) > 1 else ''} {_quoted(missing)}")
    return changed


@dataclass(frozen=True)
class ErasedUser:
    """What :func:`delete_user` removed: the user's interactions, and the profile
    attribute nodes that only this user linked to."""

    user_id: str
    interactions: int
    attributes: int


def delete_user(driver: neo4j.Driver, user_id: str, database: str = "neo4j") -> ErasedUser:
    """Erase a user: the node, its interactions and profile edges, and the profile
    attribute nodes nothing else links to, in one transaction.

    Raises:
        NotFoundError: no such user.
        GraphError: Neo4j failed.
    """

    def work(tx: neo4j.ManagedTransaction) -> ErasedUser | None:
        row = tx.run(qa.USER_FOOTPRINT, id=user_id).single()
        if row is None:
            return None
        attrs = list(row["attributes"])
        tx.run(qa.DELETE_USER, id=user_id).consume()
        gone = tx.run(qa.DELETE_ORPHAN_ATTRIBUTES, ids=attrs).consume().counters.nodes_deleted
        return ErasedUser(user_id, int(row["interactions"]), int(gone))

    try:
        with driver.session(database=database) as session:
            erased = session.execute_write(work)
    except (Neo4jError, DriverError) as e:
        raise graph_error(f"erasing user {user_id!r}", e, driver) from e
    if erased is None:
        raise NotFoundError(f"unknown user {user_id!r}")
    return erased
