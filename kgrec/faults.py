"""Named crash and pause points for the crash and race tests: a process dies (or waits)
there, for real, on request.

``crash_point("add_items.after_text")`` does nothing unless the environment variable
``KGREC_CRASH_AT`` names that point (comma-separated names allowed), in which case the
process sends itself SIGKILL: no ``finally``, no ``atexit``, no flush, exactly what a
power cut or the OOM killer does. The tests in ``tests/crash/`` run a workflow in a
subprocess with the variable set, then re-run it without and check that the re-run
completes the state exactly.

This is the one place library code reads ``os.environ`` directly (a test hook, not a
setting: it is never part of :class:`kgrec.settings.Settings`). Like ``kgrec.errors`` it is
a leaf every package may import.
"""

from __future__ import annotations

import os
import signal

__all__ = ["CRASH_ENV", "CRASH_POINTS", "PAUSE_DIR_ENV", "PAUSE_ENV", "PAUSE_POINTS",
           "crash_point", "pause_point"]

#: the environment variable naming the crash points to die at
CRASH_ENV = "KGREC_CRASH_AT"

#: every named crash point, and what has been committed when a process dies there
#: (``benchmarks/robustness.py`` checks that each one is exercised by a kill test)
CRASH_POINTS: dict[str, str] = {
    "load.after_items": "a catalog load: the items, not the users and interactions",
    "load.after_users": "a catalog load: items and users, not the interactions",
    "write_back.after_items": "a training write-back: the items, not the users",
    "publish.before_latest": "a trained model saved, models/latest not moved yet",
    "add_items.after_text": "add_items: the new text, not its embedding",
    "add_interactions.after_edges": "add_interactions: the edges, not the users' embeddings",
    "watch.after_file": "the ingest watcher: a file's items, not its saved state",
    "watch.after_quarantine": "the ingest watcher: a bad file moved aside, state not saved",
    "serve.items.before_reply": "POST /v1/items: everything, the reply not sent",
    "serve.interactions.before_reply": "POST /v1/interactions: everything, the reply not sent",
}


def crash_point(name: str) -> None:
    """Die with SIGKILL here if ``KGREC_CRASH_AT`` names ``name``; otherwise return."""
    wanted = os.environ.get(CRASH_ENV)
    if wanted and name in wanted.split(","):
        os.kill(os.getpid(), signal.SIGKILL)


#: the environment variables of :func:`pause_point`: the point's name, and a folder holding
#: two named pipes, ``reached`` and ``go``
PAUSE_ENV = "KGREC_PAUSE_AT"
PAUSE_DIR_ENV = "KGREC_PAUSE_DIR"

#: every named pause point, and the window a race test runs another writer in
PAUSE_POINTS: dict[str, str] = {
    "add_items.before_embedding": "add_items: text written and embedded, embedding not "
                                  "stored (its compare-and-set not run)",
}


def pause_point(name: str) -> None:
    """Stop here until the test says go, if ``KGREC_PAUSE_AT`` names ``name``.

    The process writes the point's name into the named pipe ``$KGREC_PAUSE_DIR/reached``
    (which blocks until the test reads it), then reads ``$KGREC_PAUSE_DIR/go`` (which
    blocks until the test writes it). A race test thus runs another writer exactly in
    the window between two steps, with no sleep on either side.
    """
    if os.environ.get(PAUSE_ENV) != name:
        return
    folder = os.environ[PAUSE_DIR_ENV]
    with open(os.path.join(folder, "reached"), "w") as reached:
        reached.write(name + "\n")
    with open(os.path.join(folder, "go")) as go:
        go.read()
