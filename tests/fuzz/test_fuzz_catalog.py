"""Property-based tests of the catalog readers (issue 29): whatever a JSONL or CSV file of
items, users or interactions holds, reading it ends in records or in a KGRecError that
names the file (and, for a RecordError, the line); never another exception. No database.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.catalog import iter_interactions, iter_items, iter_users
from ingest.merging import merge_checked
from ingest.validation import RejectLog
from kgrec.errors import IngestError, KGRecError, RecordError

FUZZ = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

#: characters that break parsers: quotes, separators, controls, bidi, zero-width, surrogates
NASTY = st.sampled_from(['"', ",", "|", "\n", "\r", "\x00", "\x85", "\u202e", "\u200b", "\\",
                         "{", "[", "]", "}", ":", "attr:", "\ufeff", " ", "\t", "é", "\ud800"])
TEXT = st.lists(st.one_of(NASTY, st.text(max_size=8)), max_size=8).map("".join)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12)
DEEP = st.integers(1, 30_000).map(lambda n: "[" * n + "]" * n)


def _object(keys: tuple[str, ...]) -> st.SearchStrategy[str]:
    """A JSON object with some of ``keys`` (and maybe an unknown one), values of any type."""
    fields = st.dictionaries(st.sampled_from((*keys, "extra")), JSON_VALUES, max_size=5)
    return fields.map(lambda d: json.dumps(d, ensure_ascii=False, allow_nan=True))


def _jsonl_lines(keys: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    line = st.one_of(_object(keys), TEXT, DEEP.map(lambda d: '{"id": "1", "title": ' + d + "}"),
                     JSON_VALUES.map(lambda v: json.dumps(v)), st.just(""))
    return st.lists(line, max_size=8)


def _csv_text(columns: list[str]) -> st.SearchStrategy[str]:
    cell = st.one_of(TEXT, st.sampled_from(["1", "u1", "1e308", "-5", "1e20", "nan", "inf",
                                            "2024-01-01T00:00:00Z", "1960-01-01", '"a""b"',
                                            '"open', "x" * 200_001]))
    header = st.lists(st.one_of(st.sampled_from(columns), TEXT), min_size=0,
                      max_size=5).map(",".join)
    row = st.lists(cell, max_size=5).map(",".join)
    return st.tuples(header, st.lists(row, max_size=6)).map(
        lambda hr: "\n".join([hr[0], *hr[1]]))


def _tmp_file(name: str, data: str | bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        if isinstance(data, str):
            path.write_bytes(data.encode("utf-8", errors="surrogatepass"))
        else:
            path.write_bytes(data)
        yield path


def _read_both_ways(read: Callable[..., Iterator[Any]], path: Path, **kwargs: Any) -> None:
    """Read ``path`` in fail and skip mode; every error must be located."""
    for mode in ("fail", "skip"):
        rejects = RejectLog()
        try:
            for _ in read(path, on_error=mode, rejects=rejects, **kwargs):
                pass
        except RecordError as e:
            assert e.path == str(path) and e.line is not None and e.line >= 1, e
            assert str(e).startswith(f"{path} line {e.line}: "), e
        except IngestError as e:
            assert str(e).startswith(f"{path}: "), e
        for entry in rejects.entries:
            assert entry["path"] == str(path) and entry["line"] >= 1, entry


@FUZZ
@given(lines=_jsonl_lines(("id", "title", "description", "attributes")))
def test_items_jsonl_ends_in_records_or_a_located_error(lines: list[str]) -> None:
    for path in _tmp_file("items.jsonl", "\n".join(lines)):
        _read_both_ways(iter_items, path)


@FUZZ
@given(lines=_jsonl_lines(("id", "attributes")))
def test_users_jsonl_ends_in_records_or_a_located_error(lines: list[str]) -> None:
    for path in _tmp_file("users.jsonl", "\n".join(lines)):
        _read_both_ways(iter_users, path)


@FUZZ
@given(text=_csv_text(["id", "title", "description", "attr:genre", "attr:", "attr:bad-kind",
                       "genre", ""]), name=st.sampled_from(["items.csv", "users.csv"]))
def test_items_and_users_csv_end_in_records_or_a_located_error(text: str, name: str) -> None:
    for path in _tmp_file(name, text):
        _read_both_ways(iter_items if name == "items.csv" else iter_users, path)


@FUZZ
@given(text=_csv_text(["user_id", "item_id", "weight", "timestamp", "extra"]))
def test_interactions_csv_ends_in_records_or_a_located_error(text: str) -> None:
    for path in _tmp_file("interactions.csv", text):
        _read_both_ways(iter_interactions, path, known_items={"1", "u1"})
        try:  # merging what was read checks the summed weights too
            merge_checked(iter_interactions(path, on_error="skip"), "fail")
        except RecordError as e:
            assert e.path == str(path) and e.line is not None and e.line >= 1, e
        except IngestError as e:
            assert str(e).startswith(f"{path}: "), e


@FUZZ
@given(data=st.binary(max_size=300),
       name=st.sampled_from(["items.jsonl", "items.csv", "users.jsonl", "interactions.csv"]))
def test_arbitrary_bytes_end_in_records_or_a_located_error(data: bytes, name: str) -> None:
    read = {"items": iter_items, "users": iter_users, "interactions": iter_interactions}
    for path in _tmp_file(name, data):
        try:
            _read_both_ways(read[name.split(".")[0]], path)
        except KGRecError as e:  # pragma: no cover - _read_both_ways catches them all
            raise AssertionError(f"unlocated {e!r}") from e
