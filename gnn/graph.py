"""Graph assembly: ``GraphSnapshot`` (+ ``NodeFeatures``) -> PyG ``HeteroData``, and its
homogeneous, symmetric-normalised view for full-batch propagation.

:func:`graph_data` is the snapshot's typed graph as ``HeteroData`` (each relation and its
``rev_`` reverse); :func:`to_hetero_data` adds the text features. :func:`build_homogeneous`
flattens it with ``HeteroData.to_homogeneous``: node order users ``[0, U)``, items
``[U, U + I)``, attributes ``[U + I, U + I + A)`` (``offsets = (0, U, U + I)``); inside
each type, rows follow the snapshot (so business keys map through the snapshot's id lists).

The propagation matrix is ``Â = D^{-1/2} A D^{-1/2}`` over the undirected union of the
selected relations (user–item interactions, item–attribute and optionally
user–attribute edges): a column-sorted PyG ``EdgeIndex`` with the weights
``1 / sqrt(d_i d_j)`` as ``edge_weight``, which :class:`gnn.model.NormalizedLGConv`
consumes. Repeated edges count once; interaction weights are ignored (every
interaction is one implicit positive).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch_geometric import EdgeIndex
from torch_geometric.data import HeteroData
from torch_geometric.utils import coalesce

from gnn.features import NodeFeatures
from kg.snapshot import GraphSnapshot
from kgrec.errors import TrainingError

__all__ = [
    "HomogeneousGraph",
    "build_homogeneous",
    "check_features",
    "cold_item_adjacency",
    "graph_data",
    "normalized_adjacency",
    "to_hetero_data",
]

logger = logging.getLogger(__name__)

#: ``HeteroData`` edge types of the snapshot's relations (each also has a ``rev_`` reverse)
RELATIONS: tuple[tuple[str, str, str], ...] = (
    ("user", "interacted", "item"),
    ("item", "has_attribute", "attribute"),
    ("user", "has_attribute", "attribute"),
)


@dataclass(frozen=True, eq=False)
class HomogeneousGraph:
    """All nodes in one index space, with the normalised adjacency as PyG edges.

    Shapes:
        - ``edge_index``: ``EdgeIndex [2, nnz]`` (``sparse_size (N, N)``), symmetric (both
          directions, marked ``is_undirected``), distinct, sorted by column (target)
        - ``edge_weight``: ``float32 [nnz]``, ``Â[i, j] = 1 / sqrt(d_i d_j)``
        - ``degree``: ``float32 [N]`` number of distinct neighbours of each node
        - ``cold_edge_index``: ``EdgeIndex [2, E_ia]`` attribute -> item (rows are
          attribute rows, columns item rows; ``sparse_size (A, I)``), sorted by item, and
          ``cold_edge_weight`` ``float32 [E_ia]`` ``1 / sqrt(n_attr(i) d_a)``: the "cold
          path", item–attribute propagation as if the item had no interactions. ``None``
          without attributes.

    Attributes:
        num_users, num_items, num_attributes: node counts per type.
        use_attributes: whether item–attribute edges are in the graph.
    """

    num_users: int
    num_items: int
    num_attributes: int
    edge_index: EdgeIndex
    edge_weight: torch.Tensor
    degree: np.ndarray
    use_attributes: bool
    cold_edge_index: EdgeIndex | None = None
    cold_edge_weight: torch.Tensor | None = None

    @property
    def num_nodes(self) -> int:
        return self.num_users + self.num_items + self.num_attributes

    @property
    def nnz(self) -> int:
        """Non-zero entries of ``Â`` (directed edges)."""
        return int(self.edge_index.shape[1])

    @property
    def offsets(self) -> tuple[int, int, int]:
        """First homogeneous row of users, items and attributes."""
        return 0, self.num_users, self.num_users + self.num_items

    @property
    def adj(self) -> torch.Tensor:
        """``Â`` as a ``float32 [N, N]`` sparse CSR tensor (for inspection and reference
        products; propagation reads ``edge_index`` and ``edge_weight``)."""
        with warnings.catch_warnings():  # "sparse CSR support is in beta"
            warnings.simplefilter("ignore", UserWarning)
            return self.edge_index.to_sparse_csc(self.edge_weight).t()

    def to(self, device: str | torch.device) -> HomogeneousGraph:
        """A copy whose edges live on ``device``."""
        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device)

        return HomogeneousGraph(self.num_users, self.num_items, self.num_attributes,
                                self.edge_index.to(device), self.edge_weight.to(device),
                                self.degree, self.use_attributes,
                                move(self.cold_edge_index), move(self.cold_edge_weight))

    def __repr__(self) -> str:
        return (f"HomogeneousGraph(users={self.num_users}, items={self.num_items}, "
                f"attributes={self.num_attributes}, nnz={self.nnz})")


def _by_column(edge_index: torch.Tensor, sparse_size: tuple[int, int], *,
               undirected: bool = False) -> EdgeIndex:
    """Distinct edges as an ``EdgeIndex`` sorted by column (target), PyG's fused order;
    both compressed forms cached (a directed one's backward reads the row-major form)."""
    edge_index = coalesce(edge_index, num_nodes=max(sparse_size), sort_by_row=False)
    out = EdgeIndex(edge_index, sparse_size=sparse_size, sort_order="col",
                    is_undirected=undirected)
    out.fill_cache_()
    with warnings.catch_warnings():  # torch's once-per-process "sparse CSC ... beta"
        warnings.simplefilter("ignore", UserWarning)
        out.to_sparse_csc()
    return out


def cold_item_adjacency(item_attribute_index: torch.Tensor, num_items: int,
                        num_attributes: int, attribute_degree: torch.Tensor
                        ) -> tuple[EdgeIndex, torch.Tensor]:
    """Attribute -> item propagation edges of items treated as cold.

    Args:
        item_attribute_index: ``int64 [2, E_ia]`` ``(item_idx, attribute_idx)`` pairs.
        num_items, num_attributes: node counts.
        attribute_degree: ``float32 [A]`` attribute degrees in the training graph.

    Returns:
        ``(edge_index, edge_weight)``: distinct ``(attribute_idx, item_idx)`` edges as an
        ``EdgeIndex`` of ``sparse_size (A, I)`` sorted by item, and ``float32 [E]``
        weights ``1 / sqrt(n_attr(i) · d_a)``.
    """
    edge_index = _by_column(item_attribute_index.flip(0), (num_attributes, num_items))
    attrs, items = edge_index.as_tensor()
    n_attr = torch.bincount(items, minlength=num_items).float()
    weight = 1.0 / torch.sqrt(n_attr[items] * attribute_degree[attrs].clamp(min=1.0))
    return edge_index, weight


def normalized_adjacency(edge_index: torch.Tensor, num_nodes: int
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric normalisation of an undirected edge list.

    Args:
        edge_index: ``int64 [2, E]`` edges in both directions, without duplicates.
        num_nodes: ``N``.

    Returns:
        ``(edge_weight, degree)``: ``float32 [E]`` weights ``1 / sqrt(d_i d_j)`` and
        ``float32 [N]`` degrees (an isolated node has degree 0 and no edge).
    """
    row, col = edge_index[0], edge_index[1]
    degree = torch.bincount(row, minlength=num_nodes).float()
    inv = torch.where(degree > 0, 1.0 / torch.sqrt(degree.clamp(min=1.0)), 0.0)
    return inv[row] * inv[col], degree


def graph_data(snapshot: GraphSnapshot, *, use_attributes: bool = True) -> HeteroData:
    """The snapshot's typed graph as a PyG ``HeteroData``: node counts and edges only.

    Node types ``user``, ``item``, ``attribute`` (in this order: it is the homogeneous
    order); edge types :data:`RELATIONS` (without ``use_attributes``, the interactions
    only) and their ``rev_`` reverses. Repeated edges are kept as the snapshot has them.
    """
    data = HeteroData()
    for name, n in (("user", snapshot.num_users), ("item", snapshot.num_items),
                    ("attribute", snapshot.num_attributes)):
        data[name].num_nodes = n
    for (src, rel, dst), index in zip(RELATIONS, (snapshot.interaction_index,
                                                  snapshot.item_attribute_index,
                                                  snapshot.user_attribute_index), strict=True):
        if dst == "attribute" and not use_attributes:
            continue
        ei = torch.from_numpy(np.ascontiguousarray(index, dtype=np.int64))
        data[src, rel, dst].edge_index = ei
        data[dst, f"rev_{rel}", src].edge_index = ei.flip(0)
    return data


def build_homogeneous(snapshot: GraphSnapshot, *, use_attributes: bool = True
                      ) -> HomogeneousGraph:
    """The homogeneous view of ``snapshot`` used by :class:`gnn.model.KGRecModel`:
    :func:`graph_data` flattened by ``HeteroData.to_homogeneous``, edges made distinct
    and symmetric-normalised.

    Args:
        snapshot: the training graph (only its interactions become user–item edges).
        use_attributes: include item–attribute and user–attribute edges.

    Returns:
        The :class:`HomogeneousGraph` (on the CPU).
    """
    snapshot.validate()
    n_u, n_i, n_a = snapshot.num_users, snapshot.num_items, snapshot.num_attributes
    n = n_u + n_i + n_a
    data = graph_data(snapshot, use_attributes=use_attributes)
    homogeneous = data.to_homogeneous(add_node_type=False, add_edge_type=False)
    edge_index = _by_column(homogeneous.edge_index, (n, n), undirected=True)
    edge_weight, degree = normalized_adjacency(edge_index.as_tensor(), n)
    cold_index = cold_weight = None
    if use_attributes and n_a:
        cold_index, cold_weight = cold_item_adjacency(
            data["item", "has_attribute", "attribute"].edge_index, n_i, n_a,
            degree[n_u + n_i:])
    logger.debug("homogeneous graph: %d nodes, %d directed edges", n, edge_index.shape[1])
    return HomogeneousGraph(n_u, n_i, n_a, edge_index, edge_weight, degree.numpy(),
                            use_attributes, cold_index, cold_weight)


def to_hetero_data(snapshot: GraphSnapshot, features: NodeFeatures) -> HeteroData:
    """The snapshot as a PyG ``HeteroData`` (:func:`graph_data`) with text features as
    ``x`` and business keys in row order as ``ids``.

    Args:
        snapshot: the graph.
        features: text features whose rows follow the snapshot.

    Raises:
        TrainingError: a feature matrix has the wrong number of rows.
    """
    check_features(snapshot, features)
    data = graph_data(snapshot)
    for name, x, ids in (("user", features.user, snapshot.user_ids),
                         ("item", features.item, snapshot.item_ids),
                         ("attribute", features.attribute, snapshot.attribute_ids)):
        data[name].x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        data[name].ids = list(ids)
    data.validate()
    return data


def check_features(snapshot: GraphSnapshot, features: NodeFeatures) -> None:
    """Raise :class:`TrainingError` unless the feature rows match the snapshot."""
    for name, x, n in (("item", features.item, snapshot.num_items),
                       ("attribute", features.attribute, snapshot.num_attributes),
                       ("user", features.user, snapshot.num_users)):
        if x.ndim != 2 or x.shape[0] != n:
            raise TrainingError(f"features.{name}: expected [{n}, D] rows in snapshot order, "
                                f"got shape {tuple(x.shape)}")
        if x.shape[1] != features.item.shape[1]:
            raise TrainingError(f"features.{name}: expected dim {features.item.shape[1]}, "
                                f"got {x.shape[1]}")
