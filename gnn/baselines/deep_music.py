"""DeepMusic-style content → collaborative-factor regression (van den Oord et al., NeurIPS
2013), as the cold-start literature's baseline.

A ridge regression maps an item's content (kgrec's text features and attribute one-hots,
:func:`gnn.baselines._cold.item_content`) onto the warm items' ALS item factors. A warm
item keeps its ALS factors; an item without train interactions gets the mapped ones; the
score is ``user factor · item factor``. The ridge weight λ is tuned on the cold
validation (:func:`gnn.baselines._cold.cold_tuning`).
"""

from __future__ import annotations

import numpy as np

from gnn.baselines._cold import ColdStartRanker, ScoreFn, warm_items
from kg.snapshot import GraphSnapshot

__all__ = ["DeepMusic", "ridge_map"]

LAMBDA_GRID: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0)


def ridge_map(x: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """``W = (XᵀX + λI)⁻¹ XᵀY``, ``float64 [D, F]`` (closed form, in float64)."""
    x64 = np.asarray(x, np.float64)
    gram = x64.T @ x64 + lam * np.eye(x64.shape[1])
    return np.asarray(np.linalg.solve(gram, x64.T @ np.asarray(y, np.float64)))


class DeepMusic(ColdStartRanker):
    """Content → CF-factor ridge regression; ``param`` is the ridge λ (``None`` tunes it)."""

    name = "DeepMusic"
    grid = LAMBDA_GRID

    def _fit(self, snapshot: GraphSnapshot, factors: tuple[np.ndarray, np.ndarray],
             content: np.ndarray, param: float, seed: int) -> ScoreFn:
        users, items = factors
        warm = warm_items(snapshot)
        vectors = np.array(items, dtype=np.float32)
        if warm.any() and (~warm).any():
            weights = ridge_map(content[warm], items[warm], float(param))
            vectors[~warm] = (content[~warm] @ weights).astype(np.float32)
        return lambda u: users[u] @ vectors.T
