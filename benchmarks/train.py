"""Benchmark training: kgrec to convergence vs PyG LightGCN (BPR), same split, same run.

On the W split (seed 2026) of a dataset (default MovieLens 100K):

1. **kgrec** trains exactly as ``kgrec train`` and the harness do: early stopping on
   validation NDCG@20, then a refit on all train pairs from those weights (the
   item–item term and long-tail slots are chosen in the first run). Reported: epochs,
   seconds per epoch, seconds to the best epoch ("convergence"), total seconds
   (early-stopped run + refit), peak memory, validation NDCG@20.
2. **LightGCN** (``torch_geometric.nn.models.LightGCN``, 64-d, 3 layers, BPR, lr 1e-3,
   the harness baseline) for ``--lightgcn-epochs`` epochs (default 20): its seconds per
   epoch. Its time to convergence is that × ``--lightgcn-converge`` epochs (default 790,
   the epoch count its validation picked on MovieLens 100K, seed 2026, in the
   evaluation harness); ``--lightgcn-epochs 790`` measures it outright.

Peak memory: the process's resident-set growth while training (sampled every 10 ms),
and ``torch.cuda.max_memory_allocated`` on a GPU. A one-step warm-up on a tiny graph
runs first, so neither model's time includes one-time process costs (the CUDA
context). Prints a Markdown table, writes ``benchmarks/results/train.json`` and a
training-curve PNG beside it (``train.png``).

``--compare-propagation`` measures instead the PyG propagation
(``gnn.model.NormalizedLGConv`` over the graph's ``EdgeIndex``) against its reference,
the hand-written CSR product (``ReferenceConv``, what kgrec used before PyG layers), in
one run: both train the same model from the same seed for ``--compare-epochs`` epochs,
``--compare-repeats`` times each, in alternating order (so load drifts hit both), and a
propagation-only step (``L`` layers and the cold path, forward and backward) is timed
the same way. It reports the median seconds per epoch and per propagation step, the
ratio new/old, and the largest difference between the two paths' losses and final
embeddings (0 when the maths is the same), and writes
``benchmarks/results/train_propagation.json``.

Run: ``.venv/bin/python benchmarks/train.py [--dataset DIR|movielens:PATH] [--device cuda]
[--out FILE.json] [--features FILE.npz | --save-features FILE.npz] [--set KEY=VALUE ...]
[--threads N] [--compare-propagation [--compare-epochs 2] [--compare-repeats 2]]``
(``--features`` runs on a machine without the text encoder, e.g. a GPU box: save them
here first; ``--set`` changes a :class:`gnn.config.KGRecConfig` field by name, in whichever
section holds it (``KGRecConfig.with_overrides``), e.g. a larger GPU batch).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from _machine import (
    DEFAULT_DATASET,
    ROOT,
    load_features,
    machine_info,
    peak_memory,
    timed,
    warm_up_training,
)

TARGET_CPU_S, TARGET_GPU_S = 60.0, 10.0


def overrides(items: list[str]) -> dict[str, Any]:
    """``["batch_size=2048", "lr=0.05"]`` -> ``{"batch_size": 2048, "lr": 0.05}`` (JSON
    values; anything else is a string)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set {item!r}: expected KEY=VALUE")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def bench_kgrec(split: Any, features: Any, device: str, plot: Path,
                changes: dict[str, Any]) -> dict[str, Any]:
    from gnn.config import KGRecConfig
    from gnn.curves import plot_history
    from gnn.train import refit, train_model

    config = KGRecConfig().with_overrides(**{**changes, "device": device, "seed": split.seed})
    out: dict[str, Any] = {}
    with peak_memory(out, device):
        first, first_s = timed(lambda: train_model(
            split.fit_train, features, config, split.valid, show_progress=True,
            valid_candidates=split.valid_candidates))
        _, refit_s = timed(lambda: refit(first, split.train, features, show_progress=True))
    h = first.history
    best = h["epoch"].index(first.best_epoch)
    epochs = h["epoch"][-1]
    plot_history(h, str(plot))
    return {**out, "device": first.device, "config_changes": changes, "epochs": epochs,
            "best_epoch": first.best_epoch,
            "seconds_per_epoch": round(h["seconds"][-1] / epochs, 3),
            "seconds_to_best": round(h["seconds"][best], 2),
            "early_stopped_run_s": round(first_s, 2), "refit_s": round(refit_s, 2),
            "total_s": round(first_s + refit_s, 2),
            "val_ndcg20": round(float(first.history["val_ndcg"][best]), 4),
            "item_item_weight": first.trained.info.get("item_item_weight"),
            "tail_slots": first.trained.info.get("tail_slots")}


def bench_lightgcn(split: Any, device: str, epochs: int, converge: int) -> dict[str, Any]:
    from gnn.baselines.lightgcn import LightGCNRanker

    ranker = LightGCNRanker(epochs=epochs, show_progress=True)
    out: dict[str, Any] = {}
    with peak_memory(out, device):
        _, seconds = timed(lambda: ranker._train(split.train, epochs, split.seed, device))
    per_epoch = seconds / epochs
    return {**out, "device": device, "epochs_measured": epochs,
            "seconds_per_epoch": round(per_epoch, 3),
            "converge_epochs": converge, "seconds_to_converge": round(per_epoch * converge, 1),
            "measured_outright": epochs >= converge}


def _reference_conv() -> Any:  # built lazily: torch import
    import torch

    class _SpMM(torch.autograd.Function):
        """``adj @ h`` whose backward is ``adj_t @ grad``: kgrec's pre-PyG ``spmm``."""

        @staticmethod
        def forward(ctx, adj, adj_t, h):  # type: ignore[no-untyped-def]
            ctx.adj_t = adj_t
            return torch.sparse.mm(adj, h)

        @staticmethod
        def backward(ctx, grad):  # type: ignore[no-untyped-def]
            return None, None, torch.sparse.mm(ctx.adj_t, grad)

    class ReferenceConv(torch.nn.Module):
        """Drop-in for ``NormalizedLGConv``: the hand-written sparse product over CSR
        matrices (``Wᵀ`` forward, ``W`` backward) built once per edge set."""

        def __init__(self) -> None:
            super().__init__()
            self._csr: dict[int, tuple[Any, Any]] = {}

        def _matrices(self, edge_index: Any, weight: Any) -> tuple[Any, Any]:
            if id(edge_index) not in self._csr:
                w_t = edge_index.to_sparse_csc(weight).t()
                w_t = torch.sparse_csr_tensor(w_t.crow_indices(), w_t.col_indices(),
                                              w_t.values(), size=w_t.shape)
                if edge_index.is_undirected:
                    self._csr[id(edge_index)] = (w_t, w_t)
                else:
                    (rowptr, col), perm = edge_index.get_csr()
                    w = torch.sparse_csr_tensor(rowptr, col, weight[perm],
                                                size=tuple(edge_index.get_sparse_size()))
                    self._csr[id(edge_index)] = (w_t, w)
            return self._csr[id(edge_index)]

        def forward(self, x: Any, edge_index: Any, edge_weight: Any) -> Any:
            w_t, w = self._matrices(edge_index, edge_weight)
            with torch.autocast(x.device.type, enabled=False):
                return _SpMM.apply(w_t, w, x.float())

    return ReferenceConv


def _compare_run(path: str, snapshot: Any, features: Any, config: Any, epochs: int,
                 device: Any) -> dict[str, Any]:
    """Train ``epochs`` epochs from the seed with ``path``'s propagation; time them."""
    import numpy as np
    import torch

    from gnn.epoch import run_epoch
    from gnn.train import _epoch_inputs, _new_model

    cfg = config.train.for_device(device.type)
    torch.manual_seed(cfg.seed)
    inputs, seen = _epoch_inputs(snapshot, features, config.model.use_attributes, cfg.seed,
                                 device)
    model = _new_model(config, snapshot, features, seen, None, device)
    if path == "reference":
        model.convs = torch.nn.ModuleList(_reference_conv()() for _ in model.convs)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=device.type == "cuda")
    rng = np.random.default_rng(cfg.seed)
    seconds, losses = [], []
    for _ in range(epochs):
        loss, s = timed(lambda: run_epoch(model, optimizer, inputs, cfg, rng))
        seconds.append(s)
        losses.append(loss)
    g = inputs.graph
    with torch.no_grad():
        z = model(inputs.x, g.edge_index, g.edge_weight).float().cpu()
    h0 = torch.randn(g.num_nodes, model.config.dim, device=device, requires_grad=True)

    def step() -> None:  # propagation only: L layers and the cold path, both passes
        layers = model.propagate(h0, g.edge_index, g.edge_weight)
        cold = model.cold_item_embeddings({}, layers, g.cold_edge_index, g.cold_edge_weight,
                                          g.offsets[2])
        (torch.stack(layers).sum() + cold.sum()).backward()
        if device.type == "cuda":
            torch.cuda.synchronize()

    step()
    prop = [timed(step)[1] for _ in range(20)]
    return {"epoch_s": seconds, "loss": losses, "propagation_step_s": prop, "z": z}


def compare_propagation(split: Any, features: Any, device: str, epochs: int, repeats: int,
                        changes: dict[str, Any]) -> dict[str, Any]:
    """The PyG propagation vs the hand-written reference, alternating runs (see the
    module docstring)."""
    import statistics

    from gnn.config import KGRecConfig
    from gnn.train import resolve_device

    config = KGRecConfig().with_overrides(**{**changes, "device": device, "seed": split.seed})
    dev = resolve_device(device)
    runs: dict[str, list[dict[str, Any]]] = {"reference": [], "pyg": []}
    for repeat in range(repeats):  # ABBA order: a load drift favours neither path
        for path in sorted(runs, reverse=bool(repeat % 2)):
            runs[path].append(_compare_run(path, split.train, features, config, epochs, dev))
    out: dict[str, Any] = {"epochs_per_run": epochs, "repeats": repeats,
                           "config_changes": changes}
    for path, rs in runs.items():
        epoch_s = [s for r in rs for s in r["epoch_s"]]
        prop_s = [s for r in rs for s in r["propagation_step_s"]]
        out[path] = {"epoch_s": [round(s, 3) for s in epoch_s],
                     "median_epoch_s": round(statistics.median(epoch_s), 3),
                     "median_propagation_step_ms": round(1e3 * statistics.median(prop_s), 2),
                     "loss": rs[0]["loss"]}
    ref, new = runs["reference"][0], runs["pyg"][0]
    out["ratio_new_over_old_epoch"] = round(
        out["pyg"]["median_epoch_s"] / out["reference"]["median_epoch_s"], 3)
    out["ratio_new_over_old_propagation"] = round(
        out["pyg"]["median_propagation_step_ms"]
        / out["reference"]["median_propagation_step_ms"], 3)
    out["max_abs_loss_diff"] = max(abs(a - b) for a, b in zip(ref["loss"], new["loss"],
                                                              strict=True))
    out["max_abs_embedding_diff"] = float((ref["z"] - new["z"]).abs().max())
    return out


def _comparison_table(cmp: dict[str, Any], title: str) -> str:
    rows = [f"| {name} | {cmp[key]['median_epoch_s']:.2f} | "
            f"{cmp[key]['median_propagation_step_ms']:.1f} | {cmp[key]['loss'][-1]:.4f} |"
            for key, name in (("reference", "hand-written CSR spmm (old)"),
                              ("pyg", "PyG NormalizedLGConv over EdgeIndex (new)"))]
    return (f"{title}\n\n| propagation | median s/epoch | median propagation step ms | "
            f"loss after {cmp['epochs_per_run']} epochs |\n|---|---|---|---|\n"
            + "\n".join(rows)
            + f"\n\nnew/old: epoch {cmp['ratio_new_over_old_epoch']:.3f}, propagation "
              f"{cmp['ratio_new_over_old_propagation']:.3f}; largest difference between the "
              f"paths: loss {cmp['max_abs_loss_diff']:.2e}, final embeddings "
              f"{cmp['max_abs_embedding_diff']:.2e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default=DEFAULT_DATASET)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--lightgcn-epochs", type=int, default=20)
    ap.add_argument("--lightgcn-converge", type=int, default=790)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "train.json",
                    help="results JSON; the training-curve PNG is written beside it")
    ap.add_argument("--features", type=Path, default=None,
                    help="read node features from this .npz instead of encoding the texts")
    ap.add_argument("--save-features", type=Path, default=None,
                    help="also save the node features to this .npz (for --features)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="kgrec KGRecConfig field change, repeatable (e.g. --set batch_size=2048)")
    ap.add_argument("--compare-propagation", action="store_true",
                    help="time the PyG propagation against the hand-written reference instead")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads (default: torch's; 1 is steadier on a busy machine)")
    ap.add_argument("--compare-epochs", type=int, default=2)
    ap.add_argument("--compare-repeats", type=int, default=2)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from gnn.evaluate import _features
    from gnn.split import make_split
    from ingest import read_dataset
    from kgrec.settings import Settings

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    machine = machine_info(("torch", "torch-geometric", "numpy", "kgrec"))
    data = read_dataset(args.dataset)
    snapshot = data.to_snapshot()
    if args.features is not None:
        features = load_features(args.features, snapshot.num_items)
    else:
        features = _features(snapshot, None, Settings.from_env(), False)
    if args.save_features is not None:
        import numpy as np

        np.savez(args.save_features, item=features.item, attribute=features.attribute,
                 user=features.user, encoder_id=features.encoder_id)
    split = make_split(snapshot, "w", args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    warm_up_training(args.device)  # so no model's time includes the CUDA context
    if args.compare_propagation:
        out = args.out if args.out.name != "train.json" else \
            args.out.with_name("train_propagation.json")
        cmp = compare_propagation(split, features, args.device, args.compare_epochs,
                                  args.compare_repeats, overrides(args.set))
        table = _comparison_table(cmp, (
            f"dataset {data.name}, W split seed {args.seed} (train pairs), changes "
            f"{overrides(args.set) or 'none'}, device {args.device} ({machine['cpu']}, "
            f"{machine['cores']} cores, {machine['torch_threads']} torch threads, "
            f"{machine['gpu'] or 'no GPU'}), load at start "
            f"{[round(x, 1) for x in machine['load_average_at_start']]}"))
        print(table)
        out.write_text(json.dumps({"dataset": data.name, "spec": args.dataset,
                                   "seed": args.seed, "machine": machine, **cmp,
                                   "table": table}, indent=2))
        print(f"\nwrote {out}")
        return
    kgrec = bench_kgrec(split, features, args.device, args.out.with_suffix(".png"),
                        overrides(args.set))
    lightgcn = bench_lightgcn(split, args.device, args.lightgcn_epochs, args.lightgcn_converge)
    target = TARGET_GPU_S if args.device.startswith("cuda") else TARGET_CPU_S
    speedup = lightgcn["seconds_to_converge"] / kgrec["total_s"]
    gpu = machine["gpu"] or "no GPU"
    kgrec_row = (
        f"| kgrec | {kgrec['epochs']} (best {kgrec['best_epoch']}) | "
        f"{kgrec['seconds_per_epoch']:.2f} | {kgrec['seconds_to_best']:.1f} | "
        f"{kgrec['total_s']:.1f} | {kgrec['peak_rss_growth_mb']:.0f} | {kgrec['val_ndcg20']} |")
    lightgcn_row = (
        f"| LightGCN (PyG, BPR) | {lightgcn['converge_epochs']} "
        f"({'measured' if lightgcn['measured_outright'] else 'epoch time × epochs'}) | "
        f"{lightgcn['seconds_per_epoch']:.2f} | — | {lightgcn['seconds_to_converge']:.0f} | "
        f"{lightgcn['peak_rss_growth_mb']:.0f} | — |")
    title = (f"dataset {data.name}, W split seed {args.seed}, device {args.device} "
             f"({machine['cpu']}, {machine['cores']} cores, {gpu})")
    header = ("| model | epochs | s/epoch | s to best epoch | total s (incl. refit) | "
              "peak RSS growth MB | val NDCG@20 |")
    verdict = (f"kgrec total training time {kgrec['total_s']:.1f} s = "
               f"{1 / speedup:.2f}× LightGCN's {lightgcn['seconds_to_converge']:.0f} s; "
               f"target <= {target:.0f} s: {'met' if kgrec['total_s'] <= target else 'NOT met'}")
    table = (f"{title}\n\n{header}\n|---|---|---|---|---|---|---|\n{kgrec_row}\n"
             f"{lightgcn_row}\n\n{verdict}")
    print(table)
    args.out.write_text(json.dumps({
        "dataset": data.name, "spec": args.dataset, "seed": args.seed, "machine": machine,
        "kgrec": kgrec, "lightgcn": lightgcn, "speedup_vs_lightgcn": round(speedup, 2),
        "target_s": target, "met": kgrec["total_s"] <= target, "table": table}, indent=2))
    print(f"\nwrote {args.out} and {args.out.with_suffix('.png').name}")


if __name__ == "__main__":
    main()
