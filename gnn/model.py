"""``KGRecModel``: an inductive LightGCN over users, items and attribute nodes.

Layer 0 of every node is built from what the catalog knows about it::

    h0[v] = W_type · x_text[v] + b_type   (+ e_id[v] for warm nodes, if use_id)

then ``L`` parameter-free propagation steps ``h_{l+1} = Â h_l`` over the symmetric-
normalised user–item + item–attribute (+ user–attribute) graph, and the final
embedding is the layer mean ``z = mean_l h_l``. A user–item score is
``cos(z_u, z_i) / τ``, so L2-normalised final embeddings serve
retrieval through a plain inner-product vector index.

An item without training interactions has no ID embedding (its ID row is masked to
zero), so cold items are embedded from their text and their attribute neighbours
by exactly the same rule as warm items. ID dropout (items only) trains the text and
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

from gnn.config import ModelConfig

__all__ = ["ID_INIT_STD", "NODE_TYPES", "KGRecModel", "spmm"]

logger = logging.getLogger(__name__)

NODE_TYPES: tuple[str, str, str] = ("user", "item", "attribute")

#: standard deviation of the ID embeddings at initialisation
ID_INIT_STD = 0.3


class _SpMM(torch.autograd.Function):
    """``A @ h`` for a sparse CSR ``A`` whose transpose is given: the backward pass is
    ``Aᵀ @ grad``, which avoids the slow CSR transpose of torch's generic backward."""

    @staticmethod
    def forward(ctx: Any, adj: Tensor, adj_t: Tensor, h: Tensor) -> Tensor:
        ctx.adj_t = adj_t
        return torch.sparse.mm(adj, h)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, None, Tensor]:
        return None, None, torch.sparse.mm(ctx.adj_t, grad)


def spmm(adj: Tensor, h: Tensor, adj_t: Tensor | None = None) -> Tensor:
    """``adj @ h`` with a fast backward.

    Args:
        adj: ``[N, M]`` sparse CSR (or dense) matrix.
        h: ``float32 [M, d]``.
        adj_t: ``adj``'s transpose as sparse CSR; ``None`` means ``adj`` is symmetric.

    Shapes:
        - **output:** ``float32 [N, d]``
    """
    if adj.layout == torch.strided:
        return adj @ h
    # Propagation stays in the adjacency's float32 even under bfloat16 autocast (which
    # covers only the dense projection): CUDA autocast would run the sparse product in
    # bf16, and cuSPARSE rejects a float32 matrix times a bf16 layer later on.
    with torch.autocast(h.device.type, enabled=False):
        return _SpMM.apply(adj, adj if adj_t is None else adj_t, h.to(adj.dtype))


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
          ``adj`` ``[N, N]`` sparse CSR (see :mod:`gnn.graph`)
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

    def propagate(self, h0: Tensor, adj: Tensor) -> list[Tensor]:
        """All layers ``[h_0, Â h_0, …, Â^L h_0]`` (each ``float32 [N, dim]``)."""
        layers = [h0]
        h = h0
        for _ in range(self.config.layers):
            h = spmm(adj, h)
            layers.append(h)
        return layers

    def forward(self, x: dict[str, Tensor], adj: Tensor, item_id_keep: Tensor | None = None
                ) -> Tensor:
        """Final embeddings ``float32 [N, dim]`` (layer mean)."""
        return self.forward_layers(x, adj, item_id_keep)[1]

    def forward_layers(self, x: dict[str, Tensor], adj: Tensor,
                       item_id_keep: Tensor | None = None,
                       text: dict[str, Tensor] | None = None) -> tuple[list[Tensor], Tensor]:
        """``(layers, final)``: every layer ``[N, dim]`` and their mean."""
        layers = self.propagate(self.layer0(x, item_id_keep, text), adj)
        return layers, torch.stack(layers, dim=0).mean(dim=0)

    def cold_item_embeddings(self, text: dict[str, Tensor], layers: list[Tensor],
                             item_attr: Tensor, attr_item: Tensor, attr_offset: int) -> Tensor:
        """Embeddings every item WOULD have with no interactions and no ID embedding.

        The same propagation rule, restricted to the item's attribute neighbours:
        ``c_0 = W x_i + b``, ``c_{l+1} = Σ_a h_l[a] / sqrt(n_attr(i) · d_a)`` with the
        attributes' layers ``h_l`` of the current graph; the result is the layer mean.
        This is exactly how :mod:`gnn.infer` embeds a new item, so training it (the
        "cold path" loss) is training the inference rule for unseen items.

        Args:
            text: :meth:`project`'s output.
            layers: the graph's layers from :meth:`forward_layers`.
            item_attr: ``[num_items, num_attributes]`` sparse CSR, values
                ``1 / sqrt(n_attr(i) · d_a)``; attr_item: its transpose.
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
            out.append(spmm(item_attr, h[attr_offset:attr_offset + n_a], attr_item))
        return torch.stack(out, dim=0).mean(dim=0)
