"""Low-level reading of catalog text files: physical lines, JSONL objects, CSV rows.

Every way a line can fail to parse ends as a :class:`~ingest.validation.Rejected` record
whose :class:`~kgrec.errors.RecordError` names the file and the line: bytes that are not
UTF-8, JSON that is malformed, nested too deeply or holds a number too long to convert,
CSV that the ``csv`` module refuses, a row of the wrong width. A bad *header* is an error
of the whole file (a ``RecordError`` at its line, raised whatever ``on_error`` says).

Empty files: a JSONL or CSV file must hold at least one record. A file with none (zero
bytes, only blank lines, or a CSV header alone) raises :class:`~kgrec.errors.IngestError`
``<file>: holds no records``, for items, users and interactions alike; leave an optional
file out instead of giving it empty.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ingest.validation import (
    Rejected,
    check_attribute_kind,
    describe,
    record_error,
    unknown_key_error,
)
from kgrec.errors import IngestError, RecordError

__all__ = ["ATTR_PREFIX", "csv_rows", "jsonl_objects"]

ATTR_PREFIX = "attr:"
_UTF8_HINT = ("files must be UTF-8; convert it first, e.g. "
              "`iconv -f latin1 -t utf-8 FILE > FILE.utf8`")


def _lines(path: Path) -> Iterator[tuple[int, str | None, bytes, str]]:
    """Yield ``(line_no, text or None, raw bytes, decode error)`` for each physical line."""
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        raise IngestError(f"{path}: file not found") from None
    except OSError as e:
        raise IngestError(f"{path}: cannot be read ({e.strerror})") from e
    with fh:
        try:
            for n, raw in enumerate(fh, 1):
                if n == 1 and raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8):]
                try:
                    yield n, raw.decode("utf-8"), raw, ""
                except UnicodeDecodeError as e:
                    yield n, None, raw, (f"is not valid UTF-8 (byte 0x{raw[e.start]:02x} at "
                                         f"column {e.start + 1}); {_UTF8_HINT}")
        except OSError as e:
            raise IngestError(f"{path}: cannot be read ({e.strerror or e})") from e


def _raw_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r\n")


def _no_records(path: Path) -> IngestError:
    return IngestError(f"{path}: holds no records (an empty file, only blank lines or a CSV "
                       f"header alone); give at least one record, or leave an optional file "
                       f"out")


def _parse_json(text: str, path: str, line: int) -> Any:
    """``json.loads(text)``, or a RecordError naming why the line is not usable JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        why = f"is not valid JSON ({e.msg}; column {e.colno})"
    except RecursionError:
        why = "is not usable JSON: it is nested too deeply"
    except ValueError as e:  # e.g. an integer of more than 4300 digits
        why = f"is not usable JSON ({e})"
    raise record_error(path, line, None, why)


def jsonl_objects(path: Path, keys: tuple[str, ...]
                  ) -> Iterator[tuple[int, dict[str, Any], str] | Rejected]:
    """Parse JSONL lines into objects whose keys are checked; blank lines are skipped.

    Raises:
        IngestError: the file is missing, unreadable, or holds no records.
    """
    p = str(path)
    records = 0
    for n, text, raw, bad in _lines(path):
        if text is not None and not text.strip():
            continue
        records += 1
        raw_text = _raw_text(raw)
        if text is None:
            yield Rejected(record_error(p, n, None, bad), raw_text)
            continue
        try:
            obj = _parse_json(text, p, n)
            if not isinstance(obj, dict):
                raise record_error(p, n, None, f"must be a JSON object, got {describe(obj)}")
            unknown = unknown_key_error(obj, keys, p, n)
            if unknown is not None:
                raise unknown
        except RecordError as e:
            yield Rejected(e, raw_text)
            continue
        yield n, obj, raw_text
    if not records:
        raise _no_records(path)


class _CsvSource:
    """Decoded lines for ``csv.reader``, remembering raw text and decode errors per line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.bad: dict[int, str] = {}
        self.raw: dict[int, str] = {}

    def __iter__(self) -> Iterator[str]:
        for n, text, raw, bad in _lines(self.path):
            self.raw[n] = _raw_text(raw)
            if text is None:
                self.bad[n] = bad
                text = raw.decode("utf-8", errors="replace")
            yield text

    def take(self, start: int, end: int) -> tuple[str, list[int]]:
        """The raw text of lines ``start..end`` and those of them that were not UTF-8."""
        raw = "\n".join(self.raw.pop(i, "") for i in range(start, end + 1))
        self.raw.clear()
        return raw, [i for i in range(start, end + 1) if i in self.bad]


def _header(reader: Any, source: _CsvSource) -> list[str]:
    """The header row (blank lines before it are skipped)."""
    p = str(source.path)
    header: list[str] = []
    while not any(h.strip() for h in header):
        try:
            header = next(reader)
        except StopIteration:
            raise _no_records(source.path) from None
        except csv.Error as e:
            raise record_error(p, reader.line_num, None,
                               f"is not a valid CSV header ({e})") from None
        if reader.line_num in source.bad:
            raise record_error(p, reader.line_num, None, source.bad[reader.line_num])
    source.raw.clear()
    return [h.strip() for h in header]


def csv_rows(path: Path, allowed: tuple[str, ...], required: tuple[str, ...], attrs: bool
             ) -> Iterator[tuple[int, dict[str, str], str] | Rejected]:
    """Parse a CSV file with a checked header; yield ``(line, {column: cell}, raw)`` per row.

    Raises:
        RecordError: the header is malformed (line 1).
        IngestError: the file is missing, unreadable, or holds no records.
    """
    p = str(path)
    source = _CsvSource(path)
    reader = csv.reader(source)
    header = _header(reader, source)
    check_header(path, header, allowed, required, attrs, reader.line_num)
    records = 0
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            records += 1
            raw, _ = source.take(start, reader.line_num)
            yield Rejected(record_error(p, start, None, f"is not valid CSV ({e})"), raw)
            continue
        raw, bad = source.take(start, reader.line_num)
        if bad:
            records += 1
            yield Rejected(record_error(p, bad[0], None, source.bad[bad[0]]), raw)
            continue
        if not row or all(not c.strip() for c in row):
            continue
        records += 1
        if len(row) != len(header):
            yield Rejected(record_error(p, start, None, f"has {len(row)} fields, the header "
                                        f"has {len(header)} ({','.join(header)})"), raw)
            continue
        yield start, dict(zip(header, row, strict=True)), raw
    if not records:
        raise _no_records(path)


def check_header(path: Path, header: Iterable[str], allowed: tuple[str, ...],
                 required: tuple[str, ...], attrs: bool, line: int = 1) -> None:
    """Raise a :class:`RecordError` (at the header's ``line``) for a missing, unknown or
    repeated column."""
    cols = list(header)
    for c in required:
        if c not in cols:
            raise record_error(str(path), line, c, f"is missing from the header (found columns: "
                               f"{', '.join(cols)})")
    for c in cols:
        if c in allowed:
            continue
        if attrs and c.startswith(ATTR_PREFIX):
            check_attribute_kind(c[len(ATTR_PREFIX):], str(path), line, c)
            continue
        extra = f", {ATTR_PREFIX}<kind>" if attrs else ""
        raise record_error(str(path), line, c, f"is not an allowed column (allowed: "
                           f"{', '.join(allowed)}{extra})")
    dup = {c for c in cols if cols.count(c) > 1}
    if dup:
        raise record_error(str(path), line, min(dup), "appears twice in the header")
