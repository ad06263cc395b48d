"""What the cold-start baselines (DeepMusic, DropoutNet, ALDI) share: the item content,
the warm CF teacher (ALS), the cold validation they tune on and their common ``fit``.

- **Content** of an item: kgrec's own inputs, the L2-normalised text features of
  ``context.item_features`` beside the binary item–attribute one-hots (every kind) and a
  constant 1 (:func:`gnn.trained.content_matrix`).
- **Teacher**: ALS (:class:`gnn.baselines.als.ALS`'s solve) on the binary train matrix;
  its ``(factors, alpha)`` are chosen among :data:`TEACHER_GRID` by validation NDCG@20 on
  warm validation pairs (pairs of items the fit has seen), once per fit snapshot.
- **Cold validation**: on H the split's validation already mirrors the test (pseudo-cold
  items beside warm pairs) and is used as it is. Elsewhere (C) 15% of the items of
  ``fit_train`` are made pseudo-cold with ``default_rng(seed + 1)``
  (:func:`gnn.split.pseudo_cold_pairs`): their pairs leave the tuning fit and become the
  validation pairs, and only they are candidates, as C's test ranks only cold items.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np

from gnn.baselines._common import validation_ndcg
from gnn.baselines.als import ALS
from gnn.ranker import EvalContext
from gnn.split import pseudo_cold_pairs
from gnn.trained import content_matrix, item_attribute_matrix
from kg.snapshot import GraphSnapshot

logger = logging.getLogger(__name__)

ScoreFn = Callable[[np.ndarray], np.ndarray]

#: ALS teacher ``(factors, regularization, alpha)`` candidates
TEACHER_GRID: tuple[tuple[int, float, float], ...] = (
    (32, 0.1, 1.0), (32, 0.1, 10.0), (64, 0.1, 1.0), (64, 0.1, 10.0))

#: principal components of the content fed to the neural baselines
CONTENT_DIM = 128

_CACHE: OrderedDict[Hashable, tuple[object, Any]] = OrderedDict()
_CACHE_SIZE = 16


def _cached(owner: object, key: Hashable, make: Callable[[], Any]) -> Any:
    """``make()`` once per (``owner`` object, ``key``); ``owner`` is held so ids stay unique."""
    full = (id(owner), key)
    hit = _CACHE.get(full)
    if hit is not None and hit[0] is owner:
        _CACHE.move_to_end(full)
        return hit[1]
    value = make()
    _CACHE[full] = (owner, value)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return value


@contextmanager
def torch_threads(n: int = 1) -> Iterator[None]:
    """Limit torch's CPU threads to ``n`` (as LightGCN does), restored afterwards: the
    towers are small, and more threads only contend."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def warm_items(snapshot: GraphSnapshot) -> np.ndarray:
    """``bool [num_items]``: items with at least one interaction in ``snapshot``."""
    return np.bincount(snapshot.interaction_index[1], minlength=snapshot.num_items) > 0


def item_content(snapshot: GraphSnapshot, item_features: np.ndarray) -> np.ndarray:
    """``float32 [num_items, D]``: unit text features, attribute one-hots and a constant 1."""
    text = np.asarray(item_features, np.float32)
    return content_matrix(item_attribute_matrix(snapshot), text, 1.0)


def reduced_content(content: np.ndarray, dim: int = CONTENT_DIM) -> np.ndarray:
    """``float32 [n, min(dim, D)]``: the content's top principal components (centred SVD),
    the input of the neural baselines (DropoutNet's CiteULike content is a 300-d SVD too);
    keeps their first layer small enough for a CPU."""
    x = np.asarray(content, np.float64)
    x = x - x.mean(axis=0, keepdims=True)
    if x.shape[1] <= dim:
        return x.astype(np.float32)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    return (u[:, :dim] * s[:dim]).astype(np.float32)


def _distinct(snapshot: GraphSnapshot) -> np.ndarray:
    n = snapshot.num_items
    key = np.unique(snapshot.interaction_index[0] * n + snapshot.interaction_index[1])
    return np.stack([key // n, key % n])


def cold_tuning(context: EvalContext) -> EvalContext:
    """The context the cold-start baselines tune on (see the module docstring)."""
    if context.extra.get("protocol") == "h":
        return context
    fit = context.fit_train
    pairs = _distinct(fit)
    held = pseudo_cold_pairs(pairs, np.flatnonzero(warm_items(fit)), context.seed + 1)
    held_items = np.unique(pairs[1, held])
    extra = context.valid[:, np.isin(context.valid[1], held_items)]
    candidates = np.zeros(fit.num_items, bool)
    candidates[held_items] = True
    return replace(context, fit_train=fit.with_interactions(
        ~np.isin(fit.interaction_index[1], held_items)),
        valid=np.hstack([pairs[:, held], extra]).astype(np.int64),
        extra={**context.extra, "valid_candidates": candidates})


def _warm_context(context: EvalContext) -> EvalContext:
    """``context`` with only the validation pairs of items ``fit_train`` has seen."""
    warm = warm_items(context.fit_train)
    cand = context.extra.get("valid_candidates")
    cand = warm if cand is None else warm & np.asarray(cand, bool)
    return replace(context, valid=context.valid[:, warm[context.valid[1]]],
                   extra={**context.extra, "valid_candidates": cand})


def teacher(snapshot: GraphSnapshot, params: tuple[int, float, float], seed: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """``(user_factors, item_factors)`` of ALS with ``params`` on ``snapshot`` (cached)."""
    factors: tuple[np.ndarray, np.ndarray] = _cached(
        snapshot, ("als", params, seed), lambda: ALS()._fit(snapshot, params, seed))
    return factors


def teacher_params(context: EvalContext) -> tuple[int, float, float]:
    """The teacher's ALS setting, by warm validation NDCG@20 (cached per ``fit_train``)."""
    def choose() -> tuple[int, float, float]:
        warm = _warm_context(context)
        results = {}
        for params in TEACHER_GRID:
            u, v = teacher(context.fit_train, params, context.seed)
            results[params] = validation_ndcg(partial(_dot, u, v), warm)
        best = max(TEACHER_GRID, key=lambda p: results[p])
        logger.info("cold-start teacher (ALS): validation NDCG@20 %s -> %s",
                    {str(k): round(x, 4) for k, x in results.items()}, best)
        return best
    params: tuple[int, float, float] = _cached(context.fit_train, ("teacher", context.seed),
                                               choose)
    return params


def _dot(users: np.ndarray, items: np.ndarray, user_idx: np.ndarray) -> np.ndarray:
    return np.asarray(users[user_idx] @ items.T)


class ColdStartRanker:
    """Base of the cold-start baselines: tune one hyper-parameter on the cold validation,
    then refit on ``train`` with the best value.

    Subclasses set ``name`` and ``grid`` and implement :meth:`_fit`.

    Args:
        param: a fixed hyper-parameter value (no tuning), or ``None`` to tune over ``grid``.
        grid: the values tried when tuning (default: the class's ``grid``).
    """

    name = "cold-start"
    grid: tuple[Any, ...] = ()

    def __init__(self, param: Any = None, grid: Sequence[Any] | None = None) -> None:
        self.param = param
        if grid is not None:
            self.grid = tuple(grid)
        self.tuning: dict[Any, float] = {}
        self.fitted_on: GraphSnapshot | None = None
        self._score: ScoreFn | None = None

    def _fit(self, snapshot: GraphSnapshot, factors: tuple[np.ndarray, np.ndarray],
             content: np.ndarray, param: Any, seed: int) -> ScoreFn:
        """Fit on ``snapshot`` with the teacher ``factors``; return the score function."""
        raise NotImplementedError

    def _fit_grid(self, snapshot: GraphSnapshot, factors: tuple[np.ndarray, np.ndarray],
                  content: np.ndarray, seed: int) -> Iterator[tuple[Any, ScoreFn]]:
        """``(value, score function)`` for every grid value; one fit each by default."""
        for value in self.grid:
            yield value, self._fit(snapshot, factors, content, value, seed)

    def _content(self, train: GraphSnapshot, context: EvalContext) -> np.ndarray:
        return item_content(train, context.item_features)

    def fit(self, train: GraphSnapshot, context: EvalContext) -> None:
        """Tune (unless ``param`` is fixed) on the cold validation, then fit on ``train``."""
        content = self._content(train, context)
        params = teacher_params(context)
        best = self.param
        if best is None:
            tuning = cold_tuning(context)
            factors = teacher(tuning.fit_train, params, context.seed)
            for value, score in self._fit_grid(tuning.fit_train, factors, content,
                                               context.seed):
                self.tuning[value] = validation_ndcg(score, tuning)
            best = max(self.grid, key=lambda v: self.tuning[v])
            logger.info("%s: cold validation NDCG@20 %s -> %s", self.name,
                        {str(k): round(x, 4) for k, x in self.tuning.items()}, best)
        self.best = best
        self._score = self._fit(train, teacher(train, params, context.seed), content, best,
                                context.seed)
        self.fitted_on = train

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        """``float32 [B, num_items]``."""
        assert self._score is not None, "call fit() first"
        return np.asarray(self._score(np.asarray(user_idx, np.int64)), np.float32)


def triplets(snapshot: GraphSnapshot, rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One epoch of ``(user, positive, negative)``: every distinct train pair in a random
    order, each with a uniform negative among the warm items (as ColdRec's
    ``next_batch_pairwise``; a negative may rarely be a positive)."""
    pairs = _distinct(snapshot)
    order = rng.permutation(pairs.shape[1])
    warm = np.flatnonzero(warm_items(snapshot))
    neg = warm[rng.integers(0, len(warm), size=len(order))]
    return pairs[0, order], pairs[1, order], neg
