"""Train/validation/test splits of the evaluation protocol (``EVALUATION.md``).

Four protocols, all deterministic in ``seed``:

- ``"w"`` (warm): per user, in ascending user order, the user's distinct items in
  ascending item order are shuffled with ONE ``numpy.random.default_rng(seed)`` that is
  used user after user; the first ``max(1, floor(0.8 n))`` go to train, the rest to test.
  Validation is carved from each user's train items the same way with a generator seeded
  ``seed + 1``: the train items (ascending item order) are shuffled, the first
  ``max(1, floor(0.9 m))`` stay in ``fit_train`` and the rest (about 10%) are validation.
  A user with one train item keeps it in ``fit_train`` and has no validation item.
  Users without interactions draw nothing from the generators.
- ``"c"`` (cold items): ``floor(0.15 n_items)`` items are drawn with
  ``default_rng(seed).choice(n_items, size, replace=False)`` over item rows (ascending
  item id). All their interactions leave training; the remaining interactions are split as
  in W with fresh generators (``seed``, ``seed + 1``); the warm test part is not used.
  Evaluated users: those with at least one interaction with a cold item; candidates: all
  cold items; relevant: the user's cold items.
- ``"l"`` (long tail): the W split, where "head" items are the top 20%
  (``floor(0.2 n_items)``) by train interaction count, ties broken by ascending item row;
  test pairs are restricted to tail items and only users with a tail test item count.
- ``"h"`` (hybrid, ColdRec/ALDI's "overall" setting): the cold items are drawn as in C
  and all their interactions go to test; the warm interactions are split as in W (fresh
  generator ``seed``) and their test part joins the test set. Evaluated users: those with
  at least one warm AND one cold test item; candidates: all items. Validation mirrors
  this inside the train part: ``floor(0.15 n_warm)`` pseudo-cold items are drawn from
  the warm items (ascending rows) with ``default_rng(seed + 1)``; all their train pairs
  are validation pairs, and the other train pairs are split per user as in W (a fresh
  generator seeded ``seed + 1``, 10% to validation). Validation candidates: every item
  except the (real) cold items, which no train or validation pair may touch.

Every split carries a ``tail`` mask computed the same way from its own train part, so
"tail share" is defined for all protocols.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from gnn.long_tail import HEAD_FRACTION, tail_items
from kg.snapshot import GraphSnapshot
from kgrec.errors import ConfigError

__all__ = ["PROTOCOLS", "Split", "draw_cold_items", "head_items", "make_split",
           "pseudo_cold_pairs", "split_pairs"]

logger = logging.getLogger(__name__)

PROTOCOLS: tuple[str, ...] = ("w", "c", "l", "h")
TRAIN_FRACTION = 0.8
FIT_FRACTION = 0.9
COLD_FRACTION = 0.15


@dataclass(frozen=True, eq=False)
class Split:
    """One protocol's split of a snapshot. All index arrays are ``int64``.

    Attributes:
        protocol: ``"w"``, ``"c"``, ``"l"`` or ``"h"``.
        seed: the split seed.
        snapshot: the full graph (all interactions).
        train: the graph with only the train interactions (validation included).
        fit_train: ``train`` without the validation pairs (fit here while tuning).
        valid: ``[2, E_val]`` ``(user_idx, item_idx)`` validation pairs (subset of train).
        test: ``[2, E_test]`` evaluated ``(user_idx, item_idx)`` pairs (never in train).
        candidates: ``bool [num_items]`` items that may be recommended.
        users: ``[U]`` evaluated users, ascending (each has at least one test pair).
        tail: ``bool [num_items]`` non-head items by train count.
        cold_items: ``[n_cold]`` cold item rows (empty unless protocol ``"c"`` or ``"h"``).
        valid_candidates: ``bool [num_items]`` candidates when ranking ``valid``
            (warm items for ``"c"`` and ``"h"``: validation never holds a cold item).
    """

    protocol: str
    seed: int
    snapshot: GraphSnapshot
    train: GraphSnapshot
    fit_train: GraphSnapshot
    valid: np.ndarray
    test: np.ndarray
    candidates: np.ndarray
    users: np.ndarray
    tail: np.ndarray
    cold_items: np.ndarray
    valid_candidates: np.ndarray

    def __repr__(self) -> str:
        return (f"Split(protocol={self.protocol!r}, seed={self.seed}, "
                f"train={self.train.num_interactions}, valid={self.valid.shape[1]}, "
                f"test={self.test.shape[1]}, users={len(self.users)}, "
                f"candidates={int(self.candidates.sum())})")


def _distinct_pairs(index: np.ndarray, num_items: int) -> np.ndarray:
    """Distinct ``(user, item)`` pairs sorted by user then item, ``int64 [2, E]``."""
    key = np.unique(index[0].astype(np.int64) * num_items + index[1])
    return np.stack([key // num_items, key % num_items])


def split_pairs(pairs: np.ndarray, seed: int, fraction: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Split distinct pairs per user: the first ``max(1, floor(fraction * n))`` shuffled items.

    Args:
        pairs: ``int64 [2, E]`` distinct pairs sorted by user, then item (ascending).
        seed: seeds the one generator that shuffles users' items, user after user.
        fraction: share of each user's items on the first side.

    Returns:
        Boolean masks ``(first [E], second [E])`` over ``pairs``.
    """
    rng = np.random.default_rng(seed)
    first = np.zeros(pairs.shape[1], dtype=bool)
    if pairs.shape[1] == 0:
        return first, ~first
    starts = np.flatnonzero(np.r_[True, pairs[0, 1:] != pairs[0, :-1]])
    ends = np.r_[starts[1:], pairs.shape[1]]
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        n = end - start
        order = np.arange(start, end)
        rng.shuffle(order)
        first[order[: max(1, math.floor(fraction * n))]] = True
    return first, ~first


def head_items(train: GraphSnapshot, fraction: float = HEAD_FRACTION) -> np.ndarray:
    """``bool [num_items]``: the top ``floor(fraction * n_items)`` items by train count.

    Ties are broken by ascending item row (= ascending item id); the complement of
    :func:`gnn.long_tail.tail_items`, which serving uses.
    """
    return ~tail_items(np.bincount(train.interaction_index[1], minlength=train.num_items),
                       fraction)


def _mask_of(snapshot: GraphSnapshot, pairs: np.ndarray) -> np.ndarray:
    """Boolean mask over the snapshot's interactions whose pair is in ``pairs``."""
    n = snapshot.num_items
    key = snapshot.interaction_index[0] * n + snapshot.interaction_index[1]
    return np.isin(key, pairs[0] * n + pairs[1])


def draw_cold_items(n_items: int, seed: int) -> np.ndarray:
    """The C/H cold items: ``floor(0.15 n_items)`` rows drawn with
    ``default_rng(seed).choice(n_items, size, replace=False)``, ascending."""
    size = math.floor(COLD_FRACTION * n_items)
    return np.sort(np.random.default_rng(seed).choice(n_items, size, replace=False))


def pseudo_cold_pairs(pairs: np.ndarray, items: np.ndarray, seed: int) -> np.ndarray:
    """``bool [E]``: the pairs of ``floor(0.15 len(items))`` pseudo-cold items drawn from
    ``items`` (ascending rows) with ``default_rng(seed).choice(..., replace=False)``.

    The validation counterpart of :func:`draw_cold_items`: the hybrid split's validation,
    and the cold-start baselines' tuning on C, hold all pairs of these items out.
    """
    items = np.sort(np.asarray(items, np.int64))
    size = math.floor(COLD_FRACTION * len(items))
    chosen = np.random.default_rng(seed).choice(items, size, replace=False) if size else items[:0]
    return np.isin(pairs[1], chosen)


def _hybrid_parts(pairs: np.ndarray, cold: np.ndarray, n_items: int, seed: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(train_pairs, fit_pairs, valid_pairs, test)`` of the hybrid split."""
    is_cold = np.isin(pairs[1], cold)
    warm_pairs = pairs[:, ~is_cold]
    train_mask, test_mask = split_pairs(warm_pairs, seed, TRAIN_FRACTION)
    train_pairs = warm_pairs[:, train_mask]
    test = _sorted_pairs(np.hstack([warm_pairs[:, test_mask], pairs[:, is_cold]]), n_items)
    pseudo = pseudo_cold_pairs(train_pairs, np.setdiff1d(np.arange(n_items), cold), seed + 1)
    rest = train_pairs[:, ~pseudo]
    fit_mask, valid_mask = split_pairs(rest, seed + 1, FIT_FRACTION)
    valid = _sorted_pairs(np.hstack([rest[:, valid_mask], train_pairs[:, pseudo]]), n_items)
    both = np.intersect1d(test[0, np.isin(test[1], cold)], test[0, ~np.isin(test[1], cold)])
    return train_pairs, rest[:, fit_mask], valid, test[:, np.isin(test[0], both)]


def _sorted_pairs(pairs: np.ndarray, n_items: int) -> np.ndarray:
    return _distinct_pairs(pairs, n_items) if pairs.shape[1] else pairs.astype(np.int64)


def make_split(snapshot: GraphSnapshot, protocol: str, seed: int = 2026) -> Split:
    """Build the ``protocol`` split of ``snapshot`` (see the module docstring).

    Args:
        snapshot: the full graph; every interaction is one implicit positive.
        protocol: ``"w"``, ``"c"``, ``"l"`` or ``"h"``.
        seed: split seed.

    Returns:
        The :class:`Split`.

    Raises:
        ConfigError: unknown protocol, or no user left to evaluate.
    """
    protocol = protocol.lower()
    if protocol not in PROTOCOLS:
        raise ConfigError(f"protocol must be one of {', '.join(PROTOCOLS)}; got {protocol!r}")
    n_items = snapshot.num_items
    pairs = _distinct_pairs(snapshot.interaction_index, n_items)
    cold = np.zeros(0, dtype=np.int64)
    if protocol == "h":
        cold = draw_cold_items(n_items, seed)
        train_pairs, fit_pairs, valid, test = _hybrid_parts(pairs, cold, n_items, seed)
    else:
        if protocol == "c":
            cold = draw_cold_items(n_items, seed)
            is_cold = np.isin(pairs[1], cold)
            warm_pairs, test = pairs[:, ~is_cold], pairs[:, is_cold]
            train_mask, _ = split_pairs(warm_pairs, seed, TRAIN_FRACTION)
            train_pairs = warm_pairs[:, train_mask]
        else:
            train_mask, test_mask = split_pairs(pairs, seed, TRAIN_FRACTION)
            train_pairs, test = pairs[:, train_mask], pairs[:, test_mask]
        fit_mask, valid_mask = split_pairs(train_pairs, seed + 1, FIT_FRACTION)
        valid, fit_pairs = train_pairs[:, valid_mask], train_pairs[:, fit_mask]
    train = snapshot.with_interactions(_mask_of(snapshot, train_pairs))
    fit_train = snapshot.with_interactions(_mask_of(snapshot, fit_pairs))
    tail = ~head_items(train)
    candidates = np.ones(n_items, dtype=bool)
    valid_candidates = np.ones(n_items, dtype=bool)
    if protocol == "c":
        candidates = np.zeros(n_items, dtype=bool)
        candidates[cold] = True
        valid_candidates = ~candidates
    elif protocol == "h":
        valid_candidates[cold] = False
    elif protocol == "l":
        test = test[:, tail[test[1]]]
    users = np.unique(test[0])
    if len(users) == 0:
        raise ConfigError(f"protocol {protocol!r} seed {seed}: no user has a test item "
                          f"({snapshot.num_interactions} interactions, {n_items} items)")
    logger.info("split %s seed %d: %d train, %d valid, %d test pairs, %d users",
                protocol, seed, train.num_interactions, valid.shape[1], test.shape[1], len(users))
    return Split(protocol=protocol, seed=seed, snapshot=snapshot, train=train,
                 fit_train=fit_train, valid=valid, test=test, candidates=candidates,
                 users=users, tail=tail, cold_items=cold, valid_candidates=valid_candidates)
