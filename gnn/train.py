"""Training of :class:`gnn.model.KGRecModel`: in-batch sampled softmax, full-batch
propagation, early stopping on validation NDCG@20.

Each step propagates the whole graph once (``Â`` is a sparse CSR tensor; no
``torch-sparse``/``pyg-lib``), takes a batch of ``B`` training (user, item) pairs and
minimises the softmax cross-entropy of each user's positive against the batch's other
positives (+ ``uniform_negatives`` uniformly drawn items) at temperature ``τ``. The
in-batch negatives are drawn ∝ popularity, which debiases popular items; ``logq``
scales the correction that removes that debiasing. The cold-path loss (the same
softmax for the first ``cold_rows`` rows, items embedded as if new, users detached)
trains the rule that embeds cold and new items without slowing the warm loss; it
sees the text with ``text_dropout`` of the feature dimensions dropped, which keeps
that rule from fitting the warm items' exact text (on MovieLens 100K, seed 2026, 0.5: C
NDCG@20 then holds at ~0.36 instead of sliding from 0.38 at epoch 5 to 0.31 by epoch
20 while the warm validation NDCG still rises).

:func:`refit` then folds the validation pairs in: it continues from the
early-stopped weights on all pairs for a fraction of the epochs (on MovieLens 100K,
seed 2026, before ``text_dropout``: W/C NDCG@20 0.4530/0.3359 vs 0.4540/0.3432 for a
from-scratch refit at 2× the time, and 0.4519/0.3260 with no refit training at all).

Scale and memory (float32, ``N`` nodes, ``nnz`` adjacency entries, ``d = dim``,
``L = layers``, ``D`` feature size): one step holds ``O(N·d·(L + 2) + nnz + N·D)``
floats plus ``(B + cold_rows)·(B + M)`` logits, and costs ``O(nnz·d·L + N·D·d)``, so
memory grows linearly with the graph. Measured by ``benchmarks/train_scale.py``
(synthetic graphs, ~30 adjacency entries per node, defaults ``d = 64``, ``L = 2``,
``D = 384``, ``B = 1024``): 251 MB at 30k nodes, 719 MB at 75k, 1.26 GB at 150k nodes
/ 4.5M entries (inputs included), i.e. ~8.3 MB per 1k nodes; 80% of this 24 GiB box
holds ~2.3M nodes / ~70M entries. On an H200, 1.1 GB at 150k nodes and 3.3 GB at 450k
/ 13.8M entries of GPU memory, ~7.2 MB per 1k nodes: 80% of an 80 GB GPU holds ~8.5M
nodes / ~260M entries. Time per step grows with ``nnz`` (0.24 s at 30k nodes, 1.9 s
at 150k on 2 CPU cores; 0.08 s at 450k on the H200) and an epoch has ``E / B``
steps: on large graphs raise ``batch_size`` and set ``steps_per_epoch`` so that
validation and early stopping come round often.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from gnn.features import NodeFeatures
from gnn.graph import HomogeneousGraph, build_homogeneous, check_features, item_attribute_matrix
from gnn.model import NODE_TYPES, KGRecModel, ModelConfig
from gnn.selection import fit_item_item, fit_tail_slots, validation_ndcg
from gnn.trained import TrainedModel
from kg.snapshot import GraphSnapshot
from kgrec.errors import TrainingError

__all__ = [
    "TrainResult",
    "export_trained",
    "plot_history",
    "refit",
    "resolve_device",
    "train_model",
]

logger = logging.getLogger(__name__)

@dataclass(eq=False)
class TrainResult:
    """What :func:`train_model` returns.

    Attributes:
        trained: the serving-ready :class:`TrainedModel` (best epoch's weights).
        model: the torch module (best weights loaded, on ``device``).
        history: per evaluated epoch: ``epoch``, ``loss``, ``val_ndcg`` (NaN without
            validation) and cumulative ``seconds``.
        best_epoch: epoch (1-based) of the kept weights.
        seconds: wall-clock training time.
        device: where it trained.
    """

    trained: TrainedModel
    model: KGRecModel
    history: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int = 0
    seconds: float = 0.0
    device: str = "cpu"


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> ``cuda`` when available, else ``cpu``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise TrainingError(f"device {device!r} requested but CUDA is not available")
    return torch.device(device)


def _progress_default(show_progress: bool | None) -> bool:
    return logger.isEnabledFor(logging.INFO) if show_progress is None else show_progress


def _csr(pairs: np.ndarray, n_rows: int, n_cols: int) -> sp.csr_matrix:
    m = sp.csr_matrix((np.ones(pairs.shape[1], dtype=np.float32), (pairs[0], pairs[1])),
                      shape=(n_rows, n_cols))
    m.sum_duplicates()
    return m


def _dot_scores(zu: torch.Tensor, zi: torch.Tensor, users: np.ndarray) -> torch.Tensor:
    return zu[torch.from_numpy(users).to(zu.device)] @ zi.T


def _sampled_softmax(zu: torch.Tensor, zi: torch.Tensor, pos: torch.Tensor, cols: torch.Tensor,
                     log_q: torch.Tensor, config: ModelConfig) -> torch.Tensor:
    """In-batch sampled-softmax loss with logQ correction.

    Shapes:
        - ``zu``: ``[B, d]`` users; ``zi``: ``[C, d]`` items of ``cols`` (``C >= B``; the
          first ``B`` are the positives ``pos``)
        - output: scalar
    """
    if config.cosine:
        zu, zi = F.normalize(zu, dim=1), F.normalize(zi, dim=1)
    logits = zu @ zi.T / config.temperature
    if config.logq:
        logits = logits - config.logq * log_q[cols].unsqueeze(0)
    # a column holding the row's own positive item is not a negative
    same = pos.unsqueeze(1) == cols.unsqueeze(0)
    same[:, : len(pos)].fill_diagonal_(False)
    logits = logits.masked_fill(same, -torch.inf)
    return F.cross_entropy(logits, torch.arange(len(pos), device=zu.device))


def export_trained(model: KGRecModel, graph: HomogeneousGraph, x: dict[str, torch.Tensor],
                   snapshot: GraphSnapshot, features: NodeFeatures, seed: int,
                   encoder_fingerprint: str = "") -> TrainedModel:
    """Run one eval-mode forward pass and keep everything serving needs as arrays."""
    from kg.schema import SCHEMA_VERSION

    model.eval()
    with torch.no_grad():
        layers = model.propagate(model.layer0(x), graph.adj)
        stacked = torch.stack(layers, 0)
        final = stacked.mean(0)
    final_np = final.float().cpu().numpy()
    if not np.isfinite(final_np).all():
        raise TrainingError("final embeddings contain NaN or inf; lower lr or check features")
    _, off_i, off_a = graph.offsets
    user_emb, item_emb = final_np[:off_i], final_np[off_i:off_a]
    if model.config.cosine:
        user_emb = user_emb / np.maximum(np.linalg.norm(user_emb, axis=1, keepdims=True), 1e-12)
        item_emb = item_emb / np.maximum(np.linalg.norm(item_emb, axis=1, keepdims=True), 1e-12)
    lins = {t: model.text_projection(t) for t in model.proj}
    proj_w = {t: m.weight.detach().float().cpu().numpy() for t, m in lins.items()}
    proj_b = {t: m.bias.detach().float().cpu().numpy() for t, m in lins.items()}
    if model.config.use_id:
        user_id_emb = model.id_embedding("user").weight.detach().float().cpu().numpy()[:graph.num_users]
    else:
        user_id_emb = np.zeros((graph.num_users, model.config.dim), np.float32)
    return TrainedModel(
        config=model.config, user_ids=list(snapshot.user_ids), item_ids=list(snapshot.item_ids),
        attribute_ids=list(snapshot.attribute_ids),
        user_emb=np.ascontiguousarray(user_emb, dtype=np.float32),
        item_emb=np.ascontiguousarray(item_emb, dtype=np.float32),
        layers=stacked.float().cpu().numpy(), degree=graph.degree.copy(),
        proj_weight=proj_w, proj_bias=proj_b,
        user_id_emb=np.ascontiguousarray(user_id_emb, dtype=np.float32),
        item_has_id=model.item_has_id.cpu().numpy().copy(), encoder_id=features.encoder_id,
        encoder_fingerprint=encoder_fingerprint, schema_version=int(SCHEMA_VERSION), seed=seed,
        state_dict={k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
    )


def train_model(
    snapshot: GraphSnapshot,
    features: NodeFeatures,
    config: ModelConfig | None = None,
    valid: np.ndarray | None = None,
    show_progress: bool | None = None,
    *,
    valid_candidates: np.ndarray | None = None,
    encoder_fingerprint: str = "",
    init: KGRecModel | None = None,
) -> TrainResult:
    """Train a :class:`KGRecModel` on ``snapshot``'s interactions.

    With ``valid`` the model is evaluated every ``config.eval_every`` epochs (NDCG@20,
    full ranking over items, train items excluded) and training stops after
    ``config.patience`` evaluations without improvement; the best weights are kept.
    Without ``valid`` it trains exactly ``config.max_epochs`` epochs.

    Args:
        snapshot: training graph (validation pairs must NOT be in it).
        features: text features in snapshot row order.
        config: hyper-parameters (default :class:`ModelConfig()`).
        valid: ``int64 [2, E_val]`` held-out ``(user_idx, item_idx)`` pairs, or None.
        show_progress: epoch progress bar; ``None`` = on when logging at INFO.
        valid_candidates: optional ``bool [num_items]`` items ranked in validation.
        encoder_fingerprint: recorded in the :class:`TrainedModel`.
        init: start from this model's weights (same node sets; see :func:`refit`).

    Returns:
        :class:`TrainResult`.

    Raises:
        TrainingError: no interactions, mismatched features, or a non-finite loss.
    """
    config = config or ModelConfig()
    check_features(snapshot, features)
    if snapshot.num_interactions == 0:
        raise TrainingError("training snapshot has no interactions")
    device = resolve_device(config.device)
    config = config.for_device(device.type)
    assert config.batch_size is not None and config.lr is not None
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    t0 = time.perf_counter()

    graph = build_homogeneous(snapshot, use_attributes=config.use_attributes,
                              use_user_attributes=config.use_user_attributes).to(device)
    n_u, n_i = snapshot.num_users, snapshot.num_items
    _, off_i, _ = graph.offsets
    x = {t: torch.from_numpy(np.ascontiguousarray(getattr(features, t), np.float32)).to(device)
         for t in NODE_TYPES}
    pairs_csr = _csr(snapshot.interaction_index, n_u, n_i)
    pairs_coo = pairs_csr.tocoo()
    pairs = np.stack([pairs_coo.row, pairs_coo.col]).astype(np.int64)
    counts = np.bincount(pairs[1], minlength=n_i)
    item_has_id = torch.from_numpy(counts > 0)
    model = KGRecModel(config, n_u, n_i, snapshot.num_attributes, features.dim,
                       item_has_id).to(device)
    if init is not None:
        _warm_start(model, init)
    # fused: one kernel for all parameters on CUDA instead of a few per tensor
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr,
                                 weight_decay=config.weight_decay,
                                 fused=device.type == "cuda")
    gen = torch.Generator(device=device)  # dropout masks and negatives, drawn on device
    gen.manual_seed(config.seed)
    b = min(config.batch_size, pairs.shape[1])
    m = config.uniform_negatives
    # proposal of the negatives: in-batch ∝ popularity mixed with M uniform draws
    q = (b * counts / counts.sum() + m / n_i) / (b + m)
    log_q = torch.from_numpy(np.log(np.maximum(q, 1e-12)).astype(np.float32)).to(device)
    valid_csr = _csr(valid, n_u, n_i) if valid is not None and valid.shape[1] else None
    use_amp = config.amp and device.type == "cuda"
    _, off_i, off_a = graph.offsets
    cold_path = config.cold_weight > 0 and graph.item_attr is not None

    history: dict[str, list[float]] = {"epoch": [], "loss": [], "val_ndcg": [], "seconds": []}
    best, best_epoch, best_state, bad = -1.0, 0, None, 0
    bar = tqdm(range(1, config.max_epochs + 1), desc="train", unit="epoch",
               disable=not _progress_default(show_progress), leave=False)
    for epoch in bar:
        model.train()
        order = rng.permutation(pairs.shape[1])
        starts = range(0, len(order) - b + 1 if len(order) >= b else 1, b)
        if config.steps_per_epoch:
            starts = starts[:config.steps_per_epoch]
        # one host-to-device copy per epoch and one sync (the loss) per epoch: a step
        # launches its kernels without waiting for the previous one (on a GPU the step
        # is launch-bound otherwise)
        users_epoch = torch.from_numpy(pairs[0, order]).to(device)
        items_epoch = torch.from_numpy(pairs[1, order]).to(device)
        loss_sum = torch.zeros((), device=device)
        for start in starts:
            u, pos = users_epoch[start:start + b], items_epoch[start:start + b]
            keep = torch.rand(n_i, device=device, generator=gen) >= config.id_dropout
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
                text = model.project(x)
                layers, z = model.forward_layers(x, graph.adj, keep, text)
            cols = pos
            if m:
                cols = torch.cat([pos, torch.randint(0, n_i, (m,), device=device,
                                                     generator=gen)])
            zu = z[u]
            loss = _sampled_softmax(zu, z[off_i + cols], pos, cols, log_q, config)
            if cold_path:
                # the cold path trains the item side only (users are detached), on the
                # first ``cold_rows`` rows: it must not slow the warm loss down
                text_c = model.project({"item": x["item"]}, config.text_dropout, gen) \
                    if config.text_dropout else text
                assert graph.item_attr is not None and graph.attr_item is not None
                zc = model.cold_item_embeddings(text_c, layers, graph.item_attr,
                                                graph.attr_item, off_a)
                r = min(config.cold_rows, len(pos))
                loss = loss + config.cold_weight * _sampled_softmax(
                    zu[:r].detach(), zc[cols], pos[:r], cols, log_q, config)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach()
        mean_loss = loss_sum.item() / len(starts)
        if not np.isfinite(mean_loss):
            raise TrainingError(f"epoch {epoch}: loss is {mean_loss}; lower lr "
                                f"(now {config.lr}) or raise temperature")
        if epoch % config.eval_every and epoch != config.max_epochs:
            continue
        val = float("nan")
        if valid_csr is not None:
            model.eval()
            with torch.no_grad():
                z = model(x, graph.adj).float()
                zu, zi = z[:off_i], z[off_i:off_i + n_i]
                if config.cosine:
                    zu, zi = F.normalize(zu, dim=1), F.normalize(zi, dim=1)
                val = validation_ndcg(partial(_dot_scores, zu, zi), pairs_csr, valid_csr, 20,
                                      valid_candidates)
        history["epoch"].append(epoch)
        history["loss"].append(mean_loss)
        history["val_ndcg"].append(val)
        history["seconds"].append(time.perf_counter() - t0)
        bar.set_postfix(loss=f"{mean_loss:.4f}", val_ndcg=f"{val:.4f}")
        if bar.disable:
            logger.info("epoch %d: loss %.4f, val NDCG@20 %.4f", epoch, mean_loss, val)
        if valid_csr is None:
            best_epoch = epoch
            continue
        if val > best:
            best, best_epoch, bad = val, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad += 1
            if bad >= config.patience:
                break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    trained = export_trained(model, graph, x, snapshot, features, config.seed,
                             encoder_fingerprint)
    hybrid, score = fit_item_item(
        trained, pairs_csr, valid_csr, valid_candidates,
        item_attribute_matrix(snapshot) if config.use_attributes else None,
        features.item if config.use_text else None)
    hybrid.update(fit_tail_slots(trained, score, pairs_csr, valid_csr))
    seconds = time.perf_counter() - t0
    trained.info = {"best_epoch": best_epoch, "best_val_ndcg": best if best >= 0 else None,
                    "seconds": seconds, "device": str(device), "history": history, **hybrid}
    if snapshot.read_at is not None:  # lets serving find items re-embedded since
        trained.info["graph_read_at"] = snapshot.read_at
    logger.info("trained %s in %.1fs on %s: %s", model, seconds, device,
                f"best epoch {best_epoch}, val NDCG@20 {best:.4f}" if best >= 0
                else f"{best_epoch} epochs, no validation split")
    return TrainResult(trained=trained, model=model, history=history, best_epoch=best_epoch,
                       seconds=seconds, device=str(device))


def _warm_start(model: KGRecModel, init: KGRecModel) -> None:
    """Copy ``init``'s weights into ``model`` (same node sets); items that get an ID
    embedding only now start from zero, i.e. from their text and neighbours."""
    if init.num_nodes_by_type != model.num_nodes_by_type:
        raise TrainingError(f"cannot warm-start: node counts {init.num_nodes_by_type} "
                            f"differ from {model.num_nodes_by_type}")
    model.load_state_dict({**init.state_dict(), "item_has_id": model.item_has_id})
    if model.config.use_id:
        new = (model.item_has_id & ~init.item_has_id.to(model.item_has_id.device))
        with torch.no_grad():
            model.id_embedding("item").weight[:len(new)][new] = 0.0


def refit(result: TrainResult, snapshot: GraphSnapshot, features: NodeFeatures,
          show_progress: bool | None = None, *, encoder_fingerprint: str = "") -> TrainResult:
    """Refit on all of ``snapshot``'s interactions (validation pairs included) what the
    early-stopped ``result`` chose: its item–item ``λ``/``β`` and long-tail interval,
    continuing from its weights for ``refit_fraction × best_epoch`` epochs.

    Returns:
        The refit :class:`TrainResult` (no validation history).
    """
    config = result.trained.config
    info = result.trained.info
    config = replace(config, max_epochs=max(1, round(result.best_epoch * config.refit_fraction)),
                     item_item_lambda=info.get("item_item_lambda", config.item_item_lambda),
                     item_item_weight=info.get("item_item_weight", config.item_item_weight),
                     content_mu=info.get("content_mu", config.content_mu),
                     content_text_weight=info.get("content_text_weight",
                                                  config.content_text_weight),
                     content_scale=info.get("content_scale", config.content_scale),
                     tail_slots=info.get("tail_slots", config.tail_slots))
    return train_model(snapshot, features, config, None, show_progress,
                       encoder_fingerprint=encoder_fingerprint, init=result.model)


def plot_history(history: dict[str, list[float]], path: str) -> None:
    """Write a PNG with the training loss and validation NDCG@20 per epoch.

    Args:
        history: :attr:`TrainResult.history`.
        path: output ``.png`` file.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(history["epoch"], history["loss"], marker=".")
    ax1.set(xlabel="epoch", ylabel="loss", title="training loss")
    val = np.asarray(history["val_ndcg"], dtype=float)
    if np.isfinite(val).any():
        ax2.plot(history["epoch"], val, marker=".", color="tab:green")
        best = int(np.nanargmax(val))
        ax2.axvline(history["epoch"][best], color="grey", linestyle="--", linewidth=0.8)
    ax2.set(xlabel="epoch", ylabel="NDCG@20", title="validation NDCG@20")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
