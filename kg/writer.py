"""Batched, idempotent writes of ingest records into Neo4j.

Each batch is ``UNWIND $rows … MERGE`` inside ONE transaction
(``session.execute_write``), so a failing batch leaves nothing behind and the
driver may retry a batch safely. Re-sending an item replaces its title,
description and attribute set; re-sending interactions replaces their weight and ts.
"""

from __future__ import annotations

import logging
import numbers
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, Final, LiteralString, TypeVar

import neo4j
import numpy as np
from neo4j.exceptions import DriverError, Neo4jError
from tqdm.auto import tqdm

from kg import queries as q
from kg import queries_serving as qs
from kg.changes import StoredItem, stored_item
from kg.embeddings import ItemEmbedding, set_item_embeddings_tx
from kg.records import InteractionRecord, ItemRecord, UserRecord, attribute_id
from kg.schema import ITEM, USER
from kgrec.errors import RecordError, WriteError

__all__ = ["GraphWriter", "aggregate_interactions", "rehearse_item_write"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _batched(records: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(records)
    while batch := list(islice(it, size)):
        yield batch


#: the largest interaction weight, for one row and for a repeated pair's merged (summed)
#: weight: sums of such weights stay finite in float32 (training) and exact enough
MAX_WEIGHT: Final = 1e12
#: the latest interaction time, Unix seconds (9999-12-31T23:59:59Z; 0 = unknown)
MAX_TIMESTAMP: Final = 253_402_300_799


def aggregate_interactions(records: Iterable[InteractionRecord]) -> list[InteractionRecord]:
    """Collapse repeated ``(user_id, item_id)`` pairs exactly as
    :func:`kg.snapshot.snapshot_from_records` does: weights summed, latest ts.

    The first record of a pair keeps its position and its ``source``. The merged values
    are checked: a weight must be a finite number in ``(0, MAX_WEIGHT]`` and ``ts`` Unix
    seconds in ``[0, MAX_TIMESTAMP]``, also after summing.

    Raises:
        RecordError: a merged weight or a ts out of range, naming the pair's first record.
    """
    merged: dict[tuple[str, str], InteractionRecord] = {}
    for r in records:
        key = (r.user_id, r.item_id)
        prev = merged.get(key)
        if prev is None:
            merged[key] = r
        else:
            merged[key] = InteractionRecord(r.user_id, r.item_id, prev.weight + r.weight,
                                            max(prev.ts, r.ts), source=prev.source)
    for r in merged.values():
        _check_merged(r)
    return list(merged.values())


def _check_merged(r: InteractionRecord) -> None:
    """Raise a :class:`RecordError` naming ``r``'s source when its weight or ts is out of range."""
    where = str(r.source) if r.source is not None else \
        f"interaction ({r.user_id!r}, {r.item_id!r})"
    if isinstance(r.weight, bool) or not isinstance(r.weight, numbers.Real) \
            or not 0 < r.weight <= MAX_WEIGHT:  # NaN fails the comparison too
        field, why = "weight", (f"of the pair ({r.user_id!r}, {r.item_id!r}) (its rows' weights "
                                f"summed) must be a number in (0, {MAX_WEIGHT:g}], got "
                                f"{r.weight!r}")
    elif isinstance(r.ts, bool) or not isinstance(r.ts, numbers.Real) \
            or not 0 <= r.ts <= MAX_TIMESTAMP:
        field, why = "ts", (f"must be Unix seconds from 0 to {MAX_TIMESTAMP} (1970 to "
                            f"9999-12-31T23:59:59Z; 0 = unknown), got {r.ts!r}")
    else:
        return
    raise RecordError(f"{where}: field {field!r} {why}", field=field,
                      path=r.source.path if r.source else None,
                      line=r.source.line if r.source and r.source.line else None)


class GraphWriter:
    """Write items, users and interactions in batches of ``batch_size`` rows.

    The schema must be in place (:func:`kg.schema.ensure_schema`; every load runs it):
    the writes seek nodes through its unique indexes.

    Args:
        driver: a connected driver (see :func:`kg.connection.connect`).
        database: target database.
        batch_size: rows per transaction.
        show_progress: progress bar; ``None`` = on when this logger is at INFO or below.

    Example:
        >>> writer = GraphWriter(driver)                         # doctest: +SKIP
        >>> writer.write_items(items); writer.write_interactions(events)  # doctest: +SKIP
    """

    def __init__(self, driver: neo4j.Driver, database: str = "neo4j", batch_size: int = 10_000,
                 show_progress: bool | None = None) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.driver = driver
        self.database = database
        self.batch_size = batch_size
        self.show_progress = show_progress

    def __repr__(self) -> str:
        return f"GraphWriter(database={self.database!r}, batch_size={self.batch_size})"

    # -- public -----------------------------------------------------------------

    def write_items(self, records: Iterable[ItemRecord]) -> int:
        """MERGE items with title, description and attributes (replacing old attributes).

        Returns:
            Number of item rows written.

        Raises:
            WriteError: a batch failed; that batch was rolled back.
        """
        return self._write(records, ITEM, "Item", self.items_tx)

    def write_users(self, records: Iterable[UserRecord]) -> int:
        """MERGE users and their profile attributes (replacing old attributes).

        Returns:
            Number of user rows written.

        Raises:
            WriteError: a batch failed; that batch was rolled back.
        """
        return self._write(records, USER, "User", self._users_tx)

    def write_interactions(self, records: Iterable[InteractionRecord], *,
                           aggregate: bool = True) -> int:
        """MERGE ``(:User)-[:INTERACTED {weight, ts}]->(:Item)``; users are created as needed.

        Args:
            records: interactions; their items must already exist.
            aggregate: first collapse repeated pairs (sum of weights, latest ts), as
                :func:`kg.snapshot.snapshot_from_records` does. This holds all pairs in
                memory; pass False for input that is already unique per pair (a
                repeated pair in the input then keeps the last one's values).

        Returns:
            Number of relationship rows written.

        Raises:
            RecordError: a record names an unknown item ("<file> line N: field
                'item_id' refers to unknown item 'x'"); nothing of its batch is kept.
            WriteError: a batch failed for another reason; it was rolled back.
        """
        rows: Iterable[InteractionRecord] = (aggregate_interactions(records) if aggregate
                                             else records)
        return self._write(rows, None, "INTERACTED", self._interactions_tx)

    # -- internals -----------------------------------------------------------------

    def _progress(self) -> bool:
        if self.show_progress is None:
            return logger.isEnabledFor(logging.INFO)
        return self.show_progress

    def _write(self, records: Iterable[Any], label: str | None, what: str,
               tx_fn: Callable[[neo4j.ManagedTransaction, list[Any], str | None], None]) -> int:
        total = len(records) if isinstance(records, Sequence) else None
        n = 0
        t0 = time.perf_counter()
        with tqdm(total=total, desc=f"writing {what}", unit="rows",
                  disable=not self._progress()) as bar, \
                self.driver.session(database=self.database) as session:
            for batch in _batched(records, self.batch_size):
                try:
                    session.execute_write(tx_fn, batch, label)
                except (Neo4jError, DriverError) as e:
                    msg = e.message if isinstance(e, Neo4jError) else str(e)
                    raise WriteError(f"writing {len(batch)} {what} rows failed: {msg}") from e
                n += len(batch)
                bar.update(len(batch))
        dt = time.perf_counter() - t0
        logger.info("wrote %d %s rows in %.1fs (%.0f rows/s)", n, what, dt, n / dt if dt else 0.0)
        return n

    @staticmethod
    def _attribute_rows(tx: neo4j.ManagedTransaction, records: Sequence[ItemRecord | UserRecord],
                        label: LiteralString) -> None:
        tx.run(q.REMOVE_STALE_ATTRIBUTE_EDGES[label],
               rows=[{"id": r.id, "attribute_ids": r.attribute_ids()} for r in records]).consume()
        attrs: dict[str, dict[str, str]] = {}
        edges: list[list[str]] = []
        for r in records:
            for kind, values in r.attributes.items():
                for value in values:
                    key = attribute_id(kind, value)
                    attrs.setdefault(key, {"id": key, "kind": kind, "value": value})
                    edges.append([r.id, key])
        if attrs:
            tx.run(q.MERGE_ATTRIBUTES, rows=list(attrs.values())).consume()
            tx.run(q.MERGE_ATTRIBUTE_EDGES[label], rows=edges).consume()

    @classmethod
    def items_tx(cls, tx: neo4j.ManagedTransaction, batch: list[ItemRecord],
                 label: str | None = None) -> None:
        """Transaction function: MERGE ``batch`` and its attribute edges (replacing old ones)."""
        rows = [{"id": r.id, "title": r.title, "description": r.description} for r in batch]
        tx.run(q.MERGE_ITEMS, rows=rows).consume()
        cls._attribute_rows(tx, batch, ITEM)

    @classmethod
    def _users_tx(cls, tx: neo4j.ManagedTransaction, batch: list[UserRecord],
                  label: str | None) -> None:
        tx.run(q.MERGE_USERS, rows=[{"id": r.id} for r in batch]).consume()
        cls._attribute_rows(tx, batch, USER)

    @staticmethod
    def _interactions_tx(tx: neo4j.ManagedTransaction, batch: list[InteractionRecord],
                         label: str | None) -> None:
        item_ids = list(dict.fromkeys(r.item_id for r in batch))
        missing = set(tx.run(q.MISSING_ITEMS, ids=item_ids).single(strict=True)["missing"])
        if missing:
            bad = next(r for r in batch if r.item_id in missing)
            where = str(bad.source) if bad.source is not None else "interaction"
            raise RecordError(f"{where}: field 'item_id' refers to unknown item {bad.item_id!r}",
                              path=bad.source.path if bad.source else None,
                              line=bad.source.line if bad.source else None, field="item_id")
        tx.run(q.MERGE_USER_IDS, ids=list(dict.fromkeys(r.user_id for r in batch))).consume()
        rows = [[r.user_id, r.item_id, float(r.weight), int(r.ts)] for r in batch]
        tx.run(q.MERGE_INTERACTIONS, rows=rows).consume()


class _Rollback(Exception):
    """Ends :func:`rehearse_item_write`'s transaction function: the driver rolls back."""


def rehearse_item_write(driver: neo4j.Driver, dim: int, database: str = "neo4j") -> StoredItem:
    """Run the statements ``Recommender.add_items`` runs for one item (read its state,
    MERGE it with an attribute edge, set its embedding if unchanged) for a sentinel
    item, in a transaction that is rolled back: nothing is written.

    A freshly started server plans those statements and loads their write paths on
    their first run (seconds, which would otherwise fall on the first new item).

    Returns:
        The sentinel as the transaction saw it before the rollback.

    Raises:
        WriteError: Neo4j failed.
    """
    item = ItemRecord(f"kgrec-warm-up-{uuid.uuid4().hex}", "warm-up", "",
                      {"kgrec": ("warm-up",)})
    row = ItemEmbedding(item, np.eye(1, dim, dtype=np.float32)[0], "").row()
    seen: list[StoredItem] = []

    def work(tx: neo4j.ManagedTransaction) -> None:
        tx.run(qs.ITEM_STATE, ids=[item.id]).consume()
        GraphWriter.items_tx(tx, [item])
        set_item_embeddings_tx(tx, [row], "warm-up")
        seen.append(stored_item(tx.run(qs.ITEM_STATE, ids=[item.id]).single(strict=True)))
        raise _Rollback

    try:
        with driver.session(database=database) as session:
            session.execute_write(work)
    except _Rollback:
        pass
    except (Neo4jError, DriverError) as e:
        raise WriteError(f"rehearsing an item write failed: {e}") from e
    return seen[0]
