"""LightGCN with ID embeddings only (PyG's ``LightGCN``), BPR, early stopping on validation.

Speed-up: the symmetric-normalised adjacency ``D^-1/2 A D^-1/2`` of the user-item graph is
computed once as a ``torch.sparse_csr_tensor``. Propagation uses the PyG ``LightGCN``
module's embedding table and layer weights ``alpha`` exactly as
``LightGCN.get_embedding`` does (``out = sum_l alpha_l A^l x``), but each layer is one
CSR sparse-dense product whose backward is again a product with ``A`` (``A`` is
symmetric, so no transpose is built). Output equals ``get_embedding(edge_index)`` (to
float rounding; a test checks it) at about 3-4x less time per epoch on CPU. PyG's
``LGConv`` accepts the CSR adjacency too (``normalize=False``), but torch's generic CSR
backward transposes it on every step, which costs the gain.
"""

from __future__ import annotations

import logging
import time
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from gnn.baselines._common import VALID_K, validation_ndcg
from gnn.ranker import EvalContext
from kg.snapshot import GraphSnapshot

if TYPE_CHECKING:
    import torch
    from torch_geometric.nn.models import LightGCN

__all__ = ["LightGCNRanker", "normalized_adjacency", "propagate"]

logger = logging.getLogger(__name__)


def normalized_adjacency(train: GraphSnapshot, device: str = "cpu") -> torch.Tensor:
    """``float32 [U + I, U + I]`` sparse CSR ``D^-1/2 A D^-1/2`` of the bipartite graph.

    Node ``u`` is user row ``u``; node ``U + i`` is item row ``i``.
    """
    import torch

    n_u, n = train.num_users, train.num_users + train.num_items
    pairs = np.unique(train.interaction_index[0] * train.num_items
                      + train.interaction_index[1])
    u, i = pairs // train.num_items, pairs % train.num_items + n_u
    row, col = np.r_[u, i], np.r_[i, u]
    deg = np.bincount(row, minlength=n).astype(np.float64)
    inv = np.where(deg > 0, 1.0 / np.sqrt(np.maximum(deg, 1.0)), 0.0)
    order = np.lexsort((col, row))
    row, col = row[order], col[order]
    val = (inv[row] * inv[col]).astype(np.float32)
    crow = np.r_[0, np.cumsum(np.bincount(row, minlength=n))]
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(torch.from_numpy(crow), torch.from_numpy(col),
                                       torch.from_numpy(val), size=(n, n), device=device)


def _symmetric_spmm() -> type[torch.autograd.Function]:  # built lazily: torch import
    import torch

    class _SymmetricSpMM(torch.autograd.Function):
        """``A @ x`` for a constant symmetric sparse ``A``; backward is ``A @ grad``."""

        @staticmethod
        def forward(ctx, adj, x):  # type: ignore[no-untyped-def]
            ctx.adj = adj
            return torch.sparse.mm(adj, x)

        @staticmethod
        def backward(ctx, grad):  # type: ignore[no-untyped-def]
            return None, torch.sparse.mm(ctx.adj, grad)

    return _SymmetricSpMM


def propagate(model: LightGCN, adj: torch.Tensor) -> torch.Tensor:
    """``LightGCN.get_embedding`` over a precomputed normalised adjacency.

    Args:
        model: a ``torch_geometric.nn.models.LightGCN``.
        adj: ``float32 [N, N]`` symmetric sparse CSR from :func:`normalized_adjacency`.

    Returns:
        ``float32 [N, embedding_dim]`` final node embeddings.
    """
    spmm = _symmetric_spmm()
    x = model.embedding.weight
    out = x * model.alpha[0]
    for i in range(model.num_layers):
        x = spmm.apply(adj, x)
        out = out + x * model.alpha[i + 1]
    return out


class LightGCNRanker:
    """PyG ``LightGCN`` (ID embeddings, ``embedding_dim``-d, ``num_layers`` layers), BPR.

    With ``epochs=None`` the epoch count is tuned: train on ``fit_train``, measure
    validation NDCG@20 every ``eval_every`` epochs, stop once ``patience`` evaluations and
    ``patience_steps`` optimizer steps have passed without improvement (or at
    ``max_epochs``); then retrain from scratch on ``train`` for the best epoch count.
    The step floor matters on small datasets: with few batches per epoch, BPR at lr 1e-3
    sits on the popularity solution for hundreds of epochs before the personal signal
    shows in validation (on the synthetic 2000 x 1000 catalog it left the plateau at
    epoch ~250 and peaked at 670; 200 epochs of patience stopped it as MostPop).

    Args:
        embedding_dim: embedding size.
        num_layers: propagation layers.
        lr: Adam learning rate.
        batch_size: positive pairs per BPR step (one uniform negative item each).
        lambda_reg: L2 weight of ``LightGCN.recommendation_loss``.
        epochs: fixed epoch count, or ``None`` to tune.
        max_epochs, eval_every, patience, patience_steps: early stopping.
        num_threads: torch CPU threads while training (restored afterwards); 1 by default,
            because small sparse products gain nothing from more threads and oversubscribed
            OpenMP threads on a busy machine are 10-20x slower. ``None`` keeps torch's setting.
        show_progress: progress bar (``None``: on when logging at INFO).
    """

    name = "LightGCN"

    def __init__(self, embedding_dim: int = 64, num_layers: int = 3, lr: float = 1e-3,
                 batch_size: int = 8192, lambda_reg: float = 1e-4, epochs: int | None = None,
                 max_epochs: int = 1000, eval_every: int = 10, patience: int = 20,
                 patience_steps: int = 2000, num_threads: int | None = 1,
                 show_progress: bool | None = None) -> None:
        self.num_threads = num_threads
        self.embedding_dim, self.num_layers, self.lr = embedding_dim, num_layers, lr
        self.batch_size, self.lambda_reg, self.epochs = batch_size, lambda_reg, epochs
        self.max_epochs, self.eval_every, self.patience = max_epochs, eval_every, patience
        self.patience_steps = patience_steps
        self.show_progress = show_progress
        self.history: dict[int, float] = {}
        self.user_emb: np.ndarray | None = None
        self.item_emb: np.ndarray | None = None

    def _train(self, train: GraphSnapshot, epochs: int, seed: int, device: str,
               context: EvalContext | None = None) -> int:
        """Train for up to ``epochs``; with ``context``, early-stop and return the best epoch."""
        import torch

        adj = normalized_adjacency(train, device)
        pairs = torch.as_tensor(train.interaction_index, device=device)
        show = logger.isEnabledFor(logging.INFO) if self.show_progress is None \
            else self.show_progress
        threads = torch.get_num_threads()
        if self.num_threads is not None and device == "cpu":
            torch.set_num_threads(self.num_threads)
        try:
            return self._train_loop(train, epochs, seed, device, context, adj, pairs, show)
        finally:
            torch.set_num_threads(threads)

    def _train_loop(self, train: GraphSnapshot, epochs: int, seed: int, device: str,
                    context: EvalContext | None, adj: Any, pairs: Any, show: bool) -> int:
        import torch
        from torch_geometric.nn.models import LightGCN
        from tqdm.auto import tqdm

        n_u, n_i = train.num_users, train.num_items
        best_epoch, best, bad, steps, best_step = epochs, -1.0, 0, 0, 0
        with torch.random.fork_rng(devices=[] if device == "cpu" else None):
            torch.manual_seed(seed)
            model = LightGCN(n_u + n_i, self.embedding_dim, self.num_layers).to(device)
            opt = torch.optim.Adam(model.parameters(), lr=self.lr)
            bar = tqdm(range(1, epochs + 1), disable=not show, desc=self.name, leave=False)
            for epoch in bar:
                model.train()
                total = 0.0
                for idx in torch.randperm(pairs.shape[1], device=device).split(self.batch_size):
                    pos = pairs[:, idx].clone()
                    pos[1] += n_u
                    neg = torch.stack([pos[0], torch.randint(n_u, n_u + n_i, (len(idx),),
                                                             device=device)])
                    label = torch.cat([pos, neg], dim=1)
                    opt.zero_grad()
                    emb = propagate(model, adj)
                    pos_rank, neg_rank = (emb[label[0]] * emb[label[1]]).sum(-1).chunk(2)
                    loss = model.recommendation_loss(pos_rank, neg_rank, node_id=label.unique(),
                                                     lambda_reg=self.lambda_reg)
                    loss.backward()
                    opt.step()
                    steps += 1
                    total += float(loss.detach()) * len(idx)
                bar.set_postfix(loss=f"{total / pairs.shape[1]:.4f}")
                if context is not None and epoch % self.eval_every == 0:
                    self._store(model, adj, n_u)
                    ndcg = validation_ndcg(self.score, context)
                    self.history[epoch] = ndcg
                    if not show:
                        logger.info("LightGCN epoch %d: loss %.4f, validation NDCG@%d %.4f",
                                    epoch, total / pairs.shape[1], VALID_K, ndcg)
                    if ndcg > best:
                        best, best_epoch, bad, best_step = ndcg, epoch, 0, steps
                    else:
                        bad += 1
                        if bad >= self.patience and steps - best_step >= self.patience_steps:
                            break
            bar.close()
            self._store(model, adj, n_u)
        return best_epoch

    def _store(self, model: LightGCN, adj: torch.Tensor, n_u: int) -> None:
        import torch

        with torch.no_grad():
            emb = propagate(model, adj).cpu().numpy()
        self.user_emb, self.item_emb = emb[:n_u], emb[n_u:]

    def fit(self, train: GraphSnapshot, context: EvalContext) -> None:
        """Tune the epoch count on validation (unless fixed), then train on ``train``."""
        start = time.perf_counter()
        device = context.device
        if self.epochs is None:
            self.epochs = self._train(context.fit_train, self.max_epochs, context.seed, device,
                                      context)
            logger.info("LightGCN: best validation NDCG@%d %.4f at epoch %d (%.0fs)", VALID_K,
                        self.history.get(self.epochs, float("nan")), self.epochs,
                        time.perf_counter() - start)
        self._train(train, self.epochs, context.seed, device)

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        """``float32 [B, num_items]`` dot products of propagated embeddings."""
        assert self.user_emb is not None and self.item_emb is not None, "call fit() first"
        return self.user_emb[user_idx] @ self.item_emb.T
