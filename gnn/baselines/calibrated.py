"""Per-user calibration of new items' scores (the hybrid protocol H's ``+cal`` variants).

For each user, the scores of the new (cold) items and of the warm candidate items are
z-scored separately, and the cold z-scores are mapped onto the warm distribution:
``cold_score = mean_warm + std_warm · z_cold``. Warm items keep their scores. "Cold" items
are those without train interactions; the warm statistics leave out the user's train items
(they are never recommended). Standard deviations are population ones; a constant set of
cold scores maps to the warm mean.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from gnn.baselines._cold import warm_items
from gnn.metrics import pair_matrix
from gnn.ranker import EvalContext, Ranker
from kg.snapshot import GraphSnapshot

__all__ = ["Calibrated", "calibrate"]


def _moments(scores: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = np.maximum(mask.sum(axis=1, keepdims=True), 1)
    mean = np.where(mask, scores, 0.0).sum(axis=1, keepdims=True) / n
    var = np.where(mask, (scores - mean) ** 2, 0.0).sum(axis=1, keepdims=True) / n
    return mean, np.sqrt(var)


def calibrate(scores: np.ndarray, cold: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Map each row's cold-item scores onto its warm-item score distribution.

    Args:
        scores: ``float [B, num_items]``.
        cold: ``bool [num_items]`` new items.
        seen: ``bool [B, num_items]`` each user's train items (left out of the warm moments).

    Returns:
        ``float32 [B, num_items]``: warm scores unchanged, cold ones
        ``mean_warm + std_warm · (s - mean_cold) / std_cold``.
    """
    s = np.asarray(scores, np.float64)
    cold_mask = np.broadcast_to(cold[None, :], s.shape)
    mean_c, std_c = _moments(s, cold_mask)
    mean_w, std_w = _moments(s, ~cold_mask & ~seen)
    z = np.where(std_c > 0, (s - mean_c) / np.where(std_c > 0, std_c, 1.0), 0.0)
    return np.where(cold_mask, mean_w + std_w * z, s).astype(np.float32)


class Calibrated:
    """``base`` with :func:`calibrate`d scores, named ``"<base>+cal"``.

    ``fit`` fits ``base`` only when it was not already fitted on this ``train`` (the
    harness lists the base first), so the variant costs no second fit.
    """

    def __init__(self, base: Ranker) -> None:
        self.base = base
        self.name = f"{base.name}+cal"
        self._cold: np.ndarray | None = None
        self._seen: sp.csr_matrix | None = None

    def __repr__(self) -> str:
        return f"Calibrated({self.base.name!r})"

    def fit(self, train: GraphSnapshot, context: EvalContext) -> None:
        """Fit ``base`` if needed; remember the cold items and the train items."""
        if getattr(self.base, "fitted_on", None) is not train:
            self.base.fit(train, context)
        self._cold = ~warm_items(train)
        self._seen = pair_matrix(train.interaction_index, train.num_users, train.num_items)

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        """``float32 [B, num_items]`` calibrated scores."""
        assert self._cold is not None and self._seen is not None, "call fit() first"
        user_idx = np.asarray(user_idx, np.int64)
        return calibrate(self.base.score(user_idx), self._cold,
                         self._seen[user_idx].toarray())
