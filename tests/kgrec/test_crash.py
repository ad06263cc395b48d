"""Crashes and races that kill or stop a real process at a named point (``kgrec.faults``):

* ``add_items`` killed between the text write and the embedding write: a re-send or
  any process's refresh completes it (right hash, embedding of the current model);
* ``kgrec train`` killed between the item and the user write-back: ``latest`` still
  names the previous model, and ``kgrec models use`` re-writes its embeddings everywhere;
* two writers on one item, the second running while the first waits between embedding
  and writing: the graph ends with one writer's text, hash and embedding together.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from kg.records import content_hash
from kgrec.faults import CRASH_ENV, PAUSE_DIR_ENV, PAUSE_ENV
from kgrec.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

#: a process that adds (or updates) the items given as JSON in argv[1], prints the summary
ADD_ITEMS = r"""
import json, sys
from kgrec.recommender import Recommender
from kgrec.settings import Settings

with Recommender(Settings.from_env()) as rec:
    s = rec.add_items(json.loads(sys.argv[1]))
    print(json.dumps({"added": s.added, "updated": s.updated, "unchanged": s.unchanged}))
"""


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return {**os.environ, "KGREC_HOME": str(settings.home), "PYTHONPATH": str(ROOT), **extra}


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=600,
                          check=False)


def _kgrec(*args: str) -> list[str]:
    return [sys.executable, "-c", "from kgrec.cli import main; main()", "-q", *args]


def _stored(driver: Any, item_id: str) -> dict[str, Any]:
    rows = driver.execute_query(
        "MATCH (i:Item {id: $id}) OPTIONAL MATCH (i)-[:HAS_ATTRIBUTE]->(a:Attribute) "
        "RETURN i.title AS title, i.description AS description, collect(a.id) AS attributes, "
        "i.contentHash AS hash, i.embeddingVersion AS version, i.embedding AS embedding",
        id=item_id).records
    return dict(rows[0])


def _hash_of(stored: dict[str, Any]) -> str:
    return content_hash(stored["title"], stored["description"], stored["attributes"])


def _versions(driver: Any, label: str) -> dict[str, int]:
    rows = driver.execute_query(f"MATCH (n:{label}) WHERE n.embedding IS NOT NULL "
                                "RETURN n.embeddingVersion AS v, count(*) AS n").records
    return {r["v"]: r["n"] for r in rows}


@pytest.mark.parametrize("repair", ["re-send", "refresh"])
def test_add_items_killed_between_text_and_embedding_is_completed_by_a_re_send_or_refresh(  # type: ignore[no-untyped-def]
        rec, neo4j_driver, settings: Settings, repair: str) -> None:
    new = {"id": "a3", "title": "Soup Chef", "description": "A chef cooks soup in space.",
           "attributes": {"genre": ["Cooking"]}}
    died = _run([sys.executable, "-c", ADD_ITEMS, json.dumps([new])],
                _env(settings, **{CRASH_ENV: "add_items.after_text"}))
    assert died.returncode == -signal.SIGKILL, died.stderr[-2000:]
    half = _stored(neo4j_driver, "a3")
    assert half["title"] == "Soup Chef"  # the text was committed ...
    assert half["hash"] != _hash_of(half)  # ... its embedding was not
    if repair == "re-send":
        summary = rec.add_items([new])
        assert (summary.added, summary.updated, summary.unchanged) == (0, 1, 0)
    else:
        rec.refresh()  # any serving process embeds an item whose embedding is stale
    done = _stored(neo4j_driver, "a3")
    assert done["hash"] == _hash_of(done) and done["version"] == rec.model.version
    assert rec.add_items([new]).unchanged == 1


def test_train_killed_mid_write_back_leaves_the_old_model_served_and_models_use_repairs(  # type: ignore[no-untyped-def]
        rec, neo4j_driver, settings: Settings) -> None:
    from gnn.model_store import ModelStore

    old = rec.model.version
    died = _run(_kgrec("train", "--epochs", "1", "--device", "cpu"),
                _env(settings, **{CRASH_ENV: "write_back.after_items"}))
    assert died.returncode == -signal.SIGKILL, died.stderr[-2000:]
    assert ModelStore(settings.models_dir).latest() == old
    assert set(_versions(neo4j_driver, "Item")) != {old}  # the new model's items ...
    assert set(_versions(neo4j_driver, "User")) == {old}  # ... but the old model's users
    repaired = _run(_kgrec("models", "use", old), _env(settings))
    assert repaired.returncode == 0, repaired.stderr[-2000:]
    assert set(_versions(neo4j_driver, "Item")) == {old}
    assert set(_versions(neo4j_driver, "User")) == {old}
    assert ModelStore(settings.models_dir).latest() == old


class Paused:
    """A process stopped at a pause point until :meth:`go`; the named pipes block both
    sides, so nothing sleeps."""

    def __init__(self, args: list[str], env: dict[str, str], point: str, folder: Path) -> None:
        os.mkfifo(folder / "reached")
        os.mkfifo(folder / "go")
        self.folder = folder
        self.proc = subprocess.Popen(args, env={**env, PAUSE_ENV: point,
                                                PAUSE_DIR_ENV: str(folder)},
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_reached(self) -> str:
        got: list[str] = []
        reader = threading.Thread(target=lambda: got.append(
            (self.folder / "reached").read_text()), daemon=True)
        reader.start()
        reader.join(timeout=300)
        if not got:
            self.proc.kill()
            pytest.fail(f"the writer never reached its pause point:\n"
                        f"{self.proc.communicate()[1][-2000:]}")
        return got[0].strip()

    def go(self) -> dict[str, Any]:
        (self.folder / "go").write_text("go\n")
        out, err = self.proc.communicate(timeout=300)
        assert self.proc.returncode == 0, err[-2000:]
        return dict(json.loads(out.strip().splitlines()[-1]))


def test_two_writers_on_one_item_end_with_one_writers_text_and_embedding(  # type: ignore[no-untyped-def]
        rec, neo4j_driver, settings: Settings, tmp_path: Path) -> None:
    first = {"id": "race-1", "title": "Rocket Galaxy", "description": "Astronauts in orbit.",
             "attributes": {"genre": ["SciFi"]}}
    second = {"id": "race-1", "title": "Bread Recipe", "description": "A chef bakes bread.",
              "attributes": {"genre": ["Baking"]}}
    writer = Paused([sys.executable, "-c", ADD_ITEMS, json.dumps([first])], _env(settings),
                    "add_items.before_embedding", tmp_path)
    assert writer.wait_reached() == "add_items.before_embedding"
    # the first writer has written its text and computed its embedding; this one overtakes
    assert rec.add_items([second]).updated == 1
    writer.go()
    final = _stored(neo4j_driver, "race-1")
    assert (final["title"], final["hash"]) == ("Bread Recipe", _hash_of(final))
    assert final["embedding"] == pytest.approx(
        rec.state.scorer.item_emb([rec.state.catalog.row_of("race-1")])[0].tolist(), abs=1e-6)
    assert rec.add_items([second]).unchanged == 1  # the stored embedding is of this text
