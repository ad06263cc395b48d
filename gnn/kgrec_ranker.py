"""kgrec and its ablations as :class:`gnn.ranker.Ranker`s for the evaluation harness.

``fit`` trains on ``context.fit_train`` with early stopping on ``context.valid``
(NDCG@20), then, with ``refit=True``, refits on ``train`` (validation pairs included,
see :func:`gnn.train.refit`). Refit is the default because the
validation pairs are ~10% of the training signal (the measured trade-off is in
:mod:`gnn.train`).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from gnn.ablation import shuffle_item_attributes
from gnn.config import KGRecConfig
from gnn.features import NodeFeatures
from gnn.long_tail import page_slots, rank_scores
from gnn.metrics import pair_matrix
from gnn.ranker import EvalContext, Ranker
from gnn.scorer import Scorer
from gnn.split import head_items
from gnn.train import TrainResult, refit, train_model
from gnn.trained import TrainedModel
from kg.snapshot import GraphSnapshot
from kgrec.errors import TrainingError

__all__ = ["KGREC_ABLATIONS", "KGRecRanker", "LongTailRanker", "ShuffledKGRanker",
           "kgrec_rankers"]

logger = logging.getLogger(__name__)

#: ablation name -> config field overrides (:meth:`KGRecConfig.with_overrides`)
KGREC_ABLATIONS: dict[str, dict[str, Any]] = {
    "kgrec": {},
    "kgrec-no-text": {"use_text": False},
    "kgrec-no-attributes": {"use_attributes": False},
    "kgrec-no-id": {"use_id": False},
}


class KGRecRanker:
    """The kgrec GNN behind the :class:`Ranker` protocol.

    Args:
        config: the configuration (default :class:`KGRecConfig()`); device ``"auto"``
            follows ``context.device``.
        name: name in the evaluation output.
        refit: refit on ``train`` after early stopping (:func:`gnn.train.refit`).
        show_progress: progress bars while training.
    """

    def __init__(self, config: KGRecConfig | None = None, name: str = "kgrec",
                 refit: bool = True, show_progress: bool | None = None) -> None:
        self.config = config or KGRecConfig()
        self.name = name
        self.refit = refit
        self.show_progress = show_progress
        self.trained: TrainedModel | None = None
        self.scorer: Scorer | None = None
        self.result: TrainResult | None = None
        self.fitted_on: GraphSnapshot | None = None

    def __repr__(self) -> str:
        return f"KGRecRanker(name={self.name!r}, refit={self.refit}, config={self.config!r})"

    def fit(self, train: GraphSnapshot, context: EvalContext) -> None:
        """Train with early stopping on ``context.valid``, then (optionally) refit on ``train``."""
        features = NodeFeatures(item=context.item_features, attribute=context.attribute_features,
                                user=context.user_features,
                                encoder_id=str(context.extra.get("encoder_id", "")))
        config = self.config.with_overrides(seed=context.seed)
        if config.train.device == "auto":
            config = config.with_overrides(device=context.device)
        valid_candidates = context.extra.get("valid_candidates")
        result = train_model(context.fit_train, features, config, context.valid,
                             show_progress=self.show_progress,
                             valid_candidates=None if valid_candidates is None
                             else np.asarray(valid_candidates, dtype=bool))
        if self.refit and context.valid.shape[1]:
            result = refit(result, train, features, show_progress=self.show_progress)
        self.result = result
        self.trained = result.trained
        self.scorer = Scorer(result.trained)
        self.fitted_on = train

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        """Scores ``float32 [len(user_idx), num_items]``: :meth:`Scorer.score_trained`, the
        same code that serves recommendations."""
        if self.scorer is None:
            raise TrainingError(f"{self.name}: score() called before fit()")
        return self.scorer.score_trained(user_idx)


class ShuffledKGRanker(KGRecRanker):
    """``kgrec-shuffled-kg``: kgrec trained and scored on a graph whose item–attribute
    edges are permuted among items with every degree kept
    (:func:`gnn.ablation.shuffle_item_attributes`, seeded with the split seed). Only the
    training snapshots change; the text features (computed from the real graph) and the
    test pairs do not."""

    def __init__(self, config: KGRecConfig | None = None, name: str = "kgrec-shuffled-kg",
                 refit: bool = True, show_progress: bool | None = None) -> None:
        super().__init__(config, name=name, refit=refit, show_progress=show_progress)

    def fit(self, train: GraphSnapshot, context: EvalContext) -> None:
        """Shuffle the attribute edges of ``train`` and ``fit_train`` alike, then fit."""
        shuffled = shuffle_item_attributes(train, context.seed)
        context = replace(context, fit_train=replace(
            context.fit_train, item_attribute_index=shuffled.item_attribute_index))
        super().fit(shuffled, context)


class LongTailRanker:
    """``kgrec-tail``: the SAME trained model as ``base``, ranked with long-tail slots
    (``recommend(long_tail=True)``; see :mod:`gnn.long_tail`).

    ``fit`` trains ``base`` only when it was not already fitted on this ``train``, so
    the harness reports two operating points of one model at the cost of one fit.
    """

    def __init__(self, base: KGRecRanker, name: str = "kgrec-tail") -> None:
        self.base = base
        self.name = name
        self._seen: sp.csr_matrix | None = None
        self._tail: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"LongTailRanker(name={self.name!r}, base={self.base.name!r})"

    def fit(self, train: GraphSnapshot, context: EvalContext) -> None:
        """Fit ``base`` if needed; remember the train items and the tail."""
        if self.base.fitted_on is not train:
            self.base.fit(train, context)
        self._seen = pair_matrix(train.interaction_index, train.num_users, train.num_items)
        self._tail = ~head_items(train)  # the L protocol's tail

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        """Scores whose order is the long-tail ranking (top 100 positions)."""
        if self.base.trained is None or self._seen is None or self._tail is None:
            raise TrainingError(f"{self.name}: score() called before fit()")
        per_page = self.base.trained.tail_slots
        scores = self.base.score(user_idx)
        if per_page == 0:
            return scores
        return rank_scores(scores, self._seen, user_idx, self._tail, page_slots(per_page, 100))


def kgrec_rankers(config: KGRecConfig | None = None) -> list[Ranker]:
    """kgrec, ``kgrec-tail`` (the same fitted model with long-tail slots), the three
    ablations ``kgrec-no-text``, ``kgrec-no-attributes``, ``kgrec-no-id`` and
    ``kgrec-shuffled-kg``."""
    base = config or KGRecConfig()
    models: list[Ranker] = [KGRecRanker(base.with_overrides(**overrides), name=name)
                            for name, overrides in KGREC_ABLATIONS.items()]
    assert isinstance(models[0], KGRecRanker)
    models.insert(1, LongTailRanker(models[0]))
    models.append(ShuffledKGRanker(base))
    return models
