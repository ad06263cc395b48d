"""One training epoch of :class:`gnn.model.KGRecModel`: in-batch sampled softmax with
full-graph propagation, plus the cold-path loss.

Each step propagates the whole graph once (PyG ``LGConv`` layers over the graph's
``EdgeIndex``, fused into sparse products; no ``torch-sparse``/``pyg-lib``), takes a
batch of ``B`` training (user, item) pairs and minimises the softmax cross-entropy of
each user's positive against the batch's other positives at temperature ``τ``, with
the logQ correction of the in-batch (popularity) sampling. The cold-path loss (the
same softmax for the first :data:`COLD_ROWS` rows, items embedded as if new, users
detached) trains the rule that embeds cold and new items without slowing the warm
loss; it sees the text with ``text_dropout`` of the feature dimensions dropped, which
keeps that rule from fitting the warm items' exact text.

Scale and memory (float32, ``N`` nodes, ``nnz`` adjacency entries, ``d = dim``,
``L = layers``, ``D`` feature size): one step holds ``O(N·d·(L + 2) + nnz + N·D)``
floats plus ``(B + COLD_ROWS)·B`` logits and costs ``O(nnz·d·L + N·D·d)``, so memory
grows linearly with the graph (``benchmarks/train_scale.py``, ``docs/model.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from gnn.config import TrainConfig
from gnn.graph import HomogeneousGraph
from gnn.model import KGRecModel

__all__ = ["COLD_ROWS", "EpochInputs", "run_epoch", "sampled_softmax"]

#: batch rows that also get the cold-path loss (it updates the item side only)
COLD_ROWS = 256


@dataclass(eq=False)
class EpochInputs:
    """What every epoch of one training run shares.

    Attributes:
        graph: the homogeneous graph on the training device.
        x: text features per node type, on the device.
        pairs: ``int64 [2, E]`` distinct training ``(user, item)`` pairs.
        log_q: ``float32 [I]`` log-probability of each item as an in-batch negative.
        generator: draws dropout masks on the device.
    """

    graph: HomogeneousGraph
    x: dict[str, torch.Tensor]
    pairs: np.ndarray
    log_q: torch.Tensor
    generator: torch.Generator


def sampled_softmax(zu: torch.Tensor, zi: torch.Tensor, pos: torch.Tensor,
                    log_q: torch.Tensor, temperature: float) -> torch.Tensor:
    """In-batch sampled-softmax loss of cosine scores with logQ correction.

    Shapes:
        - ``zu``: ``[B, d]`` users; ``zi``: ``[C, d]`` items of the batch's positives
          ``pos`` (``C = len(pos) >= B``: the first ``B`` are the rows' positives)
        - output: scalar
    """
    zu, zi = F.normalize(zu, dim=1), F.normalize(zi, dim=1)
    logits = zu @ zi.T / temperature - log_q[pos].unsqueeze(0)
    # a column holding the row's own positive item is not a negative
    same = pos[:len(zu)].unsqueeze(1) == pos.unsqueeze(0)
    same[:, :len(zu)].fill_diagonal_(False)
    logits = logits.masked_fill(same, -torch.inf)
    return F.cross_entropy(logits, torch.arange(len(zu), device=zu.device))


def _step_loss(model: KGRecModel, inputs: EpochInputs, u: torch.Tensor, pos: torch.Tensor,
               config: TrainConfig, use_amp: bool) -> torch.Tensor:
    graph, x, gen = inputs.graph, inputs.x, inputs.generator
    n_i = graph.num_items
    _, off_i, off_a = graph.offsets
    device = u.device
    keep = torch.rand(n_i, device=device, generator=gen) >= config.id_dropout
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
        text = model.project(x)
        layers, z = model.forward_layers(x, graph.edge_index, graph.edge_weight, keep, text)
    zu = z[u]
    temperature = model.config.temperature
    loss = sampled_softmax(zu, z[off_i + pos], pos, inputs.log_q, temperature)
    if (config.cold_weight > 0 and graph.cold_edge_index is not None
            and graph.cold_edge_weight is not None):
        # the cold path trains the item side only (users detached), on the first rows
        text_c = model.project({"item": x["item"]}, config.text_dropout, gen) \
            if config.text_dropout else text
        zc = model.cold_item_embeddings(text_c, layers, graph.cold_edge_index,
                                        graph.cold_edge_weight, off_a)
        r = min(COLD_ROWS, len(pos))
        loss = loss + config.cold_weight * sampled_softmax(zu[:r].detach(), zc[pos], pos,
                                                           inputs.log_q, temperature)
    return loss


def run_epoch(model: KGRecModel, optimizer: torch.optim.Optimizer, inputs: EpochInputs,
              config: TrainConfig, rng: np.random.Generator) -> float:
    """One pass over the training pairs (or ``steps_per_epoch`` batches of them).

    Returns:
        The mean loss (one host sync per epoch: on a GPU a step is launch-bound, so
        steps are queued without waiting for each other).
    """
    assert config.batch_size is not None
    model.train()
    device = inputs.x["item"].device
    n_pairs = inputs.pairs.shape[1]
    b = min(config.batch_size, n_pairs)
    order = rng.permutation(n_pairs)
    starts = range(0, n_pairs - b + 1 if n_pairs >= b else 1, b)
    if config.steps_per_epoch:
        starts = starts[:config.steps_per_epoch]
    users = torch.from_numpy(inputs.pairs[0, order]).to(device)
    items = torch.from_numpy(inputs.pairs[1, order]).to(device)
    use_amp = device.type == "cuda"
    loss_sum = torch.zeros((), device=device)
    for start in starts:
        loss = _step_loss(model, inputs, users[start:start + b], items[start:start + b],
                          config, use_amp)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach()
    return loss_sum.item() / len(starts)
