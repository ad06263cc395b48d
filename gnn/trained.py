"""``TrainedModel``: everything serving and inductive inference need, as NumPy arrays.

A trained model is kept as plain arrays (final embeddings, per-layer node
representations, degrees, the layer-0 projection), so scoring, retrieval and
embedding of new nodes need no torch forward pass and no environment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from gnn.model import ModelConfig

__all__ = ["TrainedModel"]


@dataclass(eq=False)
class TrainedModel:
    """A trained kgrec model.

    Attributes:
        config: the hyper-parameters it was trained with.
        user_ids, item_ids, attribute_ids: business keys in row order.
        user_emb: ``float32 [num_users, dim]`` final user embeddings (L2-normalised
            when ``config.cosine``), so ``user_emb @ item_emb.T`` ranks items.
        item_emb: ``float32 [num_items, dim]`` final item embeddings.
        layers: ``float32 [L + 1, N, dim]`` per-layer representations of every node
            (homogeneous order: users, items, attributes) before the layer mean.
        degree: ``float32 [N]`` node degrees of the training graph.
        proj_weight, proj_bias: per node type, the layer-0 text projection
            (``float32 [dim, D]`` and ``[dim]``); empty when ``use_text`` is off.
        user_id_emb: ``float32 [num_users, dim]`` learned user ID embeddings (zeros
            when ``use_id`` is off); re-used when a known user's profile changes.
        item_has_id: ``bool [num_items]`` items that had training interactions.
        encoder_id: the text encoder the features came from.
        encoder_fingerprint: its fingerprint ("" when unknown).
        schema_version: ``kg.schema.SCHEMA_VERSION`` of the exported graph.
        seed: training seed.
        version: model version string (set when saved/written back).
        info: free-form training facts (best epoch, seconds, device, history).
        state_dict: torch weights (for continuing training; not needed to serve).
        item_item: optional ``float32 [num_items, num_items]`` EASE weights ``B``.
        item_item_weight: ``β`` of the item–item term in :meth:`score`.
        interactions: ``[num_users, num_items]`` CSR of training pairs (the ``x_u``
            of the item–item term); present with ``item_item``.
        content_map: optional ``float32 [num_items, d]`` ``W`` that predicts an item–item
            column from an item's content (:mod:`gnn.content_columns`); the columns of
            items without training interactions in ``item_item`` are ``W f_j`` already,
            and items added later get theirs from :meth:`content_rows`.
        content_text_weight: ``t``, the text part's weight in the content rows.
    """

    config: ModelConfig
    user_ids: list[str]
    item_ids: list[str]
    attribute_ids: list[str]
    user_emb: np.ndarray
    item_emb: np.ndarray
    layers: np.ndarray
    degree: np.ndarray
    proj_weight: dict[str, np.ndarray]
    proj_bias: dict[str, np.ndarray]
    user_id_emb: np.ndarray
    item_has_id: np.ndarray
    encoder_id: str
    encoder_fingerprint: str = ""
    schema_version: int = 1
    seed: int = 2026
    version: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    state_dict: dict[str, Any] | None = None
    item_item: np.ndarray | None = None
    item_item_weight: float = 0.0
    interactions: sp.csr_matrix | None = None
    content_map: np.ndarray | None = None
    content_text_weight: float = 0.0
    _rows: dict[str, dict[str, int]] = field(default_factory=dict, init=False, repr=False)

    @property
    def dim(self) -> int:
        return int(self.item_emb.shape[1])

    @property
    def num_users(self) -> int:
        return len(self.user_ids)

    @property
    def num_items(self) -> int:
        return len(self.item_ids)

    @property
    def num_attributes(self) -> int:
        return len(self.attribute_ids)

    @property
    def offsets(self) -> tuple[int, int, int]:
        """First homogeneous row of users, items and attributes."""
        return 0, self.num_users, self.num_users + self.num_items

    @property
    def tail_slots(self) -> float:
        """Long-tail slots per page of ten chosen at training (0 = off; see
        :mod:`gnn.long_tail`)."""
        return float(self.info.get("tail_slots") or 0)

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        """Scores ``float32 [B, num_items]`` of users ``int64 [B]``: the inner product of
        the final embeddings, plus ``β · x_u B`` when the item–item term is present."""
        user_idx = np.asarray(user_idx, dtype=np.int64)
        s = self.user_emb[user_idx] @ self.item_emb.T
        if self.item_item is not None and self.interactions is not None:
            s += self.item_item_weight * np.asarray(
                self.interactions[user_idx] @ self.item_item, dtype=np.float32)
        return s

    def rows_of(self, kind: str) -> dict[str, int]:
        """``id -> row`` of the model's ``"user"``, ``"item"`` or ``"attribute"`` nodes,
        built on first use (the id lists do not change after training)."""
        rows = self._rows.get(kind)
        if rows is None:
            ids = {"user": self.user_ids, "item": self.item_ids,
                   "attribute": self.attribute_ids}[kind]
            rows = self._rows[kind] = {k: i for i, k in enumerate(ids)}
        return rows

    def content_rows(self, text_features: np.ndarray,
                     attribute_ids: Sequence[Sequence[str]]) -> np.ndarray:
        """``float32 [n, d]`` content rows ``f_j`` of items (:mod:`gnn.content_columns`;
        attribute values the model never saw are left out), so ``x_u W f_j`` is the
        item–item term of an item added after training."""
        from gnn.content_columns import content_matrix

        attrs = None
        if self.config.use_attributes:
            col = self.rows_of("attribute")
            pairs = [(r, col[a]) for r, ids in enumerate(attribute_ids) for a in ids if a in col]
            rows, cols = (zip(*pairs, strict=True) if pairs else ((), ()))
            attrs = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                                  shape=(len(attribute_ids), self.num_attributes))
        text = text_features if self.config.use_text else None
        return content_matrix(attrs, text, self.content_text_weight)

    def __repr__(self) -> str:
        return (f"TrainedModel(users={self.num_users}, items={self.num_items}, "
                f"attributes={self.num_attributes}, dim={self.dim}, "
                f"layers={self.config.layers}, encoder={self.encoder_id!r}, "
                f"version={self.version!r})")
