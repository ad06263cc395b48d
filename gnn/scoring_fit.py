"""The post-GNN stage: what is fitted and chosen after the GNN has trained.

1. the EASE item–item term beside the GNN score (:mod:`gnn.item_item`): ``λ`` and ``β``
   chosen on the validation split (or given in :class:`gnn.config.ScoringConfig`);
2. its content-predicted columns for items without interactions: ``μ``, ``t``, ``c``
   chosen on a pseudo-cold split of the training items;
3. the long-tail slots per page (:mod:`gnn.long_tail`), chosen on validation within an
   accuracy budget, scored by the final :class:`gnn.scorer.Scorer`.

Every choice is scored by :func:`gnn.metrics.validation_ndcg`, and the returned model's
scorer is exactly the score the choices were made on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import scipy.sparse as sp

from gnn.item_item import (
    LAMBDA_MULTIPLIERS,
    WEIGHT_GRID,
    choose_content,
    ease_fits,
    ease_scores,
    fit_content_map,
    fit_ease,
)
from gnn.long_tail import SLOTS_GRID, choose_slots, tail_items
from gnn.metrics import validation_ndcg
from gnn.scorer import Scorer
from gnn.trained import ItemItemTerm, TrainedModel, content_matrix

__all__ = ["ItemContent", "fit_scoring"]

logger = logging.getLogger(__name__)

Scores = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True, eq=False)
class ItemContent:
    """What the content columns are fitted from (either part may be None).

    Attributes:
        attributes: ``[num_items, num_attributes]`` binary CSR.
        text: ``float32 [num_items, D]`` item text features.
    """

    attributes: sp.csr_matrix | None = None
    text: np.ndarray | None = None


def _cached(score: Scores, max_bytes: int = 256 << 20) -> Scores:
    """``score`` remembered per user batch (up to ``max_bytes``): a grid search scores
    the same validation batches once per grid value."""
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


def _grids(model: TrainedModel, seen: sp.csr_matrix, validated: bool
           ) -> tuple[list[float], list[float]]:
    cfg = model.config.scoring
    if cfg.item_item_lambda is not None and cfg.item_item_weight is not None:
        return [cfg.item_item_lambda], [cfg.item_item_weight]
    degree = np.asarray(seen.sum(axis=0)).ravel()
    mean_degree = float(degree[degree > 0].mean()) if (degree > 0).any() else 1.0
    if validated:
        return [m * mean_degree for m in LAMBDA_MULTIPLIERS], list(WEIGHT_GRID)
    # no validation to choose on: the middle of the grids
    return [LAMBDA_MULTIPLIERS[len(LAMBDA_MULTIPLIERS) // 2] * mean_degree], [1.0]


def _choose_item_item(model: TrainedModel, valid: sp.csr_matrix | None,
                      candidates: np.ndarray | None) -> tuple[float, float, np.ndarray | None,
                                                              dict[str, float]]:
    """``(λ, β, B, facts)``: the best item–item term by validation NDCG@20 (β = 0: none)."""
    seen = model.graph.interactions
    lambdas, weights = _grids(model, seen, valid is not None)
    chosen = valid is not None and len(lambdas) * len(weights) > 1
    def gnn_scores(users: np.ndarray) -> np.ndarray:
        return np.asarray(model.user_emb[users] @ model.item_emb.T, np.float32)

    gnn = _cached(gnn_scores)
    best: tuple[float, float, float, np.ndarray | None] = (-1.0, lambdas[0], weights[0], None)
    for lam in lambdas:
        b = fit_ease(seen, lam)
        item_item = _cached(partial(ease_scores, seen, b))
        for w in weights:
            if not chosen:
                best = (0.0, lam, w, b)
                break
            if w == 0.0 and best[3] is not None:
                continue
            assert valid is not None
            def hybrid(u: np.ndarray, ii: Scores = item_item, w: float = w) -> np.ndarray:
                return gnn(u) + w * ii(u)

            val = validation_ndcg(hybrid, seen, valid, 20, candidates, model.config.train.seed)
            if val > best[0]:
                best = (val, lam, w, b)
    val, lam, w, best_b = best
    facts = {"item_item_lambda": float(lam), "item_item_weight": float(w)}
    if chosen:
        facts["hybrid_val_ndcg"] = float(val)
    logger.info("item-item term: lambda %.1f, weight %.2f (%s)", lam, w,
                f"validation NDCG@20 {val:.4f}" if chosen else "given, not chosen")
    return lam, w, best_b, facts


def _content_term(model: TrainedModel, b: np.ndarray, lam: float, content: ItemContent
                  ) -> tuple[np.ndarray | None, float, np.ndarray | None, dict[str, float]]:
    """``(W, t, cold content rows, facts)`` of the content-predicted columns."""
    cfg = model.config.scoring
    seen = model.graph.interactions
    if not cfg.content_columns or (content.attributes is None and content.text is None):
        return None, 0.0, None, {}
    d = sum(x.shape[1] for x in (content.attributes, content.text) if x is not None) + 1
    if d > cfg.item_item_max_items:
        logger.info("content columns skipped: %d content dimensions (limit %d)",
                    d, cfg.item_item_max_items)
        return None, 0.0, None, {}
    if cfg.content_mu is not None and cfg.content_text_weight is not None \
            and cfg.content_scale is not None:
        mu, t, scale = cfg.content_mu, cfg.content_text_weight, cfg.content_scale
        val = float("nan")
    else:
        mu, t, scale, val = choose_content(seen, b, lam, content.attributes, content.text,
                                           model.config.train.seed)
    rows = content_matrix(content.attributes, content.text, t)
    warm = np.diff(seen.tocsc().indptr) > 0
    w_map = scale * fit_content_map(b, warm, rows, mu)
    facts = {"content_mu": float(mu), "content_text_weight": float(t),
             "content_scale": float(scale), "content_val_ndcg": float(val)}
    return w_map, float(t), rows[~warm], facts


def _item_item_term(model: TrainedModel, valid: sp.csr_matrix | None,
                    candidates: np.ndarray | None, content: ItemContent
                    ) -> tuple[ItemItemTerm | None, dict[str, float]]:
    cfg = model.config
    n_items = model.num_items
    if not (cfg.scoring.item_item and cfg.model.use_id):
        return None, {}
    if n_items > cfg.scoring.item_item_max_items or not ease_fits(n_items):
        logger.info("item-item term skipped: %d items (limit %d, or more memory than allowed)",
                    n_items, cfg.scoring.item_item_max_items)
        return None, {"item_item_skipped_items": float(n_items)}
    lam, w, b, facts = _choose_item_item(model, valid, candidates)
    if w <= 0 or b is None:
        return None, facts
    content_map, t, cold_content, more = _content_term(model, b, lam, content)
    cold = np.flatnonzero(~model.item_has_id).astype(np.int64)
    return ItemItemTerm(b, float(w), content_map, t, cold, cold_content), {**facts, **more}


def _tail_slots(model: TrainedModel, valid: sp.csr_matrix | None) -> tuple[float,
                                                                           dict[str, float]]:
    cfg = model.config.scoring
    if cfg.tail_slots is not None:
        return float(cfg.tail_slots), {}
    if valid is None:
        return float(SLOTS_GRID[len(SLOTS_GRID) // 2]), {}
    seen = model.graph.interactions
    tail = tail_items(np.diff(seen.tocsc().indptr))
    score = _cached(Scorer(model).score_trained)
    per_page, facts = choose_slots(score, seen, valid, tail, cfg.tail_budget,
                                   seed=model.config.train.seed)
    return float(per_page), facts


def fit_scoring(model: TrainedModel, valid: sp.csr_matrix | None = None,
                valid_candidates: np.ndarray | None = None,
                content: ItemContent | None = None) -> TrainedModel:
    """The model with its item–item term and long-tail slots (see the module docstring).

    Args:
        model: the trained GNN (``item_item`` None); its ``graph.interactions`` are the
            training pairs.
        valid: ``[U, I]`` CSR of validation pairs; without it the configured values, or
            the middle of each grid, are used.
        valid_candidates: ``bool [I]`` items ranked in validation.
        content: the items' attributes and text, for the content columns.

    Returns:
        A new :class:`TrainedModel`; the choices are also recorded in its ``info``.
    """
    term, facts = _item_item_term(model, valid, valid_candidates, content or ItemContent())
    with_term = replace(model, item_item=term)
    per_page, tail_facts = _tail_slots(with_term, valid)
    return replace(with_term, tail_slots=per_page,
                   info={**model.info, **facts, "tail_slots": per_page, **tail_facts})
