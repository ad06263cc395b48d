"""Benchmark a serving process's start: ``Recommender()`` time and memory, before and after
issue 25 (serving from the checkpoint plus Neo4j changes instead of a full export), in
one run on the same data.

For each code version (``--baseline-ref``, checked out into a temporary git worktree,
and the working tree) the script starts a local Neo4j under its own temporary
``KGREC_HOME``, loads the dataset (default MovieLens 100K), trains a short model
(``--epochs``) and then, ``--repeats`` times, starts a fresh Python process that
measures, from ``/proc/self/status``:

- the RSS and time of importing the facade (``kgrec.recommender``), and whether that
  import pulled in torch;
- ``Recommender()``: seconds and RSS added over the imports;
- the first ``recommend`` call, and RSS after it.

It also reads the serving state's arrays of the current version and reports them as
bytes per item, per user and per interaction (the dense item–item matrix apart: it is
``O(items²)``), so the size at 10⁶ items can be read off.

Prints a Markdown table and writes ``benchmarks/results/startup.json`` (medians).

Run: ``.venv/bin/python benchmarks/startup.py [--dataset movielens:PATH] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from _machine import DEFAULT_DATASET, ROOT, machine_info

PROBE = r"""
import json, os, sys, time

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
out = {"rss_start_mb": rss_mb()}
t0 = time.perf_counter()
import kgrec.recommender
from kgrec.settings import Settings
out["import_s"] = time.perf_counter() - t0
out["rss_imports_mb"] = rss_mb()
out["torch_imported"] = "torch" in sys.modules
t0 = time.perf_counter()
rec = kgrec.recommender.Recommender(Settings.from_env())
out["start_s"] = time.perf_counter() - t0
out["rss_ready_mb"] = rss_mb()
t0 = time.perf_counter()
rec.recommend(sys.argv[1], k=10)
out["first_recommend_s"] = time.perf_counter() - t0
out["rss_after_recommend_mb"] = rss_mb()
out["torch_imported_after"] = "torch" in sys.modules
if hasattr(rec, "state"):
    sys.path.insert(0, sys.argv[2])
    from startup import state_bytes
    out["state"] = state_bytes(rec.state)
rec.close()
print("PROBE " + json.dumps(out))
"""


def state_bytes(state: Any) -> dict[str, float]:
    """Bytes of the serving state's arrays per item, user and interaction."""
    model = state.model
    graph = model.graph
    n_i, n_u = model.num_items, model.num_users
    nnz = graph.interactions.nnz
    n_nodes = model.layers.shape[1]
    per_node = model.layers.nbytes / n_nodes + model.degree.nbytes / n_nodes
    item = (model.item_emb.nbytes + graph.item_hashes.nbytes + model.item_has_id.nbytes
            + graph.item_attributes.indices.nbytes + graph.item_attributes.indptr.nbytes)
    user = (model.user_emb.nbytes + graph.user_attributes.indices.nbytes
            + graph.user_attributes.indptr.nbytes + graph.interactions.indptr.nbytes)
    term = model.item_item
    dense = float(term.weights.nbytes) if term is not None else 0.0
    content = float(term.content_map.nbytes) if term is not None and \
        term.content_map is not None else 0.0
    return {"items": n_i, "users": n_u, "interactions": nnz,
            "bytes_per_item": item / n_i + per_node + content / n_i,
            "bytes_per_user": user / n_u + per_node,
            "bytes_per_interaction": (graph.interactions.indices.nbytes
                                      + graph.interactions.data.nbytes) / max(nnz, 1),
            "item_item_dense_bytes": dense,
            "item_item_bytes_at_1M_items": 4.0 * 1e6 * 1e6 if dense else 0.0}


def _kgrec(tree: Path, env: dict[str, str], *args: str) -> str:
    cmd = [sys.executable, "-c", "from kgrec.cli import main; main()", *args]
    res = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise SystemExit(f"`kgrec {' '.join(args)}` failed in {tree}:\n{res.stderr[-3000:]}")
    return res.stdout


def _probe(tree: Path, env: dict[str, str], user: str) -> dict[str, Any]:
    res = subprocess.run([sys.executable, "-c", PROBE, user, str(ROOT / "benchmarks")],
                         cwd=tree, env=env, capture_output=True, text=True, check=False)
    line = next((ln for ln in res.stdout.splitlines() if ln.startswith("PROBE ")), None)
    if line is None:
        raise SystemExit(f"probe failed in {tree}:\n{res.stderr[-3000:]}")
    return dict(json.loads(line[len("PROBE "):]))


def _load_args(dataset: str) -> list[str]:
    kind, _, rest = dataset.partition(":")
    if kind == "synthetic":
        users, items = rest.split(",")[:2]
        return ["synthetic", "--users", users, "--items", items]
    return [kind, rest]


def measure(name: str, tree: Path, dataset: str, epochs: int, repeats: int,
            user: str) -> dict[str, Any]:
    """Load, train and probe one code version under a temporary ``KGREC_HOME``."""
    with tempfile.TemporaryDirectory(prefix=f"kgrec-startup-{name}-") as home:
        env = {**os.environ, "KGREC_HOME": home, "PYTHONPATH": str(tree),
               "KGREC_NEO4J_HEAP": "1g", "KGREC_NEO4J_PAGECACHE": "512m"}
        env.pop("NEO4J_URI", None)
        _kgrec(tree, env, "-q", "db", "start")
        try:
            _kgrec(tree, env, "-q", "load", *_load_args(dataset))
            _kgrec(tree, env, "-q", "train", "--epochs", str(epochs), "--device", "cpu")
            runs = [_probe(tree, env, user) for _ in range(repeats)]
        finally:
            _kgrec(tree, env, "-q", "db", "stop")
    keys = [k for k in runs[0] if isinstance(runs[0][k], float)]
    out: dict[str, Any] = {k: float(np.median([r[k] for r in runs])) for k in keys}
    out["added_by_recommender_mb"] = out["rss_ready_mb"] - out["rss_imports_mb"]
    out["torch_imported"] = runs[0]["torch_imported"]
    out["torch_imported_after_recommend"] = runs[0]["torch_imported_after"]
    if "state" in runs[0]:
        out["state"] = runs[0]["state"]
    out["runs"] = runs
    return out


def _worktree(ref: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix="kgrec-baseline-"))
    subprocess.run(["git", "worktree", "add", "--detach", str(path), ref], cwd=ROOT,
                   check=True, capture_output=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=DEFAULT_DATASET,
                        help="movielens:PATH or synthetic:USERS,ITEMS (loaded into Neo4j)")
    parser.add_argument("--baseline-ref", default="e6876a3",
                        help="git ref of the code before issue 25")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--user", default="1", help="the user of the first recommend call")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    baseline = _worktree(args.baseline_ref)
    try:
        results = {"before": measure("before", baseline, args.dataset, args.epochs,
                                     args.repeats, args.user),
                   "after": measure("after", ROOT, args.dataset, args.epochs, args.repeats,
                                    args.user)}
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(baseline)], cwd=ROOT,
                       check=False, capture_output=True)
    before, after = results["before"], results["after"]
    rows = [("import the facade (s)", "import_s"), ("RSS after imports (MB)", "rss_imports_mb"),
            ("Recommender() (s)", "start_s"),
            ("RSS added by Recommender() (MB)", "added_by_recommender_mb"),
            ("first recommend (s)", "first_recommend_s"),
            ("RSS after first recommend (MB)", "rss_after_recommend_mb")]
    print(f"| {args.dataset} | before ({args.baseline_ref}) | after | after / before |")
    print("|---|---|---|---|")
    for label, key in rows:
        print(f"| {label} | {before[key]:.3f} | {after[key]:.3f} | "
              f"{after[key] / before[key]:.2f}× |")
    print(f"| torch imported by the facade | {before['torch_imported']} | "
          f"{after['torch_imported']} | |")
    if "state" in after:
        print("\nserving state of the model:", json.dumps(after["state"], indent=1))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "startup.json"
    path.write_text(json.dumps({"machine": machine_info(), "dataset": args.dataset,
                                "baseline_ref": args.baseline_ref, "epochs": args.epochs,
                                "repeats": args.repeats, **results}, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
