"""The interface every model in the evaluation harness implements.

kgrec itself and every baseline (MostPop, EASE, ALS, LightGCN, ...) are
``Ranker``s: fitted on the same train snapshot, scored by the same metric code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from kg.snapshot import GraphSnapshot

__all__ = ["EvalContext", "Ranker"]


@dataclass(frozen=True, eq=False)
class EvalContext:
    """What a ranker may use besides the train graph.

    Attributes:
        item_features: ``float32 [num_items, D]`` L2-normalised text features of every
            item (cold items included), rows in snapshot order.
        attribute_features: ``float32 [num_attributes, D]`` text features of attribute nodes.
        user_features: ``float32 [num_users, D]`` text features of user profiles (zeros
            when a user has no profile attributes).
        valid: ``int64 [2, E_val]`` ``(user_idx, item_idx)`` pairs held out from ``train``
            for tuning/early stopping; never the test set.
        fit_train: the snapshot to fit on, *without* the validation pairs (``train``
            passed to ``fit`` still contains them; rankers tune on ``fit_train``/``valid``
            and refit on ``train``).
        seed: the split seed.
        device: ``"cpu"`` or ``"cuda"``.
    """

    item_features: np.ndarray
    attribute_features: np.ndarray
    user_features: np.ndarray
    valid: np.ndarray
    fit_train: GraphSnapshot
    seed: int = 2026
    device: str = "cpu"
    extra: dict[str, object] = field(default_factory=dict)


@runtime_checkable
class Ranker(Protocol):
    """A model that scores every item for a batch of users."""

    name: str

    def fit(self, train: GraphSnapshot, context: EvalContext) -> None:
        """Fit on ``train`` (interactions of the split's train part, all nodes/attributes)."""

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        """Scores ``float32 [len(user_idx), num_items]``; higher is better.

        The harness masks seen items and breaks ties; rankers need not.
        """
