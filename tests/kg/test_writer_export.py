from __future__ import annotations

import neo4j
import numpy as np
import pytest

from kg.export import export_snapshot
from kg.records import InteractionRecord, ItemRecord, SourceRef, UserRecord
from kg.snapshot import snapshot_from_records
from kg.writer import GraphWriter, aggregate_interactions
from kgrec.errors import RecordError

ITEMS = [
    ItemRecord("10", "Heat", "Cops and robbers", {"genre": ["Crime", "Action"], "year": ["1995"]}),
    ItemRecord("2", "Toy Story", "Toys", {"genre": ["Animation"], "year": ["1995"]}),
    ItemRecord("b", "Brazil", "", {"genre": ["Comedy"]}),
    ItemRecord("a", "Alien", "In space"),
]
USERS = [UserRecord("u1", {"occupation": ["writer"]}), UserRecord("7", {"age": ["25-34"]}),
         UserRecord("lonely")]
INTERACTIONS = [
    InteractionRecord("7", "10", 1.0, 100), InteractionRecord("u1", "2", 2.0, 50),
    InteractionRecord("7", "2", 1.0, 10), InteractionRecord("7", "10", 0.5, 300),
    InteractionRecord("3", "b", 1.0, 0), InteractionRecord("u1", "a", 4.0, 7),
]


def _count(driver: neo4j.Driver, pattern: str) -> int:
    return int(driver.execute_query(f"MATCH {pattern} RETURN count(*) AS n").records[0]["n"])


def _write_all(driver: neo4j.Driver, batch_size: int = 2) -> None:
    w = GraphWriter(driver, batch_size=batch_size, show_progress=False)
    assert w.write_items(ITEMS) == 4
    assert w.write_users(USERS) == 3
    assert w.write_interactions(INTERACTIONS) == 5  # one pair repeated


def test_write_twice_is_idempotent(clean_db: neo4j.Driver) -> None:
    _write_all(clean_db)
    counts = [_count(clean_db, p) for p in ("(:Item)", "(:User)", "(:Attribute)",
                                            "()-[:HAS_ATTRIBUTE]->()", "()-[:INTERACTED]->()")]
    assert counts == [4, 4, 7, 8, 5]
    _write_all(clean_db, batch_size=3)
    assert [_count(clean_db, p) for p in ("(:Item)", "(:User)", "(:Attribute)",
                                          "()-[:HAS_ATTRIBUTE]->()",
                                          "()-[:INTERACTED]->()")] == counts
    rec = clean_db.execute_query("MATCH (:User {id:'7'})-[r:INTERACTED]->(:Item {id:'10'}) "
                                 "RETURN r.weight AS w, r.ts AS ts").records[0]
    assert (rec["w"], rec["ts"]) == (1.5, 300)
    created = clean_db.execute_query("MATCH (i:Item) RETURN min(i.createdAt) AS c, "
                                     "min(i.updatedAt) AS u").records[0]
    assert created["c"] > 0 and created["u"] >= created["c"]


def _stamps(driver: neo4j.Driver) -> dict[str, tuple[int, int]]:
    return {r["id"]: (r["c"], r["u"]) for r in driver.execute_query(
        "MATCH (i:Item) RETURN i.id AS id, i.createdAt AS c, i.updatedAt AS u").records}


def test_updated_at_moves_only_with_content(clean_db: neo4j.Driver) -> None:
    w = GraphWriter(clean_db, show_progress=False)
    w.write_items(ITEMS)
    # stamps set back to 0: any re-stamp shows, however fast the writes follow
    clean_db.execute_query("MATCH (i:Item) SET i.updatedAt = 0, i.changedAt = 0")
    first = _stamps(clean_db)
    w.write_items(ITEMS)  # a re-load of the same catalog
    assert _stamps(clean_db) == first
    w.write_items([ItemRecord("10", "Heat", "Cops, robbers", ITEMS[0].attributes),  # text
                   ItemRecord("2", "Toy Story", "Toys", {"genre": ["Animation"]}),  # one less
                   ItemRecord("b", "Brazil", "", {"genre": ["Comedy", "Drama"]}),  # one more
                   ITEMS[3]])
    after = _stamps(clean_db)
    assert after["a"] == first["a"]
    for item in ("10", "2", "b"):
        assert after[item][0] == first[item][0] and after[item][1] > 0, item


def test_resending_item_replaces_attributes(clean_db: neo4j.Driver) -> None:
    w = GraphWriter(clean_db, show_progress=False)
    w.write_items(ITEMS[:1])
    w.write_items([ItemRecord("10", "Heat (1995)", "", {"genre": ["Drama"]})])
    rows = clean_db.execute_query("MATCH (i:Item {id:'10'})-[:HAS_ATTRIBUTE]->(a) "
                                  "RETURN i.title AS t, collect(a.id) AS a").records
    assert rows[0]["t"] == "Heat (1995)" and rows[0]["a"] == ["genre:Drama"]


def test_unknown_item_rolls_back_batch(clean_db: neo4j.Driver) -> None:
    w = GraphWriter(clean_db, batch_size=10, show_progress=False)
    w.write_items(ITEMS)
    bad = [InteractionRecord("u9", "10", source=SourceRef("events.csv", 2)),
           InteractionRecord("u9", "nope", source=SourceRef("events.csv", 3))]
    with pytest.raises(RecordError, match=r"events.csv line 3: field 'item_id' refers to "
                                          r"unknown item 'nope'") as info:
        w.write_interactions(bad)
    assert info.value.line == 3 and info.value.field == "item_id"
    assert _count(clean_db, "(:User)") == 0
    assert _count(clean_db, "()-[:INTERACTED]->()") == 0


def test_aggregate_matches_snapshot_semantics() -> None:
    agg = {(r.user_id, r.item_id): (r.weight, r.ts) for r in aggregate_interactions(INTERACTIONS)}
    assert agg[("7", "10")] == (1.5, 300) and len(agg) == 5


def test_export_equals_snapshot_from_records(clean_db: neo4j.Driver) -> None:
    _write_all(clean_db)
    snap = export_snapshot(clean_db, batch_size=2, show_progress=False)
    ref = snapshot_from_records(ITEMS, INTERACTIONS, USERS)
    for name in ("user_ids", "item_ids", "attribute_ids", "item_title", "item_description"):
        assert getattr(snap, name) == getattr(ref, name), name
    for name in ("interaction_index", "interaction_weight", "interaction_ts",
                 "item_attribute_index", "user_attribute_index"):
        a, b = getattr(snap, name), getattr(ref, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert snap.item_ids == ["2", "10", "a", "b"]
    assert snap.num_interactions == _count(clean_db, "()-[:INTERACTED]->()")
    assert snap.num_users == _count(clean_db, "(:User)")
    assert snap.item_attribute_index.shape[1] == _count(clean_db,
                                                        "(:Item)-[:HAS_ATTRIBUTE]->()")


def test_export_skips_orphan_attributes_and_handles_empty(clean_db: neo4j.Driver) -> None:
    empty = export_snapshot(clean_db, show_progress=False)
    assert empty.num_items == 0 and empty.interaction_index.shape == (2, 0)
    w = GraphWriter(clean_db, show_progress=False)
    w.write_items(ITEMS[:1])
    w.write_items([ItemRecord("10", "Heat", "", {"genre": ["Drama"]})])
    assert export_snapshot(clean_db, show_progress=False).attribute_ids == ["genre:Drama"]
