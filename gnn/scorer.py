"""``Scorer``: the only code that turns users and items into kgrec scores.

Built from an immutable :class:`gnn.trained.TrainedModel` and a :class:`gnn.delta.Delta`
(items embedded after training). A user is a final embedding ``v`` and the model items
they hold, ``x_u`` (binary). The score of item ``j``::

    s(u, j) = v · e_j  +  β · x_u B[:, j]          (j had training interactions)
    s(u, j) = v · e_j  +  β · (x_u W) · f_j        (j had none: cold or added later)

``e_j`` is the model's embedding or the delta's, ``B`` the EASE weights, ``W`` the map
from an item's content row ``f_j`` to its predicted item–item column
(:mod:`gnn.item_item`). The evaluation harness (:meth:`Scorer.score_trained`) and the
serving facade (:meth:`Scorer.score`) both call it, so a served ranking equals the
evaluated one by construction.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from gnn.delta import Delta
from gnn.trained import TrainedModel

__all__ = ["Scorer"]


class Scorer:
    """Scores of users over the model's items and the delta's.

    Args:
        model: the trained model.
        delta: items embedded after training (default: none).

    Example:
        >>> scores = Scorer(model).score_trained(np.array([0, 1]))   # doctest: +SKIP
        >>> scores.shape == (2, model.num_items)                     # doctest: +SKIP
        True
    """

    def __init__(self, model: TrainedModel, delta: Delta | None = None) -> None:
        self.model = model
        self.delta = delta if delta is not None else Delta()
        self.num_items = model.num_items + self.delta.num_new
        term = model.item_item
        self._weight = term.weight if term is not None else 0.0
        self._content_rows = np.zeros(0, np.int64)
        self._content = np.zeros((0, 0), np.float32)
        if term is not None and term.content_map is not None and term.cold_content is not None:
            keep = ~np.isin(term.cold_rows, self.delta.content_rows)
            self._content_rows = np.concatenate([term.cold_rows[keep], self.delta.content_rows])
            self._content = np.concatenate([term.cold_content[keep],
                                            self.delta.content.reshape(
                                                -1, term.cold_content.shape[1])])

    def __repr__(self) -> str:
        return (f"Scorer(model={self.model.version!r}, items={self.num_items}, "
                f"delta={len(self.delta)})")

    @property
    def has_item_item(self) -> bool:
        """Whether the item–item term contributes."""
        return self._weight > 0

    def item_emb(self, rows: np.ndarray) -> np.ndarray:
        """``float32 [len(rows), dim]`` current embeddings of item ``rows``."""
        rows = np.asarray(rows, np.int64)
        out = np.zeros((len(rows), self.model.dim), np.float32)
        trained = rows < self.model.num_items
        out[trained] = self.model.item_emb[rows[trained]]
        d = self.delta
        if len(d):
            pos = {int(r): k for k, r in enumerate(d.emb_rows)}
            for n, r in enumerate(rows.tolist()):
                k = pos.get(r)
                if k is not None:
                    out[n] = d.emb[k]
        return out

    def dot_items(self, vector: np.ndarray) -> np.ndarray:
        """``float32 [num_items]`` inner products of every current item embedding with
        ``vector`` (cosines for a unit vector: every item embedding has unit norm)."""
        out = np.zeros(self.num_items, np.float32)
        out[:self.model.num_items] = self.model.item_emb @ vector
        if len(self.delta):
            out[self.delta.emb_rows] = self.delta.emb @ vector
        return out

    def score(self, vectors: np.ndarray, seen: sp.csr_matrix) -> np.ndarray:
        """Scores ``float32 [B, num_items]``.

        Args:
            vectors: ``float32 [B, dim]`` user embeddings.
            seen: ``[B, num_model_items]`` CSR, the users' model items ``x_u``.
        """
        n_model = self.model.num_items
        vectors = np.asarray(vectors, np.float32)
        s = np.zeros((len(vectors), self.num_items), np.float32)
        s[:, :n_model] = vectors @ self.model.item_emb.T
        d = self.delta
        if len(d):
            s[:, d.emb_rows] = vectors @ d.emb.T
        term = self.model.item_item
        if term is not None and self._weight > 0:
            s[:, :n_model] += self._weight * np.asarray(seen @ term.weights, np.float32)
            if len(self._content_rows):
                assert term.content_map is not None
                xw = self._weight * np.asarray(seen @ term.content_map, np.float32)
                s[:, self._content_rows] += xw @ self._content.T
        return s

    def score_trained(self, user_idx: np.ndarray) -> np.ndarray:
        """Scores of trained users as they were trained (their final embedding and
        training items): what the evaluation harness ranks."""
        user_idx = np.asarray(user_idx, np.int64)
        return self.score(self.model.user_emb[user_idx],
                          self.model.graph.interactions[user_idx])

    def item_item_contributions(self, seen_rows: np.ndarray, item_row: int) -> np.ndarray:
        """``float32 [len(seen_rows)]``: each held model item's share ``β B[j, i]`` (or
        ``β W[j] · f_i``) of the item–item term of item ``item_row``; they sum to it."""
        seen_rows = np.asarray(seen_rows, np.int64)
        term = self.model.item_item
        if term is None or self._weight == 0 or not len(seen_rows):
            return np.zeros(len(seen_rows), np.float32)
        hit = np.flatnonzero(self._content_rows == item_row)
        if len(hit):
            assert term.content_map is not None
            return self._weight * (term.content_map[seen_rows] @ self._content[hit[0]])
        if item_row >= self.model.num_items:
            return np.zeros(len(seen_rows), np.float32)
        return self._weight * np.asarray(term.weights[seen_rows, item_row], np.float32)
