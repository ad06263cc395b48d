"""Inductive inference: embed items and users added (or changed) after training.

A new node is embedded by the trained propagation rule restricted to its own
neighbourhood, reusing the stored per-layer representations and degrees of the
trained graph (:class:`gnn.trained.TrainedModel`)::

    h_0 = W_type x_text + b_type          (+ the user's ID embedding, known users only)
    h_{l+1} = Σ_{j ∈ N(v)} H_l[j] / sqrt(|N(v)| · d_j)
    z = mean(h_0 … h_L)                   (L2-normalised for a cosine model)

``H_l`` and ``d_j`` are the trained graph's layer-``l`` representations and degrees,
so nothing else is recomputed: a few small matrix products per call, no torch and
no full-graph forward. Neighbours' degrees are NOT incremented for the new node; this
makes re-embedding a trained node with an unchanged neighbourhood reproduce its
trained embedding exactly (up to float rounding), and the approximation for a truly
new node is that its neighbours do not "see" it until the next training run.

Unknown attribute/user/item ids are skipped (logged at DEBUG); a node with no known
neighbour is embedded from its text alone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from gnn.trained import TrainedModel
from kgrec.errors import TrainingError

__all__ = ["embed_new_items", "embed_users"]

logger = logging.getLogger(__name__)


def _neighbour_matrix(trained: TrainedModel, rows: list[list[int]]) -> sp.csr_matrix:
    """``[n, N]`` CSR with ``1 / sqrt(|N(v)| d_j)`` at each known neighbour ``j``."""
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    cols: list[int] = []
    vals: list[float] = []
    degree = trained.degree
    for k, nbrs in enumerate(rows):
        nbrs = sorted({n for n in nbrs if degree[n] > 0})
        if nbrs:
            d = np.asarray(degree[nbrs], dtype=np.float64)
            cols.extend(nbrs)
            vals.extend((1.0 / np.sqrt(len(nbrs) * d)).tolist())
        indptr[k + 1] = len(cols)
    n_nodes = trained.layers.shape[1]
    return sp.csr_matrix((np.asarray(vals, np.float32), np.asarray(cols, np.int64), indptr),
                         shape=(len(rows), n_nodes))


def _propagate(trained: TrainedModel, h0: np.ndarray, nbr: sp.csr_matrix) -> np.ndarray:
    out = [h0]
    for layer in range(trained.config.layers):
        out.append(np.asarray(nbr @ trained.layers[layer], dtype=np.float32))
    z = np.mean(np.stack(out, 0), axis=0)
    if trained.config.cosine:
        z = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    if not np.isfinite(z).all():
        raise TrainingError("inductive embedding produced NaN or inf")
    return np.ascontiguousarray(z, dtype=np.float32)


def _text_layer0(trained: TrainedModel, node_type: str, features: np.ndarray | None,
                 n: int) -> np.ndarray:
    dim = trained.dim
    if not trained.config.use_text:
        return np.zeros((n, dim), np.float32)
    if features is None:
        raise TrainingError(f"{node_type} features are required: the model uses text "
                            f"(expected float32 [{n}, D])")
    w = trained.proj_weight[node_type]
    x = np.asarray(features, dtype=np.float32)
    if x.shape != (n, w.shape[1]):
        raise TrainingError(f"{node_type} features: expected shape ({n}, {w.shape[1]}), "
                            f"got {x.shape}")
    return x @ w.T + trained.proj_bias[node_type]


def _lookup(index: dict[str, int], keys: Sequence[str], offset: int, what: str) -> list[int]:
    rows = [index[k] + offset for k in keys if k in index]
    if len(rows) < len(keys):
        logger.debug("skipped %d unknown %s ids", len(keys) - len(rows), what)
    return rows


def embed_new_items(
    trained: TrainedModel,
    new_item_features: np.ndarray,
    new_item_attribute_ids: Sequence[Sequence[str]],
    interacting_user_ids: Sequence[Sequence[str]] | None = None,
) -> np.ndarray:
    """Embed items that were not in training, without retraining.

    Args:
        trained: the trained model.
        new_item_features: ``float32 [n, D]`` text features (same encoder as training).
        new_item_attribute_ids: per new item, its attribute keys (``"kind:value"``).
        interacting_user_ids: per new item, users that interacted with it (optional).

    Returns:
        ``float32 [n, dim]`` item embeddings comparable with ``trained.user_emb``.

    Raises:
        TrainingError: the features have the wrong shape or the result is not finite.

    Example::

        emb = embed_new_items(trained, store.encode(texts)[0], [["genre:Comedy"]])
        scores = trained.user_emb @ emb.T
    """
    n = len(new_item_attribute_ids)
    if interacting_user_ids is not None and len(interacting_user_ids) != n:
        raise TrainingError(f"interacting_user_ids: expected {n} lists, got "
                            f"{len(interacting_user_ids)}")
    _, _, off_a = trained.offsets
    attr_index = trained.rows_of("attribute") if trained.config.use_attributes else {}
    user_index = trained.rows_of("user") if interacting_user_ids is not None else {}
    rows = []
    for k in range(n):
        nbrs = _lookup(attr_index, new_item_attribute_ids[k], off_a, "attribute")
        if interacting_user_ids is not None:
            nbrs += _lookup(user_index, interacting_user_ids[k], 0, "user")
        rows.append(nbrs)
    h0 = _text_layer0(trained, "item", new_item_features, n)
    return _propagate(trained, h0, _neighbour_matrix(trained, rows))


def embed_users(
    trained: TrainedModel,
    item_ids: Sequence[Sequence[str]],
    profile_attribute_ids: Sequence[Sequence[str]] | None = None,
    profile_features: np.ndarray | None = None,
    user_ids: Sequence[str | None] | None = None,
) -> np.ndarray:
    """Embed new users, or known users whose items/profile changed, without retraining.

    Args:
        trained: the trained model.
        item_ids: per user, the items they interacted with.
        profile_attribute_ids: per user, profile attribute keys (``"kind:value"``).
        profile_features: ``float32 [n, D]`` profile text features (zeros without a
            profile); required when the model uses text.
        user_ids: per user, its id when it is a known user (its learned ID embedding is
            then reused), else ``None``.

    Returns:
        ``float32 [n, dim]`` user embeddings; score items with ``emb @ trained.item_emb.T``.

    Raises:
        TrainingError: wrong shapes, or a non-finite result.
    """
    n = len(item_ids)
    for name, seq in (("profile_attribute_ids", profile_attribute_ids), ("user_ids", user_ids)):
        if seq is not None and len(seq) != n:
            raise TrainingError(f"{name}: expected {n} entries, got {len(seq)}")
    _, off_i, off_a = trained.offsets
    item_index = trained.rows_of("item")
    attr_index = trained.rows_of("attribute") if (
        trained.config.use_attributes and trained.config.use_user_attributes) else {}
    rows = []
    for k in range(n):
        nbrs = _lookup(item_index, item_ids[k], off_i, "item")
        if profile_attribute_ids is not None:
            nbrs += _lookup(attr_index, profile_attribute_ids[k], off_a, "attribute")
        rows.append(nbrs)
    if profile_features is None and trained.config.use_text:
        profile_features = np.zeros((n, trained.proj_weight["user"].shape[1]), np.float32)
    h0 = _text_layer0(trained, "user", profile_features, n)
    if user_ids is not None and trained.config.use_id:
        user_index = trained.rows_of("user")
        for k, uid in enumerate(user_ids):
            if uid is not None and uid in user_index:
                h0[k] += trained.user_id_emb[user_index[uid]]
    return _propagate(trained, h0, _neighbour_matrix(trained, rows))
