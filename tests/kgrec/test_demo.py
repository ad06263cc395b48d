"""The README's first command, ``kgrec demo``, end to end on a small synthetic catalog:
real Neo4j, real encoder, a short CPU training run."""

from __future__ import annotations

import re

import neo4j
import pytest

from kgrec.settings import Settings


def test_demo_runs_the_whole_story(clean_db: neo4j.Driver, settings: Settings,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    from kgrec.demo import run_demo

    run_demo(settings, n_users=300, n_items=150, max_epochs=3)
    out = capsys.readouterr().out
    steps = ("1. Neo4j", "2. Load the catalog", "3. Encode and train",
             "4. Recommend and explain", "5. A brand-new item", "6. The same in Neo4j Browser")
    assert all(step in out for step in steps)
    match = re.search(r'"id": "(new-[\w-]+)"', out)
    assert match is not None
    new_id = match.group(1)
    # the new item is in Neo4j with an embedding, ranked for users, in its own explanation
    record = clean_db.execute_query(
        "MATCH (i:Item {id: $id}) RETURN i.embedding IS NOT NULL AS embedded", id=new_id).records
    assert record and record[0]["embedded"]
    assert f"similar_items('{new_id}')" in out
    assert re.search(rf"{re.escape(new_id)} ranks \d+", out)
    assert f"Why {new_id}" in out
    # and the Cypher for Neo4j Browser (tests/kgrec/test_recommender.py runs such paths)
    assert "MATCH p = (u:User" in out and "db.index.vector.queryNodes" in out
    assert re.search(r"demo finished in \d+s", out)


def test_demo_new_item_is_new_on_every_run() -> None:
    from kgrec.demo import new_item_for_topic

    first = new_item_for_topic("dresses")
    assert first["id"] == "new-fashion-1" and first["attributes"]["category"] == ["dresses"]  # type: ignore[index]
    again = new_item_for_topic("dresses", {"new-fashion-1", "new-fashion-2"})
    assert again["id"] == "new-fashion-3" and again["title"] == first["title"]
