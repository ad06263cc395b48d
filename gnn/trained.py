"""``TrainedModel``: an immutable trained kgrec model, as NumPy arrays.

Everything serving, evaluation and inductive inference need: final embeddings,
per-layer node representations and degrees (:mod:`gnn.infer`), the layer-0 text
projections, the item–item term (:class:`ItemItemTerm`), the long-tail slots chosen
at training, and the graph it was trained on (:class:`TrainingGraph`: ids, titles,
attribute edges and the training interactions), so a serving process starts from
the checkpoint without exporting the graph. Scores come from :class:`gnn.scorer.Scorer`.

Its arrays are read-only: items and users added after training live in a
:class:`gnn.delta.Delta` beside the model, never in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp

from gnn.config import KGRecConfig
from kg.records import content_hash
from kg.snapshot import GraphSnapshot

__all__ = ["ItemItemTerm", "TrainedModel", "TrainingGraph", "content_matrix",
           "item_attribute_matrix", "unit_rows"]


def unit_rows(x: np.ndarray) -> np.ndarray:
    """``float32`` rows (or one vector) scaled to unit L2 norm; zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    return np.asarray(x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12),
                      dtype=np.float32)


def content_matrix(attributes: sp.csr_matrix | None, text: np.ndarray | None,
                   text_weight: float) -> np.ndarray:
    """``float32 [n, d]`` content rows ``f_j``: binary attributes, ``text_weight ×``
    L2-normalised text features, and a constant 1 (either part may be ``None``)."""
    n = attributes.shape[0] if attributes is not None else len(text)  # type: ignore[arg-type]
    parts = []
    if attributes is not None:
        parts.append((attributes > 0).astype(np.float32).toarray())
    if text is not None:
        parts.append(text_weight * unit_rows(text))
    parts.append(np.ones((n, 1), np.float32))
    return np.hstack(parts)


def _binary(index: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """Binary ``float32`` CSR (int32 indices) of ``int64 [2, E]`` pairs."""
    m = sp.csr_matrix((np.ones(index.shape[1], np.float32), (index[0], index[1])), shape=shape)
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def item_attribute_matrix(snapshot: GraphSnapshot, kinds: tuple[str, ...] | None = None
                          ) -> sp.csr_matrix:
    """Binary ``float32 [num_items, num_attributes]`` CSR matrix, optionally only ``kinds``."""
    idx = snapshot.item_attribute_index
    if kinds is not None:
        keep = np.array([snapshot.attribute_kind_value(a)[0] in kinds for a in idx[1]],
                        dtype=bool).reshape(-1)
        idx = idx[:, keep]
    return _binary(idx, (snapshot.num_items, snapshot.num_attributes))


def _hashes(snapshot: GraphSnapshot, item_attrs: sp.csr_matrix) -> np.ndarray:
    """``uint8 [num_items, 32]`` content hashes of the snapshot's items."""
    ids = snapshot.attribute_ids
    out = np.zeros((snapshot.num_items, 32), np.uint8)
    for row in range(snapshot.num_items):
        attrs = [ids[a] for a in item_attrs.indices[item_attrs.indptr[row]:
                                                    item_attrs.indptr[row + 1]]]
        digest = content_hash(snapshot.item_title[row], snapshot.item_description[row], attrs)
        out[row] = np.frombuffer(bytes.fromhex(digest), np.uint8)
    return out


def _frozen(*arrays: np.ndarray | None) -> None:
    for a in arrays:
        if isinstance(a, np.ndarray) and a.flags.writeable:
            a.flags.writeable = False


@dataclass(frozen=True, eq=False)
class TrainingGraph:
    """The graph a model was trained on, as far as serving needs it.

    Attributes:
        user_ids, item_ids, attribute_ids: business keys in row order.
        item_titles: per item row.
        interactions: ``float32 [num_users, num_items]`` binary CSR of training pairs.
        item_attributes: ``float32 [num_items, num_attributes]`` binary CSR.
        user_attributes: ``float32 [num_users, num_attributes]`` binary CSR (profiles).
        item_hashes: ``uint8 [num_items, 32]`` SHA-256 of each item's content when it
            was exported (:func:`kg.records.content_hash`): an item whose stored content
            still hashes to it is served with its trained embedding.
        read_at: Neo4j's clock (Unix ms) when the graph was exported; ``None`` when it
            was built from files. Serving reads what changed since.
    """

    user_ids: tuple[str, ...]
    item_ids: tuple[str, ...]
    attribute_ids: tuple[str, ...]
    item_titles: tuple[str, ...]
    interactions: sp.csr_matrix
    item_attributes: sp.csr_matrix
    user_attributes: sp.csr_matrix
    item_hashes: np.ndarray
    read_at: int | None = None

    def __post_init__(self) -> None:
        for m in (self.interactions, self.item_attributes, self.user_attributes):
            _frozen(m.data, m.indices, m.indptr)
        _frozen(self.item_hashes)

    def item_hash(self, row: int) -> str:
        """The content hash (hex) item ``row`` was trained with."""
        return bytes(self.item_hashes[row]).hex()

    @classmethod
    def from_snapshot(cls, snapshot: GraphSnapshot) -> TrainingGraph:
        """The training graph of ``snapshot`` (its interactions are the training pairs)."""
        n_u, n_i, n_a = snapshot.num_users, snapshot.num_items, snapshot.num_attributes
        item_attrs = _binary(snapshot.item_attribute_index, (n_i, n_a))
        return cls(tuple(snapshot.user_ids), tuple(snapshot.item_ids),
                   tuple(snapshot.attribute_ids), tuple(snapshot.item_title),
                   _binary(snapshot.interaction_index, (n_u, n_i)), item_attrs,
                   _binary(snapshot.user_attribute_index, (n_u, n_a)),
                   _hashes(snapshot, item_attrs), snapshot.read_at)

    @cached_property
    def users_by_item(self) -> sp.csc_matrix:
        """The training interactions by item (column ``j``: the users of item ``j``)."""
        return self.interactions.tocsc()

    @cached_property
    def user_rows(self) -> dict[str, int]:
        """``user_id -> row``."""
        return {k: i for i, k in enumerate(self.user_ids)}

    @cached_property
    def item_rows(self) -> dict[str, int]:
        """``item_id -> row``."""
        return {k: i for i, k in enumerate(self.item_ids)}

    @cached_property
    def attribute_rows(self) -> dict[str, int]:
        """``"kind:value" -> row``."""
        return {k: i for i, k in enumerate(self.attribute_ids)}


@dataclass(frozen=True, eq=False)
class ItemItemTerm:
    """The EASE item–item term ``β · x_u B`` beside the GNN score (:mod:`gnn.item_item`).

    Items without training interactions have zero columns in ``B``; with
    ``content_map`` their column is predicted from content, ``B[:, j] ≈ W f_j``, so
    their term is ``β (x_u W) · f_j`` (:mod:`gnn.item_item`).

    Attributes:
        weights: ``B``, ``float32 [num_items, num_items]``.
        weight: ``β``.
        content_map: ``W``, ``float32 [num_items, d]`` (calibration included), or None.
        text_weight: ``t``, the text part's weight in content rows.
        cold_rows: ``int64 [n]`` model items without training interactions.
        cold_content: ``float32 [n, d]`` their content rows (None without ``content_map``).
    """

    weights: np.ndarray
    weight: float
    content_map: np.ndarray | None = None
    text_weight: float = 0.0
    cold_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    cold_content: np.ndarray | None = None

    def __post_init__(self) -> None:
        _frozen(self.weights, self.content_map, self.cold_rows, self.cold_content)


@dataclass(frozen=True, eq=False)
class TrainedModel:
    """A trained kgrec model (immutable; see the module docstring).

    Attributes:
        config: the configuration it was trained with (as asked; the scalars chosen on
            validation are in ``item_item``, ``tail_slots`` and ``info``).
        graph: the training graph.
        user_emb, item_emb: ``float32 [n, dim]`` L2-normalised final embeddings.
        layers: ``float32 [L + 1, N, dim]`` per-layer representations of every node
            (homogeneous order: users, items, attributes) before the layer mean.
        degree: ``float32 [N]`` node degrees of the training graph.
        proj_weight, proj_bias: per node type, the layer-0 text projection
            (``float32 [dim, D]`` and ``[dim]``); empty without ``use_text``.
        item_has_id: ``bool [num_items]`` items that had training interactions.
        item_item: the item–item term, or None.
        tail_slots: long-tail slots per page chosen at training (0 = off).
        encoder_id, encoder_fingerprint: the text encoder of the features.
        schema_version: ``kg.schema.SCHEMA_VERSION`` of the exported graph.
        version: model version ("" until saved).
        info: training facts (best epoch, seconds, device, history, choices).
        state_dict: torch weights (to continue training; not needed to serve).
    """

    config: KGRecConfig
    graph: TrainingGraph
    user_emb: np.ndarray
    item_emb: np.ndarray
    layers: np.ndarray
    degree: np.ndarray
    proj_weight: dict[str, np.ndarray]
    proj_bias: dict[str, np.ndarray]
    item_has_id: np.ndarray
    item_item: ItemItemTerm | None = None
    tail_slots: float = 0.0
    encoder_id: str = ""
    encoder_fingerprint: str = ""
    schema_version: int = 1
    version: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    state_dict: dict[str, Any] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        _frozen(self.user_emb, self.item_emb, self.layers, self.degree, self.item_has_id,
                *self.proj_weight.values(), *self.proj_bias.values())

    @property
    def dim(self) -> int:
        return int(self.item_emb.shape[1])

    @property
    def num_users(self) -> int:
        return len(self.graph.user_ids)

    @property
    def num_items(self) -> int:
        return len(self.graph.item_ids)

    @property
    def num_attributes(self) -> int:
        return len(self.graph.attribute_ids)

    @property
    def offsets(self) -> tuple[int, int, int]:
        """First homogeneous row of users, items and attributes."""
        return 0, self.num_users, self.num_users + self.num_items

    @cached_property
    def attribute_emb(self) -> np.ndarray:
        """``float32 [num_attributes, dim]`` L2-normalised final attribute embeddings
        (the layer mean, as for users and items)."""
        _, _, off_a = self.offsets
        return unit_rows(self.layers[:, off_a:off_a + self.num_attributes].mean(axis=0))

    def content_rows(self, text_features: np.ndarray | None,
                     attribute_ids: Sequence[Sequence[str]]) -> np.ndarray | None:
        """``float32 [n, d]`` content rows ``f_j`` of items (attribute values the model
        never saw are left out): ``β (x_u W) · f_j`` is the item–item term of an item
        with no interactions. None when the model has no content columns."""
        term = self.item_item
        if term is None or term.content_map is None:
            return None
        attrs = None
        if self.config.model.use_attributes:
            col = self.graph.attribute_rows
            pairs = [(r, col[a]) for r, ids in enumerate(attribute_ids) for a in ids if a in col]
            rows, cols = (zip(*pairs, strict=True) if pairs else ((), ()))
            attrs = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                                  shape=(len(attribute_ids), self.num_attributes))
        text = text_features if self.config.model.use_text else None
        return content_matrix(attrs, text, term.text_weight)

    def __repr__(self) -> str:
        return (f"TrainedModel(users={self.num_users}, items={self.num_items}, "
                f"attributes={self.num_attributes}, dim={self.dim}, "
                f"layers={self.config.model.layers}, encoder={self.encoder_id!r}, "
                f"version={self.version!r})")
