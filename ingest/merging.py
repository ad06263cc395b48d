"""Merge repeated ``(user_id, item_id)`` interaction pairs, and check the merged values.

The writer sets, not adds, a relationship's weight, so a load merges the pairs of a
whole file before writing: weights summed, latest timestamp kept (the rule of
:func:`kg.writer.aggregate_interactions`, which holds records instead of arrays). The
values are checked twice: each row (a weight in ``(0, MAX_WEIGHT]``, a timestamp in
``[0, MAX_TIMESTAMP]``), and each merged pair, since two rows of ``1e308`` sum to
infinity. A bad pair is a :class:`~kgrec.errors.RecordError` naming the file and the
line of its first row.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator

import numpy as np

from ingest.validation import (
    MAX_WEIGHT,
    WEIGHT_RULE,
    OnError,
    RejectLog,
    check_on_error,
    check_timestamp,
    check_weight,
    record_error,
)
from kg.records import InteractionRecord, SourceRef
from kgrec.errors import RecordError

__all__ = ["MergedInteractions", "merge_interactions"]


class _Columns:
    """Interactions as integer codes and numbers: about 48 bytes per row."""

    def __init__(self) -> None:
        self.user_code: dict[str, int] = {}
        self.item_code: dict[str, int] = {}
        self.path_code: dict[str, int] = {}
        self.u, self.i, self.t, self.line, self.src = (array("q") for _ in range(5))
        self.w = array("d")

    def add(self, r: InteractionRecord) -> None:
        self.u.append(self.user_code.setdefault(r.user_id, len(self.user_code)))
        self.i.append(self.item_code.setdefault(r.item_id, len(self.item_code)))
        self.w.append(float(r.weight))
        self.t.append(int(r.ts))
        ref = r.source or SourceRef("interaction")
        self.src.append(self.path_code.setdefault(ref.path, len(self.path_code)))
        self.line.append(ref.line)


def _row_error(r: InteractionRecord) -> RecordError | None:
    """The row's error by the one weight and timestamp rule, or None."""
    ref = r.source or SourceRef(f"interaction ({r.user_id!r}, {r.item_id!r})")
    try:
        check_weight(r.weight, ref.path, ref.line)
        check_timestamp(r.ts, ref.path, ref.line)
    except RecordError as e:
        return e
    return None


class MergedInteractions:
    """The pairs of some interactions, merged and checked (see the module docstring).

    Iterating yields one :class:`InteractionRecord` per pair in the order of its first
    occurrence, with the ``source`` of that first row. ``len()`` is the number of pairs.
    """

    def __init__(self, cols: _Columns, keep: np.ndarray, first: np.ndarray,
                 weight: np.ndarray, ts: np.ndarray) -> None:
        order = np.argsort(first, kind="stable")
        order = order[keep[order]]
        rows = first[order]
        self._user = np.frombuffer(cols.u, dtype=np.int64)[rows]
        self._item = np.frombuffer(cols.i, dtype=np.int64)[rows]
        self._line = np.frombuffer(cols.line, dtype=np.int64)[rows]
        self._src = np.frombuffer(cols.src, dtype=np.int64)[rows]
        self._weight, self._ts = weight[order], ts[order]
        self._user_ids, self._item_ids = list(cols.user_code), list(cols.item_code)
        self._paths = list(cols.path_code)

    def __len__(self) -> int:
        return len(self._weight)

    def __iter__(self) -> Iterator[InteractionRecord]:
        for k in range(len(self._weight)):
            yield InteractionRecord(self._user_ids[self._user[k]], self._item_ids[self._item[k]],
                                    float(self._weight[k]), int(self._ts[k]),
                                    SourceRef(self._paths[self._src[k]], int(self._line[k])))

    def __repr__(self) -> str:
        return f"MergedInteractions(pairs={len(self)})"


def _bad_pairs(cols: _Columns, bad: np.ndarray, first: np.ndarray, inverse: np.ndarray,
               weight: np.ndarray) -> Iterator[RecordError]:
    """The error of each pair in ``bad`` (pair indexes), in the order of first occurrence."""
    counts = np.bincount(inverse, minlength=len(first))
    users, items, paths = list(cols.user_code), list(cols.item_code), list(cols.path_code)
    for k in bad[np.argsort(first[bad], kind="stable")].tolist():
        row = int(first[k])
        yield record_error(paths[cols.src[row]], cols.line[row], "weight",
                           f"of the pair (user {users[cols.u[row]]!r}, item "
                           f"{items[cols.i[row]]!r}) sums to {float(weight[k])!r} over its "
                           f"{int(counts[k])} rows; it {WEIGHT_RULE}, also after repeated "
                           f"pairs are merged")


def merge_checked(records: Iterable[InteractionRecord], on_error: OnError = "fail",
                  rejects: RejectLog | None = None) -> MergedInteractions:
    """Merge repeated pairs (weights summed, latest ts) and check every row and pair.

    Args:
        records: the interactions (their ``source`` names the rows in errors).
        on_error: ``"fail"`` raises on the first bad row or pair; ``"skip"`` leaves it
            out and logs it to ``rejects``.
        rejects: where skipped rows and pairs go.

    Raises:
        RecordError: a bad row or merged pair (``on_error="fail"``).
    """
    check_on_error(on_error)
    cols = _Columns()
    for r in records:
        error = _row_error(r)
        if error is None:
            cols.add(r)
        elif on_error == "fail":
            raise error
        elif rejects is not None:
            rejects.add(error, f"{r.user_id},{r.item_id},{r.weight!r},{r.ts!r}")
    users = np.frombuffer(cols.u, dtype=np.int64)
    keys = users * max(len(cols.item_code), 1) + np.frombuffer(cols.i, dtype=np.int64)
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    weight = np.bincount(inverse, weights=np.frombuffer(cols.w, dtype=np.float64),
                         minlength=len(first))
    ts = np.zeros(len(first), dtype=np.int64)
    np.maximum.at(ts, inverse, np.frombuffer(cols.t, dtype=np.int64))
    keep = weight <= MAX_WEIGHT  # inf and NaN fail it
    for error in _bad_pairs(cols, np.flatnonzero(~keep), first, inverse, weight):
        if on_error == "fail":
            raise error
        if rejects is not None:
            rejects.add(error, f"{error.path} line {error.line}")
    return MergedInteractions(cols, keep, first, weight, ts)


def merge_interactions(records: Iterable[InteractionRecord]) -> Iterator[InteractionRecord]:
    """Merge repeated ``(user_id, item_id)`` pairs (weights summed, latest ``ts``).

    Holds ids as integer codes in NumPy arrays (about 48 bytes per interaction), so ten
    million interactions fit in memory. Pairs come out in the order of their first
    occurrence, with the ``source`` of that first row.

    Raises:
        RecordError: a row or a merged pair out of range (see the module docstring).
    """
    yield from merge_checked(records)
