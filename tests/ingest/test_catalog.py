"""Catalog readers on good and deliberately broken files (no database needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.catalog import iter_interactions, iter_items, iter_users, read_catalog
from ingest.validation import RejectLog
from kgrec.errors import IngestError, RecordError

DATA = Path(__file__).parents[1] / "data"
BROKEN = DATA / "broken"


def test_jsonl_items_are_read_with_source_and_normalised_values() -> None:
    items = list(iter_items(DATA / "catalog" / "items.jsonl"))
    assert len(items) == 30  # the identical duplicate on the last line is dropped
    first, second = items[0], items[1]
    assert first.id == "1" and first.title == "Movie 1 (1987)"
    assert second.id == "2"  # an integer id becomes its text
    assert first.attributes["year"] == ("1987",)  # numbers become text
    assert first.attributes["mood"] == ("uplifting",)  # a single value becomes a tuple
    assert first.source is not None and first.source.line == 1
    assert first.source.path.endswith("items.jsonl")


def test_csv_items_split_attribute_columns_and_keep_multiline_cells() -> None:
    items = list(iter_items(DATA / "catalog_csv" / "items.csv"))
    assert len(items) == 13
    assert items[11].attributes == {"genre": ("Action", "Horror"), "mood": ("dark",)}
    last = items[-1]
    assert last.title == 'Multi-line "quoted"' and last.description == "first line\nsecond line"
    assert last.attributes == {"genre": ("Drama",)}  # an empty cell means no value
    assert last.source is not None and last.source.line == 14


def test_users_jsonl_and_csv() -> None:
    users = list(iter_users(DATA / "catalog" / "users.jsonl"))
    assert len(users) == 24 and users[0].id == "u1"
    assert set(users[0].attributes) == {"age_band", "region"}
    csv_users = list(iter_users(DATA / "catalog_csv" / "users.csv"))
    assert [u.id for u in csv_users] == [f"u{i}" for i in range(1, 7)]


def test_interactions_defaults_and_iso_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "interactions.csv"
    path.write_text("item_id,user_id,timestamp,weight\n1,u1,,\n2,u1,2024-01-02T03:04:05Z,2.5\n"
                    "3,u2,2024-01-02T04:04:05+01:00,1\n4,u2,1700000000.0,0.5\n", encoding="utf-8")
    got = [(r.user_id, r.item_id, r.weight, r.ts) for r in iter_interactions(path)]
    assert got == [("u1", "1", 1.0, 0), ("u1", "2", 2.5, 1704164645),
                   ("u2", "3", 1.0, 1704164645), ("u2", "4", 0.5, 1700000000)]


def test_read_catalog_checks_interaction_items_and_keeps_repeats() -> None:
    ds = read_catalog(DATA / "catalog")
    assert (len(ds.items), len(ds.users), len(ds.interactions)) == (30, 24, 126)
    merged = ds.aggregate_interactions()
    assert len(merged) == 125
    first = merged[0]
    assert first.user_id == "u1" and first.weight == pytest.approx(2.0)
    assert first.ts == 1704164645  # the later (ISO) timestamp wins
    snap = ds.to_snapshot()
    assert snap.num_users == 25  # u25 only appears in interactions
    assert snap.num_interactions == 125


@pytest.mark.parametrize(("file", "pattern"), [
    ("items_missing_id.jsonl", r"items_missing_id\.jsonl line 3: field 'id' is missing"),
    ("items_title_number.jsonl",
     r"items_title_number\.jsonl line 3: field 'title' must be a string, got 42 \(int\)"),
    ("items_attributes_not_object.jsonl",
     r"line 2: field 'attributes' must be an object .*got \[\"Drama\", \"Comedy\"\] \(list\)"),
    ("items_bad_json.jsonl", r"items_bad_json\.jsonl line 3: is not valid JSON"),
    ("items_latin1.jsonl",
     r"items_latin1\.jsonl line 3: is not valid UTF-8 \(byte 0xe9 .*files must be UTF-8.*iconv"),
    ("items_conflicting_duplicate.jsonl",
     r"line 4: field 'title' conflicts with the duplicate item id '2' at line 2"),
    ("items_bad_kind.jsonl",
     (r"line 3: field 'attributes\.release-year' has an invalid attribute kind 'release-year': "
      r".*\[A-Za-z_\]\[A-Za-z0-9_\]\*")),
    ("items_bad_value.jsonl",
     r"line 2: field 'attributes\.genre' has an invalid value ' Drama '.*whitespace"),
    ("items_extra_key.jsonl", r"line 2: field 'name' is not allowed \(allowed keys: id, title"),
    ("items_bad_header.csv",
     r"items_bad_header\.csv line 1: field 'genre' is not an allowed column .*attr:<kind>"),
    ("items_row_width.csv", r"items_row_width\.csv line 3: has 2 fields, the header has 3"),
])
def test_broken_item_files_name_file_line_and_field(file: str, pattern: str) -> None:
    with pytest.raises(RecordError, match=pattern) as info:
        list(iter_items(BROKEN / file))
    assert info.value.path == str(BROKEN / file)
    assert info.value.line is not None


@pytest.mark.parametrize(("file", "pattern", "field"), [
    ("interactions_bad_weight.csv", r"line 3: field 'weight' must be a number, got 'abc'",
     "weight"),
    ("interactions_bad_timestamp.csv",
     r"line 4: field 'timestamp' must be Unix seconds .* ISO-8601 .*got 'yesterday'", "timestamp"),
    ("interactions_unknown_item.csv", r"line 4: field 'item_id' names an unknown item '999'",
     "item_id"),
    ("interactions_missing_column.csv", r"line 1: field 'user_id' is missing from the header",
     "user_id"),
])
def test_broken_interaction_files(file: str, pattern: str, field: str) -> None:
    with pytest.raises(RecordError, match=pattern) as info:
        list(iter_interactions(BROKEN / file, known_items={"1", "2"}))
    assert info.value.field == field


def test_broken_users_file() -> None:
    with pytest.raises(RecordError, match=r"line 2: field 'attributes' must be an object"):
        list(iter_users(BROKEN / "users_attributes_not_object.jsonl"))


def test_weight_must_be_positive(tmp_path: Path) -> None:
    path = tmp_path / "interactions.csv"
    path.write_text("user_id,item_id,weight\nu1,1,-2\n", encoding="utf-8")
    with pytest.raises(RecordError, match=r"line 2: field 'weight' must be a positive finite"):
        list(iter_interactions(path))


def test_skip_mode_keeps_good_records_and_logs_rejects(tmp_path: Path) -> None:
    reject_file = tmp_path / "out" / "rejects.jsonl"
    with RejectLog(reject_file) as rejects:
        ds = read_catalog(BROKEN / "mixed", on_error="skip", rejects=rejects)
    assert [r.id for r in ds.items] == ["1", "2", "4", "5"]
    assert [u.id for u in ds.users] == ["u1", "u2"]
    assert [(r.user_id, r.item_id) for r in ds.interactions] == [("u1", "1"), ("u2", "5"),
                                                                 ("u3", "4")]
    entries = [json.loads(line) for line in reject_file.read_text(encoding="utf-8").splitlines()]
    assert rejects.count == len(entries) == 6
    assert [(Path(e["path"]).name, e["line"], e["field"]) for e in entries] == [
        ("items.jsonl", 3, "title"), ("items.jsonl", 5, None),
        ("items.jsonl", 7, "attributes.bad kind"), ("users.jsonl", 2, "id"),
        ("interactions.csv", 3, "item_id"), ("interactions.csv", 4, "weight")]
    assert entries[0]["raw"] == '{"id": "3", "title": 42}'
    assert "must be a string" in entries[0]["reason"]
    assert entries[5]["raw"] == "u2,2,x,1700000002"


def test_fail_mode_raises_on_first_bad_record() -> None:
    with pytest.raises(RecordError, match=r"items\.jsonl line 3: field 'title'"):
        read_catalog(BROKEN / "mixed")


def test_skip_mode_on_undecodable_csv_line(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_bytes(b"id,title\n1,One\n2,Caf\xe9\n3,Three\n")
    rejects = RejectLog()
    items = list(iter_items(path, on_error="skip", rejects=rejects))
    assert [r.id for r in items] == ["1", "3"]
    assert rejects.entries[0]["line"] == 3 and "UTF-8" in rejects.entries[0]["reason"]


def test_missing_files_and_folders_raise_ingest_error(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"file not found"):
        list(iter_items(tmp_path / "nope.jsonl"))
    with pytest.raises(IngestError, match=r"no items\.jsonl or items\.csv"):
        read_catalog(tmp_path)
    with pytest.raises(IngestError, match=r"unknown file type '\.txt'"):
        list(iter_items(tmp_path / "items.txt"))


def test_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_bytes(b"\xef\xbb\xbfid,title\n1,One\n")
    assert [r.id for r in iter_items(path)] == ["1"]
