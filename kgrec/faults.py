"""Named crash points for the crash tests: a process dies there, for real, on request.

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

__all__ = ["CRASH_ENV", "crash_point"]

#: the environment variable naming the crash points to die at
CRASH_ENV = "KGREC_CRASH_AT"


def crash_point(name: str) -> None:
    """Die with SIGKILL here if ``KGREC_CRASH_AT`` names ``name``; otherwise return."""
    wanted = os.environ.get(CRASH_ENV)
    if wanted and name in wanted.split(","):
        os.kill(os.getpid(), signal.SIGKILL)
