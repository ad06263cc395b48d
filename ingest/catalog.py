"""Readers for the generic catalog format (a folder of JSONL/CSV files).

Catalog format
--------------
A catalog is a folder holding:

``items.jsonl`` **or** ``items.csv`` (required, not both)
    ``items.jsonl``: one JSON object per line (blank lines are ignored) with keys

    - ``id`` (required): a string, or an integer (stored as its decimal text);
      1-200 characters with a visible one, no control or bidirectional-override
      characters, no leading/trailing whitespace (:func:`kg.schema.check_id`, the one
      rule every reader applies to every id);
    - ``title`` (optional string), ``description`` (optional string);
    - ``attributes`` (optional object): ``{kind: [values]}`` or ``{kind: value}``;
      a value is a string or a number (stored as its text).

    No other keys are allowed. Example::

        {"id": "42", "title": "Toy Story (1995)", "description": "...",
         "attributes": {"genre": ["Animation", "Comedy"], "year": 1995}}

    ``items.csv``: a header row, then one item per row. Columns: ``id``
    (required), ``title``, ``description``, and one column ``attr:<kind>`` per
    attribute kind whose cell holds ``|``-separated values (empty cell = none),
    e.g. ``id,title,description,attr:genre`` / ``42,Toy Story,...,Animation|Comedy``.

``users.jsonl`` **or** ``users.csv`` (optional)
    ``users.jsonl``: ``{"id": ..., "attributes": {...}}`` per line;
    ``users.csv``: columns ``id`` and ``attr:<kind>`` as for items.

``interactions.csv`` (optional)
    Header ``user_id,item_id[,weight][,timestamp]`` (any column order).
    ``weight`` is a positive finite number, at most ``1e12`` (empty or absent: 1.0);
    ``timestamp`` is Unix seconds or an ISO-8601 date-time (a date-time without
    offset is read as UTC; empty or absent: 0 = unknown). One rule for both
    notations: a time from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z, that is
    0 to 253402300799 seconds; a pre-1970 time is refused, whether written as
    ``-5`` or as ``1969-12-31T23:59:55Z``. Every ``item_id`` must name an item of
    the same catalog; unknown ``user_id`` values create users. Repeated
    ``(user_id, item_id)`` pairs are merged: weights summed, latest timestamp
    kept, and the merged weight must still be at most ``1e12`` (two rows of
    ``1e308`` are refused, not stored as infinity).

Rules for all files: UTF-8 (a BOM is allowed); attribute kinds match
``[A-Za-z_][A-Za-z0-9_]*``; attribute values are 1-200 characters without
control characters or leading/trailing whitespace; an id repeated within a
load must carry identical fields (identical duplicates are dropped, differing
ones are an error). Every bad record is reported as ``<file> line <n>: field
'<name>' <expected>, got <found>``; a line that cannot be parsed at all (not
UTF-8, malformed or too deeply nested JSON, bad CSV quoting) as ``<file> line
<n>: <why>`` (:mod:`ingest.rows`).

Empty files: every file present must hold at least one record, in JSONL and CSV
alike. A file with none (zero bytes, only blank lines, or a CSV header alone) is
an :class:`~kgrec.errors.IngestError` (``<file>: holds no records``); leave an
optional ``users.*`` or ``interactions.csv`` out instead.
"""

from __future__ import annotations

import logging
from collections.abc import Container, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.rows import ATTR_PREFIX, csv_rows, jsonl_objects
from ingest.validation import (
    TIMESTAMP_RULE,
    DuplicateCheck,
    OnError,
    Rejected,
    RejectLog,
    as_attributes,
    as_id,
    as_text,
    check_attribute_value,
    check_timestamp,
    check_weight,
    frozen_attributes,
    record_error,
    resolve,
    shown,
)
from kg.records import InteractionRecord, ItemRecord, SourceRef, UserRecord
from kgrec.errors import IngestError, RecordError

if TYPE_CHECKING:
    from ingest.dataset import Dataset

__all__ = [
    "CatalogFiles",
    "catalog_files",
    "iter_interactions",
    "iter_items",
    "iter_users",
    "parse_timestamp",
    "read_catalog",
]

logger = logging.getLogger(__name__)

_ITEM_KEYS = ("id", "title", "description", "attributes")
_USER_KEYS = ("id", "attributes")
_INTERACTION_COLUMNS = ("user_id", "item_id", "weight", "timestamp")


# ---------------------------------------------------------------- attribute columns
def _csv_attributes(row: dict[str, str], path: str, line: int) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for col, cell in row.items():
        if col.startswith(ATTR_PREFIX):
            values = [v.strip() for v in cell.split("|") if v.strip()]
            out[col[len(ATTR_PREFIX):]] = tuple(check_attribute_value(v, path, line, col)
                                                 for v in values)
    return out


# ---------------------------------------------------------------- items
def _scan_items(path: Path, seen: DuplicateCheck) -> Iterator[ItemRecord | Rejected]:
    p = str(path)
    csv_mode = _kind_of(path) == "csv"
    rows: Iterator[tuple[int, Any, str] | Rejected] = (
        csv_rows(path, ("id", "title", "description"), ("id",), True)
        if csv_mode else jsonl_objects(path, _ITEM_KEYS))
    for row in rows:
        if isinstance(row, Rejected):
            yield row
            continue
        n, obj, raw = row
        try:
            item_id = as_id(obj.get("id"), p, n)
            title = as_text(obj.get("title"), p, n, "title")
            description = as_text(obj.get("description"), p, n, "description")
            attrs = _csv_attributes(obj, p, n) if csv_mode else \
                as_attributes(obj.get("attributes"), p, n)
            if not seen.is_new(item_id, (title, description, frozen_attributes(attrs)), p, n):
                continue
        except RecordError as e:
            yield Rejected(e, raw)
            continue
        yield ItemRecord(item_id, title, description, attrs, SourceRef(p, n))


def iter_items(path: str | Path, *, on_error: OnError = "fail", rejects: RejectLog | None = None,
               seen: DuplicateCheck | None = None) -> Iterator[ItemRecord]:
    """Stream validated items from ``items.jsonl`` or ``items.csv`` (see module docstring).

    Args:
        path: a ``.jsonl``/``.ndjson`` or ``.csv`` file.
        on_error: ``"fail"`` raises on the first bad record; ``"skip"`` logs it to
            ``rejects`` and goes on.
        rejects: where skipped records go (``on_error="skip"``).
        seen: duplicate-id state shared across files of one load (default: this file only).

    Yields:
        ItemRecord with ``source=SourceRef(path, line)``; identical duplicates only once.

    Raises:
        RecordError: a bad record (``on_error="fail"``) or a bad header.
        IngestError: the file is missing, empty or of an unknown type.
    """
    seen = seen if seen is not None else DuplicateCheck("item", ("title", "description",
                                                                "attributes"))
    return resolve(_scan_items(Path(path), seen), on_error, rejects)


# ---------------------------------------------------------------- users
def _scan_users(path: Path, seen: DuplicateCheck) -> Iterator[UserRecord | Rejected]:
    p = str(path)
    csv_mode = _kind_of(path) == "csv"
    rows: Iterator[tuple[int, Any, str] | Rejected] = (
        csv_rows(path, ("id",), ("id",), True)
        if csv_mode else jsonl_objects(path, _USER_KEYS))
    for row in rows:
        if isinstance(row, Rejected):
            yield row
            continue
        n, obj, raw = row
        try:
            user_id = as_id(obj.get("id"), p, n)
            attrs = _csv_attributes(obj, p, n) if csv_mode else \
                as_attributes(obj.get("attributes"), p, n)
            if not seen.is_new(user_id, (frozen_attributes(attrs),), p, n):
                continue
        except RecordError as e:
            yield Rejected(e, raw)
            continue
        yield UserRecord(user_id, attrs, SourceRef(p, n))


def iter_users(path: str | Path, *, on_error: OnError = "fail", rejects: RejectLog | None = None,
               seen: DuplicateCheck | None = None) -> Iterator[UserRecord]:
    """Stream validated users from ``users.jsonl`` or ``users.csv``.

    Args and behaviour as :func:`iter_items`.
    """
    seen = seen if seen is not None else DuplicateCheck("user", ("attributes",))
    return resolve(_scan_users(Path(path), seen), on_error, rejects)


# ---------------------------------------------------------------- interactions
def _parse_weight(cell: str, path: str, line: int) -> float:
    text = cell.strip()
    if not text:
        return 1.0
    try:
        w = float(text)
    except ValueError:
        raise record_error(path, line, "weight", f"must be a number, got {shown(text)}") from None
    return check_weight(w, path, line)


def parse_timestamp(cell: str | float, path: str, line: int, field: str = "timestamp") -> int:
    """Unix seconds (a number or its text) or ISO-8601, one rule for both: from 1970 to
    9999 (empty or 0 = unknown). Used by the catalog reader, ``add_interactions`` and the
    HTTP events route alike.

    Raises:
        RecordError: naming ``path``, ``line`` and ``field``.
    """
    if isinstance(cell, bool):
        raise record_error(path, line, field, f"must be Unix seconds or an ISO-8601 "
                           f"date-time, got {shown(cell)}")
    if isinstance(cell, int | float):
        return check_timestamp(cell, path, line, field)
    text = cell.strip()
    if not text:
        return 0
    try:
        value: float | None = float(text)
    except ValueError:
        value = _iso_seconds(text)
    if value is None:
        raise record_error(path, line, field, f"must be Unix seconds or an ISO-8601 "
                           f"date-time ({TIMESTAMP_RULE}), got {shown(text)}")
    return check_timestamp(value, path, line, field)


def _iso_seconds(text: str) -> float | None:
    """Seconds since 1970 of an ISO-8601 date-time (UTC when it has no offset), or None."""
    try:
        dt = datetime.fromisoformat(text)
        return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()
    except (ValueError, OverflowError):
        return None


def _scan_interactions(path: Path, known_items: Container[str] | None
                       ) -> Iterator[InteractionRecord | Rejected]:
    p = str(path)
    if _kind_of(path) != "csv":
        raise IngestError(f"{p}: interactions must be a .csv file")
    rows = csv_rows(path, _INTERACTION_COLUMNS,
                              ("user_id", "item_id"), False)
    for row in rows:
        if isinstance(row, Rejected):
            yield row
            continue
        n, cells, raw = row
        try:
            user_id = as_id(cells["user_id"].strip(), p, n, "user_id")
            item_id = as_id(cells["item_id"].strip(), p, n, "item_id")
            if known_items is not None and item_id not in known_items:
                raise record_error(p, n, "item_id", f"names an unknown item {item_id!r} "
                                   f"(every item_id must be an item of the same load)")
            weight = _parse_weight(cells.get("weight", ""), p, n)
            ts = parse_timestamp(cells.get("timestamp", ""), p, n)
        except RecordError as e:
            yield Rejected(e, raw)
            continue
        yield InteractionRecord(user_id, item_id, weight, ts, SourceRef(p, n))


def iter_interactions(path: str | Path, *, known_items: Container[str] | None = None,
                      on_error: OnError = "fail", rejects: RejectLog | None = None
                      ) -> Iterator[InteractionRecord]:
    """Stream validated interactions from ``interactions.csv``.

    Repeated pairs are *not* merged here (see :func:`kg.writer.aggregate_interactions`).

    Args:
        path: the CSV file.
        known_items: item ids of this load; an interaction naming another item is
            rejected. ``None`` skips the check.
        on_error: ``"fail"`` or ``"skip"`` as in :func:`iter_items`.
        rejects: where skipped records go.
    """
    return resolve(_scan_interactions(Path(path), known_items), on_error, rejects)


# ---------------------------------------------------------------- whole catalog
def _kind_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise IngestError(f"{path}: unknown file type {suffix!r} (expected .jsonl, .ndjson or .csv)")


class CatalogFiles:
    """The files of one catalog folder (``users``/``interactions`` may be ``None``)."""

    def __init__(self, items: Path, users: Path | None, interactions: Path | None) -> None:
        self.items = items
        self.users = users
        self.interactions = interactions

    def __repr__(self) -> str:
        return (f"CatalogFiles(items={str(self.items)!r}, users={self.users and str(self.users)!r}, "
                f"interactions={self.interactions and str(self.interactions)!r})")


def _one_of(directory: Path, stem: str, required: bool) -> Path | None:
    found = [directory / f"{stem}.{ext}" for ext in ("jsonl", "csv")
             if (directory / f"{stem}.{ext}").is_file()]
    if len(found) > 1:
        raise IngestError(f"{directory}: both {stem}.jsonl and {stem}.csv exist; keep one")
    if not found and required:
        raise IngestError(f"{directory}: no {stem}.jsonl or {stem}.csv (a catalog folder needs "
                          f"items.jsonl or items.csv; users.* and interactions.csv are optional)")
    return found[0] if found else None


def catalog_files(directory: str | Path) -> CatalogFiles:
    """Find the files of a catalog folder.

    Raises:
        IngestError: the folder is missing, has no items file, or has two of a kind.
    """
    d = Path(directory)
    if not d.is_dir():
        raise IngestError(f"{d}: not a folder (expected a catalog folder with items.jsonl or "
                          f"items.csv)")
    items = _one_of(d, "items", True)
    assert items is not None
    inter = d / "interactions.csv"
    return CatalogFiles(items, _one_of(d, "users", False), inter if inter.is_file() else None)


def read_catalog(directory: str | Path, on_error: OnError = "fail",
                 rejects: RejectLog | None = None) -> Dataset:
    """Read a whole catalog folder into memory (see the module docstring for the format).

    Interactions keep one record per line; use :meth:`Dataset.aggregate_interactions`
    to merge repeated pairs.

    Raises:
        RecordError: a bad record (``on_error="fail"``).
        IngestError: a file is missing or unreadable.
    """
    from ingest.dataset import Dataset

    files = catalog_files(directory)
    items = list(iter_items(files.items, on_error=on_error, rejects=rejects))
    users = list(iter_users(files.users, on_error=on_error, rejects=rejects)) \
        if files.users else []
    known = {r.id for r in items}
    inter = list(iter_interactions(files.interactions, known_items=known, on_error=on_error,
                                   rejects=rejects)) if files.interactions else []
    logger.info("read catalog %s: %d items, %d users, %d interactions", directory, len(items),
                len(users), len(inter))
    return Dataset(items=items, users=users, interactions=inter, name=Path(directory).name)
