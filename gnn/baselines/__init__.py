"""Baselines that run beside kgrec in the evaluation harness; each is a ``gnn.Ranker``.

W and L: MostPop, ItemKNN, EASE, ALS, LightGCN, ContentKNN.
C: Random, AttrPop, AttrProfile, ContentKNN and the cold-start literature's DeepMusic,
DropoutNet and ALDI.
H: MostPop, EASE, ALS, ContentKNN, and DeepMusic, DropoutNet, ALDI each beside its
per-user calibrated variant (``+cal``, :class:`Calibrated`).
"""

from __future__ import annotations

from gnn.baselines.aldi import ALDI
from gnn.baselines.als import ALS
from gnn.baselines.attr_pop import AttrPop
from gnn.baselines.attr_profile import AttrProfile
from gnn.baselines.calibrated import Calibrated
from gnn.baselines.content_knn import ContentKNN
from gnn.baselines.deep_music import DeepMusic
from gnn.baselines.dropout_net import DropoutNet
from gnn.baselines.ease import EASE
from gnn.baselines.item_knn import ItemKNN
from gnn.baselines.lightgcn import LightGCNRanker
from gnn.baselines.most_pop import MostPop
from gnn.baselines.random_ranker import RandomRanker
from gnn.ranker import Ranker

__all__ = [
    "ALDI",
    "ALS",
    "COLD_BASELINES",
    "EASE",
    "SLOW_BASELINES",
    "AttrPop",
    "AttrProfile",
    "Calibrated",
    "ContentKNN",
    "DeepMusic",
    "DropoutNet",
    "ItemKNN",
    "LightGCNRanker",
    "MostPop",
    "RandomRanker",
    "baselines_for",
]

SLOW_BASELINES: frozenset[str] = frozenset({"ALS", "LightGCN"})
"""Skipped by ``--fast``."""

COLD_BASELINES: frozenset[str] = frozenset(
    name for base in ("DeepMusic", "DropoutNet", "ALDI") for name in (base, f"{base}+cal"))
"""The cold-start literature's baselines and their calibrated variants (they read text)."""


def baselines_for(protocol: str, fast: bool = False) -> list[Ranker]:
    """Fresh baseline rankers for ``protocol`` (``"w"``, ``"l"``, ``"c"`` or ``"h"``).

    Args:
        protocol: the split protocol.
        fast: leave out the slow ones (:data:`SLOW_BASELINES`).
    """
    if protocol == "c":
        models: list[Ranker] = [RandomRanker(), AttrPop(), AttrProfile(), ContentKNN(),
                                DeepMusic(), DropoutNet(), ALDI()]
    elif protocol == "h":
        models = [MostPop(), EASE(), ALS(), ContentKNN()]
        for cold in (DeepMusic(), DropoutNet(), ALDI()):
            models += [cold, Calibrated(cold)]
    else:
        models = [MostPop(), ItemKNN(), EASE(), ALS(), LightGCNRanker(), ContentKNN()]
    return [m for m in models if not (fast and m.name in SLOW_BASELINES)]
