"""Load sources into Neo4j through :class:`kg.writer.GraphWriter`.

Every loader ensures the schema, then writes items, users, interactions in that
order, one transaction per ``writer.batch_size`` records. A batch is fully read
and validated before it is handed to the writer, so with ``on_error="fail"`` a
bad record stops the load and nothing of its batch is written (earlier batches
stay; writes are idempotent, so re-running after a fix is safe).

Repeated ``(user, item)`` pairs are merged before writing (weights summed, latest
timestamp), because the writer sets, not adds, a relationship's weight. That
merge needs all interactions of the load, so interactions are written only
after the whole interactions file has been read and validated.
"""

from __future__ import annotations

import logging
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from ingest.catalog import catalog_files, iter_interactions, iter_items, iter_users
from ingest.movielens import (
    iter_movielens_interactions,
    iter_movielens_items,
    iter_movielens_users,
)
from ingest.rdf_reader import iter_rdf_items
from ingest.synthetic import generate_synthetic
from ingest.validation import DuplicateCheck, OnError, RejectLog, check_on_error
from kg.indexes import ensure_schema
from kg.records import InteractionRecord

if TYPE_CHECKING:
    from kg.writer import GraphWriter

__all__ = ["LoadSummary", "load_catalog", "load_movielens", "load_rdf", "load_synthetic",
           "merge_interactions"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


@dataclass(frozen=True)
class LoadSummary:
    """What one load wrote.

    Attributes:
        source: what was loaded (folder, file or ``synthetic:...``).
        items, users, interactions: records written (interactions after merging
            repeated pairs; users only those listed with a profile).
        rejected: records skipped with ``on_error="skip"``.
        seconds: wall time of the whole load.
        timings: seconds per phase (``schema``, ``items``, ``users``, ``interactions``).
        reject_path: the reject file, if one was written.
    """

    source: str
    items: int = 0
    users: int = 0
    interactions: int = 0
    rejected: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    reject_path: str | None = None

    def __str__(self) -> str:
        text = (f"{self.source}: {self.items} items, {self.users} users, {self.interactions} "
                f"interactions in {self.seconds:.1f}s")
        if self.rejected:
            text += f"; {self.rejected} rejected" + (f" (see {self.reject_path})"
                                                     if self.reject_path else "")
        return text


def _write(write: Callable[[Iterable[_T]], int], records: Iterable[_T], what: str,
           timings: dict[str, float]) -> int:
    # The writer reads a whole batch into a list (validating every record of it)
    # before its transaction starts, so a bad record leaves its batch unwritten.
    t0 = time.perf_counter()
    total = write(records)
    timings[what] = timings.get(what, 0.0) + time.perf_counter() - t0
    return total


def _write_interactions(writer: GraphWriter, records: Iterable[InteractionRecord],
                        timings: dict[str, float]) -> int:
    t0 = time.perf_counter()
    total = writer.write_interactions(records, aggregate=False)
    timings["interactions"] = timings.get("interactions", 0.0) + time.perf_counter() - t0
    return total


def merge_interactions(records: Iterable[InteractionRecord]) -> Iterator[InteractionRecord]:
    """Merge repeated ``(user_id, item_id)`` pairs (weights summed, latest ``ts``).

    Holds ids as integer codes in NumPy arrays (about 32 bytes per interaction),
    so ten million interactions fit in memory. Pairs come out in the order of
    their first occurrence; ``source`` is dropped.
    """
    user_code: dict[str, int] = {}
    item_code: dict[str, int] = {}
    u, i, t = array("q"), array("q"), array("q")
    w = array("d")
    for r in records:
        u.append(user_code.setdefault(r.user_id, len(user_code)))
        i.append(item_code.setdefault(r.item_id, len(item_code)))
        w.append(r.weight)
        t.append(r.ts)
    if not u:
        return
    users = np.frombuffer(u, dtype=np.int64)
    items = np.frombuffer(i, dtype=np.int64)
    keys = users * len(item_code) + items
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    weight = np.bincount(inverse, weights=np.frombuffer(w, dtype=np.float64))
    ts = np.zeros(len(first), dtype=np.int64)
    np.maximum.at(ts, inverse, np.frombuffer(t, dtype=np.int64))
    order = np.argsort(first, kind="stable")
    user_ids = list(user_code)
    item_ids = list(item_code)
    del user_code, item_code
    for k in order.tolist():
        j = int(first[k])
        yield InteractionRecord(user_ids[users[j]], item_ids[items[j]], float(weight[k]),
                                int(ts[k]))


def _begin(writer: GraphWriter) -> tuple[float, dict[str, float]]:
    t0 = time.perf_counter()
    ensure_schema(writer.driver, database=writer.database)
    return t0, {"schema": time.perf_counter() - t0}


def load_catalog(writer: GraphWriter, directory: str | Path, on_error: OnError = "fail",
                 reject_path: str | Path | None = None) -> LoadSummary:
    """Load a catalog folder (format: :mod:`ingest.catalog`).

    Args:
        writer: the graph writer (its ``batch_size`` sets the transaction size).
        directory: the catalog folder.
        on_error: ``"fail"`` stops at the first bad record (nothing of its batch is
            written); ``"skip"`` writes the good records and logs the bad ones.
        reject_path: the JSONL reject file for ``"skip"`` (``path, line, field,
            reason, raw`` per line); ``None`` keeps rejects in memory only.

    Returns:
        The counts written and rejected.

    Raises:
        RecordError: a bad record with ``on_error="fail"``.
        IngestError: a file is missing or unreadable.
        WriteError: Neo4j refused a batch.
    """
    check_on_error(on_error)
    files = catalog_files(directory)
    t0, timings = _begin(writer)
    seen = DuplicateCheck("item", ("title", "description", "attributes"))
    with RejectLog(reject_path if on_error == "skip" else None) as rejects:
        n_items = _write(writer.write_items,
                         iter_items(files.items, on_error=on_error, rejects=rejects, seen=seen), "items",
                         timings)
        n_users = _write(writer.write_users,
                         iter_users(files.users, on_error=on_error, rejects=rejects), "users",
                         timings) if files.users else 0
        n_inter = 0
        if files.interactions:
            records = iter_interactions(files.interactions, known_items=seen, on_error=on_error,
                                        rejects=rejects)
            n_inter = _write_interactions(writer, merge_interactions(records), timings)
    summary = LoadSummary(str(directory), n_items, n_users, n_inter, rejects.count,
                          time.perf_counter() - t0, timings,
                          str(reject_path) if reject_path and on_error == "skip" else None)
    logger.info("loaded %s", summary)
    return summary


def load_movielens(writer: GraphWriter, path: str | Path, *,
                   rating_weights: bool = False) -> LoadSummary:
    """Load a MovieLens 100K folder (mapping: :mod:`ingest.movielens`).

    Raises:
        RecordError: a malformed line.
        IngestError: a file is missing.
        WriteError: Neo4j refused a batch (e.g. a rating of an unknown movie).
    """
    t0, timings = _begin(writer)
    n_items = _write(writer.write_items, iter_movielens_items(path), "items", timings)
    n_users = _write(writer.write_users, iter_movielens_users(path), "users", timings)
    n_inter = _write_interactions(writer, merge_interactions(
        iter_movielens_interactions(path, rating_weights=rating_weights)), timings)
    summary = LoadSummary(str(path), n_items, n_users, n_inter, 0, time.perf_counter() - t0,
                          timings)
    logger.info("loaded %s", summary)
    return summary


def load_rdf(writer: GraphWriter, path: str | Path, format: str | None = None, *,
             on_error: OnError = "fail", reject_path: str | Path | None = None) -> LoadSummary:
    """Load the items of an RDF file (mapping: :mod:`ingest.rdf_reader`).

    Raises:
        RecordError: a syntax error or a bad item (``on_error="fail"``).
        IngestError: the file is missing or its format unknown.
        WriteError: Neo4j refused a batch.
    """
    check_on_error(on_error)
    t0, timings = _begin(writer)
    with RejectLog(reject_path if on_error == "skip" else None) as rejects:
        n_items = _write(writer.write_items, iter_rdf_items(path, format, on_error=on_error,
                                                            rejects=rejects),
                         "items", timings)
    summary = LoadSummary(str(path), n_items, 0, 0, rejects.count, time.perf_counter() - t0,
                          timings, str(reject_path) if reject_path and on_error == "skip" else None)
    logger.info("loaded %s", summary)
    return summary


def load_synthetic(writer: GraphWriter, n_users: int, n_items: int, seed: int = 0, *,
                   interactions_per_user: float = 20.0) -> LoadSummary:
    """Generate and load a synthetic catalog (see :mod:`ingest.synthetic`), streaming.

    Its pairs are unique by construction, so interactions stream without merging.
    """
    cat = generate_synthetic(n_users, n_items, seed, interactions_per_user=interactions_per_user)
    t0, timings = _begin(writer)
    n_i = _write(writer.write_items, cat.items(), "items", timings)
    n_u = _write(writer.write_users, cat.users(), "users", timings)
    n_x = _write_interactions(writer, cat.interactions(), timings)
    summary = LoadSummary(f"synthetic:{n_users},{n_items},{seed}", n_i, n_u, n_x, 0,
                          time.perf_counter() - t0, timings)
    logger.info("loaded %s", summary)
    return summary
