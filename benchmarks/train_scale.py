"""How training memory and step time grow with the graph: measured, then extrapolated.

Synthetic catalogs of growing size (the built-in generator; ~17 interactions per
user after repeats, 169 attribute nodes) are trained for a fixed number of steps
with the default model (64-d, 2 layers, batch 1,024, 384-d features; the item–item
term and long-tail choice, which are ``O(I²)`` and skipped above 20k items, are off).
The text features are random unit vectors: memory and time do not depend on their
values, and encoding 150k texts would dominate the run. Per size it reports

- **inputs**: the snapshot's arrays and the features, held before training starts;
- **training peak**: the process's peak resident-set growth while training (graph
  build, model, Adam state, activations and gradients of the full-graph steps);
- **s/step**: time per training step, from two runs of different step counts (so the
  graph build and export cancel out).

A least-squares line ``MB = a + b · nodes`` through the measured totals (the
synthetic graphs keep edges ∝ nodes, so this is the per-node cost at that density)
gives the largest graph that fits in a memory budget: 80% of this machine's RAM, and
80% of an 80 GB GPU (the same tensors; CUDA context excluded). With ``--device cuda``
the memory is the GPU's (``torch.cuda.max_memory_allocated``: graph, features and
training state all live there) and the limits are for that GPU and an 80 GB one. Prints a Markdown table,
writes ``benchmarks/results/<name>.json`` (``--name``, default ``train_scale``) and a PNG.

Run: ``.venv/bin/python benchmarks/train_scale.py [--sizes 20000x10000,50000x25000,...]``
(default three sizes up to 150k nodes / 3.6M directed interaction edges, ~5 min here)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from _machine import ROOT, machine_info, peak_memory, timed, warm_up_training

DEFAULT_SIZES = "20000x10000,50000x25000,100000x50000"
GPU_BYTES = 80 * 10**9
BUDGET = 0.8


def _mb(*arrays: np.ndarray) -> float:
    return sum(a.nbytes for a in arrays) / 2**20


def bench_size(n_users: int, n_items: int, steps: tuple[int, int], device: str
               ) -> dict[str, Any]:
    """Train ``steps[0]`` and ``steps[1]`` steps on one synthetic size; measure both."""
    from gnn.config import KGRecConfig
    from gnn.features import NodeFeatures
    from gnn.graph import build_homogeneous
    from gnn.train import train_model
    from ingest.synthetic import generate_synthetic

    snap = generate_synthetic(n_users, n_items, seed=1).to_dataset().to_snapshot()
    rng = np.random.default_rng(0)

    def unit(n: int) -> np.ndarray:
        x = rng.standard_normal((n, 384), dtype=np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    feats = NodeFeatures(item=unit(snap.num_items), attribute=unit(snap.num_attributes),
                         user=unit(snap.num_users), encoder_id="random")
    graph = build_homogeneous(snap)
    nnz = int(graph.adj._nnz())
    del graph
    inputs = _mb(snap.interaction_index, snap.interaction_weight, snap.interaction_ts,
                 snap.item_attribute_index, snap.user_attribute_index,
                 feats.item, feats.attribute, feats.user)
    out: dict[str, Any] = {"users": n_users, "items": n_items,
                           "nodes": snap.num_users + snap.num_items + snap.num_attributes,
                           "interactions": snap.num_interactions, "adjacency_nnz": nnz,
                           "inputs_mb": round(inputs, 1)}
    warm_up_training(device)  # torch's lazy imports (~200 MB, ~3 s) stay out of the figures
    seconds, peak, gpu_peak = [], 0.0, 0.0
    for n in steps:
        config = KGRecConfig().with_overrides(max_epochs=1, steps_per_epoch=n, item_item=False,
                                              tail_slots=0, device=device)
        mem: dict[str, float] = {}
        with peak_memory(mem, device):
            _, s = timed(lambda c=config: train_model(snap, feats, c, show_progress=False))
        seconds.append(s)
        # the first run's peak holds (the allocator keeps freed memory for the second)
        peak = max(peak, mem["peak_rss_growth_mb"])
        gpu_peak = max(gpu_peak, mem.get("cuda_peak_mb", 0.0))
    out["peak_rss_growth_mb"] = peak
    out["seconds_per_step"] = round((seconds[1] - seconds[0]) / (steps[1] - steps[0]), 4)
    out["seconds_fixed"] = round(seconds[0] - steps[0] * out["seconds_per_step"], 2)
    out["total_mb"] = round(out["inputs_mb"] + out["peak_rss_growth_mb"], 1)
    if device.startswith("cuda"):  # the GPU holds the graph, features and training state
        out["cuda_peak_mb"] = out["total_mb"] = gpu_peak
    return out


def plot(rows: list[dict[str, Any]], line: tuple[float, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nodes = np.array([r["nodes"] for r in rows], dtype=float)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(nodes, [r["total_mb"] for r in rows], "o", label="measured")
    grid = np.linspace(0, nodes.max() * 1.1, 50)
    ax1.plot(grid, line[0] + line[1] * grid, "--", label="fit")
    ax1.set(xlabel="nodes", ylabel="peak MB (inputs + training)", title="memory")
    ax1.legend()
    ax2.plot(nodes, [r["seconds_per_step"] for r in rows], "o-")
    ax2.set(xlabel="nodes", ylabel="s / step", title="step time")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="USERSxITEMS,...")
    parser.add_argument("--steps", default="3,13", help="two step counts, e.g. 3,13")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--name", default="train_scale", help="file stem of the JSON and PNG")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # one size, in a fresh process
    args = parser.parse_args()
    steps = tuple(int(s) for s in args.steps.split(","))
    if len(steps) != 2 or steps[1] <= steps[0]:
        parser.error("--steps needs two increasing counts")
    if args.one:
        users, items = (int(x) for x in args.one.split("x"))
        print(json.dumps(bench_size(users, items, (steps[0], steps[1]), args.device)))
        return
    rows = []
    for size in args.sizes.split(","):  # a process per size: no memory carried over
        run = subprocess.run([sys.executable, __file__, "--one", size, "--steps", args.steps,
                              "--device", args.device], capture_output=True, text=True,
                             check=True)
        rows.append(json.loads(run.stdout.strip().splitlines()[-1]))
        print(f"{size}: {rows[-1]}", flush=True)

    nodes = np.array([r["nodes"] for r in rows], dtype=float)
    total = np.array([r["total_mb"] for r in rows])
    slope, intercept = np.polyfit(nodes, total, 1) if len(rows) > 1 else (total[0] / nodes[0], 0.0)
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if args.device.startswith("cuda"):
        import torch

        memory = torch.cuda.get_device_properties(0).total_memory
    per_node_edges = np.mean([r["adjacency_nnz"] / r["nodes"] for r in rows])
    limits = {}
    here = "this_gpu" if args.device.startswith("cuda") else "cpu_ram"
    for name, budget in ((here, BUDGET * memory), ("gpu_80gb", BUDGET * GPU_BYTES)):
        n = (budget / 2**20 - intercept) / slope
        limits[name] = {"budget_gb": round(budget / 1e9, 1), "max_nodes": int(n),
                        "max_adjacency_nnz": int(n * per_node_edges)}
    lines = [("| users × items | nodes | adjacency nnz | inputs MB | training peak MB | "
              f"total MB ({'GPU' if args.device.startswith('cuda') else 'RAM'}) | s/step |"),
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['users']:,} × {r['items']:,} | {r['nodes']:,} | "
                     f"{r['adjacency_nnz']:,} | {r['inputs_mb']:.0f} | "
                     f"{r['peak_rss_growth_mb']:.0f} | {r['total_mb']:.0f} | "
                     f"{r['seconds_per_step']:.3f} |")
    lines += ["", (f"memory ≈ {intercept:.0f} MB + {slope * 1e3:.1f} MB per 1k nodes "
                   f"(~{per_node_edges:.0f} adjacency entries per node)")]
    for name, lim in limits.items():
        lines.append(f"- {name}: {BUDGET:.0%} of {lim['budget_gb'] / BUDGET:.0f} GB fits "
                     f"~{lim['max_nodes'] / 1e6:.1f}M nodes / "
                     f"{lim['max_adjacency_nnz'] / 1e6:.0f}M adjacency entries")
    table = "\n".join(lines)
    machine = machine_info(("torch", "numpy", "kgrec"))
    print(f"training scale, device {args.device} ({machine['cpu']}, {machine['cores']} cores)"
          f"\n\n{table}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps({
        "machine": machine, "device": args.device, "steps": steps, "rows": rows,
        "fit_mb": {"intercept": round(float(intercept), 1),
                   "per_node": round(float(slope), 5)},
        "limits": limits, "table": table}, indent=2))
    plot(rows, (float(intercept), float(slope)), args.out / f"{args.name}.png")
    print(f"\nwrote {args.out / args.name}.json and .png")


if __name__ == "__main__":
    main()
