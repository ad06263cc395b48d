"""Several processes, one catalog: what one process writes, another serves after
``refresh()``; a model trained by ``kgrec train`` in a third process is switched to under
a running request loop with no failed request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kgrec.settings import Settings

#: process B: a Recommender following ``latest``, driven line by line over stdin
SERVER = r"""
import json, sys, threading, traceback
from kgrec.recommender import Recommender
from kgrec.settings import Settings

rec = Recommender(Settings.from_env(), refresh_seconds=0)
loop = {"stop": threading.Event(), "ok": 0, "failed": 0, "versions": set(), "errors": []}

def run(user):
    while not loop["stop"].is_set():
        try:
            rec.recommend(user, k=5)
            loop["ok"] += 1
            loop["versions"].add(rec.model.version)
        except Exception:
            loop["failed"] += 1
            loop["errors"].append(traceback.format_exc()[-500:])

def reply(obj):
    print(json.dumps(obj), flush=True)

thread = None
for line in sys.stdin:
    cmd, *args = line.split()
    if cmd == "recommend":
        reply({"items": rec.recommend(args[0], k=int(args[1])).item_ids,
               "version": rec.model.version})
    elif cmd == "similar":
        reply({"items": rec.similar_items(args[0], k=5).item_ids})
    elif cmd == "refresh":
        reply({"changed": rec.refresh(), "version": rec.model.version})
    elif cmd == "start-loop":
        thread = threading.Thread(target=run, args=(args[0],))
        thread.start()
        while loop["ok"] == 0 and loop["failed"] == 0:  # the loop is serving
            pass
        reply({"started": True})
    elif cmd == "stop-loop":
        loop["stop"].set()
        thread.join()
        reply({"ok": loop["ok"], "failed": loop["failed"],
               "versions": sorted(loop["versions"]), "errors": loop["errors"][:3]})
    elif cmd == "quit":
        break
rec.close()
"""


class Process:
    """A serving process driven over stdin/stdout."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env)

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            _, err = self.proc.communicate(timeout=30)
            raise AssertionError(f"process B died on {command!r}:\n{err[-3000:]}")
        return dict(json.loads(line))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.ask_quit()

    def ask_quit(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("quit\n")
        self.proc.stdin.flush()
        self.proc.communicate(timeout=60)


@pytest.fixture
def process_b(rec, settings: Settings) -> Iterator[Process]:  # type: ignore[no-untyped-def]
    env = {**os.environ, "KGREC_HOME": str(settings.home),
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    b = Process(env)
    yield b
    b.close()


def test_writes_of_one_process_are_served_by_another_after_refresh(rec, process_b) -> None:  # type: ignore[no-untyped-def]
    version = rec.model.version
    assert process_b.ask("recommend ua0 5")["version"] == version
    rec.add_items([{"id": "shared-1", "title": "Comet Starship", "description": "Astronauts "
                    "ride a starship to a comet.", "attributes": {"genre": ["SciFi"]}}])
    rec.add_interactions([{"user_id": "shared-user", "item_id": "b1"},
                          {"user_id": "shared-user", "item_id": "b2"}])
    assert process_b.ask("refresh") == {"changed": False, "version": version}
    mine = rec.recommend("shared-user", k=5).item_ids
    assert process_b.ask("recommend shared-user 5")["items"] == mine
    assert process_b.ask("similar shared-1")["items"] == rec.similar_items("shared-1", k=5).item_ids
    assert process_b.ask("recommend ua0 60")["items"] == rec.recommend("ua0", k=60).item_ids


def test_a_model_trained_elsewhere_is_switched_to_with_no_failed_request(  # type: ignore[no-untyped-def]
        rec, process_b, settings: Settings) -> None:
    old = rec.model.version
    assert process_b.ask("start-loop ua1") == {"started": True}
    env = {**os.environ, "KGREC_HOME": str(settings.home)}
    train = subprocess.run([sys.executable, "-c", "from kgrec.cli import main; main()", "-q",
                            "train", "--epochs", "2", "--device", "cpu"],
                           env=env, capture_output=True, text=True, timeout=600, check=False)
    assert train.returncode == 0, train.stderr[-3000:]
    switched = process_b.ask("refresh")
    assert switched["changed"] is True and switched["version"] != old
    loop = process_b.ask("stop-loop")
    assert loop["failed"] == 0, loop["errors"]
    assert loop["ok"] > 0 and set(loop["versions"]) <= {old, switched["version"]}
    assert process_b.ask("recommend ua1 3")["version"] == switched["version"]
