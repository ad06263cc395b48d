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

__all__ = ["CRASH_ENV", "PAUSE_DIR_ENV", "PAUSE_ENV", "crash_point", "pause_point"]

#: the environment variable naming the crash points to die at
CRASH_ENV = "KGREC_CRASH_AT"


def crash_point(name: str) -> None:
    """Die with SIGKILL here if ``KGREC_CRASH_AT`` names ``name``; otherwise return."""
    wanted = os.environ.get(CRASH_ENV)
    if wanted and name in wanted.split(","):
        os.kill(os.getpid(), signal.SIGKILL)


#: the environment variables of :func:`pause_point`: the point's name, and a folder holding
#: two named pipes, ``reached`` and ``go``
PAUSE_ENV = "KGREC_PAUSE_AT"
PAUSE_DIR_ENV = "KGREC_PAUSE_DIR"


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
