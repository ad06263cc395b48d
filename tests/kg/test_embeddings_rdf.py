from __future__ import annotations

from pathlib import Path

import neo4j
import numpy as np
import pytest
import rdflib

from kg.embeddings import query_similar_items, read_embeddings, write_embeddings
from kg.indexes import ensure_vector_index
from kg.rdf import KGREC, attribute_iri, export_turtle, item_iri
from kg.records import InteractionRecord, ItemRecord, UserRecord
from kg.writer import GraphWriter
from kgrec.errors import NotFoundError, SchemaError, TrainingError

ITEMS = [ItemRecord(str(i), f"item {i}", "", {"genre": ["x" if i % 2 else "y z/ü"]})
         for i in range(1, 6)]


def test_embeddings_roundtrip_and_vector_query(clean_db: neo4j.Driver) -> None:
    GraphWriter(clean_db, show_progress=False).write_items(ITEMS)
    ensure_vector_index(clean_db, 3)
    ids = ["1", "2", "3", "4", "5"]
    vecs = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0.9, 0.1, 0]], np.float32)
    assert write_embeddings(clean_db, "Item", ids, vecs, "m1", batch_size=2) == 5
    got_ids, got = read_embeddings(clean_db, "Item")
    assert got_ids == ids and np.allclose(got, vecs)
    assert clean_db.execute_query("MATCH (i:Item {id:'3'}) RETURN i.embeddingVersion AS v"
                                  ).records[0]["v"] == "m1"
    # the vector index is eventually consistent; poll briefly
    for _ in range(50):
        hits = query_similar_items(clean_db, [1.0, 0.0, 0.0], k=2)
        if len(hits) == 2:
            break
    assert [h[0] for h in hits] == ["1", "5"] and hits[0][1] == pytest.approx(1.0)


def test_embeddings_refuse_nan_and_unknown_ids(clean_db: neo4j.Driver) -> None:
    GraphWriter(clean_db, show_progress=False).write_items(ITEMS[:2])
    with pytest.raises(TrainingError, match="NaN or inf.*row 1"):
        write_embeddings(clean_db, "Item", ["1", "2"], np.array([[1.0], [np.nan]]), "m")
    with pytest.raises(NotFoundError, match="'zz'"):
        write_embeddings(clean_db, "Item", ["1", "zz"], np.ones((2, 2)), "m")
    assert read_embeddings(clean_db, "Item")[0] == []  # nothing of the batch written


def test_item_embeddings_carry_their_content_hashes(clean_db: neo4j.Driver) -> None:
    GraphWriter(clean_db, show_progress=False).write_items(ITEMS[:2])
    write_embeddings(clean_db, "Item", ["1", "2"], np.eye(2), "m", content_hashes=["h1", "h2"])
    rows = clean_db.execute_query("MATCH (i:Item) RETURN i.id AS id, i.contentHash AS h, "
                                  "i.embeddingVersion AS v ORDER BY id").records
    assert [(r["id"], r["h"], r["v"]) for r in rows] == [("1", "h1", "m"), ("2", "h2", "m")]
    with pytest.raises(SchemaError, match="content hashes"):
        write_embeddings(clean_db, "User", ["1"], np.eye(1), "m", content_hashes=["h"])
    with pytest.raises(SchemaError, match="one per id"):
        write_embeddings(clean_db, "Item", ["1", "2"], np.eye(2), "m", content_hashes=["h"])


def test_export_turtle_parses(clean_db: neo4j.Driver, tmp_path: Path) -> None:
    w = GraphWriter(clean_db, show_progress=False)
    w.write_items(ITEMS)
    w.write_users([UserRecord("u 1", {"age": ["18-24"]})])
    w.write_interactions([InteractionRecord("u 1", "2", 2.0, 9)])
    out = tmp_path / "kg.ttl"
    n = export_turtle(clean_db, out)
    g = rdflib.Graph().parse(out, format="turtle")
    assert len(g) == n
    assert (item_iri("2"), rdflib.RDFS.label, rdflib.Literal("item 2")) in g
    assert (item_iri("2"), KGREC.genre, attribute_iri("genre", "y z/ü")) in g
    assert str(attribute_iri("genre", "y z/ü")).endswith("/genre/y%20z%2F%C3%BC")
    inter = list(g.subjects(rdflib.RDF.type, KGREC.Interaction))
    assert len(inter) == 1 and g.value(inter[0], KGREC.weight).toPython() == 2.0


def test_turtle_round_trips_through_ingest(clean_db: neo4j.Driver, tmp_path: Path) -> None:
    rdf_reader = pytest.importorskip("ingest.rdf_reader")
    GraphWriter(clean_db, show_progress=False).write_items(ITEMS)
    out = tmp_path / "kg.ttl"
    export_turtle(clean_db, out)
    back = sorted(rdf_reader.read_rdf_items(out), key=lambda r: r.id)
    assert [(r.id, r.title, r.attributes) for r in back] == \
        [(r.id, r.title, r.attributes) for r in ITEMS]
