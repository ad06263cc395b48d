"""DropoutNet (Volkovs, Yu & Poutanen, NeurIPS 2017), as in the ColdRec toolkit.

Two towers read ``[preference, content]``: the user tower the user's ALS factors (users
have no content here), the item tower the item's ALS factors beside its content
(:func:`gnn.baselines._cold.item_content`, reduced to its top 128 principal components,
:func:`gnn.baselines._cold.reduced_content`). Each tower is two ``Linear → BatchNorm →
tanh`` blocks (200 and 100 units) and a linear output of the teacher's width. The dot
product of the two outputs is trained (MSE, Adam) to reproduce the teacher's score
``U_u · V_i`` on each train pair and on a uniformly sampled negative; in every batch a
share ``n_dropout`` of the item rows get their preference input zeroed, so the network
learns to score from content alone. At inference an item without train interactions has
a zero preference input. ``n_dropout`` is tuned on the cold validation; 5 epochs of
batches of 1024 pairs, Adam lr 1e-3 (ColdRec's lr; fewer epochs than its default, for a
2-core CPU).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from gnn.baselines._cold import (
    ColdStartRanker,
    ScoreFn,
    item_content,
    reduced_content,
    torch_threads,
    triplets,
    warm_items,
)
from gnn.ranker import EvalContext
from kg.snapshot import GraphSnapshot

__all__ = ["DropoutNet"]

DROPOUT_GRID: tuple[float, ...] = (0.3, 0.5, 0.7)
HIDDEN: tuple[int, ...] = (200, 100)


def _tower(dim_in: int, dim_out: int) -> nn.Module:
    layers: list[nn.Module] = []
    for width in HIDDEN:
        layers += [nn.Linear(dim_in, width), nn.BatchNorm1d(width, momentum=0.01, eps=1e-3),
                   nn.Tanh()]
        dim_in = width
    return nn.Sequential(*layers, nn.Linear(dim_in, dim_out))


class DropoutNet(ColdStartRanker):
    """DropoutNet; ``param`` is the input dropout rate ``n_dropout`` (``None`` tunes it).

    Args:
        epochs: passes over the train pairs.
        batch_size: train pairs per step (each with one negative).
        lr: Adam learning rate.
    """

    name = "DropoutNet"
    grid = DROPOUT_GRID

    def __init__(self, param: float | None = None, grid: tuple[float, ...] | None = None,
                 epochs: int = 5, batch_size: int = 1024, lr: float = 1e-3) -> None:
        super().__init__(param, grid)
        self.epochs, self.batch_size, self.lr = epochs, batch_size, lr

    def _content(self, train: GraphSnapshot, context: EvalContext) -> np.ndarray:
        return reduced_content(item_content(train, context.item_features))

    def _fit(self, snapshot: GraphSnapshot, factors: tuple[np.ndarray, np.ndarray],
             content: np.ndarray, param: float, seed: int) -> ScoreFn:
        with torch_threads(1):
            return self._train(snapshot, factors, content, param, seed)

    def _train(self, snapshot: GraphSnapshot, factors: tuple[np.ndarray, np.ndarray],
               content: np.ndarray, param: float, seed: int) -> ScoreFn:
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        users = torch.as_tensor(factors[0], dtype=torch.float32)
        items = torch.as_tensor(factors[1], dtype=torch.float32)
        pref = items.clone()
        pref[torch.as_tensor(~warm_items(snapshot))] = 0.0  # no preference input when cold
        x = torch.as_tensor(content, dtype=torch.float32)
        dim = users.shape[1]
        user_tower, item_tower = _tower(dim, dim), _tower(dim + x.shape[1], dim)
        opt = torch.optim.Adam([*user_tower.parameters(), *item_tower.parameters()], lr=self.lr)
        for _ in range(self.epochs):
            u_all, p_all, n_all = triplets(snapshot, rng)
            for start in range(0, len(u_all), self.batch_size):
                u = torch.as_tensor(u_all[start:start + self.batch_size])
                if len(u) < 2:  # BatchNorm needs two rows
                    continue
                i = torch.as_tensor(np.concatenate([p_all[start:start + self.batch_size],
                                                    n_all[start:start + self.batch_size]]))
                uu = torch.cat([u, u])
                target = (users[uu] * items[i]).sum(dim=1)
                v_in = pref[i].clone()
                v_in[torch.randperm(len(i))[: int(len(i) * param)]] = 0.0
                pred = (user_tower(users[uu]) * item_tower(torch.cat([v_in, x[i]], 1))).sum(1)
                loss = nn.functional.mse_loss(pred, target)
                opt.zero_grad()
                loss.backward()
                opt.step()
        user_tower.eval()
        item_tower.eval()
        with torch.no_grad():
            u_emb = user_tower(users).numpy()
            i_emb = item_tower(torch.cat([pref, x], 1)).numpy()
        return lambda u: u_emb[u] @ i_emb.T
