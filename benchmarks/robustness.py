"""The robustness table of issue 29: hostile inputs, crash points and races, each with the
outcome it must have, the outcome it had, and the partial writes it left (always 0).

Starts a fresh local Neo4j under a temporary ``KGREC_HOME`` (as the test suite does) and:

1. **hostile inputs**, each loaded with the real CLI (``kgrec load catalog`` / ``load
   rdf``, a subprocess) into an empty database: the broken catalogs of
   ``tests/ingest/test_load_atomic.py`` (reused as they are) and the other failure
   classes of the issue (deep nesting, zero-width / C1 ids, 1e308 weights, Unix -5, empty
   files, a remote JSON-LD ``@context`` with a local HTTP server counting the fetches,
   injection-shaped ids). A failed load must print one located error and leave the
   database empty: "partial writes" is the number of nodes and relationships it holds.
2. **two ``kgrec load`` at once** on an empty database without its schema (the race on
   schema creation), twice: both succeed and the graph equals one clean load.
3. **the kill and race tests**, run by pytest (in a subprocess, with the suite's own fresh
   local Neo4j, which the Neo4j-kill test needs local; a plugin hook of this module logs
   each outcome as it comes, so a run cut by ``--timeout`` reports what ran): every
   named crash point of :data:`kgrec.faults.CRASH_POINTS` is killed with SIGKILL, re-run
   and compared with a clean run (counts, weights, content hashes, embeddings and their
   model versions), Neo4j itself is killed mid-load, two writers race through a pause
   point (in one process, and as two ``kgrec serve`` processes), a model is switched
   under a running client loop, and the Hypothesis fuzzers run. A passing test is "0
   partial writes": each asserts the re-run state equals a clean run's exactly.

Prints the table and writes ``benchmarks/results/robustness.json`` (rows and machine).
Measured: 985 s on the 2-core development VM while other jobs kept its load average at
15-20 (parts 1-2 alone, ``--no-tests``: 206 s); expect about 10 minutes on an idle one.

Run: ``.venv/bin/python benchmarks/robustness.py [--no-tests]``
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from _machine import ROOT, machine_info

DEEP = "[" * 100_000 + "]" * 100_000
INJECTION = ["x'}) MATCH (n) DETACH DELETE n //", 'a"}) RETURN 1 UNION MATCH (m) RETURN m //',
             "$id OR 1=1; DROP CONSTRAINT item_id"]


@dataclass
class Row:
    """One line of the table."""

    section: str
    case: str
    expected: str
    observed: str
    ok: bool
    partial_writes: int | None
    seconds: float


# ----------------------------------------------------------------------- hostile inputs
@dataclass(frozen=True)
class Hostile:
    """A hostile input: ``make(folder)`` writes it and returns the ``kgrec`` arguments
    that load it; ``error`` is the expected error type (None: it loads) and ``pattern``
    what its one-line message must say."""

    case: str
    make: Callable[[Path], list[str]]
    error: str | None
    pattern: str


def _edit(name: str, edit: Callable[[str], str]) -> Callable[[Path], list[str]]:
    """The test catalog with one file edited (``tests/ingest/test_load_atomic.py``)."""
    def make(folder: Path) -> list[str]:
        from tests.ingest.test_load_atomic import _catalog

        return ["load", "catalog", str(_catalog(folder, name, edit))]
    return make


def _append(line: str) -> Callable[[str], str]:
    return lambda text: text.rstrip("\n") + "\n" + line + "\n"


def _items_csv_empty(folder: Path) -> list[str]:
    catalog = folder / "catalog"
    catalog.mkdir()
    (catalog / "items.csv").write_text("id,title\n")
    return ["load", "catalog", str(catalog)]


def _injection(folder: Path) -> list[str]:
    lines = [json.dumps({"id": i, "title": i, "description": "MATCH (n) DETACH DELETE n",
                         "attributes": {"genre": [i]}}) for i in INJECTION]
    (folder / "items.jsonl").write_text("\n".join(lines) + "\n")
    return ["load", "catalog", str(folder)]


def _remote_context(url: str) -> Callable[[Path], list[str]]:
    def make(folder: Path) -> list[str]:
        doc = {"@context": f"{url}/ctx", "@id": "http://e.org/m1",
               "http://e.org/genre": {"@id": "http://e.org/Drama"}}
        (folder / "items.jsonld").write_text(json.dumps(doc))
        return ["load", "rdf", str(folder / "items.jsonld")]
    return make


def hostile_inputs(url: str) -> list[Hostile]:
    """The catalogue: ``test_load_atomic.BROKEN`` plus the issue's other classes."""
    from tests.ingest.test_load_atomic import BROKEN

    cases = [Hostile(f"catalog: {name} ({file})", _edit(file, edit), error.__name__,
                     pattern) for name, (file, edit, error, pattern) in BROKEN.items()]
    cases += [
        Hostile("items.jsonl: 100,000-deep nested array", _edit("items.jsonl", _append(
            '{"id": "x9", "attributes": {"genre": ' + DEEP + "}}")), "RecordError",
                r"items\.jsonl line 33: .*nested too deeply"),
        Hostile("items.jsonl: id of zero-width spaces only", _edit(
            "items.jsonl", _append('{"id": "\\u200b\\u200b"}')), "RecordError",
                r"line 33: field 'id' is not a valid id"),
        Hostile("items.jsonl: id with a C1 control (U+0085)", _edit(
            "items.jsonl", _append('{"id": "a\\u0085b"}')), "RecordError",
                r"line 33: field 'id' is not a valid id"),
        Hostile("interactions.csv: two rows of weight 1e308 (sum is inf)", _edit(
            "interactions.csv", _append("u1,2,1e308,0\nu1,2,1e308,0")), "RecordError",
                r"field 'weight'"),
        Hostile("interactions.csv: Unix timestamp -5", _edit(
            "interactions.csv", _append("u1,2,1,-5")), "RecordError",
                r"line 128: field 'timestamp' is out of range"),
        Hostile("items.jsonl: empty file", _edit("items.jsonl", lambda t: ""), "IngestError",
                r"holds no records"),
        Hostile("items.csv: header only", _items_csv_empty, "IngestError", r"holds no records"),
        Hostile("JSON-LD with a remote @context (local HTTP server)", _remote_context(url),
                "RecordError", r"field '@context' refers to .*would be fetched"),
        Hostile("Cypher-injection-shaped ids, titles, attribute values", _injection, None,
                r"3 items stored as the strings they are"),
    ]
    return cases


def _kgrec(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run ``kgrec -q ARGS``: its exit status and its last stderr line."""
    from tests.ingest.model_home import kgrec_command

    done = subprocess.run(kgrec_command(*args), env=env, capture_output=True, text=True,
                          timeout=300, check=False, cwd=ROOT)
    lines = [x for x in done.stderr.splitlines() if x.strip()]
    return done.returncode, (lines[-1] if lines else "")


def _graph_size(driver: Any, settings: Any) -> int:
    from tests.ingest.model_home import graph_counts

    counts = graph_counts(driver, settings)
    return sum(counts["labels"].values()) + sum(counts["types"].values())


def _empty(driver: Any, settings: Any) -> None:
    from kg.queries import DELETE_ALL

    with driver.session(database=settings.neo4j.database) as session:
        session.run(DELETE_ALL).consume()


def run_hostile(case: Hostile, driver: Any, settings: Any, env: dict[str, str],
                hits: list[str]) -> Row:
    t0 = time.perf_counter()
    _empty(driver, settings)
    folder = Path(tempfile.mkdtemp(prefix="kgrec-hostile-"))
    try:
        rc, line = _kgrec(case.make(folder), env)
        line = line.replace(f"{folder}/catalog/", "").replace(f"{folder}/", "")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    size = _graph_size(driver, settings)
    if case.error is None:
        ids = {r["id"] for r in driver.execute_query(
            "MATCH (i:Item) RETURN i.id AS id", database_=settings.neo4j.database).records}
        ok = rc == 0 and ids == set(INJECTION)
        observed = (f"loaded; {len(ids)} items stored as the strings they are" if ok
                    else f"exit {rc}: {line}")
        partial = 0 if ok else size
        expected = "loads; ids stored as data, nothing else runs"
    else:
        ok = (rc == 1 and line.startswith(case.error + ":") and re.search(case.pattern, line)
              is not None and size == 0 and not hits)
        observed = f"exit {rc}: {line}" + (f" (fetched {hits})" if hits else "")
        partial = size
        expected = f"exit 1, located {case.error}; nothing written"
    return Row("input", case.case, expected, observed, bool(ok), partial,
               time.perf_counter() - t0)


@contextmanager
def counting_http_server() -> Iterator[tuple[str, list[str]]]:
    """``(base URL, requests seen)`` of a local HTTP server (``test_rdf_safety``'s)."""
    from tests.ingest.test_rdf_safety import _Counter

    hits: list[str] = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                          type("Handler", (_Counter,), {"hits": hits}))
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", hits
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join()


# ------------------------------------------------------------------------ load x2 race
def _drop_schema(driver: Any, settings: Any) -> None:
    db = settings.neo4j.database
    for r in driver.execute_query("SHOW CONSTRAINTS YIELD name", database_=db).records:
        driver.execute_query(f"DROP CONSTRAINT `{r['name']}` IF EXISTS", database_=db)
    for r in driver.execute_query("SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP' "
                                  "RETURN name", database_=db).records:
        driver.execute_query(f"DROP INDEX `{r['name']}` IF EXISTS", database_=db)


def run_load_race(driver: Any, settings: Any, env: dict[str, str], rounds: int = 2) -> Row:
    """Two ``kgrec load catalog`` at once on an empty database with no schema."""
    from tests.ingest.model_home import CATALOG, graph_counts, kgrec_command

    t0 = time.perf_counter()
    _empty(driver, settings)
    rc, line = _kgrec(["load", "catalog", str(CATALOG)], env)
    reference = graph_counts(driver, settings)
    failures = [] if rc == 0 else [line]
    same = True
    for _ in range(rounds):
        _empty(driver, settings)
        _drop_schema(driver, settings)
        procs = [subprocess.Popen(kgrec_command("load", "catalog", str(CATALOG)), env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True, cwd=ROOT) for _ in range(2)]
        for p in procs:
            _, err = p.communicate(timeout=300)
            if p.returncode != 0:
                failures.append(err.strip().splitlines()[-1] if err.strip() else "?")
        same = same and graph_counts(driver, settings) == reference
    observed = (f"{2 * rounds} loads exited 0; graph = one clean load" if not failures
                and same else f"failures: {failures}; graph equal: {same}")
    return Row("race", f"two `kgrec load catalog` at once, empty db, no schema (x{rounds})",
               "both succeed; graph = one clean load", observed, not failures and same,
               0 if same else None, time.perf_counter() - t0)


# ------------------------------------------------------------------- tests by pytest
#: test -> (section, case; "{param}" is the parametrisation, expected outcome, the crash
#: point it kills at when the parametrisation does not name it)
TESTS: dict[str, tuple[str, str, str, str | None]] = {
    "tests/crash/test_ingest_crash.py::test_load_killed_between_files_is_completed_exactly_"
    "by_a_re_run": ("crash", "kill `kgrec load catalog` at {param}",
                    "re-run = clean load: nodes, edges, weights", None),
    "tests/crash/test_ingest_crash.py::test_watcher_killed_mid_queue_resumes_without_"
    "counting_anything_twice": ("crash", "kill `kgrec ingest --watch` at {param}",
                                "restart = clean run; quarantine kept", None),
    "tests/kgrec/test_crash.py::test_add_items_killed_between_text_and_embedding_is_"
    "completed_by_a_re_send_or_refresh": (
        "crash", "kill add_items at add_items.after_text, repaired by {param}",
        "hash = text, embedding of the served model", "add_items.after_text"),
    "tests/kgrec/test_crash.py::test_train_killed_mid_write_back_leaves_the_old_model_"
    "served_and_models_use_repairs": (
        "crash", "kill `kgrec train` at write_back.after_items",
        "latest unchanged; `models use` = one version", "write_back.after_items"),
    "tests/kgrec/test_service_crash.py::test_train_killed_before_moving_latest_leaves_a_"
    "running_server_on_its_model": (
        "crash", "kill `kgrec train` at publish.before_latest under `kgrec serve`",
        "server answers as before; `models use` repairs", "publish.before_latest"),
    "tests/kgrec/test_service_crash.py::test_items_request_killed_in_flight_then_re_sent_"
    "ends_as_a_clean_request": (
        "crash", "kill `kgrec serve` at {param}, POST /v1/items in flight",
        "no 2xx; restart + re-send = clean request", None),
    "tests/kgrec/test_service_crash.py::test_interactions_request_killed_in_flight_then_"
    "re_sent_counts_nothing_twice": (
        "crash", "kill `kgrec serve` at {param}, POST /v1/interactions in flight",
        "all events or none; re-send = clean", None),
    "tests/crash/test_neo4j_kill.py::test_kill_neo4j_mid_load_then_rerun_gives_a_crash_"
    "free_graph": ("crash", "SIGKILL Neo4j's java process mid-load (open transaction)",
                   "recovery keeps commits; re-run = clean", None),
    "tests/kgrec/test_crash.py::test_two_writers_on_one_item_end_with_one_writers_text_and_"
    "embedding": ("race", "add_items x2 on one item, one paused before its embedding",
                  "one writer's text+hash+embedding", None),
    "tests/kgrec/test_service_crash.py::test_two_servers_writing_the_same_items_end_with_"
    "one_writers_text_and_embedding": (
        "race", "two `kgrec serve` writing the same ids, one paused",
        "one writer's text+hash+embedding; both serve it", None),
    "tests/kgrec/test_service_processes.py::test_a_new_model_is_switched_to_under_load_"
    "with_no_failed_request": ("race", "model swap under a running client loop",
                               "no failed request; old then new", None),
    "tests/kgrec/test_service_auth.py::test_request_bodies_are_capped": (
        "input", "HTTP body over the cap (Content-Length, and chunked)", "413", None),
    "tests/kgrec/test_service_auth.py::test_a_debug_server_process_logs_no_api_key": (
        "input", "API keys (right, wrong, wrong scope) vs. a -vv server's log",
        "no key in any log line", None),
    "tests/kgrec/test_recommender.py::test_unknown_ids_and_injection_are_inert": (
        "input", "injection-shaped user/item ids and filter values", "404/422; graph unchanged",
        None),
    "tests/kgrec/test_recommender.py::test_malformed_filters_rejected": (
        "input", "malformed filter {param}", "RequestError", None),
    "tests/kg/test_security.py::test_injection_shaped_records_are_stored_as_inert_data": (
        "input", "injection-shaped records written by kg", "stored as data", None),
    "tests/fuzz": ("fuzz", "Hypothesis: {name}",
                   "success or located KGRecError; a failed load writes nothing", None),
}


def _spec(nodeid: str) -> tuple[str, str, str, str | None] | None:
    base = nodeid.split("[", 1)[0]
    return TESTS.get(base) or next((v for k, v in TESTS.items() if nodeid.startswith(k + "/")),
                                   None)


def named_points() -> dict[str, str]:
    """:data:`kgrec.faults.CRASH_POINTS`, plus any ``crash_point("...")`` in the code that
    the catalogue forgot."""
    from kgrec.faults import CRASH_POINTS

    found = {m for pkg in ("ingest", "kg", "kgrec", "gnn", "llm_bridge")
             for f in (ROOT / pkg).rglob("*.py")
             for m in re.findall(r'crash_point\("([^"]+)"\)', f.read_text(encoding="utf-8"))}
    return {**{p: "(not in kgrec.faults.CRASH_POINTS)" for p in found}, **CRASH_POINTS}


def _point(param: str, fixed: str | None) -> str | None:
    from kgrec.faults import CRASH_POINTS

    return next((p for p in CRASH_POINTS if p in param), fixed)


#: the file :func:`pytest_runtest_logreport` appends to (set for the pytest subprocess)
LOG_ENV = "KGREC_ROBUSTNESS_LOG"


def pytest_runtest_logreport(report: Any) -> None:
    """pytest hook (this module is loaded as a plugin, ``-p robustness``): one JSON line per
    test phase that ran, flushed at once, so a run cut short by the timeout still tells
    what it did."""
    path = os.environ.get(LOG_ENV)
    if not path or (report.when != "call" and report.outcome == "passed"):
        return
    text = report.longreprtext if report.outcome != "passed" else ""
    lines = [x for x in text.splitlines() if x.startswith("E ")] or text.splitlines()[-1:]
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"nodeid": report.nodeid, "when": report.when,
                            "outcome": report.outcome, "seconds": report.duration,
                            "message": lines[0][:300] if lines else ""}) + "\n")


def _pytest(env: dict[str, str], log: Path, timeout: int) -> bool:
    """Run :data:`TESTS` (in this order) in a process group; False if it timed out (then
    the group, servers it started included, is killed)."""
    cmd = [sys.executable, "-m", "pytest", *TESTS, "-q", "-p", "no:randomly",
           "-p", "no:cacheprovider", "-p", "robustness"]
    path = os.pathsep.join([str(ROOT), str(ROOT / "benchmarks")])
    proc = subprocess.Popen(cmd, env={**env, LOG_ENV: str(log), "PYTHONPATH": path}, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        proc.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return False


def run_tests(env: dict[str, str], log: Path, timeout: int) -> tuple[list[Row], set[str]]:
    """Run :data:`TESTS` with pytest; one row per test case, and the crash points hit."""
    finished = _pytest(env, log, timeout)
    results: dict[str, dict[str, Any]] = {}
    for line in log.read_text(encoding="utf-8").splitlines() if log.exists() else []:
        entry = json.loads(line)
        old = results.get(entry["nodeid"])
        if old is None or old["outcome"] == "passed":  # a failed phase wins
            results[entry["nodeid"]] = entry
    rows, points = [], set()
    for nodeid, entry in results.items():
        spec = _spec(nodeid)
        if spec is None:
            continue
        section, what, expected, fixed = spec
        name = nodeid.split("::", 1)[1]
        param = name.split("[", 1)[1][:-1] if "[" in name else ""
        ok = entry["outcome"] == "passed"
        observed = ("as expected (the test's exact checks passed)" if ok else
                    f"{entry['outcome'].upper()} ({entry['when']}): {entry['message']}")
        point = _point(param, fixed) if section == "crash" else None
        if ok and point is not None:
            points.add(point)
        case = what.format(param=_point(param, None) or param, name=name.split("[")[0])
        rows.append(Row(section, case, expected, observed, ok, 0 if ok else None,
                        float(entry["seconds"])))
    ran = {k.split("[", 1)[0] for k in results}
    for target in TESTS:
        if not any(r == target or r.startswith(target + "/") for r in ran):
            rows.append(Row(TESTS[target][0], target.rpartition("::")[2] or target,
                            TESTS[target][2], "NOT RUN" + ("" if finished else
                                                           " (the pytest run timed out)"),
                            False, None, 0.0))
    return rows, points


# ------------------------------------------------------------------------------ table
def print_table(rows: list[Row]) -> None:
    widths = (6, 58, 44, 60, 8)
    head = ("kind", "case", "expected", "observed", "partial")
    print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        cells = (r.section, r.case, r.expected, r.observed,
                 "?" if r.partial_writes is None else str(r.partial_writes))
        print("  ".join((c if len(c) <= w else c[:w - 1] + "…").ljust(w)
                        for c, w in zip(cells, widths, strict=True)) + ("" if r.ok else "  <-"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-tests", action="store_true", help="skip part 3 (the pytest run)")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds for the pytest run")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "robustness.json")
    args = ap.parse_args(argv)
    from kg.connection import connect
    from kg.indexes import ensure_schema
    from kg.server import LocalNeo4j
    from kgrec.settings import Settings
    from tests.ingest.model_home import subprocess_env

    t0 = time.time()
    home = Path(tempfile.mkdtemp(prefix="kgrec-robustness-"))
    env0 = {k: v for k, v in os.environ.items() if k.startswith(("KGREC_", "HF_"))}
    env0 |= {"KGREC_HOME": str(home), "KGREC_NEO4J_HEAP": "512m",
             "KGREC_NEO4J_PAGECACHE": "256m"}
    settings = Settings.from_env(env0)
    server = LocalNeo4j(settings)
    server.start(timeout=180)
    rows: list[Row] = []
    try:
        env = subprocess_env(settings, home)
        with connect(settings) as driver, counting_http_server() as (url, hits):
            ensure_schema(driver, settings.neo4j.database)
            for case in hostile_inputs(url):
                rows.append(run_hostile(case, driver, settings, env, hits))
                print(f"{rows[-1].case}: {'ok' if rows[-1].ok else 'FAILED'}", file=sys.stderr)
            rows.append(run_load_race(driver, settings, env))
    finally:
        server.stop()
    try:
        if not args.no_tests:  # the suite's own fresh server (the Neo4j kill needs it local)
            clean = {k: v for k, v in env.items() if not k.startswith(("NEO4J_", "KGREC_HOME"))}
            tested, points = run_tests(clean, home / "tests.jsonl", args.timeout)
            rows += tested
            for point, what in sorted(named_points().items()):
                if point in points:
                    continue
                rows.append(Row("crash", f"kill at {point}", what,
                                "NOT EXERCISED by a passing test", False, None, 0.0))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print_table(rows)
    failed = [r for r in rows if not r.ok]
    partial = sum(r.partial_writes or 0 for r in rows)
    kinds = {k: sum(r.section == k for r in rows) for k in ("input", "fuzz", "crash", "race")}
    print(f"\n{len(rows)} cases ({', '.join(f'{n} {k}' for k, n in kinds.items())}); "
          f"{len(failed)} not as expected; partial writes: {partial}; "
          f"{time.time() - t0:.0f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "machine": machine_info(("neo4j", "hypothesis", "fastapi"), torch=False),
        "seconds": round(time.time() - t0, 1), "cases": len(rows), "failed": len(failed),
        "partial_writes": partial, "rows": [asdict(r) for r in rows]}, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
