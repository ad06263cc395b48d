"""Ingest benchmark: rows/s written into a local Neo4j per batch size, and export time.

Datasets: MovieLens 100K and the synthetic catalog (default 100k items, ~1M
interactions). For each dataset and batch size the database is emptied, the
dataset is loaded through :mod:`ingest.loader`, and the write rate of items and
interactions is measured; the in-memory read rate of the same records (no
database) is the baseline of the same run. Export time is
:func:`kg.export.export_snapshot` after the last load of each dataset.

Usage::

    .venv/bin/python benchmarks/ingest.py [--ml PATH] [--batch-sizes 1000,10000,50000]
        [--synthetic-items 100000] [--synthetic-users 50000] [--seed 2026]

A temporary ``KGREC_HOME`` holds the server's data; it is deleted at the end.
Prints a Markdown table and writes ``benchmarks/results/ingest.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _machine import machine_info

from ingest.loader import LoadSummary, load_movielens, load_synthetic
from ingest.movielens import read_movielens
from ingest.synthetic import generate_synthetic
from kgrec.settings import Settings

logger = logging.getLogger("benchmarks.ingest")


def _machine(settings: Settings) -> dict[str, Any]:
    return machine_info(("neo4j", "numpy", "rdflib"), torch=False,
                        neo4j_server=settings.neo4j.version, heap=settings.neo4j.heap,
                        pagecache=settings.neo4j.pagecache)


def _wipe(driver: Any, database: str) -> None:
    from kg.queries import DELETE_ALL

    with driver.session(database=database) as session:
        session.run(DELETE_ALL).consume()


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("nan")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--ml", type=Path, default=ROOT.parent / "shared" / "datasets" / "ml-100k")
    ap.add_argument("--batch-sizes", default="1000,10000,50000")
    ap.add_argument("--synthetic-items", type=int, default=100_000)
    ap.add_argument("--synthetic-users", type=int, default=50_000)
    ap.add_argument("--per-user", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ingest.json")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    batch_sizes = [int(x) for x in args.batch_sizes.split(",")]

    from kg.connection import connect
    from kg.export import export_snapshot
    from kg.server import LocalNeo4j
    from kg.writer import GraphWriter

    home = Path(tempfile.mkdtemp(prefix="kgrec-bench-"))
    env = {k: v for k, v in os.environ.items() if k.startswith(("KGREC_", "NEO4J_"))}
    env["KGREC_HOME"] = str(home)
    settings = Settings.from_env(env)
    server = LocalNeo4j(settings) if settings.neo4j.uri is None else None
    rows: list[dict[str, Any]] = []
    try:
        if server is not None:
            server.start()
        db = settings.neo4j.database
        with connect(settings) as driver:
            datasets: list[tuple[str, Any, Any]] = []
            if args.ml.is_dir():
                datasets.append(("MovieLens 100K", lambda: read_movielens(args.ml),
                                 lambda w: load_movielens(w, args.ml)))
            n_u, n_i = args.synthetic_users, args.synthetic_items
            datasets.append((f"synthetic {n_i // 1000}k items",
                             lambda: generate_synthetic(n_u, n_i, args.seed,
                                                        interactions_per_user=args.per_user),
                             lambda w: load_synthetic(w, n_u, n_i, args.seed,
                                                      interactions_per_user=args.per_user)))
            for name, read, load in datasets:
                t0 = time.perf_counter()
                src = read()
                if hasattr(src, "interaction_arrays"):  # synthetic: stream, count
                    n_items = sum(1 for _ in src.items())
                    n_inter = sum(1 for _ in src.interactions())
                else:
                    n_items, n_inter = len(src.items), len(src.interactions)
                read_s = time.perf_counter() - t0
                export_s = float("nan")
                for bs in batch_sizes:
                    _wipe(driver, db)
                    writer = GraphWriter(driver, database=db, batch_size=bs, show_progress=False)
                    summary: LoadSummary = load(writer)
                    t = summary.timings
                    row = {"dataset": name, "batch_size": bs, "items": summary.items,
                           "interactions": summary.interactions,
                           "items_per_s": _rate(summary.items, t.get("items", 0.0)),
                           "interactions_per_s": _rate(summary.interactions,
                                                       t.get("interactions", 0.0)),
                           "load_s": summary.seconds, "timings": dict(t),
                           "read_only_rows_per_s": _rate(n_items + n_inter, read_s)}
                    rows.append(row)
                    print(f"{name} bs={bs}: {summary}", file=sys.stderr, flush=True)
                t1 = time.perf_counter()
                snap = export_snapshot(driver, database=db, show_progress=False)
                export_s = time.perf_counter() - t1
                for row in rows:
                    if row["dataset"] == name:
                        row["export_s"] = export_s
                        row["export_interactions"] = snap.num_interactions
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(home, ignore_errors=True)

    print("| dataset | batch | items/s | interactions/s | load s | export s | "
          "read-only rows/s (baseline) | write/read ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        total_rate = (r["items"] + r["interactions"]) / r["load_s"]
        print(f"| {r['dataset']} | {r['batch_size']} | {r['items_per_s']:,.0f} | "
              f"{r['interactions_per_s']:,.0f} | {r['load_s']:.1f} | {r['export_s']:.2f} | "
              f"{r['read_only_rows_per_s']:,.0f} | {total_rate / r['read_only_rows_per_s']:.3f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": _machine(settings), "seed": args.seed,
                                    "batch_sizes": batch_sizes, "results": rows}, indent=2) + "\n",
                        encoding="utf-8")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
