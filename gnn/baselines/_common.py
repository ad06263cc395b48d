"""Helpers shared by the baselines: interaction matrices and validation scoring."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from gnn.metrics import pair_matrix
from gnn.metrics import validation_ndcg as metrics_ndcg
from gnn.ranker import EvalContext
from kg.snapshot import GraphSnapshot

logger = logging.getLogger(__name__)

VALID_K = 20


def interaction_matrix(snapshot: GraphSnapshot) -> sp.csr_matrix:
    """Binary ``float32 [num_users, num_items]`` CSR matrix of the snapshot's interactions."""
    idx = snapshot.interaction_index
    m = sp.csr_matrix((np.ones(idx.shape[1], np.float32), (idx[0], idx[1])),
                      shape=(snapshot.num_users, snapshot.num_items))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def attribute_kinds(snapshot: GraphSnapshot) -> list[str]:
    """The distinct item attribute kinds, sorted."""
    return sorted({snapshot.attribute_kind_value(a)[0]
                   for a in np.unique(snapshot.item_attribute_index[1]).tolist()})


def validation_ndcg(score: Callable[[np.ndarray], np.ndarray], context: EvalContext,
                    k: int = VALID_K) -> float:
    """NDCG@k on the validation pairs, for a model fitted on ``context.fit_train``.

    Seen items are the ``fit_train`` items; candidates are
    ``context.extra["valid_candidates"]`` (all items when absent).
    """
    fit = context.fit_train
    n_u, n_i = fit.num_users, fit.num_items
    cand = context.extra.get("valid_candidates")
    return metrics_ndcg(score, pair_matrix(fit.interaction_index, n_u, n_i),
                        pair_matrix(context.valid, n_u, n_i), k,
                        None if cand is None else np.asarray(cand, bool), context.seed)


def select_kinds(fit_score: Callable[[GraphSnapshot, tuple[str, ...] | None],
                                     Callable[[np.ndarray], np.ndarray]],
                 context: EvalContext, name: str) -> tuple[tuple[str, ...] | None, dict[str, float]]:
    """Pick which item attribute kinds an attribute baseline uses, by validation NDCG@20.

    Tries all kinds together (``None``), then each single kind; ties keep the earlier one.

    Args:
        fit_score: ``(snapshot, kinds) -> score function`` fitted on ``snapshot``.
        context: carries ``fit_train`` and ``valid``.
        name: model name for the log line.

    Returns:
        ``(kinds, {label: validation NDCG@20})``; ``kinds=None`` means all kinds.
    """
    options: list[tuple[str, tuple[str, ...] | None]] = [("all", None)]
    kinds = attribute_kinds(context.fit_train)
    if len(kinds) > 1:
        options += [(k, (k,)) for k in kinds]
    results: dict[str, float] = {}
    best: tuple[float, tuple[str, ...] | None] = (-1.0, None)
    for label, option in options:
        results[label] = validation_ndcg(fit_score(context.fit_train, option), context)
        if results[label] > best[0]:
            best = (results[label], option)
    logger.info("%s: validation NDCG@20 by attribute kinds %s -> %s", name,
                {k: round(v, 4) for k, v in results.items()}, best[1] or "all")
    return best[1], results
