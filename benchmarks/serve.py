"""Benchmark serving: recommend latency in-process vs the Neo4j vector index, add_items
latency from call to recommendable, and explain latency.

1. **In-process top-k** at 10k, 100k and 1M items: synthetic unit-norm item embeddings
   at the model's default dim (64) are generated directly (no training at that size)
   and frozen into a :class:`gnn.trained.TrainedModel` without an item–item term (a
   trained model has none above ``ScoringConfig.item_item_max_items``, 20k items), served
   as a :class:`kgrec.state.ServingState` (:meth:`ServingState.of_model`). Each call is
   timed over exactly what ``Recommender.recommend(user, k=20)`` does for a user with
   items once it has the user's state: the user's 20 seen items as a one-row CSR,
   :meth:`gnn.scorer.Scorer.score` (one matrix-vector product, ``vector @ item_emb.T``),
   the float32 copy, the seen and unavailable (hidden or deleted) items masked, and
   :func:`kgrec.rerank.rank` with no policy, i.e. :func:`kgrec.rerank.top_k` (k = 20).
   Not timed: the user lookup and turning rows into ids. Random user vectors; p50/p99
   over ``--queries`` calls and throughput.
2. **Neo4j vector index** (``db.index.vector.queryNodes`` through
   :func:`kg.embeddings.query_similar_items`, k = 20) on the same vectors, capped at
   ``--neo4j-max`` items (default 100k): loading 1M vectors into Neo4j on 2 cores takes
   far too long for a benchmark run. Measured against a local server under a temporary
   ``KGREC_HOME`` (never your own database).
3. **add_items** on a small trained model (synthetic 300 users × 200 items, 5 epochs,
   trained by :func:`kgrec.workflows.train_from_graph` and served from its checkpoint):
   one item per call, from the call to the item being recommendable (in the catalog
   and returned by ``similar_items`` over the whole catalog), CPU encoder included
   (the first call, which loads the encoder, is reported apart).
4. **explain** p50/p99 on the same small model, and on MovieLens 100K loaded into
   Neo4j (``--movielens``, default ``../shared/datasets/ml-100k`` when present) for
   each sampled user's top recommendation.
5. **First calls after a restart**: the server is restarted ``--restarts`` times per
   mode and a new process opens a ``Recommender`` on the small model and times its
   first two ``add_items`` and ``explain`` calls, without and with
   ``Recommender.warm_up()`` (medians).

Prints a Markdown table and writes ``benchmarks/results/serve.json``.

Run: ``.venv/bin/python benchmarks/serve.py [--sizes 10000,100000,1000000] [--queries 200]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

# benchmarks/ingest.py would shadow the ``ingest`` package when run as a script
from _machine import machine_info

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]

SEED = 2026
DIM = 64
K = 20


def _stats(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "max_ms": float(a.max()), "qps": float(1000.0 / a.mean()), "n": len(ms)}


def _vectors(n: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal((n, DIM), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def random_model(item_emb: np.ndarray) -> Any:
    """A :class:`gnn.trained.TrainedModel` serving ``item_emb`` (one user, no training
    interactions, no item–item term, no long-tail slots): what the scorer needs."""
    import scipy.sparse as sp

    from gnn.config import KGRecConfig
    from gnn.trained import TrainedModel, TrainingGraph

    n = len(item_emb)
    graph = TrainingGraph(
        user_ids=("u0",), item_ids=tuple(f"i{j}" for j in range(n)), attribute_ids=(),
        item_titles=("",) * n, interactions=sp.csr_matrix((1, n), dtype=np.float32),
        item_attributes=sp.csr_matrix((n, 0), dtype=np.float32),
        user_attributes=sp.csr_matrix((1, 0), dtype=np.float32),
        item_hashes=np.zeros((n, 32), np.uint8))
    config = KGRecConfig().with_overrides(dim=DIM, item_item=False, tail_slots=0)
    # layers and degrees feed inductive inference only: zeros (never touched, never paged in)
    return TrainedModel(config=config, graph=graph, user_emb=item_emb[:1], item_emb=item_emb,
                        layers=np.zeros((1, 1 + n, DIM), np.float32),
                        degree=np.zeros(1 + n, np.float32), proj_weight={}, proj_bias={},
                        item_has_id=np.ones(n, bool))


def bench_in_process(n: int, queries: int, rng: np.random.Generator) -> dict[str, float]:
    import scipy.sparse as sp

    from kgrec.rerank import rank
    from kgrec.state import ServingState

    state = ServingState.of_model(random_model(_vectors(n, rng)))
    model, scorer, catalog = state.model, state.scorer, state.catalog
    users = _vectors(queries, rng)
    times = []
    for q in range(queries):
        seen = np.unique(rng.integers(0, n, 20))
        t0 = time.perf_counter()
        # Recommender._scores and recommend, for a user with items and no filters/policies
        x_u = sp.csr_matrix((np.ones(len(seen), np.float32), seen, [0, len(seen)]),
                            shape=(1, n))
        scores = scorer.score(users[q][None], x_u)[0].astype(np.float32, copy=True)
        scores[seen] = -np.inf
        scores[catalog.unavailable] = -np.inf
        rank(scores, K, (), catalog, model.tail_slots, model.item_has_id)
        times.append((time.perf_counter() - t0) * 1000)
    return _stats(times)


def bench_neo4j(driver: Any, n: int, queries: int, rng: np.random.Generator,
                database: str) -> dict[str, float]:
    from kg.embeddings import query_similar_items, write_embeddings
    from kg.indexes import ensure_schema, ensure_vector_index
    from kg.queries import DELETE_ALL
    from kg.records import ItemRecord
    from kg.writer import GraphWriter

    with driver.session(database=database) as s:
        s.run(DELETE_ALL).consume()
    ensure_schema(driver, database)
    ids = [f"i{j}" for j in range(n)]
    t0 = time.perf_counter()
    GraphWriter(driver, database, show_progress=False).write_items(ItemRecord(i) for i in ids)
    ensure_vector_index(driver, DIM, database)
    write_embeddings(driver, "Item", ids, _vectors(n, rng), "bench", database,
                     show_progress=False)
    driver.execute_query("CALL db.awaitIndexes(600)", database_=database)
    load_s = time.perf_counter() - t0
    users = _vectors(queries + 10, rng)
    for q in range(10):  # warm-up
        query_similar_items(driver, users[q], K, database)
    times = []
    for q in range(queries):
        t = time.perf_counter()
        query_similar_items(driver, users[10 + q], K, database)
        times.append((time.perf_counter() - t) * 1000)
    return {**_stats(times), "load_s": load_s}


def users_with_items(rec: Any) -> list[str]:
    """Ids of the users the recommender knows with at least one item, sorted."""
    state = rec.state
    return sorted(u for u in state.known_user_ids()
                  if (user := state.user(u)) is not None and len(user.seen))


def bench_small_model(settings: Any, driver: Any, queries: int) -> dict[str, Any]:
    from ingest.loader import load_synthetic
    from kg.indexes import ensure_schema
    from kg.queries import DELETE_ALL
    from kg.writer import GraphWriter
    from kgrec.recommender import Recommender
    from kgrec.workflows import train_from_graph

    db = settings.neo4j.database
    with driver.session(database=db) as s:
        s.run(DELETE_ALL).consume()
    ensure_schema(driver, db)
    load_synthetic(GraphWriter(driver, db, show_progress=False), 300, 200, seed=SEED)
    trained = train_from_graph(settings, driver, max_epochs=5, device="cpu",
                               show_progress=False)
    rec = Recommender(settings, model_dir=Path(trained.info["checkpoint"]), driver=driver)
    words = ["trail", "summit", "espresso", "roast", "melody", "chord", "puppy", "serum"]
    times = []
    first_ms = 0.0
    for q in range(queries + 1):
        item = {"id": f"bench-new-{q}", "title": f"Bench {words[q % 8].title()} {q}",
                "description": f"A new {words[q % 8]} and {words[(q + 3) % 8]} product {q}.",
                "attributes": {"category": ["tents"], "brand": [f"Bench{q}"]}}
        t0 = time.perf_counter()
        rec.add_items([item])
        row = rec.state.catalog.row_of(item["id"])
        assert row is not None and item["id"] in rec.similar_items(
            "i0", k=len(rec.state.catalog)).item_ids
        ms = (time.perf_counter() - t0) * 1000
        if q == 0:
            first_ms = ms
        else:
            times.append(ms)
    users = users_with_items(rec)[:queries]
    for u in users[:3]:  # warm-up (query plans)
        rec.explain(u, rec.recommend(u, k=1).item_ids[0])
    ex_times = []
    for u in users:
        item = rec.recommend(u, k=1).item_ids[0]
        t0 = time.perf_counter()
        rec.explain(u, item)
        ex_times.append((time.perf_counter() - t0) * 1000)
    return {"add_items": {**_stats(times), "first_call_ms": first_ms},
            "explain": _stats(ex_times), "model": repr(trained)}


_FIRST_CALLS = """
import json, sys, time
from kgrec.recommender import Recommender
t0 = time.perf_counter()
rec = Recommender()
out = {"open_s": time.perf_counter() - t0}
out["warm_up_s"] = rec.warm_up() if sys.argv[1] == "warm_up" else 0.0
for n in range(2):
    item = {"id": f"restart-{time.time_ns()}", "title": f"Restart Lantern {n}",
            "description": f"A new lantern and tent product {time.time_ns()}.",
            "attributes": {"category": ["tents"]}}
    t = time.perf_counter()
    rec.add_items([item])
    out[f"add_items_{n}_ms"] = (time.perf_counter() - t) * 1000
users = [u for u in rec.model.graph.user_ids
         if (s := rec.state.user(u)) is not None and len(s.seen)]
for n, user in enumerate(users[:2]):
    t = time.perf_counter()
    rec.explain(user, rec.recommend(user, k=1).item_ids[0])
    out[f"explain_{n}_ms"] = (time.perf_counter() - t) * 1000
print(json.dumps(out))
"""


def bench_first_calls(settings: Any, env: dict[str, str], reps: int) -> dict[str, Any]:
    """The first ``add_items`` and ``explain`` of a new process against a freshly
    restarted server (the model from :func:`bench_small_model`), without and with
    ``Recommender.warm_up()``; each rep restarts the server once per mode."""
    import subprocess

    from kg.server import LocalNeo4j

    server = LocalNeo4j(settings)
    runs: dict[str, list[dict[str, float]]] = {"cold": [], "warm_up": []}
    for _ in range(reps):
        for mode, rows in runs.items():
            server.stop()
            server.start()
            done = subprocess.run([sys.executable, "-c", _FIRST_CALLS, mode], env=env,
                                  capture_output=True, text=True, check=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"first calls, {mode}: {rows[-1]}", flush=True)
    return {mode: {key: float(np.median([r[key] for r in rows])) for key in rows[0]}
            | {"n": len(rows)} for mode, rows in runs.items()}


def bench_movielens_explain(settings: Any, driver: Any, path: Path, queries: int
                            ) -> dict[str, Any]:
    """explain latency on MovieLens 100K in Neo4j (5-epoch model: the paths and their
    ranking cost the same whatever the model's accuracy)."""
    from ingest.loader import load_movielens
    from kg.indexes import ensure_schema
    from kg.queries import DELETE_ALL
    from kg.writer import GraphWriter
    from kgrec.recommender import Recommender
    from kgrec.workflows import train_from_graph

    db = settings.neo4j.database
    with driver.session(database=db) as s:
        s.run(DELETE_ALL).consume()
    ensure_schema(driver, db)
    load_movielens(GraphWriter(driver, db, batch_size=10_000, show_progress=False), path)
    trained = train_from_graph(settings, driver, max_epochs=5, device="cpu",
                               show_progress=False)
    rec = Recommender(settings, model_dir=Path(trained.info["checkpoint"]), driver=driver)
    rng = np.random.default_rng(SEED)
    with_items = users_with_items(rec)
    users = [str(u) for u in rng.choice(with_items, queries + 5, replace=False)]
    pairs = [(u, rec.recommend(u, k=1).item_ids[0]) for u in users]
    for u, i in pairs[:5]:  # warm-up (query plans, page cache)
        rec.explain(u, i)
    times, n_paths = [], []
    for u, i in pairs[5:]:
        t0 = time.perf_counter()
        n_paths.append(len(rec.explain(u, i).paths))
        times.append((time.perf_counter() - t0) * 1000)
    return {**_stats(times), "mean_paths": float(np.mean(n_paths)),
            "users": len(with_items), "items": len(rec.state.catalog)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--neo4j-max", type=int, default=100_000)
    ap.add_argument("--skip-neo4j", action="store_true")
    ap.add_argument("--small-queries", type=int, default=30)
    ap.add_argument("--restarts", type=int, default=3,
                    help="server restarts per mode for the first-call benchmark (0 skips it)")
    ap.add_argument("--movielens", type=Path,
                    default=Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ml-100k",
                    help="MovieLens 100K folder for the explain benchmark (skipped if absent)")
    ap.add_argument("--explain-queries", type=int, default=100)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "serve.json"))
    args = ap.parse_args()
    rng = np.random.default_rng(SEED)
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[str, Any] = {"machine": machine_info(("numpy", "neo4j"), torch=False), "seed": SEED, "dim": DIM, "k": K,
                               "in_process": {}, "neo4j_vector_index": {}}
    for n in sizes:
        results["in_process"][str(n)] = bench_in_process(n, args.queries, rng)
        print(f"in-process {n}: {results['in_process'][str(n)]}", flush=True)
    if not args.skip_neo4j:
        from kg.connection import connect
        from kg.server import LocalNeo4j
        from kgrec.settings import Settings

        home = Path(tempfile.mkdtemp(prefix="kgrec-bench-"))
        env = {k: v for k, v in os.environ.items() if k.startswith(("KGREC_", "HF_"))}
        env.update(KGREC_HOME=str(home), KGREC_NEO4J_HEAP="1g", KGREC_NEO4J_PAGECACHE="512m")
        settings = Settings.from_env(env)
        settings = replace(settings, neo4j=replace(settings.neo4j, uri=None))
        server = LocalNeo4j(settings)
        driver = connect(settings, start=True)
        try:
            db = settings.neo4j.database
            for n in sizes:
                if n > args.neo4j_max:
                    continue
                results["neo4j_vector_index"][str(n)] = bench_neo4j(driver, n, args.queries,
                                                                    rng, db)
                print(f"neo4j {n}: {results['neo4j_vector_index'][str(n)]}", flush=True)
            results.update(bench_small_model(settings, driver, args.small_queries))
            if args.restarts:
                driver.close()
                child_env = {k: v for k, v in os.environ.items() if not k.startswith("NEO4J_")}
                results["first_calls"] = bench_first_calls(settings, child_env | env,
                                                           args.restarts)
                driver = connect(settings, start=True)
            if args.movielens.is_dir():
                results["explain_movielens"] = bench_movielens_explain(
                    settings, driver, args.movielens, args.explain_queries)
                print(f"explain on MovieLens 100K: {results['explain_movielens']}", flush=True)
        finally:
            driver.close()
            server.stop()
    header = ("| items | in-process p50 ms | p99 ms | qps | Neo4j index p50 ms | p99 ms | qps "
              "| p99 ratio |")
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    for n in sizes:
        a = results["in_process"][str(n)]
        b = results["neo4j_vector_index"].get(str(n))
        neo = (f"{b['p50_ms']:.2f} | {b['p99_ms']:.2f} | {b['qps']:.0f} | "
               f"{b['p99_ms'] / a['p99_ms']:.1f}×") if b else "— | — | — | —"
        lines.append(f"| {n:,} | {a['p50_ms']:.2f} | {a['p99_ms']:.2f} | {a['qps']:.0f} | {neo} |")
    if "add_items" in results:
        ai, ex = results["add_items"], results["explain"]
        lines += ["", "| operation | p50 ms | p99 ms | note |", "|---|---|---|---|",
                  (f"| add_items (1 item → recommendable) | {ai['p50_ms']:.1f} | "
                   f"{ai['p99_ms']:.1f} | first call (loads encoder) {ai['first_call_ms']:.0f} ms |"),
                  (f"| explain (3 paths) | {ex['p50_ms']:.1f} | {ex['p99_ms']:.1f} | "
                   "synthetic 300×200 |")]
    if "first_calls" in results:
        cold, warm = results["first_calls"]["cold"], results["first_calls"]["warm_up"]
        for op, key in (("add_items", "add_items_0_ms"), ("explain", "explain_0_ms")):
            lines.append(f"| {op}, a new process's first call after a server restart | "
                         f"{cold[key]:.0f} | — | after `warm_up()` ({warm['warm_up_s']:.1f} s): "
                         f"{warm[key]:.0f} ms (×{cold[key] / warm[key]:.1f} faster); "
                         f"median of {cold['n']} restarts |")
    if "explain_movielens" in results:
        em = results["explain_movielens"]
        lines.append(f"| explain (3 paths) | {em['p50_ms']:.1f} | {em['p99_ms']:.1f} | "
                     f"MovieLens 100K, {em['n']} (user, top item) pairs |")
    table = "\n".join(lines)
    print(table)
    results["table"] = table
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
