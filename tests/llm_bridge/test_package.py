from __future__ import annotations

import subprocess
import sys
import types

import llm_bridge


def test_all_is_honest() -> None:
    # submodules (imported by this or an earlier test) are attributes too, not exports
    public = {n for n in dir(llm_bridge) if not n.startswith("_")
              and not isinstance(getattr(llm_bridge, n), types.ModuleType)}
    assert set(llm_bridge.__all__) == public - {"annotations"}
    for name in llm_bridge.__all__:
        assert getattr(llm_bridge, name) is not None


def test_import_does_not_pull_neo4j_or_kg() -> None:
    code = ("import sys, llm_bridge; bad = [m for m in ('neo4j', 'kg') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
