"""Baselines that run beside kgrec in the evaluation harness; each is a ``gnn.Ranker``.

W and L: MostPop, ItemKNN, EASE, ALS, LightGCN, ContentKNN.
C: Random, AttrPop, AttrProfile, ContentKNN.
"""

from __future__ import annotations

from gnn.baselines.als import ALS
from gnn.baselines.attr_pop import AttrPop
from gnn.baselines.attr_profile import AttrProfile
from gnn.baselines.content_knn import ContentKNN
from gnn.baselines.ease import EASE
from gnn.baselines.item_knn import ItemKNN
from gnn.baselines.lightgcn import LightGCNRanker
from gnn.baselines.most_pop import MostPop
from gnn.baselines.random_ranker import RandomRanker
from gnn.ranker import Ranker

__all__ = [
    "ALS",
    "EASE",
    "SLOW_BASELINES",
    "AttrPop",
    "AttrProfile",
    "ContentKNN",
    "ItemKNN",
    "LightGCNRanker",
    "MostPop",
    "RandomRanker",
    "baselines_for",
]

SLOW_BASELINES: frozenset[str] = frozenset({"ALS", "LightGCN"})
"""Skipped by ``--fast``."""


def baselines_for(protocol: str, fast: bool = False) -> list[Ranker]:
    """Fresh baseline rankers for ``protocol`` (``"w"``, ``"l"`` or ``"c"``).

    Args:
        protocol: the split protocol.
        fast: leave out the slow ones (:data:`SLOW_BASELINES`).
    """
    if protocol == "c":
        models: list[Ranker] = [RandomRanker(), AttrPop(), AttrProfile(), ContentKNN()]
    else:
        models = [MostPop(), ItemKNN(), EASE(), ALS(), LightGCNRanker(), ContentKNN()]
    return [m for m in models if not (fast and m.name in SLOW_BASELINES)]
