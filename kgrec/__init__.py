"""kgrec: a knowledge-graph-centric recommender engine.

The facade (``Recommender``) is imported lazily (PEP 562) so that ``kg`` and
``llm_bridge`` can import ``kgrec.errors``/``kgrec.settings`` without a cycle or
pulling in torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Recommender", "Settings", "__version__"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "Recommender":
        from kgrec.recommender import Recommender

        return Recommender
    if name == "Settings":
        from kgrec.settings import Settings

        return Settings
    raise AttributeError(f"module 'kgrec' has no attribute {name!r}")
