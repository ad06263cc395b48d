"""The EASE item–item term beside the GNN score, and its content-predicted columns.

``β · x_u B`` with ``B`` the closed-form EASE weights (Steck 2019) fitted on the
training interactions ``X``::

    P = (XᵀX + λI)⁻¹,   B = I − P · diag(1 / diag(P))

An item without training interactions has an all-zero column in ``B``. Its column is
predicted from its content instead: with ``f_j`` the item's binary attribute vector,
its L2-normalised text features times ``t`` and a constant 1
(:func:`gnn.trained.content_matrix`), a ridge regression of the warm columns on the
warm items' content::

    W = c · B[:, warm] F_w (F_wᵀ F_w + μ I)⁻¹,      B[:, j] ≈ W f_j

so ``x_u B[:, j] ≈ (x_u W) · f_j``: a per-user linear model of content, fitted to the
user's own EASE scores of the warm items. ``μ`` and ``t`` are chosen on a pseudo-cold
split of the training items (:func:`choose_content`), which also calibrates ``c`` so a
predicted column has the scale of a real one. ``λ`` and ``β`` are chosen on the
validation split by :mod:`gnn.scoring_fit`, from grids relative to the data.

Memory and time are ``O(I²)`` and ``O(I³)``: the term is skipped above
``ScoringConfig.item_item_max_items`` items (the GNN then serves alone).
"""

from __future__ import annotations

import logging
import os

import numpy as np
import scipy.sparse as sp

from gnn.metrics import validation_ndcg
from gnn.trained import content_matrix
from kgrec.errors import ResourceError

__all__ = ["LAMBDA_MULTIPLIERS", "MU_FRACTIONS", "PSEUDO_COLD_FRACTION", "TEXT_WEIGHTS",
           "WEIGHT_GRID", "choose_content", "ease_bytes", "ease_fits", "ease_scores",
           "fit_content_map", "fit_ease", "memory_limit"]

logger = logging.getLogger(__name__)

#: λ candidates as multiples of the mean training degree of the warm items
LAMBDA_MULTIPLIERS: tuple[float, ...] = (2.0, 8.0, 32.0)
#: β candidates (cosine scores lie in [-1, 1]; EASE scores are O(1))
WEIGHT_GRID: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
#: ``μ`` candidates as fractions of the number of warm items
MU_FRACTIONS: tuple[float, ...] = (0.02, 0.1, 0.5, 2.0)
#: ``t`` candidates: weight of the unit-norm text vector beside binary attributes
TEXT_WEIGHTS: tuple[float, ...] = (1.0, 3.0)
#: share of the warm items held out as pseudo-cold to choose ``μ`` and ``t``
PSEUDO_COLD_FRACTION = 0.15


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


def fit_content_map(weights: np.ndarray, warm: np.ndarray, content: np.ndarray,
                    mu: float) -> np.ndarray:
    """``W = B[:, warm] F_w (F_wᵀ F_w + μ I)⁻¹`` as ``float32 [num_items, d]``."""
    fw = content[warm]
    f64 = fw.astype(np.float64)
    gram = f64.T @ f64
    gram[np.diag_indices_from(gram)] += mu
    target = weights[:, warm] @ fw  # float32 [I, d]: no float64 copy of B
    return np.linalg.solve(gram, target.T.astype(np.float64)).T.astype(np.float32)


def _held_out(interactions: sp.csr_matrix, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(warm items, pseudo-cold items)``: 15% of the warm items, drawn with ``seed``."""
    warm = np.flatnonzero(np.diff(interactions.tocsc().indptr) > 0)
    held = np.sort(np.random.default_rng(seed).choice(
        warm, max(1, int(PSEUDO_COLD_FRACTION * len(warm))), replace=False))
    return warm, held


def _calibration(fit: sp.csr_matrix, weights: np.ndarray, content_map: np.ndarray,
                 content: np.ndarray, held: np.ndarray) -> float:
    """Least-squares factor mapping predicted scores ``x_u W f_j`` of the pseudo-cold
    items onto the scores their real columns give (``x_u B[:, j]``)."""
    num = den = 0.0
    for start in range(0, fit.shape[0], 4096):
        x = fit[start:start + 4096]
        real = np.asarray(x @ weights[:, held])
        pred = np.asarray(x @ content_map) @ content[held].T
        num, den = num + float((real * pred).sum()), den + float((pred * pred).sum())
    return num / den if den > 0 else 1.0


def choose_content(interactions: sp.csr_matrix, weights: np.ndarray, lam: float,
                   attributes: sp.csr_matrix | None, text: np.ndarray | None, seed: int
                   ) -> tuple[float, float, float, float]:
    """``(μ, t, c, pseudo-cold NDCG@20)`` chosen on a pseudo-cold split of ``interactions``.

    15% of the warm items lose their interactions, EASE is refitted without them, and
    each ``(μ, t)`` of the grids ranks them for the users who held them; ``c`` then
    rescales the predicted columns (ridge shrinks them) so that a new item scores on
    the scale of a warm one.

    Args:
        interactions: ``[U, I]`` binary CSR of training pairs.
        weights: ``[I, I]`` EASE weights fitted on ``interactions``.
        lam: the EASE ``λ`` of ``weights``.
        attributes: ``[I, A]`` item attribute matrix, or ``None``.
        text: ``[I, D]`` item text features, or ``None``.
        seed: draws the pseudo-cold items.
    """
    warm, held = _held_out(interactions, seed)
    is_held = np.zeros(interactions.shape[1], bool)
    is_held[held] = True
    fit = (interactions @ sp.diags((~is_held).astype(np.float32))).tocsr()
    fit.eliminate_zeros()
    valid = (interactions @ sp.diags(is_held.astype(np.float32))).tocsr()
    valid.eliminate_zeros()
    b = fit_ease(fit, lam)
    fit_warm = np.diff(fit.tocsc().indptr) > 0
    best: tuple[float, float, float, np.ndarray, np.ndarray] | None = None
    for t in TEXT_WEIGHTS if text is not None else (0.0,):
        content = content_matrix(attributes, text, t)
        for frac in MU_FRACTIONS:
            w = fit_content_map(b, fit_warm, content, frac * int(fit_warm.sum()))

            def score(users: np.ndarray, w: np.ndarray = w, content: np.ndarray = content
                      ) -> np.ndarray:
                return ease_scores(fit, w, users) @ content.T

            val = validation_ndcg(score, fit, valid, 20, is_held)
            if best is None or val > best[0]:
                best = (val, frac, t, w, content)
    assert best is not None
    val, frac, t, w, content = best
    scale = _calibration(fit, weights, w, content, held)
    mu = frac * len(warm)
    logger.info("content columns: mu %.1f, text weight %.1f, scale %.2f "
                "(pseudo-cold NDCG@20 %.4f)", mu, t, scale, val)
    return mu, t, scale, val
