"""Record validation shared by every reader, and the reject log of ``--on-error skip``.

Readers produce a stream of records or :class:`Rejected` markers; :func:`resolve`
turns that stream into records, raising the first error (``on_error="fail"``) or
logging rejects and going on (``on_error="skip"``).

Every error is a :class:`kgrec.errors.RecordError` whose message names the file,
the line and the field, what was expected and what was found, e.g.::

    tests/data/broken/items_title_number.jsonl line 3: field 'title' must be a string, got 42 (int)
"""

from __future__ import annotations

import json
import logging
import math
import reprlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal, Self, TypeVar

from kg.schema import check_id, check_kind, check_value
from kg.writer import MAX_TIMESTAMP, MAX_WEIGHT
from kgrec.errors import RecordError

__all__ = ["MAX_TIMESTAMP", "MAX_WEIGHT", "ON_ERROR_CHOICES", "OnError", "RejectLog", "Rejected",
           "check_timestamp", "check_weight", "record_error", "resolve", "shown"]

logger = logging.getLogger(__name__)

OnError = Literal["fail", "skip"]
ON_ERROR_CHOICES: tuple[str, ...] = ("fail", "skip")

_T = TypeVar("_T")

KIND_RULE = "an attribute kind must match [A-Za-z_][A-Za-z0-9_]* (letters, digits, '_'; " \
            "not starting with a digit)"
VALUE_RULE = "an attribute value must be 1-200 characters with a visible one, without control " \
             "or bidirectional-override characters or leading/trailing whitespace"
ID_RULE = "an id must be 1-200 characters with a visible one, without control or " \
          "bidirectional-override characters or leading/trailing whitespace"
WEIGHT_RULE = f"must be a positive finite number, at most {MAX_WEIGHT:g}"
TIMESTAMP_RULE = (f"a timestamp must be Unix seconds from 0 to {MAX_TIMESTAMP} or an ISO-8601 "
                  f"date-time from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z, such as "
                  f"2024-05-01T12:00:00Z (pre-1970 times are refused in both notations)")
_MAX_RAW = 2000
_SHOWN = reprlib.Repr()
_SHOWN.maxstring = _SHOWN.maxother = 60
_SHOWN.maxlevel = 3


def record_error(path: str, line: int, field: str | None, message: str) -> RecordError:
    """Build a :class:`RecordError` whose message starts with ``<path> line <n>: field '<f>'``."""
    where = f"{path} line {line}" if line else path
    what = f"field {field!r} {message}" if field else message
    return RecordError(f"{where}: {what}", path=path, line=line or None, field=field)


def unknown_key_error(obj: Mapping[str, Any], keys: tuple[str, ...], path: str, line: int
                      ) -> RecordError | None:
    """The error for the first key of ``obj`` not in ``keys`` (None when all are allowed)."""
    extra = [k for k in obj if k not in keys]
    if not extra:
        return None
    return record_error(path, line, str(extra[0]), f"is not allowed (allowed keys: "
                        f"{', '.join(keys)})")


def shown(value: Any) -> str:
    """A short ``repr`` of ``value`` for messages: at most about 60 characters, three levels
    deep, so a huge or deeply nested input never floods (or overflows) an error message."""
    return _SHOWN.repr(value)


def describe(value: Any) -> str:
    """``42 (int)`` — a short rendering of a found value for error messages."""
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (ValueError, RecursionError):  # too deep (or circular): a bounded repr instead
            text = shown(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


@dataclass(frozen=True)
class Rejected:
    """A record that failed validation: the error and the raw source text."""

    error: RecordError
    raw: str = ""


class RejectLog:
    """Collects rejected records; written as JSONL (``path, line, field, reason, raw``).

    With ``path=None`` the entries are kept in memory (``entries``) instead.

    Args:
        path: the reject file to create (its parent folders are created too).
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.entries: list[dict[str, Any]] = []
        self.count = 0
        self._fh: IO[str] | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("w", encoding="utf-8")

    def add(self, error: RecordError, raw: str = "") -> None:
        """Record one rejected record."""
        self._put({"path": error.path, "line": error.line, "field": error.field,
                   "reason": str(error), "raw": raw[:_MAX_RAW]})

    def extend(self, other: RejectLog) -> None:
        """Append the entries ``other`` kept in memory (a log made with ``path=None``)."""
        for entry in other.entries:
            self._put(entry)

    def _put(self, entry: dict[str, Any]) -> None:
        self.count += 1
        if self._fh is not None:
            self._fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        else:
            self.entries.append(entry)

    def close(self) -> None:
        """Flush and close the reject file (idempotent)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RejectLog(path={str(self.path) if self.path else None!r}, count={self.count})"


def check_on_error(on_error: str) -> OnError:
    """Return ``on_error`` if it is ``"fail"`` or ``"skip"``.

    Raises:
        ValueError: any other value (a programming error, not bad data).
    """
    if on_error not in ON_ERROR_CHOICES:
        raise ValueError(f"on_error must be one of {', '.join(ON_ERROR_CHOICES)}; "
                         f"got {on_error!r}")
    return on_error  # type: ignore[return-value]


def resolve(stream: Iterable[_T | Rejected], on_error: OnError = "fail",
            rejects: RejectLog | None = None) -> Iterator[_T]:
    """Yield the good records of ``stream``; raise or log the rejected ones.

    Raises:
        RecordError: the first rejected record, when ``on_error="fail"``.
    """
    check_on_error(on_error)
    for rec in stream:
        if isinstance(rec, Rejected):
            if on_error == "fail":
                raise rec.error
            logger.debug("skipped: %s", rec.error)
            if rejects is not None:
                rejects.add(rec.error, rec.raw)
            continue
        yield rec


# ---------------------------------------------------------------- field checks
def as_id(value: Any, path: str, line: int, field: str = "id") -> str:
    """An id: a string or an integer (turned into a string) matching :data:`ID_RULE`."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        if value is None or value == "":
            raise record_error(path, line, field, "is missing (expected a string or integer id)")
        raise record_error(path, line, field,
                           f"must be a string or integer id, got {describe(value)}")
    text = str(value)
    if text == "":
        raise record_error(path, line, field, "is missing (expected a string or integer id)")
    if not check_id(text):
        raise record_error(path, line, field, f"is not a valid id ({ID_RULE}), got {shown(text)}")
    return text


def as_text(value: Any, path: str, line: int, field: str) -> str:
    """An optional text field: a string (``None``/absent -> ``""``)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise record_error(path, line, field, f"must be a string, got {describe(value)}")
    return value


def as_attributes(value: Any, path: str, line: int,
                  field: str = "attributes") -> dict[str, tuple[str, ...]]:
    """``{kind: [values] | value}`` -> ``{kind: (values)}``, every kind and value checked.

    A value may be a string or a number (turned into its text).
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise record_error(path, line, field,
                           f"must be an object {{kind: [values]}}, got {describe(value)}")
    out: dict[str, tuple[str, ...]] = {}
    for kind, raw in value.items():
        values = raw if isinstance(raw, list) else [raw]
        out[check_attribute_kind(kind, path, line, f"{field}.{kind}")] = tuple(
            check_attribute_value(v, path, line, f"{field}.{kind}") for v in values)
    return out


def check_attribute_kind(kind: str, path: str, line: int, field: str) -> str:
    """Return ``kind`` if it matches the kind pattern, else raise naming the rule."""
    if not check_kind(kind):
        raise record_error(path, line, field, f"has an invalid attribute kind {kind!r}: "
                           f"{KIND_RULE}")
    return kind


def check_attribute_value(value: Any, path: str, line: int, field: str) -> str:
    """An attribute value: a string or finite number, passing :func:`kg.schema.check_value`."""
    if isinstance(value, bool) or not isinstance(value, str | int | float) or (
            isinstance(value, float) and not math.isfinite(value)):
        raise record_error(path, line, field,
                           f"values must be strings or numbers, got {describe(value)}")
    text = str(value)
    if not check_value(text):
        raise record_error(path, line, field, f"has an invalid value {shown(text)}: {VALUE_RULE}")
    return text


def check_weight(weight: float, path: str, line: int, field: str = "weight") -> float:
    """``weight`` if it is a finite number in ``(0, MAX_WEIGHT]``, else a :class:`RecordError`.

    The same range holds after repeated pairs are merged (their weights summed):
    :func:`ingest.merging.merge_interactions`, :func:`kg.writer.aggregate_interactions`.
    """
    if not 0 < weight <= MAX_WEIGHT:  # NaN fails the comparison too
        raise record_error(path, line, field, f"{WEIGHT_RULE}, got {shown(weight)}")
    return weight


def check_timestamp(ts: float, path: str, line: int, field: str = "timestamp") -> int:
    """``ts`` (Unix seconds) as an int if it is in ``[0, MAX_TIMESTAMP]``, else a
    :class:`RecordError` (:data:`TIMESTAMP_RULE`; 0 means unknown)."""
    if not 0 <= ts <= MAX_TIMESTAMP:  # NaN fails the comparison too
        raise record_error(path, line, field, f"is out of range: {TIMESTAMP_RULE}; got "
                           f"{shown(ts)}")
    return int(ts)


class DuplicateCheck:
    """Remembers ids within one load: identical duplicates are dropped, conflicting ones raise.

    Only a hash per field is kept per id, so memory stays small for large catalogs.

    Args:
        what: ``"item"`` or ``"user"``, for messages.
        fields: names of the compared fields, in the order given to :meth:`is_new`.
    """

    def __init__(self, what: str, fields: tuple[str, ...]) -> None:
        self.what = what
        self.fields = fields
        self._seen: dict[str, tuple[int, str, tuple[int, ...]]] = {}

    def is_new(self, key: str, values: tuple[Any, ...], path: str, line: int) -> bool:
        """True for a first occurrence, False for an identical duplicate.

        Raises:
            RecordError: ``key`` was seen before with a different value of some field.
        """
        hashes = tuple(hash(v) for v in values)
        first = self._seen.get(key)
        if first is None:
            self._seen[key] = (line, path, hashes)
            return True
        if first[2] == hashes:
            return False
        differs = [f for f, a, b in zip(self.fields, first[2], hashes, strict=True) if a != b]
        where = f"line {first[0]}" if first[1] == path else f"{first[1]} line {first[0]}"
        raise record_error(path, line, differs[0],
                           f"conflicts with the duplicate {self.what} id {key!r} at {where} "
                           f"(fields that differ: {', '.join(differs)}; identical duplicates "
                           f"are allowed)")

    def __contains__(self, key: object) -> bool:
        return key in self._seen

    def __len__(self) -> int:
        return len(self._seen)

    def keys(self) -> set[str]:
        """All ids seen so far."""
        return set(self._seen)


def frozen_attributes(attributes: Mapping[str, Sequence[str]]
                      ) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A hashable, order-independent form of an attribute mapping (for duplicate checks)."""
    return tuple(sorted((k, tuple(sorted(set(v)))) for k, v in attributes.items() if v))
