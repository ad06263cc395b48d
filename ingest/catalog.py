"""Readers for the generic catalog format (a folder of JSONL/CSV files).

Catalog format
--------------
A catalog is a folder holding:

``items.jsonl`` **or** ``items.csv`` (required, not both)
    ``items.jsonl``: one JSON object per line (blank lines are ignored) with keys

    - ``id`` (required): a string, or an integer (stored as its decimal text);
      1-200 characters, no control characters, no leading/trailing whitespace;
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
    ``weight`` is a positive finite number (empty or absent: 1.0);
    ``timestamp`` is Unix seconds or an ISO-8601 date-time (a date-time without
    offset is read as UTC; empty or absent: 0 = unknown). Every ``item_id`` must
    name an item of the same catalog; unknown ``user_id`` values create users.
    Repeated ``(user_id, item_id)`` pairs are merged: weights summed, latest
    timestamp kept.

Rules for all files: UTF-8 (a BOM is allowed); attribute kinds match
``[A-Za-z_][A-Za-z0-9_]*``; attribute values are 1-200 characters without
control characters or leading/trailing whitespace; an id repeated within a
load must carry identical fields (identical duplicates are dropped, differing
ones are an error). Every bad record is reported as ``<file> line <n>: field
'<name>' <expected>, got <found>``.
"""

from __future__ import annotations

import codecs
import csv
import json
import logging
import math
from collections.abc import Container, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingest.validation import (
    DuplicateCheck,
    OnError,
    Rejected,
    RejectLog,
    as_attributes,
    as_id,
    as_text,
    check_attribute_kind,
    check_attribute_value,
    describe,
    frozen_attributes,
    record_error,
    resolve,
    unknown_key_error,
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
    "read_catalog",
]

logger = logging.getLogger(__name__)

_ITEM_KEYS = ("id", "title", "description", "attributes")
_USER_KEYS = ("id", "attributes")
_INTERACTION_COLUMNS = ("user_id", "item_id", "weight", "timestamp")
_ATTR_PREFIX = "attr:"
_UTF8_HINT = ("files must be UTF-8; convert it first, e.g. "
              "`iconv -f latin1 -t utf-8 FILE > FILE.utf8`")


# ---------------------------------------------------------------- low-level line reading
def _lines(path: Path) -> Iterator[tuple[int, str | None, bytes, str]]:
    """Yield ``(line_no, text or None, raw bytes, decode error)`` for each physical line."""
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        raise IngestError(f"{path}: file not found") from None
    except OSError as e:
        raise IngestError(f"{path}: cannot be read ({e.strerror})") from e
    with fh:
        for n, raw in enumerate(fh, 1):
            if n == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            try:
                yield n, raw.decode("utf-8"), raw, ""
            except UnicodeDecodeError as e:
                yield n, None, raw, (f"is not valid UTF-8 (byte 0x{raw[e.start]:02x} at column "
                                     f"{e.start + 1}); {_UTF8_HINT}")


def _raw_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r\n")


def _jsonl_objects(path: Path, keys: tuple[str, ...]
                   ) -> Iterator[tuple[int, dict[str, Any], str] | Rejected]:
    """Parse JSONL lines into objects whose keys are checked; blank lines are skipped."""
    p = str(path)
    for n, text, raw, bad in _lines(path):
        if text is None:
            yield Rejected(record_error(p, n, None, bad), _raw_text(raw))
            continue
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            yield Rejected(record_error(p, n, None, f"is not valid JSON ({e.msg}; column "
                                        f"{e.colno})"), text.rstrip("\r\n"))
            continue
        if not isinstance(obj, dict):
            yield Rejected(record_error(p, n, None, f"must be a JSON object, got "
                                        f"{describe(obj)}"), text.rstrip("\r\n"))
            continue
        unknown = unknown_key_error(obj, keys, p, n)
        if unknown is not None:
            yield Rejected(unknown, text.rstrip("\r\n"))
            continue
        yield n, obj, text.rstrip("\r\n")


def _csv_rows(path: Path, allowed: tuple[str, ...], required: tuple[str, ...], attrs: bool
              ) -> Iterator[tuple[int, dict[str, str], str] | Rejected]:
    """Parse a CSV file with a checked header; yield ``(line, {column: cell}, raw)`` per row."""
    p = str(path)
    bad_lines: dict[int, str] = {}
    raw_lines: dict[int, str] = {}

    def decoded() -> Iterator[str]:
        for n, text, raw, bad in _lines(path):
            raw_lines[n] = _raw_text(raw)
            if text is None:
                bad_lines[n] = bad
                text = raw.decode("utf-8", errors="replace")
            yield text

    reader = csv.reader(decoded())
    try:
        header = next(reader)
    except StopIteration:
        raise IngestError(f"{p}: file is empty (expected a header row)") from None
    if 1 in bad_lines:
        raise record_error(p, 1, None, bad_lines[1])
    header = [h.strip() for h in header]
    _check_header(path, header, allowed, required, attrs)
    raw_lines.clear()
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            yield Rejected(record_error(p, start, None, f"is not valid CSV ({e})"),
                           raw_lines.get(start, ""))
            continue
        end = reader.line_num
        raw = "\n".join(raw_lines.get(i, "") for i in range(start, end + 1))
        raw_lines.clear()
        bad = [i for i in range(start, end + 1) if i in bad_lines]
        if bad:
            yield Rejected(record_error(p, bad[0], None, bad_lines[bad[0]]), raw)
            for i in bad:
                bad_lines.pop(i, None)
            continue
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            yield Rejected(record_error(p, start, None, f"has {len(row)} fields, the header "
                                        f"has {len(header)} ({','.join(header)})"), raw)
            continue
        yield start, dict(zip(header, row, strict=True)), raw


def _check_header(path: Path, header: Iterable[str], allowed: tuple[str, ...],
                  required: tuple[str, ...], attrs: bool) -> None:
    cols = list(header)
    for c in required:
        if c not in cols:
            raise record_error(str(path), 1, c, f"is missing from the header (found columns: "
                               f"{', '.join(cols)})")
    for c in cols:
        if c in allowed:
            continue
        if attrs and c.startswith(_ATTR_PREFIX):
            check_attribute_kind(c[len(_ATTR_PREFIX):], str(path), 1, c)
            continue
        extra = f", {_ATTR_PREFIX}<kind>" if attrs else ""
        raise record_error(str(path), 1, c, f"is not an allowed column (allowed: "
                           f"{', '.join(allowed)}{extra})")
    dup = {c for c in cols if cols.count(c) > 1}
    if dup:
        raise record_error(str(path), 1, min(dup), "appears twice in the header")


def _csv_attributes(row: dict[str, str], path: str, line: int) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for col, cell in row.items():
        if col.startswith(_ATTR_PREFIX):
            values = [v.strip() for v in cell.split("|") if v.strip()]
            out[col[len(_ATTR_PREFIX):]] = tuple(check_attribute_value(v, path, line, col)
                                                 for v in values)
    return out


# ---------------------------------------------------------------- items
def _scan_items(path: Path, seen: DuplicateCheck) -> Iterator[ItemRecord | Rejected]:
    p = str(path)
    csv_mode = _kind_of(path) == "csv"
    rows: Iterator[tuple[int, Any, str] | Rejected] = (
        _csv_rows(path, ("id", "title", "description"), ("id",), True)
        if csv_mode else _jsonl_objects(path, _ITEM_KEYS))
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
        _csv_rows(path, ("id",), ("id",), True)
        if csv_mode else _jsonl_objects(path, _USER_KEYS))
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
    if not cell.strip():
        return 1.0
    try:
        w = float(cell)
    except ValueError:
        raise record_error(path, line, "weight", f"must be a number, got {cell!r}") from None
    if not math.isfinite(w) or w <= 0:
        raise record_error(path, line, "weight", f"must be a positive finite number, got {cell!r}")
    return w


def _parse_timestamp(cell: str, path: str, line: int) -> int:
    text = cell.strip()
    if not text:
        return 0
    try:
        value = float(text)
        if math.isfinite(value) and value >= 0:
            return int(value)
    except ValueError:
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return int((dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp())
    raise record_error(path, line, "timestamp", f"must be Unix seconds (>= 0) or an ISO-8601 "
                       f"date-time such as 2024-05-01T12:00:00Z, got {text!r}")


def _scan_interactions(path: Path, known_items: Container[str] | None
                       ) -> Iterator[InteractionRecord | Rejected]:
    p = str(path)
    if _kind_of(path) != "csv":
        raise IngestError(f"{p}: interactions must be a .csv file")
    rows = _csv_rows(path, _INTERACTION_COLUMNS,
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
            ts = _parse_timestamp(cells.get("timestamp", ""), p, n)
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
