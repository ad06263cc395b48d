"""Item–item columns for items without interactions, regressed from their content.

EASE (:mod:`gnn.item_item`) gives every warm item ``j`` a column ``B[:, j]``: how much
each item a user holds votes for ``j``. An item without training interactions has none,
so the item–item term used to leave cold and new items to the GNN alone. Here their
columns are predicted from content: with ``f_j`` the item's binary attribute vector, its
L2-normalised text features times ``t``, and a constant 1, a ridge regression of the warm
columns on the warm items' content

    W = B[:, warm] F_w (F_wᵀ F_w + μ I)⁻¹,      B[:, j] ≈ W f_j   (j cold or new)

so ``x_u B[:, j] = (x_u W) · f_j``: a per-user linear model of content, fitted to the
user's own EASE scores of the warm items and sharing one regulariser. ``μ`` and ``t`` are
chosen on a pseudo-cold split of the training items (15% of the warm items lose their
interactions, EASE is refitted without them, and the term ranks them for the users who
held them), so nothing is tuned to a dataset; the same split calibrates the predicted
columns to the scale of real ones (``c``, see :func:`choose_content`). The model keeps
``W`` to give items added after training their columns
(:meth:`gnn.trained.TrainedModel.content_rows`).
Cost: one extra EASE fit for the choice, ``O(d³)`` per grid value with
``d = attributes + text dimensions + 1``.
"""

from __future__ import annotations

import logging
from functools import partial

import numpy as np
import scipy.sparse as sp

from gnn.item_item import ease_scores, fit_ease
from gnn.trained import TrainedModel

__all__ = ["MU_FRACTIONS", "PSEUDO_COLD_FRACTION", "TEXT_WEIGHTS", "attach_content_columns",
           "choose_content", "content_matrix", "fit_content_map"]

logger = logging.getLogger(__name__)

#: ``μ`` candidates as fractions of the number of warm items
MU_FRACTIONS: tuple[float, ...] = (0.02, 0.1, 0.5, 2.0)
#: ``t`` candidates: weight of the unit-norm text vector beside binary attributes
TEXT_WEIGHTS: tuple[float, ...] = (1.0, 3.0)
#: share of the warm items held out as pseudo-cold to choose ``μ`` and ``t``
PSEUDO_COLD_FRACTION = 0.15


def content_matrix(attributes: sp.csr_matrix | None, text: np.ndarray | None,
                   text_weight: float) -> np.ndarray:
    """``float32 [n, d]`` content rows: binary attributes, ``text_weight ×`` L2-normalised
    text features, and a constant 1 (either part may be ``None``)."""
    parts = []
    n = attributes.shape[0] if attributes is not None else len(text)  # type: ignore[arg-type]
    if attributes is not None:
        parts.append((attributes > 0).astype(np.float32).toarray())
    if text is not None:
        t = np.asarray(text, np.float32)
        parts.append(text_weight * t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True),
                                                  1e-12))
    parts.append(np.ones((n, 1), np.float32))
    return np.hstack(parts)


def fit_content_map(weights: np.ndarray, warm: np.ndarray, content: np.ndarray,
                    mu: float) -> np.ndarray:
    """``W = B[:, warm] F_w (F_wᵀ F_w + μ I)⁻¹`` as ``float32 [num_items, d]``."""
    fw = content[warm]
    f64 = fw.astype(np.float64)
    gram = f64.T @ f64
    gram[np.diag_indices_from(gram)] += mu
    target = weights[:, warm] @ fw  # float32 [I, d]: no float64 copy of B
    return np.linalg.solve(gram, target.T.astype(np.float64)).T.astype(np.float32)


def choose_content(interactions: sp.csr_matrix, weights: np.ndarray, lam: float,
                   attributes: sp.csr_matrix | None, text: np.ndarray | None, seed: int
                   ) -> tuple[float, float, float, float]:
    """``(μ, t, c, pseudo-cold NDCG@20)`` chosen on a pseudo-cold split of ``interactions``.

    ``c`` calibrates the predicted columns: ridge shrinks them, so they are rescaled by
    the least-squares factor that maps the pseudo-cold items' predicted scores
    ``x_u W f_j`` onto the scores their real columns give (``x_u B[:, j]``, ``B`` =
    ``weights``), so a new item scores on the scale of a warm one.

    Args:
        interactions: ``[U, I]`` binary CSR of training pairs.
        weights: ``[I, I]`` EASE weights fitted on ``interactions``.
        lam: the EASE ``λ`` of ``weights``.
        attributes: ``[I, A]`` item attribute matrix, or ``None``.
        text: ``[I, D]`` item text features, or ``None``.
        seed: draws the pseudo-cold items.
    """
    from gnn.selection import validation_ndcg

    warm = np.flatnonzero(np.diff(interactions.tocsc().indptr) > 0)
    held = np.sort(np.random.default_rng(seed).choice(
        warm, max(1, int(PSEUDO_COLD_FRACTION * len(warm))), replace=False))
    is_held = np.zeros(interactions.shape[1], bool)
    is_held[held] = True
    keep = sp.diags((~is_held).astype(np.float32))
    fit = (interactions @ keep).tocsr()
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
            val = validation_ndcg(partial(_scores, fit, w, content), fit, valid, 20, is_held)
            if best is None or val > best[0]:
                best = (val, frac, t, w, content)
    assert best is not None
    val, frac, t, w, content = best
    num = den = 0.0
    for start in range(0, fit.shape[0], 4096):
        x = fit[start:start + 4096]
        real = np.asarray(x @ weights[:, held])
        pred = np.asarray(x @ w) @ content[held].T
        num, den = num + float((real * pred).sum()), den + float((pred * pred).sum())
    scale = num / den if den > 0 else 1.0
    mu = frac * len(warm)
    logger.info("content columns: mu %.1f, text weight %.1f, scale %.2f "
                "(pseudo-cold NDCG@20 %.4f)", mu, t, scale, val)
    return mu, t, scale, val


def attach_content_columns(trained: TrainedModel, interactions: sp.csr_matrix, lam: float,
                           attributes: sp.csr_matrix | None, text: np.ndarray | None
                           ) -> dict[str, float]:
    """Fill ``trained.item_item``'s columns of items without interactions with ``W f_j``
    and keep ``W`` (``trained.content_map``); ``μ``, ``t`` from the config or chosen by
    :func:`choose_content`. Returns the facts for ``trained.info`` ({} when skipped)."""
    config = trained.config
    b = trained.item_item
    if b is None or (attributes is None and text is None):
        return {}
    d = (attributes.shape[1] if attributes is not None else 0) + \
        (text.shape[1] if text is not None else 0) + 1
    if d > config.item_item_max_items:
        logger.info("content columns skipped: %d content dimensions (limit %d)",
                    d, config.item_item_max_items)
        return {}
    chosen = (config.content_mu, config.content_text_weight, config.content_scale)
    if chosen[0] is not None and chosen[1] is not None and chosen[2] is not None:
        mu, t, scale, val = chosen[0], chosen[1], chosen[2], float("nan")
    else:
        mu, t, scale, val = choose_content(interactions, b, lam, attributes, text, config.seed)
    content = content_matrix(attributes, text, t)
    warm = np.diff(interactions.tocsc().indptr) > 0
    w = scale * fit_content_map(b, warm, content, mu)
    b[:, ~warm] = w @ content[~warm].T
    trained.content_map, trained.content_text_weight = w, float(t)
    return {"content_mu": float(mu), "content_text_weight": float(t),
            "content_scale": float(scale), "content_val_ndcg": float(val)}


def _scores(interactions: sp.csr_matrix, content_map: np.ndarray, content: np.ndarray,
            users: np.ndarray) -> np.ndarray:
    """``(x_u W) · f_j`` for every item ``j``: the term with every column predicted."""
    return ease_scores(interactions, content_map, users) @ content.T
