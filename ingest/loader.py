"""Load sources into Neo4j through :class:`kg.writer.GraphWriter`.

Every loader first reads and validates **all** of its input (every file's header and
every record, repeated interaction pairs merged and checked), and only then ensures
the schema and writes items, users, interactions in that order, one transaction per
``writer.batch_size`` records. So with ``on_error="fail"`` a bad record, a bad header
or an empty file anywhere in the load stops it before its first write: a failed load
writes nothing. With ``on_error="skip"`` the bad records are left out and logged, the
good ones written. Writes are idempotent (MERGE, weights set rather than added), so
re-running a load after a crash or a fix gives exactly the state of one clean run.

A catalog is thus read twice: once to validate it, once to write it (streaming, so
memory holds only the merged interactions and one batch). A file changed between the
two reads can still fail the second; re-run the load then.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ingest.catalog import CatalogFiles, catalog_files, iter_interactions, iter_items, iter_users
from ingest.merging import MergedInteractions, merge_checked, merge_interactions
from ingest.movielens import (
    iter_movielens_interactions,
    iter_movielens_items,
    iter_movielens_users,
)
from ingest.rdf_reader import iter_rdf_items
from ingest.synthetic import generate_synthetic
from ingest.validation import DuplicateCheck, OnError, RejectLog, check_on_error, record_error
from kg.indexes import ensure_schema
from kg.records import InteractionRecord, SourceRef
from kgrec.faults import crash_point

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


def _begin(writer: GraphWriter, t0: float) -> dict[str, float]:
    """Ensure the schema (after validation: a load that fails validation touches nothing)."""
    timings = {"validate": time.perf_counter() - t0}
    t1 = time.perf_counter()
    ensure_schema(writer.driver, database=writer.database)
    timings["schema"] = time.perf_counter() - t1
    return timings


def _summary(source: str, counts: tuple[int, int, int], rejected: int, t0: float,
             timings: dict[str, float], reject_path: str | Path | None) -> LoadSummary:
    summary = LoadSummary(source, *counts, rejected, time.perf_counter() - t0, timings,
                          str(reject_path) if reject_path else None)
    logger.info("loaded %s", summary)
    return summary


def _item_check() -> DuplicateCheck:
    return DuplicateCheck("item", ("title", "description", "attributes"))


def _validate_catalog(files: CatalogFiles, on_error: OnError, rejects: RejectLog
                      ) -> MergedInteractions | None:
    """Read every file of the catalog, raising on the first bad header or record
    (``"fail"``); return its interactions merged and checked (their rejects go to
    ``rejects``; those of items and users are logged by the writing pass)."""
    seen = _item_check()
    for _ in iter_items(files.items, on_error=on_error, seen=seen):
        pass
    if files.users:
        for _ in iter_users(files.users, on_error=on_error):
            pass
    if not files.interactions:
        return None
    records = iter_interactions(files.interactions, known_items=seen, on_error=on_error,
                                rejects=rejects)
    return merge_checked(records, on_error, rejects)


def load_catalog(writer: GraphWriter, directory: str | Path, on_error: OnError = "fail",
                 reject_path: str | Path | None = None) -> LoadSummary:
    """Load a catalog folder (format: :mod:`ingest.catalog`).

    Every file is read and validated before the first write (module docstring).

    Args:
        writer: the graph writer (its ``batch_size`` sets the transaction size).
        directory: the catalog folder.
        on_error: ``"fail"`` stops at the first bad header or record, writing nothing;
            ``"skip"`` writes the good records and logs the bad ones (a bad header or
            an empty file still stops the load, before any write).
        reject_path: the JSONL reject file for ``"skip"`` (``path, line, field,
            reason, raw`` per line); ``None`` keeps rejects in memory only.

    Returns:
        The counts written and rejected.

    Raises:
        RecordError: a bad header, or a bad record with ``on_error="fail"``.
        IngestError: a file is missing, unreadable or holds no records.
        WriteError: Neo4j refused a batch.
    """
    check_on_error(on_error)
    t0 = time.perf_counter()
    files = catalog_files(directory)
    held = RejectLog()
    merged = _validate_catalog(files, on_error, held)
    timings = _begin(writer, t0)
    with RejectLog(reject_path if on_error == "skip" else None) as rejects:
        n_items = _write(writer.write_items, iter_items(
            files.items, on_error=on_error, rejects=rejects, seen=_item_check()), "items",
            timings)
        crash_point("load.after_items")
        n_users = _write(writer.write_users, iter_users(
            files.users, on_error=on_error, rejects=rejects), "users", timings) \
            if files.users else 0
        crash_point("load.after_users")
        rejects.extend(held)
        n_inter = _write_interactions(writer, merged, timings) if merged is not None else 0
    return _summary(str(directory), (n_items, n_users, n_inter), rejects.count, t0, timings,
                    reject_path if on_error == "skip" else None)


def _known_movies(records: Iterable[InteractionRecord], known: set[str]
                  ) -> Iterator[InteractionRecord]:
    for r in records:
        if r.item_id not in known:
            where = r.source or SourceRef("u.data")
            raise record_error(where.path, where.line, "item", f"names an unknown movie "
                               f"{r.item_id!r} (every rating must name a movie of u.item)")
        yield r


def _validate_movielens(path: str | Path, rating_weights: bool) -> MergedInteractions:
    known = {r.id for r in iter_movielens_items(path)}
    for _ in iter_movielens_users(path):
        pass
    return merge_checked(_known_movies(
        iter_movielens_interactions(path, rating_weights=rating_weights), known))


def load_movielens(writer: GraphWriter, path: str | Path, *,
                   rating_weights: bool = False) -> LoadSummary:
    """Load a MovieLens 100K folder (mapping: :mod:`ingest.movielens`).

    Every file is read and validated before the first write.

    Raises:
        RecordError: a malformed line, or a rating of an unknown movie.
        IngestError: a file is missing.
        WriteError: Neo4j refused a batch.
    """
    t0 = time.perf_counter()
    merged = _validate_movielens(path, rating_weights)
    timings = _begin(writer, t0)
    n_items = _write(writer.write_items, iter_movielens_items(path), "items", timings)
    crash_point("load.after_items")
    n_users = _write(writer.write_users, iter_movielens_users(path), "users", timings)
    crash_point("load.after_users")
    n_inter = _write_interactions(writer, merged, timings)
    return _summary(str(path), (n_items, n_users, n_inter), 0, t0, timings, None)


def load_rdf(writer: GraphWriter, path: str | Path, format: str | None = None, *,
             on_error: OnError = "fail", reject_path: str | Path | None = None) -> LoadSummary:
    """Load the items of an RDF file (mapping: :mod:`ingest.rdf_reader`).

    The whole file is parsed and every item validated before the first write.

    Raises:
        RecordError: a syntax error, a remote JSON-LD context, or a bad item
            (``on_error="fail"``).
        IngestError: the file is missing, its format unknown, or it holds no items.
        WriteError: Neo4j refused a batch.
    """
    check_on_error(on_error)
    t0 = time.perf_counter()
    with RejectLog(reject_path if on_error == "skip" else None) as rejects:
        items = list(iter_rdf_items(path, format, on_error=on_error, rejects=rejects))
        timings = _begin(writer, t0)
        n_items = _write(writer.write_items, items, "items", timings)
    return _summary(str(path), (n_items, 0, 0), rejects.count, t0, timings,
                    reject_path if on_error == "skip" else None)


def load_synthetic(writer: GraphWriter, n_users: int, n_items: int, seed: int = 0, *,
                   interactions_per_user: float = 20.0) -> LoadSummary:
    """Generate and load a synthetic catalog (see :mod:`ingest.synthetic`), streaming.

    Its pairs are unique by construction, so interactions stream without merging.
    """
    t0 = time.perf_counter()
    cat = generate_synthetic(n_users, n_items, seed, interactions_per_user=interactions_per_user)
    timings = _begin(writer, t0)
    n_i = _write(writer.write_items, cat.items(), "items", timings)
    n_u = _write(writer.write_users, cat.users(), "users", timings)
    n_x = _write_interactions(writer, cat.interactions(), timings)
    return _summary(f"synthetic:{n_users},{n_items},{seed}", (n_i, n_u, n_x), 0, t0, timings,
                    None)
