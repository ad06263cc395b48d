"""Loaders write through kg into a real Neo4j; results are read back with plain Cypher."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import neo4j
import pytest

from ingest.catalog import iter_items
from ingest.loader import load_catalog, load_movielens, load_rdf, load_synthetic
from ingest.rdf_reader import read_rdf_items
from kgrec.settings import Settings
from tests.conftest import ML100K, needs_movielens

DATA = Path(__file__).parents[1] / "data"


def _writer(driver: neo4j.Driver, settings: Settings, batch_size: int = 10_000) -> Any:
    from kg.writer import GraphWriter

    return GraphWriter(driver, database=settings.neo4j.database, batch_size=batch_size,
                       show_progress=False)


def _one(driver: neo4j.Driver, settings: Settings, query: str, **params: Any) -> Any:
    records, _, _ = driver.execute_query(query, params,  # type: ignore[arg-type]
                                         database_=settings.neo4j.database)
    return records[0][0]


def _counts(driver: neo4j.Driver, settings: Settings) -> dict[str, int]:
    q = _one
    return {
        "Item": q(driver, settings, "MATCH (n:Item) RETURN count(n)"),
        "User": q(driver, settings, "MATCH (n:User) RETURN count(n)"),
        "Attribute": q(driver, settings, "MATCH (n:Attribute) RETURN count(n)"),
        "INTERACTED": q(driver, settings, "MATCH ()-[r:INTERACTED]->() RETURN count(r)"),
        "HAS_ATTRIBUTE": q(driver, settings, "MATCH ()-[r:HAS_ATTRIBUTE]->() RETURN count(r)"),
    }


def test_catalog_load_writes_merged_interactions(clean_db: neo4j.Driver,
                                                 settings: Settings) -> None:
    summary = load_catalog(_writer(clean_db, settings), DATA / "catalog")
    assert (summary.items, summary.users, summary.interactions) == (30, 24, 125)
    counts = _counts(clean_db, settings)
    assert (counts["Item"], counts["User"], counts["INTERACTED"]) == (30, 25, 125)
    w, ts = _one(clean_db, settings, "MATCH (:User {id: 'u1'})-[r:INTERACTED]->(:Item {id: '20'}) "
                 "RETURN [r.weight, r.ts]")
    assert (w, ts) == (pytest.approx(2.0), 1704164645)  # weights summed, latest ts
    title = _one(clean_db, settings, "MATCH (n:Item {id: '2'}) RETURN n.title")
    assert title == "Movie 2 (1994)"


def test_skip_mode_loads_the_rest_and_writes_rejects(clean_db: neo4j.Driver, settings: Settings,
                                                     tmp_path: Path) -> None:
    reject_path = tmp_path / "rejects.jsonl"
    summary = load_catalog(_writer(clean_db, settings), DATA / "broken" / "mixed",
                           on_error="skip", reject_path=reject_path)
    assert (summary.items, summary.users, summary.interactions, summary.rejected) == (4, 2, 3, 6)
    counts = _counts(clean_db, settings)
    assert (counts["Item"], counts["User"], counts["INTERACTED"]) == (4, 3, 3)
    entries = [json.loads(x) for x in reject_path.read_text(encoding="utf-8").splitlines()]
    assert [(e["line"], e["field"]) for e in entries] == [
        (3, "title"), (5, None), (7, "attributes.bad kind"), (2, "id"), (3, "item_id"),
        (4, "weight")]
    assert "reject" in str(summary) and str(reject_path) in str(summary)


@needs_movielens
def test_movielens_load_counts_and_idempotence(clean_db: neo4j.Driver,
                                               settings: Settings) -> None:
    summary = load_movielens(_writer(clean_db, settings), ML100K)
    assert (summary.items, summary.users, summary.interactions) == (1682, 943, 100000)
    counts = _counts(clean_db, settings)
    assert (counts["Item"], counts["User"], counts["INTERACTED"]) == (1682, 943, 100000)
    genres = _one(clean_db, settings,
                  "MATCH (a:Attribute) WHERE a.kind = 'genre' RETURN count(a)")
    assert genres == 19
    toy = _one(clean_db, settings, "MATCH (n:Item {id: '1'}) RETURN [n.title, n.description, "
               "[(n)-[:HAS_ATTRIBUTE]->(a:Attribute) | a.id]]")
    assert toy[0] == "Toy Story (1995)" and "Genres: Animation" in toy[1]
    assert sorted(toy[2]) == ["decade:1990s", "genre:Animation", "genre:Children's",
                              "genre:Comedy", "year:1995"]
    load_movielens(_writer(clean_db, settings), ML100K)
    assert _counts(clean_db, settings) == counts


def test_rdf_import_export_import_round_trips(clean_db: neo4j.Driver, settings: Settings,
                                              tmp_path: Path) -> None:
    from kg.rdf import export_turtle

    source = DATA / "rdf" / "movies.ttl"
    summary = load_rdf(_writer(clean_db, settings), source)
    assert summary.items == 5
    out = tmp_path / "export.ttl"
    export_turtle(clean_db, out, database=settings.neo4j.database)
    original = {r.id: r for r in read_rdf_items(source)}
    again = {r.id: r for r in read_rdf_items(out)}
    assert again == original  # ids, titles, descriptions and attributes


def test_synthetic_load_and_csv_catalog(clean_db: neo4j.Driver, settings: Settings) -> None:
    summary = load_synthetic(_writer(clean_db, settings, batch_size=500), 40, 30, seed=2,
                             interactions_per_user=5)
    counts = _counts(clean_db, settings)
    assert (counts["Item"], counts["User"]) == (30, 40)
    assert counts["INTERACTED"] == summary.interactions > 40
    load_catalog(_writer(clean_db, settings), DATA / "catalog_csv")
    assert _one(clean_db, settings, "MATCH (n:Item {id: '99'}) RETURN n.description") == \
        "first line\nsecond line"
    assert len(list(iter_items(DATA / "catalog_csv" / "items.csv"))) + 30 == \
        _one(clean_db, settings, "MATCH (n:Item) RETURN count(n)")
