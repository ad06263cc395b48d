"""ItemKNN: item-item cosine similarity on the binary user-item matrix, k neighbours."""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp

from gnn.baselines._common import interaction_matrix
from gnn.ranker import EvalContext
from kg.snapshot import GraphSnapshot

__all__ = ["ItemKNN"]

logger = logging.getLogger(__name__)


class ItemKNN:
    """Item-based k-nearest-neighbours with cosine similarity (as ``implicit``'s
    ``CosineRecommender``): each item keeps its ``k`` most similar items (itself
    excluded), and a user's score for item ``j`` is ``sum_{i in train(u)} S[i, j]``.

    Args:
        k: neighbours kept per item.
        chunk: items per block when computing similarities (bounds memory).
    """

    name = "ItemKNN"

    def __init__(self, k: int = 100, chunk: int = 2048) -> None:
        self.k = k
        self.chunk = chunk
        self.similarity: sp.csr_matrix | None = None
        self.user_items: sp.csr_matrix | None = None

    def fit(self, train: GraphSnapshot, context: EvalContext) -> None:
        """Compute the pruned cosine similarity matrix ``S [num_items, num_items]``."""
        x = interaction_matrix(train).T.tocsr()  # [items, users]
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        xn = sp.diags(1.0 / np.maximum(norms, 1e-12)).astype(np.float32) @ x
        n = x.shape[0]
        k = min(self.k, n - 1)
        rows, cols, vals = [], [], []
        for start in range(0, n, self.chunk):
            block = (xn[start:start + self.chunk] @ xn.T).toarray()  # [b, n]
            b = block.shape[0]
            block[np.arange(b), np.arange(start, start + b)] = 0.0
            if k <= 0:
                continue
            nn = np.argpartition(-block, k - 1, axis=1)[:, :k]
            v = np.take_along_axis(block, nn, axis=1)
            keep = v > 0
            rows.append(np.repeat(np.arange(start, start + b), k)[keep.ravel()])
            cols.append(nn[keep])
            vals.append(v[keep])
        cat = (lambda parts, dt: np.concatenate(parts).astype(dt) if parts else np.zeros(0, dt))
        self.similarity = sp.csr_matrix(
            (cat(vals, np.float32), (cat(rows, np.int64), cat(cols, np.int64))), shape=(n, n))
        self.user_items = interaction_matrix(train)
        logger.info("ItemKNN: %d items, %d similarity entries", n, self.similarity.nnz)

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        """``float32 [B, num_items]``: summed similarities to the user's train items."""
        assert self.similarity is not None and self.user_items is not None, "call fit() first"
        return np.asarray((self.user_items[user_idx] @ self.similarity).toarray(), np.float32)
