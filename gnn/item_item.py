"""An optional EASE-style item–item term beside the GNN score (the "hybrid" score).

``score(u, i) = cos(z_u, z_i) + β · (x_u B)_i`` with ``B`` the closed-form EASE
weights (Steck 2019) fitted on the training interactions ``X``::

    P = (XᵀX + λI)⁻¹,   B = I − P · diag(1 / diag(P))

An item without training interactions has an all-zero column in ``B``; kgrec predicts
it from the item's attributes and text (:mod:`gnn.content_columns`), so cold and newly
added items get the term too. ``λ`` and ``β`` are chosen on the validation split from
grids relative to the data (``λ`` in multiples of the mean item degree), so no
dataset-specific constant is baked in.
Memory and time are ``O(I²)`` and ``O(I³)``: the term is skipped above
``max_items`` items (the GNN then serves alone).
"""

from __future__ import annotations

import logging
import os

import numpy as np
import scipy.sparse as sp

from kgrec.errors import ResourceError

__all__ = ["LAMBDA_MULTIPLIERS", "WEIGHT_GRID", "ease_bytes", "ease_fits", "ease_scores",
           "fit_ease", "memory_limit"]

logger = logging.getLogger(__name__)

#: λ candidates as multiples of the mean training degree of the warm items
LAMBDA_MULTIPLIERS: tuple[float, ...] = (2.0, 8.0, 32.0)
#: β candidates (cosine scores lie in [-1, 1]; EASE scores are O(1))
WEIGHT_GRID: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)


def ease_bytes(num_items: int) -> int:
    """Peak memory of :func:`fit_ease`: two float64 ``[I, I]`` matrices (Gram matrix and
    its inverse) and the float32 result, ~20 bytes per item pair."""
    return 20 * num_items * num_items


def memory_limit() -> int:
    """Bytes an ``O(I²)`` computation may take: half of this machine's physical memory
    (no limit where the platform does not tell)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (AttributeError, ValueError, OSError):
        return 1 << 62


def ease_fits(num_items: int) -> bool:
    """Whether :func:`fit_ease` on ``num_items`` items stays within :func:`memory_limit`."""
    return ease_bytes(num_items) <= memory_limit()


def fit_ease(interactions: sp.csr_matrix, lam: float) -> np.ndarray:
    """Closed-form EASE weights.

    Args:
        interactions: ``[num_users, num_items]`` binary CSR of training pairs.
        lam: L2 regularisation ``λ > 0``.

    Returns:
        ``float32 [num_items, num_items]`` with a zero diagonal and zero rows/columns
        for items without interactions.

    Raises:
        ResourceError: the dense matrices need more than :func:`memory_limit`.
    """
    n = interactions.shape[1]
    if not ease_fits(n):
        raise ResourceError(f"EASE on {n:,} items needs ~{ease_bytes(n) / 1e9:.1f} GB for its "
                            f"dense item-item matrices; this machine allows "
                            f"{memory_limit() / 1e9:.1f} GB (half its memory)")
    x = (interactions > 0).astype(np.float64)
    gram = np.asarray((x.T @ x).todense())
    warm = np.asarray(x.sum(axis=0)).ravel() > 0
    gram[np.diag_indices_from(gram)] += lam
    b = np.linalg.inv(gram)
    del gram
    b /= -np.diag(b).copy()[None, :]  # B = -P / diag(P), in place
    np.fill_diagonal(b, 0.0)
    b[~warm, :] = 0.0
    b[:, ~warm] = 0.0
    return b.astype(np.float32)


def ease_scores(interactions: sp.csr_matrix, weights: np.ndarray, user_idx: np.ndarray
                ) -> np.ndarray:
    """``float32 [B, num_items]`` item–item scores ``x_u B`` of users ``int64 [B]``."""
    rows = interactions[np.asarray(user_idx, dtype=np.int64)]
    return np.asarray(rows @ weights, dtype=np.float32)
