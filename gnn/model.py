"""``KGRecModel``: an inductive LightGCN over users, items and attribute nodes, with
PyTorch Geometric propagation.

Layer 0 of every node is built from what the catalog knows about it::

    h0[v] = W_type · x_text[v] + b_type   (+ e_id[v] for warm nodes, if use_id)

then ``L`` parameter-free propagation steps ``h_{l+1} = Â h_l`` over the symmetric-
normalised user–item + item–attribute (+ user–attribute) graph, and the final
embedding is the layer mean ``z = mean_l h_l``. A user–item score is
``cos(z_u, z_i) / τ``, so L2-normalised final embeddings serve
retrieval through a plain inner-product vector index.

Each step is one PyG :class:`NormalizedLGConv` (``torch_geometric.nn.LGConv`` with the
precomputed weights of ``Â``) over the graph's ``EdgeIndex`` (:mod:`gnn.graph`). It
runs PyG's fused ``message_and_aggregate`` path: one sparse CSR product forward and one
with the adjacency's cached transpose backward, in plain torch (no ``torch-sparse`` or
``pyg-lib``).

An item without training interactions has no ID embedding (its ID row is masked to
zero), so cold items are embedded from their text and their attribute neighbours by
exactly the same rule as warm items. ID dropout (items only) trains the text and
attribute paths to carry warm items too, which is what makes cold items work. The
training's cold-path loss scores items embedded by that rule
(:meth:`KGRecModel.cold_item_embeddings`), with feature-dimension dropout on their
text (``text_dropout``) so that the rule generalises beyond the warm items' text.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric import EdgeIndex
from torch_geometric.nn import LGConv

from gnn.config import ModelConfig

__all__ = ["ID_INIT_STD", "NODE_TYPES", "KGRecModel", "NormalizedLGConv"]

logger = logging.getLogger(__name__)

NODE_TYPES: tuple[str, str, str] = ("user", "item", "attribute")

#: standard deviation of the ID embeddings at initialisation
ID_INIT_STD = 0.3


class _WeightedSpMM(torch.autograd.Function):
    """``out[i] = Σ_j w_ji x[j]`` over a column-sorted ``EdgeIndex`` (``Wᵀ @ x``).

    Forward is one ``torch.sparse.mm`` with the CSC form of ``W`` read as the CSR form of
    ``Wᵀ``. Backward is ``W @ grad``: for an undirected ``EdgeIndex`` (a symmetric matrix,
    whose weights must then be symmetric too, as ``Â``'s are) the forward matrix again,
    else the row-major form that ``EdgeIndex`` caches. PyG's own ``EdgeIndex.matmul``
    computes the same, but on the CPU through the ``reduce="sum"`` kernel of
    ``torch.sparse.mm`` (about 2x slower than the plain one on ML-100K), and it gathers
    the weights into row order on every backward.
    """

    @staticmethod
    def forward(ctx: Any, edge_index: EdgeIndex, weight: Tensor, x: Tensor) -> Tensor:
        adj_t = edge_index.to_sparse_csc(weight).t()
        ctx.edge_index, ctx.weight, ctx.adj_t = edge_index, weight, adj_t
        return torch.sparse.mm(adj_t, x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, None, Tensor]:
        edge_index, weight = ctx.edge_index, ctx.weight
        if edge_index.is_undirected:
            adj = ctx.adj_t
        else:
            (rowptr, col), perm = edge_index.get_csr()
            adj = torch.sparse_csr_tensor(rowptr, col, weight if perm is None else weight[perm],
                                          size=tuple(edge_index.get_sparse_size()),
                                          check_invariants=False)
        return None, None, torch.sparse.mm(adj, grad)


class NormalizedLGConv(LGConv):  # type: ignore[misc]  # PyG is untyped
    r"""PyG's ``LGConv`` over precomputed edge weights: ``x'_i = Σ_j w_ji x_j``.

    ``edge_weight`` holds the normalisation (``1 / sqrt(d_i d_j)`` for ``Â``), so the
    layer does not normalise again (``normalize=False``). With a column-sorted
    ``torch_geometric.EdgeIndex`` PyG runs the fused ``message_and_aggregate`` (one
    sparse product, see :class:`_WeightedSpMM`) instead of gathering one message per
    edge, which is about 30x slower on ML-100K; any other ``edge_index`` takes ``LGConv``'s
    own path. A bipartite ``EdgeIndex`` of ``sparse_size (M, N)`` maps ``x [M, d]`` to
    ``[N, d]``.

    The product stays in float32 even under bf16 autocast (which covers only the dense
    projection): CUDA autocast would run it in bf16, and cuSPARSE rejects a float32
    matrix times a bf16 layer.

    Shapes:
        - **input:** ``x`` ``[M, d]``, ``edge_index`` ``[2, E]`` (``M`` sources), ``edge_weight``
          ``float32 [E]``
        - **output:** ``float32 [N, d]`` (``N`` targets)
    """

    SUPPORTS_FUSED_EDGE_INDEX = True

    def __init__(self) -> None:
        super().__init__(normalize=False)

    def forward(self, x: Tensor, edge_index: Any, edge_weight: Tensor | None = None
                ) -> Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return super().forward(x.float(), edge_index, edge_weight)

    def message_and_aggregate(self, edge_index: Any, x: Tensor,
                              edge_weight: Tensor | None = None) -> Tensor:
        if isinstance(edge_index, EdgeIndex):
            if edge_weight is None:
                edge_weight = x.new_ones(edge_index.shape[1])
            return _WeightedSpMM.apply(edge_index, edge_weight, x)
        return super().message_and_aggregate(edge_index, x)  # a torch.sparse adj_t


class KGRecModel(nn.Module):
    """Inductive LightGCN with text-initialised nodes (see the module docstring).

    Args:
        config: hyper-parameters.
        num_users, num_items, num_attributes: node counts.
        feature_dim: text feature size ``D`` (384 for MiniLM).
        item_has_id: ``bool [num_items]`` items that own an ID embedding (those with
            training interactions); the others are embedded from text and neighbours.

    Shapes:
        - **input:** ``x`` dict of ``float32 [N_type, D]`` text features,
          ``edge_index`` ``EdgeIndex [2, nnz]`` and ``edge_weight`` ``float32 [nnz]`` of
          ``Â`` (:class:`gnn.graph.HomogeneousGraph`)
        - **output:** ``float32 [N, dim]`` final node embeddings in homogeneous order
    """

    item_has_id: Tensor  # registered buffer

    def __init__(self, config: ModelConfig, num_users: int, num_items: int,
                 num_attributes: int, feature_dim: int, item_has_id: Tensor | None = None
                 ) -> None:
        super().__init__()
        self.config = config
        self.num_nodes_by_type = {"user": num_users, "item": num_items,
                                  "attribute": num_attributes}
        self.feature_dim = feature_dim
        if item_has_id is None:
            item_has_id = torch.ones(num_items, dtype=torch.bool)
        self.register_buffer("item_has_id", item_has_id.to(torch.bool).clone())
        self.proj = nn.ModuleDict()
        self.emb = nn.ModuleDict()
        for t in NODE_TYPES:
            if config.use_text:
                self.proj[t] = nn.Linear(feature_dim, config.dim)
            if config.use_id:
                e = nn.Embedding(max(self.num_nodes_by_type[t], 1), config.dim)
                nn.init.normal_(e.weight, std=ID_INIT_STD)
                self.emb[t] = e
        # parameter-free; one layer module per step, as PyG's LightGCN has
        self.convs = nn.ModuleList(NormalizedLGConv() for _ in range(config.layers))

    def text_projection(self, node_type: str) -> nn.Linear:
        """The layer-0 text projection of ``node_type`` (requires ``use_text``)."""
        return cast(nn.Linear, self.proj[node_type])

    def id_embedding(self, node_type: str) -> nn.Embedding:
        """The ID embedding table of ``node_type`` (requires ``use_id``)."""
        return cast(nn.Embedding, self.emb[node_type])

    def __repr__(self) -> str:
        c = self.config
        n = self.num_nodes_by_type
        return (f"{type(self).__name__}(users={n['user']}, items={n['item']}, "
                f"attributes={n['attribute']}, dim={c.dim}, layers={c.layers}, "
                f"text={c.use_text}, attributes_on={c.use_attributes}, id={c.use_id})")

    def project(self, x: dict[str, Tensor], dropout: float = 0.0,
                generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """The learned text projection ``W_type · x[v] + b_type`` for each node type in
        ``x`` (empty without ``use_text``); each ``float32 [N_type, dim]``.

        ``dropout`` zeroes that share of the feature dimensions (the same ones for every
        node; one random draw per call, from ``generator`` if given) and rescales the rest.
        """
        if not self.config.use_text:
            return {}
        out = {}
        mask = None
        for t, f in x.items():
            n = self.num_nodes_by_type[t]
            if not n:
                continue
            lin = self.text_projection(t)
            if dropout:  # dropping input dimensions = dropping the weight's columns
                if mask is None:
                    mask = (torch.rand(f.shape[1], device=f.device, generator=generator)
                            >= dropout).float()
                    mask = mask / (1 - dropout)
                out[t] = F.linear(f[:n], lin.weight * mask, lin.bias).float()
            else:
                out[t] = lin(f[:n]).float()
        return out

    def layer0(self, x: dict[str, Tensor], item_id_keep: Tensor | None = None,
               text: dict[str, Tensor] | None = None) -> Tensor:
        """Layer-0 embeddings of all nodes, homogeneous order.

        Args:
            x: text features per node type, ``float32 [N_type, D]``.
            item_id_keep: optional ``bool [num_items]`` (ID dropout); ANDed with
                ``item_has_id``.
            text: :meth:`project`'s output when the caller already has it.

        Returns:
            ``float32 [N, dim]``.
        """
        text = self.project(x) if text is None else text
        parts = []
        for t in NODE_TYPES:
            n = self.num_nodes_by_type[t]
            if n == 0:
                continue
            h = text.get(t)
            if self.config.use_id:
                e = self.id_embedding(t).weight[:n]
                if t == "item":
                    keep = self.item_has_id if item_id_keep is None else \
                        self.item_has_id & item_id_keep
                    e = e * keep.unsqueeze(1).to(e.dtype)
                h = e if h is None else h + e
            assert h is not None  # ModelConfig requires use_text or use_id
            parts.append(h.float())
        return torch.cat(parts, dim=0)

    def propagate(self, h0: Tensor, edge_index: Any, edge_weight: Tensor) -> list[Tensor]:
        """All layers ``[h_0, Â h_0, …, Â^L h_0]`` (each ``float32 [N, dim]``)."""
        layers = [h0]
        h = h0
        for conv in self.convs:
            h = conv(h, edge_index, edge_weight)
            layers.append(h)
        return layers

    def forward(self, x: dict[str, Tensor], edge_index: Any, edge_weight: Tensor,
                item_id_keep: Tensor | None = None) -> Tensor:
        """Final embeddings ``float32 [N, dim]`` (layer mean)."""
        return self.forward_layers(x, edge_index, edge_weight, item_id_keep)[1]

    def forward_layers(self, x: dict[str, Tensor], edge_index: Any, edge_weight: Tensor,
                       item_id_keep: Tensor | None = None,
                       text: dict[str, Tensor] | None = None) -> tuple[list[Tensor], Tensor]:
        """``(layers, final)``: every layer ``[N, dim]`` and their mean."""
        layers = self.propagate(self.layer0(x, item_id_keep, text), edge_index, edge_weight)
        return layers, torch.stack(layers, dim=0).mean(dim=0)

    def cold_item_embeddings(self, text: dict[str, Tensor], layers: list[Tensor],
                             cold_edge_index: Any, cold_edge_weight: Tensor,
                             attr_offset: int) -> Tensor:
        """Embeddings every item WOULD have with no interactions and no ID embedding.

        The same propagation rule, restricted to the item's attribute neighbours:
        ``c_0 = W x_i + b``, ``c_{l+1} = Σ_a h_l[a] / sqrt(n_attr(i) · d_a)`` with the
        attributes' layers ``h_l`` of the current graph; the result is the layer mean.
        This is exactly how :mod:`gnn.infer` embeds a new item, so training it (the
        "cold path" loss) is training the inference rule for unseen items.

        Args:
            text: :meth:`project`'s output.
            layers: the graph's layers from :meth:`forward_layers`.
            cold_edge_index: attribute -> item ``EdgeIndex`` (``sparse_size (A, I)``)
                and cold_edge_weight its ``float32`` weights ``1 / sqrt(n_attr(i) · d_a)``
                (:func:`gnn.graph.cold_item_adjacency`).
            attr_offset: first homogeneous row of attributes.

        Returns:
            ``float32 [num_items, dim]``.
        """
        n_i = self.num_nodes_by_type["item"]
        n_a = self.num_nodes_by_type["attribute"]
        c0 = text.get("item")
        if c0 is None:
            c0 = torch.zeros(n_i, self.config.dim, device=layers[0].device)
        out = [c0]
        for h in layers[:-1]:
            out.append(self.convs[0](h[attr_offset:attr_offset + n_a], cold_edge_index,
                                     cold_edge_weight))
        return torch.stack(out, dim=0).mean(dim=0)
