"""Read the whole graph into a :class:`~kg.snapshot.GraphSnapshot`.

The result equals :func:`kg.snapshot.snapshot_from_records` applied to the
records that were written: rows ordered by :func:`kg.snapshot.id_sort_key`
(attributes by plain string order), edges sorted by ``(src_idx, dst_idx)``.
Three streamed read queries (items, linked attributes, users with their
attribute and interaction lists) run in one read transaction, so the snapshot
is consistent.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import neo4j
import numpy as np
from neo4j.exceptions import DriverError, Neo4jError
from tqdm.auto import tqdm

from kg import queries as q
from kg.snapshot import GraphSnapshot, id_sort_key
from kgrec.errors import ExportError

__all__ = ["export_snapshot"]

logger = logging.getLogger(__name__)


def _pairs(src: list[int], dst: list[int]) -> np.ndarray:
    """Unique edges sorted by (src, dst) as ``int64 [2, E]``."""
    if not src:
        return np.zeros((2, 0), dtype=np.int64)
    arr = np.unique(np.asarray([src, dst], dtype=np.int64), axis=1)  # lexicographic by row 0, 1
    return np.ascontiguousarray(arr)


def _read(tx: neo4j.ManagedTransaction, fetch: int, progress: bool) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {"read_at": [tx.run(q.NOW).single(strict=True)[0]]}
    for name, query in (("items", q.EXPORT_ITEMS), ("attributes", q.EXPORT_ATTRIBUTES),
                        ("users", q.EXPORT_USERS)):
        result = tx.run(query)
        rows: list[Any] = []
        with tqdm(desc=f"exporting {name}", unit="rows", disable=not progress) as bar:
            for record in result:
                rows.append(record.values())
                if len(rows) % fetch == 0:
                    bar.update(fetch)
            bar.update(len(rows) % fetch)
        out[name] = rows
    return out


def export_snapshot(driver: neo4j.Driver, database: str = "neo4j", batch_size: int = 50_000,
                    show_progress: bool | None = None) -> GraphSnapshot:
    """Export users, items, attributes and all edges as NumPy arrays.

    Args:
        driver: connected driver.
        database: source database.
        batch_size: records fetched per network round trip.
        show_progress: progress bars; ``None`` = on when this logger is at INFO or below.

    Returns:
        A validated snapshot (see :mod:`kg.snapshot` for the shapes).

    Raises:
        ExportError: the reads failed, or an edge points to an attribute that is
            not an exported node (inconsistent graph).
    """
    progress = logger.isEnabledFor(logging.INFO) if show_progress is None else show_progress
    t0 = time.perf_counter()
    try:
        with driver.session(database=database, fetch_size=batch_size,
                            default_access_mode=neo4j.READ_ACCESS) as session:
            data = session.execute_read(_read, batch_size, progress)
    except (Neo4jError, DriverError) as e:
        raise ExportError(f"exporting database {database!r} failed: {e}") from e

    items = sorted(data["items"], key=lambda r: id_sort_key(r[0]))
    users = sorted(data["users"], key=lambda r: id_sort_key(r[0]))
    item_ids = [r[0] for r in items]
    user_ids = [r[0] for r in users]
    attribute_ids = sorted(r[0] for r in data["attributes"])
    i_idx = {k: i for i, k in enumerate(item_ids)}
    a_idx = {k: i for i, k in enumerate(attribute_ids)}

    try:
        ia_src = [row for row, r in enumerate(items) for _ in r[3]]
        ia_dst = [a_idx[a] for r in items for a in r[3]]
        ua_src = [row for row, r in enumerate(users) for _ in r[1]]
        ua_dst = [a_idx[a] for r in users for a in r[1]]
    except KeyError as e:
        raise ExportError(f"HAS_ATTRIBUTE edge to attribute {e.args[0]!r} that was not "
                          "exported (graph changed during export?)") from e
    inter_u: list[int] = []
    inter_i: list[int] = []
    weight: list[float] = []
    ts: list[int] = []
    for row, r in enumerate(users):
        # items per user sorted by row: the snapshot orders edges by (user_idx, item_idx)
        for item_id, w, t in sorted(r[2], key=lambda e: i_idx[e[0]]):
            inter_u.append(row)
            inter_i.append(i_idx[item_id])
            weight.append(0.0 if w is None else w)
            ts.append(0 if t is None else t)

    snap = GraphSnapshot(
        user_ids=user_ids,
        item_ids=item_ids,
        attribute_ids=attribute_ids,
        item_title=[r[1] for r in items],
        item_description=[r[2] for r in items],
        interaction_index=np.asarray([inter_u, inter_i], dtype=np.int64).reshape(2, -1),
        interaction_weight=np.asarray(weight, dtype=np.float32),
        interaction_ts=np.asarray(ts, dtype=np.int64),
        item_attribute_index=_pairs(ia_src, ia_dst),
        user_attribute_index=_pairs(ua_src, ua_dst),
        read_at=int(data["read_at"][0]),
    )
    snap.validate()
    logger.info("exported %d users, %d items, %d attributes, %d interactions in %.2fs",
                snap.num_users, snap.num_items, snap.num_attributes, snap.num_interactions,
                time.perf_counter() - t0)
    return snap
