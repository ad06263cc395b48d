"""``KGRecModel``: an inductive LightGCN over users, items and attribute nodes.

Layer 0 of every node is built from what the catalog knows about it::

    h0[v] = W_type · x_text[v] + b_type   (+ e_id[v] for warm nodes, if use_id)

then ``L`` parameter-free propagation steps ``h_{l+1} = Â h_l`` over the symmetric-
normalised user–item + item–attribute (+ user–attribute) graph, and the final
embedding is the layer mean ``z = mean_l h_l``. A user–item score is
``cos(z_u, z_i) / τ`` (or a dot product), so L2-normalised final embeddings serve
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
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gnn.long_tail import PAGE
from kgrec.errors import ConfigError

__all__ = ["NODE_TYPES", "STEP_DEFAULTS", "KGRecModel", "ModelConfig", "spmm"]

logger = logging.getLogger(__name__)

NODE_TYPES: tuple[str, str, str] = ("user", "item", "attribute")

#: ``(batch_size, lr)`` by device type when the config leaves them ``None``. A CUDA
#: step is launch-bound (its time hardly grows with the batch), so there fewer,
#: larger steps train faster; on a CPU a step costs in proportion to its batch, and
#: the larger batch needs about twice the epochs (MovieLens 100K: 25 vs 12).
STEP_DEFAULTS: dict[str, tuple[int, float]] = {"cpu": (1024, 0.03), "cuda": (2048, 0.05)}


@dataclass(frozen=True)
class ModelConfig:
    """Model and training hyper-parameters (saved in every checkpoint).

    Attributes:
        use_text: layer 0 includes a learned projection of the text features.
        use_attributes: attribute nodes and their edges are in the graph.
        use_id: warm users/items (and attribute nodes) get a learnable ID embedding.
        use_user_attributes: user–attribute (profile) edges, when ``use_attributes``.
        dim: embedding size.
        layers: propagation steps ``L`` (final embedding = mean of ``L + 1`` layers).
        temperature: softmax temperature ``τ`` of the cosine score.
        cosine: score by cosine (True) or by dot product.
        id_dropout: probability of dropping an item's ID embedding in a training step.
        text_dropout: probability of dropping each text-feature dimension in the
            cold-path loss (one mask per step, shared by all items); it keeps the rule
            that embeds cold items from fitting the warm items' exact text.
        uniform_negatives: uniformly sampled negative items added to the in-batch ones.
        logq: strength ``α`` of the logQ correction (``logit -= α log p_item``); 0 keeps
            in-batch softmax's popularity debiasing, 1 removes it.
        cold_weight: weight of the cold-path loss: the same softmax with items embedded
            as if they had no interactions and no ID (see
            :meth:`KGRecModel.cold_item_embeddings`); trains the rule that embeds
            cold and newly added items. 0 turns it off.
        cold_rows: batch rows that also get the cold-path loss; it updates the item
            side only (user embeddings are detached in it), so it does not slow down
            the warm loss.
        lr: Adam learning rate; ``None`` = the device's default (:data:`STEP_DEFAULTS`).
        weight_decay: L2 penalty on layer-0 parameters (Adam ``weight_decay``).
        batch_size: (user, item) positives per step; in-batch negatives scale with it.
            ``None`` = the device's default (:data:`STEP_DEFAULTS`).
        max_epochs: epoch cap; early stopping usually ends training earlier.
        steps_per_epoch: batches per epoch; 0 = one pass over all training pairs. On
            large graphs a fixed number (pairs drawn afresh each epoch) evaluates and
            early-stops more often.
        patience: epochs without a better validation NDCG@20 before stopping.
        refit_fraction: the refit on all training pairs (:func:`gnn.train.refit`)
            continues from the early-stopped weights for this fraction of its epochs.
        eval_every: epochs between validation evaluations.
        seed: torch and NumPy seed.
        device: ``"auto"`` (cuda if available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        amp: bfloat16 autocast for the dense layer-0 projection on CUDA.
        id_init_std: standard deviation of the ID embeddings at initialisation.
        item_item: add the EASE item–item term beside the GNN score (with ``use_id``;
            see :mod:`gnn.item_item`).
        item_item_lambda, item_item_weight: its ``λ`` and ``β``; ``None`` = chosen on
            the validation split.
        item_item_max_items: skip the term above this many items (``O(I²)`` memory).
        content_columns: give items without interactions item–item columns predicted
            from their attributes and text (:mod:`gnn.content_columns`).
        content_mu, content_text_weight, content_scale: its ridge ``μ``, text weight
            ``t`` and calibration ``c``; ``None`` = chosen on a pseudo-cold split of the
            training items.
        tail_slots: long-tail slots per page of ten of ``recommend(long_tail=True)`` (the
            last ``m`` positions of each page hold the best tail items, ``m`` may be
            fractional, see :mod:`gnn.long_tail`); ``None`` = chosen on the validation
            split, 0 = off.
        tail_budget: relative validation NDCG@20 loss the chosen slots may cost.
    """

    use_text: bool = True
    use_attributes: bool = True
    use_id: bool = True
    use_user_attributes: bool = True
    dim: int = 64
    layers: int = 2
    temperature: float = 0.15
    cosine: bool = True
    id_dropout: float = 0.5
    text_dropout: float = 0.7
    uniform_negatives: int = 0
    logq: float = 1.0
    cold_weight: float = 3.0
    cold_rows: int = 256
    lr: float | None = None
    weight_decay: float = 0.0
    batch_size: int | None = None
    max_epochs: int = 100
    steps_per_epoch: int = 0
    patience: int = 4
    refit_fraction: float = 0.3
    eval_every: int = 1
    seed: int = 2026
    device: str = "auto"
    amp: bool = True
    id_init_std: float = 0.3
    item_item: bool = True
    item_item_lambda: float | None = None
    item_item_weight: float | None = None
    item_item_max_items: int = 20_000
    content_columns: bool = True
    content_mu: float | None = None
    content_text_weight: float | None = None
    content_scale: float | None = None
    tail_slots: float | None = None
    tail_budget: float = 0.03

    def __post_init__(self) -> None:
        if not (self.use_text or self.use_id):
            raise ConfigError("ModelConfig: at least one of use_text and use_id must be True")
        checks = {"dim": self.dim >= 1, "layers": self.layers >= 0,
                  "temperature": self.temperature > 0, "id_dropout": 0 <= self.id_dropout < 1,
                  "text_dropout": 0 <= self.text_dropout < 1,
                  "uniform_negatives": self.uniform_negatives >= 0,
                  "lr": self.lr is None or self.lr > 0, "weight_decay": self.weight_decay >= 0,
                  "batch_size": self.batch_size is None or self.batch_size >= 2,
                  "max_epochs": self.max_epochs >= 1, "patience": self.patience >= 1,
                  "steps_per_epoch": self.steps_per_epoch >= 0,
                  "eval_every": self.eval_every >= 1, "cold_rows": self.cold_rows >= 1,
                  "refit_fraction": 0 < self.refit_fraction <= 1,
                  "tail_slots": self.tail_slots is None or 0 <= self.tail_slots <= PAGE,
                  "tail_budget": 0 <= self.tail_budget < 1}
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(f"ModelConfig.{name}: invalid value {getattr(self, name)!r}")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ConfigError(f"ModelConfig.device must be auto, cpu, cuda or cuda:N; "
                              f"got {self.device!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of all fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`ConfigError`."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"ModelConfig: unknown keys {unknown}; valid keys: {sorted(known)}")
        return cls(**data)

    def for_device(self, device_type: str) -> ModelConfig:
        """This config with ``batch_size`` and ``lr`` filled in for ``device_type``
        (``"cpu"`` or ``"cuda"``) where they are ``None``."""
        batch, lr = STEP_DEFAULTS["cuda" if device_type == "cuda" else "cpu"]
        return replace(self, batch_size=self.batch_size or batch, lr=self.lr or lr)


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
                nn.init.normal_(e.weight, std=config.id_init_std)
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
