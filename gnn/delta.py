"""``Delta``: what changed after training, kept beside an immutable model.

Items added after training get rows ``num_model_items, num_model_items + 1, …``;
trained items re-embedded since (their text or attributes changed) keep their row.
For each such row the delta holds the new embedding and, when the item's item–item
term comes from its content (no training interactions), its content row ``f_j``.
A delta is immutable too: :meth:`Delta.with_items` returns a new one, so a scorer
built on it never sees a half-applied change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Delta"]


def _empty(dim: int = 0) -> np.ndarray:
    return np.zeros((0, dim), np.float32)


@dataclass(frozen=True, eq=False)
class Delta:
    """Item rows embedded after training.

    Attributes:
        num_new: items added after training (rows ``num_model_items + k``).
        emb_rows: ``int64 [m]`` rows with a new embedding (every new item is one).
        emb: ``float32 [m, dim]``.
        content_rows: ``int64 [c]`` rows whose item–item term comes from ``content``.
        content: ``float32 [c, d]`` content rows (:meth:`gnn.trained.TrainedModel.content_rows`).
    """

    num_new: int = 0
    emb_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    emb: np.ndarray = field(default_factory=_empty)
    content_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    content: np.ndarray = field(default_factory=_empty)

    def __post_init__(self) -> None:
        for a in (self.emb_rows, self.emb, self.content_rows, self.content):
            a.flags.writeable = False

    def __len__(self) -> int:
        return len(self.emb_rows)

    def without(self, rows: np.ndarray | list[int]) -> Delta:
        """A delta where ``rows`` (model items) take their trained embedding again."""
        rows = np.asarray(rows, np.int64)
        keep, keep_c = ~np.isin(self.emb_rows, rows), ~np.isin(self.content_rows, rows)
        return Delta(self.num_new, self.emb_rows[keep], self.emb[keep],
                     self.content_rows[keep_c], self.content[keep_c])

    def with_items(self, rows: np.ndarray, emb: np.ndarray, content: np.ndarray | None,
                   num_new: int) -> Delta:
        """A delta where ``rows`` hold ``emb`` (and ``content`` rows when given, else
        their old content rows are dropped: the item has an ID and uses ``B``).

        Args:
            rows: ``int64 [n]`` item rows (model rows or rows of new items).
            emb: ``float32 [n, dim]``.
            content: ``float32 [n, d]`` or None.
            num_new: the new count of items added after training.
        """
        rows = np.asarray(rows, np.int64)
        keep = ~np.isin(self.emb_rows, rows)
        emb_rows = np.concatenate([self.emb_rows[keep], rows])
        new_emb = np.concatenate([self.emb[keep].reshape(-1, emb.shape[1]),
                                  np.asarray(emb, np.float32)])
        keep_c = ~np.isin(self.content_rows, rows)
        content_rows, new_content = self.content_rows[keep_c], self.content[keep_c]
        if content is not None:
            content_rows = np.concatenate([content_rows, rows])
            new_content = np.concatenate([new_content.reshape(-1, content.shape[1]),
                                          np.asarray(content, np.float32)])
        return Delta(max(num_new, self.num_new), emb_rows, new_emb, content_rows, new_content)
