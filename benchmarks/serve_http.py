"""Benchmark ``kgrec serve``: throughput and latency of the HTTP API under concurrent
clients, with and without concurrent writers, against the in-process facade.

Set-up (as ``benchmarks/startup.py``): a local Neo4j under a temporary ``KGREC_HOME``,
the dataset loaded (default MovieLens 100K), a short model trained (``--epochs``). Then
``kgrec serve`` starts on loopback (``--workers``, warm-up on, an API key) and:

1. **In-process baseline**: a :class:`kgrec.Recommender` in this process on the same
   model times ``recommend``, ``recommend_for_session`` and ``similar_items`` for the
   same users and items (p50/p99), so the HTTP overhead is a ratio.
2. **Routes under load**: for each route and each client count (``--concurrency``,
   default 1, 8, 32), keep-alive clients (``http.client`` in threads) send requests
   until ``--requests`` are done or ``--seconds`` pass; throughput and p50/p99. Routes:
   recommendations (plain and filtered on an attribute), an anonymous session, similar items,
   text search, explanations.
3. **With writers**: recommendations at ``--writer-concurrency`` clients while one thread
   POSTs new items (``--item-rate``/s, one per request) and one POSTs interaction events
   (``--event-rate`` requests/s, five events each); the readers' and the writers'
   latencies.
4. **Freshness**: for ``--fresh`` new items, the time from ``POST /v1/items`` returning
   to the item being listed by ``GET /v1/items/{id}/similar`` and recommended under a
   filter on its own attribute value, each on ``2 × workers`` consecutive fresh
   connections (a connection lands on any worker).

Zero errors are required (the script exits 1 otherwise). Prints a Markdown table and
writes ``benchmarks/results/serve_http.json`` with the machine record.

Run: ``.venv/bin/python benchmarks/serve_http.py [--workers 1] [--seconds 5]``
(``--quick``: 2 s and 600 requests per cell, 5 fresh items).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
from _machine import DEFAULT_DATASET, ROOT, machine_info

# after the repository root (benchmarks/ingest.py must not shadow the ingest package)
sys.path.append(str(ROOT / "benchmarks"))
from startup import _kgrec, _load_args

KEY = "bench-key-0123456789abcdef"
SEARCHES = ["a gritty neo-noir thriller on a night train", "a funny animated film for kids",
            "space adventure with aliens", "a romantic comedy in Paris", "a war drama"]


def _stats(ms: list[float], wall: float | None = None) -> dict[str, float]:
    a = np.asarray(ms) if ms else np.zeros(1)
    out = {"n": len(ms), "p50_ms": float(np.percentile(a, 50)),
           "p99_ms": float(np.percentile(a, 99)), "max_ms": float(a.max())}
    if wall:
        out["rps"] = len(ms) / wall
    return out


class Conn:
    """A keep-alive connection that reconnects once when the server closed it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, data, headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise
        raise AssertionError("unreachable")


def _drive(port: int, make: Any, clients: int, max_requests: int, seconds: float
           ) -> tuple[dict[str, float], list[str]]:
    """``clients`` threads send ``make(rng) -> (method, path, body)`` requests."""
    lock = threading.Lock()
    times: list[float] = []
    errors: list[str] = []
    budget = [max_requests]
    t_end = time.perf_counter() + seconds

    def run(seed: int) -> None:
        rng = random.Random(seed)
        conn = Conn(port)
        mine: list[float] = []
        while time.perf_counter() < t_end:
            with lock:
                if budget[0] <= 0:
                    break
                budget[0] -= 1
            method, path, body = make(rng)
            t0 = time.perf_counter()
            try:
                status, answer = conn.call(method, path, body)
            except Exception as e:  # noqa: BLE001  (counted as an error)
                status, answer = 0, repr(e)
            mine.append((time.perf_counter() - t0) * 1000)
            if status != 200:
                with lock:
                    errors.append(f"{method} {path.split('?')[0]}: {status} {str(answer)[:200]}")
        conn.conn.close()
        with lock:
            times.extend(mine)

    threads = [threading.Thread(target=run, args=(s,)) for s in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return _stats(times, time.perf_counter() - t0), errors


@contextmanager
def trained_home(dataset: str, epochs: int, key: str, home: Path | None = None
                 ) -> Iterator[tuple[dict[str, str], str]]:
    """A ``KGREC_HOME`` (``home``, else a temporary one) with its local Neo4j started,
    ``dataset`` loaded and a model trained (skipped when ``home`` already holds one), and
    the environment of a ``kgrec`` process using it with ``key`` as a read+write API key.
    Neo4j is stopped on exit."""
    with tempfile.TemporaryDirectory(prefix="kgrec-bench-") as tmp:
        home_dir = str(home or tmp)
        trained = home is not None and (home / "models" / "latest").exists()
        env = {**os.environ, "KGREC_HOME": home_dir, "PYTHONPATH": str(ROOT),
               "KGREC_NEO4J_HEAP": "1g", "KGREC_NEO4J_PAGECACHE": "512m",
               "KGREC_API_KEYS": f"{key}:read+write"}
        env.pop("NEO4J_URI", None)
        _kgrec(ROOT, env, "-q", "db", "start")
        try:
            if not trained:
                t0 = time.perf_counter()
                _kgrec(ROOT, env, "-q", "load", *_load_args(dataset))
                _kgrec(ROOT, env, "-q", "train", "--epochs", str(epochs), "--device", "cpu")
                print(f"loaded and trained in {time.perf_counter() - t0:.0f}s", flush=True)
            yield env, home_dir
        finally:
            _kgrec(ROOT, env, "-q", "db", "stop")


def _start_server(env: dict[str, str], port: int, workers: int, refresh: float
                  ) -> tuple[subprocess.Popen[str], list[str]]:
    cmd = [sys.executable, "-c", "from kgrec.cli import main; main()", "serve", "--port",
           str(port), "--workers", str(workers), "--refresh-seconds", str(refresh),
           "--no-access-log"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT)
    lines: list[str] = []
    ready = threading.Event()

    def drain() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "Uvicorn running on" in line:
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(600) or proc.poll() is not None:
        raise SystemExit("kgrec serve did not start:\n" + "".join(lines)[-3000:])
    # with several workers, "running" is logged by the parent: wait for every worker
    deadline = time.time() + 300
    while sum("Application startup complete" in ln for ln in lines) < workers:
        if time.time() > deadline or proc.poll() is not None:
            raise SystemExit("workers did not start:\n" + "".join(lines)[-3000:])
        time.sleep(0.2)
    return proc, lines


def _in_process(rec: Any, users: list[str], items: list[str], n: int) -> dict[str, Any]:
    rng = random.Random(1)
    out: dict[str, Any] = {}
    calls = {"recommendations": lambda: rec.recommend(rng.choice(users), k=10),
             "session": lambda: rec.recommend_for_session(rng.sample(items, 5), k=10),
             "similar": lambda: rec.similar_items(rng.choice(items), k=10)}
    for name, fn in calls.items():
        for _ in range(20):
            fn()
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1000)
        out[name] = _stats(times)
    return out


def _freshness(port: int, workers: int, n: int, user: str) -> dict[str, Any]:
    """Seconds from a POST returning to the item being served, on fresh connections."""
    conn = Conn(port)
    similar, recommended = [], []
    for j in range(n):
        item_id = f"bench-fresh-{j}-{int(time.time() * 1000)}"
        tag = f"fresh{j}x{item_id[-6:]}"
        item = {"id": item_id, "title": f"Night Train {j}",
                "description": "A neo-noir thriller on a night train.",
                "attributes": {"genre": ["Thriller", "Crime"], "tag": [tag]}}
        status, body = conn.call("POST", "/v1/items", {"items": [item]})
        if status != 200 or body["added"] != 1:
            raise SystemExit(f"POST /v1/items failed: {status} {body}")
        t0 = time.perf_counter()
        got: dict[str, float] = {}
        streak = {"similar": 0, "recommended": 0}
        while len(got) < 2:
            if time.perf_counter() - t0 > 30:
                raise SystemExit(f"item {item_id} not served after 30 s")
            fresh = Conn(port)  # a new connection: any worker may take it
            status, body = fresh.call("GET", f"/v1/items/{quote(item_id)}/similar?k=1")
            streak["similar"] = streak["similar"] + 1 if status == 200 else 0
            status, body = fresh.call(
                "GET", f"/v1/users/{quote(user)}/recommendations?k=3&filter=tag:{tag}")
            ok = status == 200 and [r["item_id"] for r in body["items"]] == [item_id]
            streak["recommended"] = streak["recommended"] + 1 if ok else 0
            fresh.conn.close()
            for what, count in streak.items():
                if count >= 2 * workers and what not in got:
                    got[what] = time.perf_counter() - t0
        similar.append(got["similar"] * 1000)
        recommended.append(got["recommended"] * 1000)
    return {"similar_listed": _stats(similar), "recommendable": _stats(recommended)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=DEFAULT_DATASET)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--refresh-seconds", type=float, default=1.0)
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--seconds", type=float, default=5.0, help="per route and clients")
    parser.add_argument("--requests", type=int, default=3000, help="per route and clients")
    parser.add_argument("--writer-concurrency", type=int, default=8)
    parser.add_argument("--item-rate", type=float, default=5.0)
    parser.add_argument("--event-rate", type=float, default=20.0)
    parser.add_argument("--fresh", type=int, default=20)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.requests, args.fresh = 2.0, 600, 5
    with trained_home(args.dataset, args.epochs, KEY) as (env, home):
        results = run(args, env, home)
    _report(args, results)
    if results["errors"]:
        print("ERRORS:", *results["errors"][:20], sep="\n  ")
        sys.exit(1)


def run(args: argparse.Namespace, env: dict[str, str], home: str) -> dict[str, Any]:
    from kgrec.recommender import Recommender
    from kgrec.settings import Settings

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    server, _ = _start_server(env, port, args.workers, args.refresh_seconds)
    start_s = time.perf_counter() - t0
    errors: list[str] = []
    out: dict[str, Any] = {"server_start_s": start_s, "errors": errors}
    try:
        with Recommender(Settings.from_env(env), refresh_seconds=0) as rec:
            # the filtered route filters on an attribute the catalog has (kind:value)
            some_attribute = quote(rec.state.catalog.attributes(0)[0])
            users = [u for u in rec.model.graph.user_ids if rec.state.user(u) is not None
                     and len(rec.state.user(u).seen)]  # type: ignore[union-attr]
            items = list(rec.model.graph.item_ids)
            tops = {u: rec.recommend(u, k=1).item_ids[0] for u in users[:200]}
            out["in_process"] = _in_process(rec, users, items, 2000)
        pairs = list(tops.items())

        def user_recs(r: random.Random, extra: str = "") -> tuple[str, str, Any]:
            return "GET", f"/v1/users/{quote(r.choice(users))}/recommendations?k=10{extra}", None

        def explain(r: random.Random) -> tuple[str, str, Any]:
            user, item = r.choice(pairs)
            return "GET", f"/v1/users/{quote(user)}/explanations/{quote(item)}", None

        routes = {
            "recommendations": user_recs,
            "recommendations_filtered": lambda r: user_recs(r, f"&filter={some_attribute}"),
            "session": lambda r: ("POST", "/v1/recommendations",
                                  {"items": r.sample(items, 5), "k": 10}),
            "similar": lambda r: ("GET", f"/v1/items/{quote(r.choice(items))}/similar?k=10",
                                  None),
            "search": lambda r: ("POST", "/v1/search",
                                 {"text": f"{r.choice(SEARCHES)} {r.randint(0, 10**6)}",
                                  "k": 10}),
            "explanations": explain,
        }
        http_out: dict[str, Any] = {}
        for name, make in routes.items():
            _drive(port, make, 4, 50, 10)  # warm the route (and every worker)
            for clients in (int(c) for c in args.concurrency.split(",")):
                stats, errs = _drive(port, make, clients, args.requests, args.seconds)
                errors += errs
                http_out.setdefault(name, {})[str(clients)] = stats
                print(f"{name:>26} x{clients:<3} {stats['rps']:7.0f} req/s  p50 "
                      f"{stats['p50_ms']:6.1f} ms  p99 {stats['p99_ms']:6.1f} ms", flush=True)
        out["http"] = http_out
        out["with_writers"] = _with_writers(args, port, routes["recommendations"], items,
                                            users, errors)
        out["freshness"] = _freshness(port, args.workers, args.fresh, users[0])
    finally:
        server.terminate()
        server.wait(timeout=60)
    return out


def _with_writers(args: argparse.Namespace, port: int, make: Any, items: list[str],
                  users: list[str], errors: list[str]) -> dict[str, Any]:
    stop = threading.Event()
    lat: dict[str, list[float]] = {"items": [], "interactions": []}

    def writer(kind: str, rate: float) -> None:
        conn, rng, n = Conn(port), random.Random(kind), 0
        while not stop.is_set():
            t0 = time.perf_counter()
            if kind == "items":
                n += 1
                body: dict[str, Any] = {"items": [{
                    "id": f"bench-w-{n}-{int(t0 * 1000)}", "title": f"New film {n}",
                    "description": "A drama about a family by the sea.",
                    "attributes": {"genre": ["Drama"]}}]}
            else:
                body = {"events": [{"user_id": rng.choice(users), "item_id": rng.choice(items)}
                                   for _ in range(5)]}
            status, answer = conn.call("POST", f"/v1/{kind}", body)
            lat[kind].append((time.perf_counter() - t0) * 1000)
            if status != 200:
                errors.append(f"POST /v1/{kind}: {status} {str(answer)[:200]}")
            stop.wait(max(0.0, 1.0 / rate - (time.perf_counter() - t0)))

    threads = [threading.Thread(target=writer, args=("items", args.item_rate)),
               threading.Thread(target=writer, args=("interactions", args.event_rate))]
    for t in threads:
        t.start()
    try:
        # bounded by time only: the writers must run for the whole phase
        stats, errs = _drive(port, make, args.writer_concurrency, 10**9, args.seconds * 2)
        errors += errs
    finally:
        stop.set()
        for t in threads:
            t.join()
    wall = args.seconds * 2
    print(f"{'recommendations + writers':>26} x{args.writer_concurrency:<3} "
          f"{stats['rps']:7.0f} req/s  p50 {stats['p50_ms']:6.1f} ms  p99 "
          f"{stats['p99_ms']:6.1f} ms", flush=True)
    return {"readers": stats, "clients": args.writer_concurrency,
            "items": _stats(lat["items"], wall), "interactions": _stats(lat["interactions"], wall)}


def _report(args: argparse.Namespace, r: dict[str, Any]) -> None:
    conc = [c for c in args.concurrency.split(",")]
    print(f"\n`kgrec serve` on {args.dataset}, {args.workers} worker(s), loopback "
          f"(server start {r['server_start_s']:.1f} s)\n")
    print("| route | " + " | ".join(f"{c} clients: req/s, p50/p99 ms" for c in conc) + " |")
    print("|---|" + "---|" * len(conc))
    for name, cells in r["http"].items():
        print(f"| {name} | " + " | ".join(
            f"{cells[c]['rps']:.0f}, {cells[c]['p50_ms']:.1f}/{cells[c]['p99_ms']:.1f}"
            for c in conc) + " |")
    w = r["with_writers"]
    print(f"| recommendations + writers ({w['clients']} clients) | {w['readers']['rps']:.0f}, "
          f"{w['readers']['p50_ms']:.1f}/{w['readers']['p99_ms']:.1f} | items POST p50/p99 "
          f"{w['items']['p50_ms']:.0f}/{w['items']['p99_ms']:.0f} ms | interactions POST "
          f"{w['interactions']['p50_ms']:.0f}/{w['interactions']['p99_ms']:.0f} ms |")
    ip = r["in_process"]
    print("\n| in-process call | p50 ms | p99 ms | HTTP p50 at 1 client / in-process p50 |")
    print("|---|---|---|---|")
    for name, route in (("recommendations", "recommendations"), ("session", "session"),
                        ("similar", "similar")):
        http_p50 = r["http"][route][conc[0]]["p50_ms"]
        print(f"| {name} | {ip[name]['p50_ms']:.3f} | {ip[name]['p99_ms']:.3f} | "
              f"{http_p50 / ip[name]['p50_ms']:.1f}× |")
    f = r["freshness"]
    print(f"\nPOST /v1/items returned → similar-listed p50 {f['similar_listed']['p50_ms']:.0f} ms"
          f" (max {f['similar_listed']['max_ms']:.0f}); recommendable p50 "
          f"{f['recommendable']['p50_ms']:.0f} ms (max {f['recommendable']['max_ms']:.0f})")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "serve_http.json"
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    path.write_text(json.dumps({
        "machine": machine_info(("fastapi", "uvicorn", "starlette", "prometheus-client",
                                 "numpy", "neo4j"), torch=False),
        "dataset": args.dataset, "config": config, **r}, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
