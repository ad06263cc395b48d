"""Neo4j is the source of truth: a refresh picks up deletions, hidden items and items a
load wrote without embeddings, and a re-send repairs an item whose embedding write was
lost."""

from __future__ import annotations

import numpy as np
import pytest

from kg.records import ItemRecord, content_hash
from kg.writer import GraphWriter
from kgrec.errors import NotFoundError


def test_refresh_drops_deleted_items_and_users(rec, neo4j_driver) -> None:  # type: ignore[no-untyped-def]
    assert "a5" in rec.recommend("ua0", k=60, exclude_seen=False).item_ids
    neo4j_driver.execute_query("MATCH (n) WHERE n.id IN ['a5', 'ub3'] DETACH DELETE n")
    rec.refresh()
    assert "a5" not in rec.recommend("ua0", k=60, exclude_seen=False).item_ids
    assert "a5" not in rec.similar_items("a4", k=60).item_ids
    with pytest.raises(NotFoundError):
        rec.recommend("ub3")
    assert rec.recommend("ub2", k=3).item_ids  # the others are served as before


def test_hidden_items_are_never_recommended_until_shown_again(rec, neo4j_driver) -> None:  # type: ignore[no-untyped-def]
    top = rec.recommend("ua0", k=1).item_ids[0]
    neo4j_driver.execute_query("MATCH (i:Item {id: $id}) SET i.hidden = true, "
                               "i.changedAt = timestamp()", id=top)
    rec.refresh()
    assert top not in rec.recommend("ua0", k=60).item_ids
    neo4j_driver.execute_query("MATCH (i:Item {id: $id}) SET i.hidden = false, "
                               "i.changedAt = timestamp()", id=top)
    rec.refresh()
    assert rec.recommend("ua0", k=1).item_ids == [top]


def test_items_loaded_without_embedding_are_embedded_by_the_refresh(rec, neo4j_driver,  # type: ignore[no-untyped-def]
                                                                     settings) -> None:
    item = ItemRecord("loaded-1", "Galaxy Rocket Orbit", "Astronauts ride a rocket.",
                      {"genre": ("SciFi",), "style": ("futuristic",)})
    GraphWriter(neo4j_driver, settings.neo4j.database, show_progress=False).write_items([item])
    rec.refresh()
    assert rec.state.catalog.row_of("loaded-1") is not None
    assert "loaded-1" in rec.recommend("ua0", k=60).item_ids
    stored = neo4j_driver.execute_query(
        "MATCH (i:Item {id: 'loaded-1'}) RETURN i.embeddingVersion AS v, "
        "i.contentHash AS h, size(i.textFeature) AS d").records[0]
    assert stored["v"] == rec.model.version and stored["h"] and stored["d"] > 0


def test_a_lost_embedding_write_is_repaired_by_a_re_send(rec, neo4j_driver, settings) -> None:  # type: ignore[no-untyped-def]
    # a1's new text reached Neo4j, but the process died before its embedding did
    new = {"id": "a1", "title": "Bread Oven", "description": "A chef bakes bread.",
           "attributes": {"genre": ["Baking"]}}
    GraphWriter(neo4j_driver, settings.neo4j.database, show_progress=False).write_items(
        [ItemRecord("a1", new["title"], new["description"], {"genre": ("Baking",)})])
    row = rec.state.catalog.row_of("a1")
    assert row not in rec.state.delta.emb_rows.tolist()  # served as trained: stale
    summary = rec.add_items([new])
    assert (summary.added, summary.updated, summary.unchanged) == (0, 1, 0)
    assert row in rec.state.delta.emb_rows.tolist()  # re-embedded from its new content
    stored = neo4j_driver.execute_query(
        "MATCH (i:Item {id: 'a1'}) RETURN i.contentHash AS h, i.embeddingVersion AS v"
    ).records[0]
    assert stored["h"] == content_hash("Bread Oven", "A chef bakes bread.", ["genre:Baking"])
    assert stored["v"] == rec.model.version
    assert rec.add_items([new]).unchanged == 1  # now it is


def test_a_user_matching_training_again_is_served_by_the_model(rec, neo4j_driver) -> None:  # type: ignore[no-untyped-def]
    trained = rec.recommend("ua2", k=10)
    rec.add_interactions([{"user_id": "ua2", "item_id": "b7"}])
    folded = rec.state.users["ua2"]  # folded in from its items, b7 among them
    assert rec.state.catalog.row_of("b7") in folded.seen.tolist()
    neo4j_driver.execute_query("MATCH (:User {id: 'ua2'})-[r:INTERACTED]->(:Item {id: 'b7'}) "
                               "DELETE r WITH 1 AS x MATCH (u:User {id: 'ua2'}) "
                               "SET u.changedAt = timestamp()")
    rec.refresh()
    assert rec.state.users.get("ua2") is None  # folded-in state dropped: the model serves
    np.testing.assert_allclose([r.score for r in rec.recommend("ua2", k=10)],
                               [r.score for r in trained], rtol=1e-6)
