"""Hostile and malformed catalog files: every failure is a RecordError naming file, line
and field (or an IngestError naming the file), never another exception (issue 29).
No database needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.catalog import iter_interactions, iter_items, iter_users
from ingest.merging import merge_interactions
from ingest.movielens import read_movielens
from ingest.validation import RejectLog
from kg.records import InteractionRecord, SourceRef
from kg.writer import aggregate_interactions
from kgrec.errors import IngestError, RecordError

DEEP = "[" * 100_000 + "]" * 100_000


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- parse failures
@pytest.mark.parametrize(("line", "why"), [
    ('{"id": "2", "attributes": {"genre": ' + DEEP + "}}", r"nested too deeply"),
    ('{"id": ' + "9" * 5000 + "}", r"is not usable JSON \(Exceeds the limit"),
    ('{"id": "2", "title": ' + "[" * 900 + "]" * 900 + "}", r"field 'title' must be a string"),
])
def test_unparsable_jsonl_lines_are_record_errors_with_their_line(tmp_path: Path, line: str,
                                                                  why: str) -> None:
    path = _write(tmp_path / "items.jsonl", '{"id": "1"}\n' + line + '\n{"id": "3"}\n')
    with pytest.raises(RecordError, match=r"items\.jsonl line 2: .*" + why) as info:
        list(iter_items(path))
    assert (info.value.path, info.value.line) == (str(path), 2)
    rejects = RejectLog()
    assert [r.id for r in iter_items(path, on_error="skip", rejects=rejects)] == ["1", "3"]
    assert [e["line"] for e in rejects.entries] == [2]


def test_deeply_nested_users_line_is_a_record_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "users.jsonl", '{"id": "u1", "attributes": ' + DEEP + "}\n")
    with pytest.raises(RecordError, match=r"users\.jsonl line 1: is not usable JSON"):
        list(iter_users(path))


def test_csv_header_the_csv_module_refuses_is_a_record_error_at_line_1(tmp_path: Path) -> None:
    path = _write(tmp_path / "items.csv", "id,ti\rtle\n1,One\n")
    with pytest.raises(RecordError, match=r"items\.csv line 1: is not a valid CSV header"):
        list(iter_items(path))


def test_csv_cell_over_the_field_limit_is_rejected_with_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "items.csv", f"id,title\n1,One\n2,\"{'x' * 200_000}\"\n3,Three\n")
    rejects = RejectLog()
    assert [r.id for r in iter_items(path, on_error="skip", rejects=rejects)] == ["1", "3"]
    assert rejects.entries[0]["line"] == 3 and "not valid CSV" in rejects.entries[0]["reason"]


# ---------------------------------------------------------------- empty files: one rule
_HEADERS = {"items.csv": "id,title\n", "users.csv": "id\n",
            "interactions.csv": "user_id,item_id\n"}
EMPTY = [(name, text) for name in ("items.jsonl", "items.csv", "users.jsonl", "users.csv",
                                   "interactions.csv")
         for text in ("", "\n\n  \n", *([_HEADERS[name]] if name in _HEADERS else []))]


@pytest.mark.parametrize(("name", "content"), EMPTY)
def test_a_file_without_records_is_an_ingest_error_in_every_format(tmp_path: Path, name: str,
                                                                   content: str) -> None:
    path = _write(tmp_path / name, content)
    read = {"items": iter_items, "users": iter_users, "interactions": iter_interactions}
    with pytest.raises(IngestError, match=rf"{name}: holds no records") as info:
        list(read[name.split(".")[0]](path))
    assert not isinstance(info.value, RecordError)


def test_blank_lines_before_a_csv_header_are_skipped(tmp_path: Path) -> None:
    path = _write(tmp_path / "items.csv", "\n\nid,title\n1,One\n")
    assert [(r.id, r.source.line if r.source else 0) for r in iter_items(path)] == [("1", 4)]


# ---------------------------------------------------------------- interaction values
@pytest.mark.parametrize(("cell", "expect"), [
    ("1e20", r"line 2: field 'timestamp' is out of range.*got 1e\+20"),
    ("-5", r"line 2: field 'timestamp' is out of range.*got -5"),
    ("1969-12-31T23:59:55Z", r"line 2: field 'timestamp' is out of range.*got -5"),
    ("1960-01-01", r"line 2: field 'timestamp' is out of range"),
    ("0001-01-01T00:00:00+14:00", r"line 2: field 'timestamp' is out of range"),
    ("the 5th", r"line 2: field 'timestamp' must be Unix seconds or an ISO-8601"),
    ("nan", r"line 2: field 'timestamp' is out of range"),
])
def test_timestamps_have_one_rule_in_both_notations(tmp_path: Path, cell: str,
                                                    expect: str) -> None:
    path = _write(tmp_path / "interactions.csv", f"user_id,item_id,timestamp\nu1,1,{cell}\n")
    with pytest.raises(RecordError, match=expect) as info:
        list(iter_interactions(path))
    assert info.value.field == "timestamp" and info.value.line == 2


def test_timestamp_bounds_are_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path / "interactions.csv",
                  "user_id,item_id,timestamp\nu1,1,1970-01-01T00:00:00Z\nu1,2,0\n"
                  "u1,3,9999-12-31T23:59:59Z\nu1,4,253402300799\n")
    assert [r.ts for r in iter_interactions(path)] == [0, 0, 253402300799, 253402300799]


@pytest.mark.parametrize("cell", ["1e308", "inf", "1e13"])
def test_a_weight_above_the_range_is_refused_per_row(tmp_path: Path, cell: str) -> None:
    path = _write(tmp_path / "interactions.csv", f"user_id,item_id,weight\nu1,1,{cell}\n")
    with pytest.raises(RecordError, match=r"line 2: field 'weight' must be a positive finite "
                                          r"number, at most 1e\+12"):
        list(iter_interactions(path))


def test_merged_weights_are_checked_after_merging(tmp_path: Path) -> None:
    path = _write(tmp_path / "interactions.csv",
                  "user_id,item_id,weight\nu1,1,6e11\nu2,1,1\nu1,1,6e11\n")
    rows = list(iter_interactions(path))  # each row is in range ...
    with pytest.raises(RecordError, match=r"interactions\.csv line 2: field 'weight' of the pair "
                                          r"\(user 'u1', item '1'\) sums to 1200000000000\.0 "
                                          r"over its 2 rows"):
        list(merge_interactions(rows))  # ... their sum is not


def test_aggregate_interactions_refuses_an_infinite_sum() -> None:
    rows = [InteractionRecord("u", "a", 1e308, 1, SourceRef("events.csv", 2)),
            InteractionRecord("u", "a", 1e308, 2, SourceRef("events.csv", 3))]
    with pytest.raises(RecordError, match=r"events\.csv line 2: field 'weight' of the pair "
                                          r"\('u', 'a'\) .* got inf") as info:
        aggregate_interactions(rows)
    assert info.value.line == 2
    with pytest.raises(RecordError, match=r"field 'ts' must be Unix seconds"):
        aggregate_interactions([InteractionRecord("u", "a", 1.0, 10**20)])


# ---------------------------------------------------------------- one identifier rule
BAD_IDS = {"zero-width only": "\u200b\u200c", "C1 control": "a\u0085b",
           "RTL override": "evil\u202egnp.exe", "bidi isolate": "x\u2066y"}


@pytest.mark.parametrize("bad", BAD_IDS.values(), ids=list(BAD_IDS))
def test_every_catalog_reader_applies_the_id_rule(tmp_path: Path, bad: str) -> None:
    cases = [
        ("items.jsonl", json.dumps({"id": bad}), iter_items, "id"),
        ("items.csv", f"id,title\n{bad},x", iter_items, "id"),
        ("users.jsonl", json.dumps({"id": bad}), iter_users, "id"),
        ("users.csv", f"id\n{bad}", iter_users, "id"),
        ("interactions.csv", f"user_id,item_id\n{bad},1", iter_interactions, "user_id"),
        ("interactions.csv", f"user_id,item_id\nu1,{bad}", iter_interactions, "item_id"),
    ]
    for name, text, read, field in cases:
        path = _write(tmp_path / name, text + "\n")
        with pytest.raises(RecordError, match=rf"{name} line \d: field '{field}' is not a valid "
                                              r"id") as info:
            list(read(path))
        assert info.value.field == field


@pytest.mark.parametrize("bad", BAD_IDS.values(), ids=list(BAD_IDS))
def test_attribute_values_follow_the_same_rule(tmp_path: Path, bad: str) -> None:
    path = _write(tmp_path / "items.jsonl", json.dumps({"id": "1", "attributes": {"g": [bad]}}))
    with pytest.raises(RecordError, match=r"line 1: field 'attributes\.g' has an invalid value"):
        list(iter_items(path))


def _movielens(folder: Path, item_id: str = "1", user_id: str = "1", ts: str = "881250949",
               age: str = "24") -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "u.genre").write_text("unknown|0\nAction|1\n", encoding="latin-1")
    (folder / "u.item").write_text(f"{item_id}|A (1995)|01-Jan-1995||url|0|1\n",
                                   encoding="utf-8")
    (folder / "u.user").write_text(f"{user_id}|{age}|M|technician|85711\n", encoding="utf-8")
    (folder / "u.data").write_text(f"{user_id}\t{item_id}\t3\t{ts}\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize(("kwargs", "expect"), [
    ({"item_id": "\u202e1"}, r"u\.item line 1: field 'movie id' is not a valid id"),
    ({"user_id": "u\u0085"}, r"u\.user line 1: field 'user id' is not a valid id"),
    ({"age": "²"}, r"u\.user line 1: field 'age' must be a non-negative integer"),
    ({"ts": "9" * 30}, r"u\.data line 1: field 'timestamp' must be a non-negative integer"),
])
def test_movielens_reader_applies_the_rules(tmp_path: Path, kwargs: dict[str, str],
                                            expect: str) -> None:
    assert len(read_movielens(_movielens(tmp_path / "good")).items) == 1
    with pytest.raises(RecordError, match=expect):
        read_movielens(_movielens(tmp_path / "bad", **kwargs))
