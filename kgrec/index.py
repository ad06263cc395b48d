"""In-memory item index of the facade: growable embeddings, attribute postings, top-k.

Serving keeps every item embedding in one ``float32 [capacity, dim]`` buffer whose
first ``n`` rows are live, so a recommendation is one matrix-vector product and one
``argpartition``; adding an item appends a row (amortised O(dim)).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["ItemIndex", "top_k"]


def top_k(scores: np.ndarray, k: int, allowed: np.ndarray | None = None
          ) -> tuple[np.ndarray, np.ndarray]:
    """Rows and scores of the ``k`` best finite scores, best first (ties: lower row first).

    Args:
        scores: ``float [n]``; ``-inf`` marks excluded rows.
        k: how many (fewer are returned when fewer rows are allowed).
        allowed: optional ``bool [n]`` mask.

    Returns:
        ``(rows int64 [m], scores float32 [m])`` with ``m <= k``.
    """
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    n = scores.shape[0]
    if n == 0 or k <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    kk = min(k, n)
    part = np.argpartition(-scores, kk - 1)[:kk] if kk < n else np.arange(n)
    part = part[np.isfinite(scores[part])]
    order = np.lexsort((part, -scores[part]))
    rows = part[order].astype(np.int64)
    return rows, scores[rows].astype(np.float32)


class ItemIndex:
    """Item ids, embeddings, attribute sets and popularity, in row order.

    Args:
        dim: embedding size.
        capacity: initial buffer rows.

    Shapes:
        - :attr:`emb`: ``float32 [n, dim]`` (a view of the live rows)
    """

    def __init__(self, dim: int, capacity: int = 1024) -> None:
        self.dim = dim
        self._buf = np.zeros((max(capacity, 1), dim), np.float32)
        self._pop = np.zeros(max(capacity, 1), np.float64)
        self.ids: list[str] = []
        self.index: dict[str, int] = {}
        self.attributes: list[tuple[str, ...]] = []
        self._postings: dict[str, list[int]] = {}
        self._arrays: dict[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"ItemIndex(items={len(self)}, dim={self.dim})"

    @property
    def emb(self) -> np.ndarray:
        return self._buf[:len(self.ids)]

    @property
    def popularity(self) -> np.ndarray:
        """``float64 [n]`` interaction counts."""
        return self._pop[:len(self.ids)]

    def _grow(self, need: int) -> None:
        if need <= self._buf.shape[0]:
            return
        cap = max(need, 2 * self._buf.shape[0])
        buf = np.zeros((cap, self.dim), np.float32)
        buf[:len(self.ids)] = self._buf[:len(self.ids)]
        pop = np.zeros(cap, np.float64)
        pop[:len(self.ids)] = self._pop[:len(self.ids)]
        self._buf, self._pop = buf, pop

    def upsert(self, ids: Sequence[str], emb: np.ndarray,
               attributes: Sequence[Iterable[str]]) -> list[int]:
        """Insert or replace items; returns their rows.

        Args:
            ids: item ids.
            emb: ``float32 [len(ids), dim]``.
            attributes: per item its attribute ids (``kind:value``).
        """
        rows = []
        new = [i for i in dict.fromkeys(ids) if i not in self.index]
        self._grow(len(self.ids) + len(new))
        for item_id, vec, attrs in zip(ids, np.asarray(emb, np.float32), attributes,
                                       strict=True):
            row = self.index.get(item_id)
            attrs_t = tuple(sorted(set(attrs)))
            if row is None:
                row = len(self.ids)
                self.ids.append(item_id)
                self.index[item_id] = row
                self.attributes.append(())
            old = self.attributes[row]
            if old != attrs_t:
                for a in old:
                    self._postings[a].remove(row)
                for a in attrs_t:
                    self._postings.setdefault(a, []).append(row)
                self.attributes[row] = attrs_t
                self._arrays = None
            self._buf[row] = vec
            rows.append(row)
        return rows

    def add_popularity(self, rows: Sequence[int], amount: float = 1.0) -> None:
        """Count interactions of ``rows``."""
        np.add.at(self._pop, np.asarray(rows, np.int64), amount)

    def items_with(self) -> dict[str, np.ndarray]:
        """Attribute id -> ``int64`` rows carrying it (cached until the next change)."""
        if self._arrays is None:
            self._arrays = {a: np.asarray(r, np.int64) for a, r in self._postings.items()}
        return self._arrays

    def kinds(self) -> list[str]:
        """Attribute kinds present, sorted."""
        return sorted({a.partition(":")[0] for a, r in self._postings.items() if r})

    def jaccard(self, row: int, others: Sequence[int]) -> np.ndarray:
        """``float [len(others)]`` Jaccard similarity of attribute sets."""
        a = set(self.attributes[row])
        out = np.zeros(len(others), np.float64)
        for j, o in enumerate(others):
            b = self.attributes[o]
            union = len(a.union(b))
            out[j] = len(a.intersection(b)) / union if union else 0.0
        return out

    def mmr(self, scores: np.ndarray, k: int, allowed: np.ndarray | None, diversity: float
            ) -> tuple[np.ndarray, np.ndarray]:
        """Maximal marginal relevance over the best ``max(5k, 50)`` rows: each pick
        maximises ``(1 - diversity) · relevance - diversity · max Jaccard`` to the rows
        already picked (relevance = score rescaled to [0, 1] within the pool).

        Returns:
            ``(rows int64 [m], scores float32 [m])`` in pick order, ``m <= k``.
        """
        pool, vals = top_k(scores, max(5 * k, 50), allowed)
        if len(pool) <= 1:
            return pool, vals
        span = float(vals[0] - vals[-1]) or 1.0
        rel = (vals - vals[-1]) / span
        chosen = [0]
        max_sim = self.jaccard(int(pool[0]), pool.tolist())
        while len(chosen) < min(k, len(pool)):
            gain = (1.0 - diversity) * rel - diversity * max_sim
            gain[chosen] = -np.inf
            nxt = int(np.argmax(gain))
            chosen.append(nxt)
            max_sim = np.maximum(max_sim, self.jaccard(int(pool[nxt]), pool.tolist()))
        idx = np.asarray(chosen)
        return pool[idx], vals[idx]
