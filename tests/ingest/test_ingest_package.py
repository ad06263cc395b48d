"""The ingest package's public names and import boundaries."""

from __future__ import annotations

import subprocess
import sys

import ingest


def test_all_is_honest() -> None:
    public = {n for n in dir(ingest) if not n.startswith("_")}
    assert set(ingest.__all__) <= public
    for name in ingest.__all__:
        assert getattr(ingest, name) is not None
    assert ingest.__all__ == sorted(ingest.__all__)


def test_ingest_imports_neither_torch_nor_gnn() -> None:
    code = ("import sys, ingest, ingest.loader; "
            "bad = [m for m in ('torch', 'gnn', 'llm_bridge', 'transformers') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
