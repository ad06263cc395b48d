"""Choices made on the validation split after the GNN has trained: the item–item term
beside its score (:mod:`gnn.item_item`: ``λ`` and ``β``) and the long-tail slots per
page (:mod:`gnn.long_tail`), plus the fast validation NDCG@20 the trainer's early
stopping uses (NumPy or torch scores, no tie permutation: a selection signal, not the
harness's metric, which is :mod:`gnn.metrics`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

import numpy as np
import scipy.sparse as sp
import torch

from gnn.trained import TrainedModel

__all__ = ["Scorer", "cache_by_batch", "fit_item_item", "fit_tail_slots", "validation_ndcg"]

logger = logging.getLogger(__name__)

#: ``user_idx int64 [B] -> float32 [B, num_items]``
Scorer = Callable[[np.ndarray], np.ndarray]


def validation_ndcg(score: Callable[[np.ndarray], np.ndarray | torch.Tensor],
                    seen: sp.csr_matrix, valid: sp.csr_matrix, k: int = 20,
                    candidates: np.ndarray | None = None, batch_size: int = 2048) -> float:
    """Mean NDCG@k over users with a validation item, full ranking, seen items excluded.

    Args:
        score: ``user_idx int64 [B] -> float [B, I]`` scores (NumPy or torch).
        seen: ``[U, I]`` CSR of train items (excluded from the ranking).
        valid: ``[U, I]`` CSR of validation items (relevant).
        k: cutoff.
        candidates: optional ``bool [I]`` items that may be ranked.
        batch_size: users per ``score`` call.

    Returns:
        NDCG@k (binary relevance), 0.0 when no user has a validation item.
    """
    users = np.flatnonzero(np.diff(valid.indptr) > 0)
    if len(users) == 0:
        return 0.0
    discount = 1.0 / np.log2(np.arange(k) + 2.0)
    cum = np.cumsum(discount)
    total = 0.0
    for start in range(0, len(users), batch_size):
        batch = users[start:start + batch_size]
        with torch.no_grad():
            s = score(batch)
        s = s.float().cpu().numpy() if isinstance(s, torch.Tensor) else np.array(s, np.float32)
        sub = seen[batch].tocoo()
        s[sub.row, sub.col] = -np.inf
        if candidates is not None:
            s[:, ~candidates] = -np.inf
        kk = min(k, s.shape[1])
        top = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
        top = np.take_along_axis(top, np.argsort(-np.take_along_axis(s, top, 1), axis=1), 1)
        rel = valid[batch].toarray() > 0
        hits = np.take_along_axis(rel, top, 1)
        dcg = (hits * discount[:kk]).sum(1)
        n_rel = np.minimum(rel.sum(1), kk)
        total += float((dcg / cum[n_rel - 1]).sum())
    return total / len(users)


def cache_by_batch(score: Scorer, max_bytes: int = 256 << 20) -> Scorer:
    """``score`` remembered per user batch (up to ``max_bytes`` of results): a grid search
    asks :func:`validation_ndcg` for the same batches once per grid value."""
    cache: dict[bytes, np.ndarray] = {}
    used = 0

    def cached(users: np.ndarray) -> np.ndarray:
        nonlocal used
        key = np.asarray(users).tobytes()
        out = cache.get(key)
        if out is None:
            out = np.asarray(score(users))
            if used + out.nbytes <= max_bytes:
                cache[key], used = out, used + out.nbytes
        return out

    return cached


def fit_item_item(trained: TrainedModel, train_csr: sp.csr_matrix,
                  valid_csr: sp.csr_matrix | None, valid_candidates: np.ndarray | None,
                  attributes: sp.csr_matrix | None = None, text: np.ndarray | None = None
                  ) -> tuple[dict[str, float], Scorer]:
    """Attach the EASE term (see :mod:`gnn.item_item`); λ, β from config or validation.
    With ``attributes`` / ``text`` (the items' content), items without interactions get
    columns predicted from it (:mod:`gnn.content_columns`).

    Returns:
        ``(facts, score)``: the choice, and ``trained.score`` as it now is, remembered
        per user batch (the long-tail search scores the same validation batches).
    """
    from gnn.item_item import LAMBDA_MULTIPLIERS, WEIGHT_GRID, ease_fits, ease_scores, fit_ease

    config = trained.config
    n_i = train_csr.shape[1]
    gnn = cache_by_batch(lambda users: trained.user_emb[users] @ trained.item_emb.T)
    if not (config.item_item and config.use_id):
        return {}, gnn
    if n_i > config.item_item_max_items or not ease_fits(n_i):
        logger.info("item-item term skipped: %d items (limit %d, or more memory than allowed)",
                    n_i, config.item_item_max_items)
        return {}, gnn
    train_csr = (train_csr > 0).astype(np.float32).tocsr()
    degree = np.asarray(train_csr.sum(axis=0)).ravel()
    mean_degree = float(degree[degree > 0].mean()) if (degree > 0).any() else 1.0
    if config.item_item_lambda is not None and config.item_item_weight is not None:
        lambdas, weights = [config.item_item_lambda], [config.item_item_weight]
    elif valid_csr is not None:
        lambdas = [m * mean_degree for m in LAMBDA_MULTIPLIERS]
        weights = list(WEIGHT_GRID)
    else:  # no validation to choose on: the middle of the grids
        lambdas = [LAMBDA_MULTIPLIERS[len(LAMBDA_MULTIPLIERS) // 2] * mean_degree]
        weights = [1.0]
    chosen = valid_csr is not None and len(lambdas) * len(weights) > 1
    best: tuple[float, float, float, np.ndarray | None, Scorer] = (-1.0, 0.0, 0.0, None, gnn)
    for lam in lambdas:
        b = fit_ease(train_csr, lam)
        item_item = cache_by_batch(partial(ease_scores, train_csr, b))
        for w in weights:
            if not chosen:
                best = (0.0, lam, w, b, item_item)
                break
            if w == 0.0 and best[3] is not None:
                continue

            def score(users: np.ndarray, item_item: Scorer = item_item, w: float = w
                      ) -> np.ndarray:
                return gnn(users) + w * item_item(users)

            val = validation_ndcg(score, train_csr, valid_csr, 20, valid_candidates)
            if val > best[0]:
                best = (val, lam, w, b, item_item)
    _, lam, w, weights_b, best_item_item = best
    facts = {"item_item_lambda": float(lam), "item_item_weight": float(w)}
    if chosen:
        facts["hybrid_val_ndcg"] = float(best[0])
    logger.info("item-item term: lambda %.1f, weight %.2f (%s)", lam, w,
                f"validation NDCG@20 {best[0]:.4f}" if chosen else "given, not chosen")
    if w > 0:
        from gnn.content_columns import attach_content_columns

        assert weights_b is not None
        trained.item_item, trained.item_item_weight = weights_b, float(w)
        trained.interactions = train_csr
        if config.content_columns:
            facts.update(attach_content_columns(trained, train_csr, lam, attributes, text))
            best_item_item = cache_by_batch(partial(ease_scores, train_csr, weights_b))

    def final_score(users: np.ndarray) -> np.ndarray:
        return gnn(users) + w * best_item_item(users) if w > 0 else gnn(users)

    return facts, final_score


def fit_tail_slots(trained: TrainedModel, score: Scorer, train_csr: sp.csr_matrix,
                   valid_csr: sp.csr_matrix | None) -> dict[str, float]:
    """Long-tail slots per page (see :mod:`gnn.long_tail`): from config, else chosen
    on validation within ``config.tail_budget`` (``score`` = ``trained.score``), else
    the grid's middle (2 per page)."""
    from gnn.long_tail import SLOTS_GRID, choose_slots, tail_items

    config = trained.config
    facts: dict[str, float] = {}
    if config.tail_slots is not None:
        per_page = config.tail_slots
    elif valid_csr is not None:
        tail = tail_items(np.diff(train_csr.tocsc().indptr))
        per_page, facts = choose_slots(score, train_csr, valid_csr, tail, config.tail_budget,
                                       validation_ndcg, seed=config.seed)
    else:
        per_page = SLOTS_GRID[len(SLOTS_GRID) // 2]
    return {"tail_slots": float(per_page), **facts}
