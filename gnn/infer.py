"""Inductive inference: embed items and users added (or changed) after training, and
decompose a user's embedding along its neighbours (what ``explain`` reports).

A node is embedded by the trained propagation rule restricted to its own
neighbourhood, reusing the stored per-layer representations and degrees of the
trained graph (:class:`gnn.trained.TrainedModel`)::

    h_0 = W_type x_text + b_type           (a trained user: its trained layer 0)
    h_{l+1} = Σ_{j ∈ N(v)} H_l[j] / sqrt(|N(v)| · d_j)
    z = mean(h_0 … h_L), L2-normalised

``H_l`` and ``d_j`` are the trained graph's layer-``l`` representations and degrees, so
a few small SciPy matrix products per call: no torch, no PyTorch Geometric (training's
:class:`gnn.model.NormalizedLGConv` applies the same weights) and no full-graph forward.
Neighbours' degrees are NOT incremented for the new node: re-embedding a trained node
with an unchanged neighbourhood reproduces its trained embedding (up to float
rounding), and a new node's neighbours do not "see" it until the next training run. Because
``z_raw = (h_0 + Σ_j w_j Σ_{l<L} H_l[j]) / (L + 1)`` is a sum over neighbours, the score
``z · e_i`` splits exactly into a part per neighbour plus the node's own ``h_0``
(:func:`decompose_user`).

Unknown attribute/user/item ids are skipped (logged at DEBUG); a node with no known
neighbour is embedded from its text alone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from gnn.trained import TrainedModel, unit_rows
from kgrec.errors import TrainingError

__all__ = ["UserParts", "decompose_user", "embed_new_items", "embed_users", "user_layer0",
           "user_neighbours"]

logger = logging.getLogger(__name__)


def _neighbour_matrix(model: TrainedModel, rows: Sequence[Sequence[int]]) -> sp.csr_matrix:
    """``[n, N]`` CSR with ``1 / sqrt(|N(v)| d_j)`` at each known neighbour ``j``."""
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    cols: list[int] = []
    vals: list[float] = []
    for k, nbrs in enumerate(rows):
        known = sorted({n for n in nbrs if model.degree[n] > 0})
        if known:
            d = np.asarray(model.degree[known], dtype=np.float64)
            cols.extend(known)
            vals.extend((1.0 / np.sqrt(len(known) * d)).tolist())
        indptr[k + 1] = len(cols)
    return sp.csr_matrix((np.asarray(vals, np.float32), np.asarray(cols, np.int64), indptr),
                         shape=(len(rows), model.layers.shape[1]))


def _raw(model: TrainedModel, h0: np.ndarray, nbr: sp.csr_matrix) -> np.ndarray:
    """The layer mean before normalisation, ``float32 [n, dim]``."""
    out = [h0] + [np.asarray(nbr @ model.layers[layer], np.float32)
                  for layer in range(model.config.model.layers)]
    return np.mean(np.stack(out, 0), axis=0)


def _finish(z: np.ndarray) -> np.ndarray:
    z = unit_rows(z)
    if not np.isfinite(z).all():
        raise TrainingError("inductive embedding produced NaN or inf")
    return np.ascontiguousarray(z, dtype=np.float32)


def _text_layer0(model: TrainedModel, node_type: str, features: np.ndarray | None,
                 n: int) -> np.ndarray:
    if not model.config.model.use_text:
        return np.zeros((n, model.dim), np.float32)
    if features is None:
        raise TrainingError(f"{node_type} features are required: the model uses text "
                            f"(expected float32 [{n}, D])")
    w = model.proj_weight[node_type]
    x = np.asarray(features, dtype=np.float32)
    if x.shape != (n, w.shape[1]):
        raise TrainingError(f"{node_type} features: expected shape ({n}, {w.shape[1]}), "
                            f"got {x.shape}")
    return x @ w.T + model.proj_bias[node_type]


def _rows(index: dict[str, int], keys: Sequence[str], offset: int, what: str) -> list[int]:
    rows = [index[k] + offset for k in keys if k in index]
    if len(rows) < len(keys):
        logger.debug("skipped %d unknown %s ids", len(keys) - len(rows), what)
    return rows


def embed_new_items(model: TrainedModel, features: np.ndarray,
                    attribute_ids: Sequence[Sequence[str]],
                    user_ids: Sequence[Sequence[str]] | None = None) -> np.ndarray:
    """Embed items that were not in training (or whose content changed), no retraining.

    Args:
        model: the trained model.
        features: ``float32 [n, D]`` text features (same encoder as training).
        attribute_ids: per item, its attribute keys (``"kind:value"``).
        user_ids: per item, users that interacted with it (optional).

    Returns:
        ``float32 [n, dim]`` item embeddings comparable with ``model.user_emb``.

    Raises:
        TrainingError: the features have the wrong shape or the result is not finite.

    Example::

        emb = embed_new_items(model, store.encode(texts)[0], [["genre:Comedy"]])
    """
    n = len(attribute_ids)
    if user_ids is not None and len(user_ids) != n:
        raise TrainingError(f"user_ids: expected {n} lists, got {len(user_ids)}")
    _, _, off_a = model.offsets
    attrs = model.graph.attribute_rows if model.config.model.use_attributes else {}
    rows = []
    for k in range(n):
        nbrs = _rows(attrs, attribute_ids[k], off_a, "attribute")
        if user_ids is not None:
            nbrs += _rows(model.graph.user_rows, user_ids[k], 0, "user")
        rows.append(nbrs)
    h0 = _text_layer0(model, "item", features, n)
    return _finish(_raw(model, h0, _neighbour_matrix(model, rows)))


def user_neighbours(model: TrainedModel, item_rows: Sequence[int],
                    attribute_ids: Sequence[str] = ()) -> list[int]:
    """Homogeneous rows of a user's neighbours: its model items and, when the model uses
    attributes, its known profile attributes."""
    _, off_i, off_a = model.offsets
    rows = [off_i + int(r) for r in item_rows if 0 <= r < model.num_items]
    if model.config.model.use_attributes:
        rows += _rows(model.graph.attribute_rows, attribute_ids, off_a, "attribute")
    return rows


def user_layer0(model: TrainedModel, user_id: str | None,
                profile_features: np.ndarray | None) -> np.ndarray:
    """``float32 [dim]`` layer 0 of a user: a trained user's trained layer 0 (its profile
    text and ID embedding), else its profile's text projection (zeros without text)."""
    row = model.graph.user_rows.get(user_id) if user_id is not None else None
    if row is not None:
        return np.asarray(model.layers[0, row], np.float32)
    if profile_features is None and model.config.model.use_text:
        profile_features = np.zeros(model.proj_weight["user"].shape[1], np.float32)
    return _text_layer0(model, "user", None if profile_features is None
                        else np.asarray(profile_features, np.float32).reshape(1, -1), 1)[0]


def embed_users(model: TrainedModel, layer0: np.ndarray,
                neighbours: Sequence[Sequence[int]]) -> np.ndarray:
    """Embed users from their layer 0 (:func:`user_layer0`) and neighbours
    (:func:`user_neighbours`): new users, or users whose items changed after training.

    Args:
        model: the trained model.
        layer0: ``float32 [n, dim]``.
        neighbours: per user, homogeneous neighbour rows.

    Returns:
        ``float32 [n, dim]`` user embeddings; score them with :class:`gnn.scorer.Scorer`.

    Raises:
        TrainingError: a non-finite result.
    """
    h0 = np.asarray(layer0, np.float32).reshape(len(neighbours), -1)
    return _finish(_raw(model, h0, _neighbour_matrix(model, neighbours)))


@dataclass(frozen=True)
class UserParts:
    """A user's embedding split along its neighbours: ``z = (own + Σ parts) / norm``.

    Attributes:
        neighbours: ``int64 [m]`` homogeneous rows of the neighbours.
        own: ``float32 [dim]`` the user's layer-0 share (its ID and profile text).
        parts: ``float32 [m, dim]`` each neighbour's share.
        norm: the norm of ``own + Σ parts`` (the final embedding is L2-normalised).
    """

    neighbours: np.ndarray
    own: np.ndarray
    parts: np.ndarray
    norm: float


def decompose_user(model: TrainedModel, layer0: np.ndarray, neighbours: Sequence[int]
                   ) -> UserParts:
    """Split the embedding :func:`embed_users` gives into per-neighbour shares, so that
    ``z · e_i = (own · e_i + Σ_j parts[j] · e_i) / norm`` for any item vector ``e_i``."""
    nbr = _neighbour_matrix(model, [neighbours])
    rows = nbr.indices.astype(np.int64)
    scale = 1.0 / (model.config.model.layers + 1)
    summed = model.layers[:model.config.model.layers, rows].sum(axis=0)  # [m, dim]
    parts = (scale * nbr.data[:, None] * summed).astype(np.float32)
    own = (scale * np.asarray(layer0, np.float32)).astype(np.float32)
    norm = float(np.linalg.norm(own + parts.sum(axis=0)))
    return UserParts(rows, own, parts, max(norm, 1e-12))
