"""Write ``docs/results.md`` from the benchmark results under ``benchmarks/results``.

One section per results file:

- every ``evaluate.jsonl`` (one per dataset folder): mean ± std over seeds of NDCG@20 and
  Recall@20 per protocol and model, each with its ratio to the best baseline of that
  protocol (baselines: models whose name does not start with ``kgrec``), the targets
  recorded in the ``evaluate.json`` beside it, and the machine and versions;
- every other ``*.json``: its figures as compact tables, read generically (a dict of
  records or a list of records becomes one table, sibling dicts of scalars one table
  side by side, the remaining scalars a key/value list), with the machine it names.

A PNG with the same stem beside a results file is linked from its section. The script
reads only the stdlib; ``docs/results.md`` must not be edited by hand.

Run: ``.venv/bin/python benchmarks/report.py [--results DIR] [--out FILE]``
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
K = 20
#: keys never shown as figures: the machine has its own line, tables are re-rendered
SKIP = {"machine", "table", "table_k20", "rows_k20", "load_average_at_start", "per_seed",
        "timings", "read_only_rows_per_s", "export_interactions"}


def fmt(value: Any) -> str:
    """A table cell: ints with thousands separators, floats to 4 significant digits."""
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "–"}[value]
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 1e4 else str(value)
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4g}"
    if isinstance(value, list):
        return " / ".join(fmt(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k} {fmt(v)}" for k, v in value.items()) or "–"
    return str(value).replace("\n", "\\n").replace("|", "\\|")


def table(header: list[str], rows: Iterable[list[Any]]) -> list[str]:
    """Markdown table lines."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]


def flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; skips :data:`SKIP` keys."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key in SKIP:
            continue
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def records(named: list[tuple[str, dict[str, Any]]], label: str) -> list[str]:
    """One table row per record, one column per (flattened) field."""
    flat = [(name, flatten(rec)) for name, rec in named]
    columns = list(dict.fromkeys(c for _, rec in flat for c in rec))
    return table([label, *columns], ([name, *(rec.get(c) for c in columns)]
                                     for name, rec in flat))


def is_scalar(value: Any) -> bool:
    """Not a container, or a short list of numbers (per-seed figures, load averages)."""
    return not isinstance(value, (dict, list)) or value in ({}, []) or (
        isinstance(value, list) and len(value) <= 8
        and all(isinstance(v, (int, float)) for v in value))


def machine_line(machine: dict[str, Any] | None, versions: dict[str, Any] | None = None) -> str:
    """``Machine: …; versions: …`` from a benchmark's ``machine`` record."""
    if not machine:
        return "Machine: not recorded."
    versions = {k.replace("_", "-"): v for k, v in
                {**machine.get("versions", {}), **(versions or {})}.items()}
    parts = [f"{machine.get('cpu', '?')}, {machine.get('cores', '?')} cores",
             f"GPU {machine.get('gpu') or 'none'}"]
    parts += [f"{k} {fmt(machine[k])}" for k in ("python", "torch_threads", "neo4j_server")
              if k in machine]
    load = machine.get("load_average_at_start")
    if load:
        parts.append(f"load average at start {load[0]:.2f}")
    return f"Machine: {', '.join(parts)}; versions: {fmt(versions)}."


def generic(data: dict[str, Any]) -> list[str]:
    """Render any results JSON: scalars, sibling scalar dicts, record tables."""
    lines: list[str] = []
    scalars = {k: v for k, v in data.items() if k not in SKIP and is_scalar(v)}
    flat_dicts = {k: v for k, v in data.items() if k not in SKIP and isinstance(v, dict)
                  and v and all(is_scalar(x) for x in v.values())}
    if scalars:
        lines += [f"- {k}: {fmt(v)}" for k, v in scalars.items()] + [""]
    if flat_dicts:
        keys = list(dict.fromkeys(k for d in flat_dicts.values() for k in d if k not in SKIP))
        lines += table(["", *flat_dicts], ([k, *(d.get(k) for d in flat_dicts.values())]
                                           for k in keys)) + [""]
    for key, value in data.items():
        if key in SKIP or key in scalars or key in flat_dicts:
            continue
        lines.append(f"**{key}**\n")
        if isinstance(value, list) and all(isinstance(v, dict) for v in value):
            lines += records([(str(i + 1), v) for i, v in enumerate(value)], "#")
        elif isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
            lines += records(list(value.items()), key)
        else:
            lines += table(["key", "value"], ([k, v] for k, v in flatten({key: value}).items()))
        lines.append("")
    return lines


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def evaluate_section(path: Path) -> list[str]:
    """The harness's rows at k = 20 summarised over seeds, with ratios to the best baseline."""
    rows = [r for line in path.read_text().splitlines() if line.strip()
            if (r := json.loads(line))["k"] == K]
    if not rows:
        return [f"No rows at k = {K}."]
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["protocol"], r["model"]), []).append(r)
    seeds = sorted({r["seed"] for r in rows})
    devices = sorted({r["device"] for r in rows})
    lines = [f"Dataset `{rows[0]['dataset']}`" + (f" (`{meta['spec']}`)" if "spec" in meta else "")
             + f", seeds {', '.join(map(str, seeds))}, device {', '.join(devices)}"
             + (f", attribute kinds {meta['attribute_kinds']}" if meta.get("attribute_kinds")
                else "") + (f"; whole run {fmt(meta['seconds'])} s." if "seconds" in meta else "."),
             ""]
    body, best_names = [], []
    for protocol in dict.fromkeys(p for p, _ in groups):
        models = {m: g for (p, m), g in groups.items() if p == protocol}
        stats = {m: {metric: _mean_std([r[metric] for r in g]) for metric in ("ndcg", "recall")}
                 for m, g in models.items()}
        base = [m for m in stats if not m.startswith("kgrec")] or list(stats)
        best = {x: max(base, key=lambda m: stats[m][x][0]) for x in ("ndcg", "recall")}
        best_names.append(f"{protocol}: {best['ndcg']} (NDCG), {best['recall']} (Recall)")
        for m, s in stats.items():
            cells = []
            for metric in ("ndcg", "recall"):
                mean, std = s[metric]
                ref = stats[best[metric]][metric][0]
                cells += [f"{mean:.4f} ± {std:.4f}", f"{mean / ref:.2f}×" if ref > 0 else "–"]
            fit = statistics.fmean(r["train_seconds"] for r in models[m])
            body.append([protocol, m, *cells, len(models[m]), models[m][0]["n_users"],
                         f"{fit:.1f}"])
    lines += table(["protocol", "model", f"NDCG@{K}", "× best", f"Recall@{K}", "× best",
                    "seeds", "users", "fit s (mean)"], body)
    lines += ["", "Best baseline by mean: " + "; ".join(best_names) + ". On L, NDCG and "
              "Recall count tail test items only (tail Recall@20 is the L target's metric); "
              "`kgrec-tail` re-ranks the fitted `kgrec`, so its fit time is ~0.", ""]
    if meta.get("targets"):
        lines += ["Targets, as the run judged them:", ""]
        lines += table(["protocol", "model", "metric", "best baseline", "ratio", "target", "met",
                        "its W ratio", "H: warm-only NDCG of mixed lists / warm ranking",
                        "H: new-item share of top-20 / of test"],
                       ([p, t["model"], t["metric"], t["best_baseline"], t["ratio"],
                         f"≥ {t['target']}", t["met"], t.get("w_ratio"), t.get("warm_ratio"),
                         t.get("new_share_ratio")]
                        for p, t in meta["targets"].items())) + [""]
    lines.append(machine_line(meta.get("machine"), rows[0].get("versions")))
    return lines


def describe(stem: str) -> str:
    """First paragraph of the docstring of the benchmark script that wrote ``stem``
    (``train_gpu`` -> ``train.py``), or ""."""
    parts = stem.split("_")
    while parts:
        script = ROOT / "benchmarks" / f"{'_'.join(parts)}.py"
        if script.exists():
            doc = ast.get_docstring(ast.parse(script.read_text())) or ""
            return " ".join(doc.split("\n\n")[0].split())
        parts.pop()
    return ""


def section(path: Path, results: Path, out: Path) -> tuple[list[str], Path | None]:
    """Heading, description, figures and plot link of one results file."""
    rel = path.relative_to(results.parent.parent).as_posix()
    lines = [f"## `{rel}`", ""]
    doc = describe("evaluate" if path.suffix == ".jsonl" else path.stem)
    if doc:
        lines += [f"*{doc}*", ""]
    if path.suffix == ".jsonl":
        lines += evaluate_section(path)
    else:
        data = json.loads(path.read_text())
        lines += generic(data) + [machine_line(data.get("machine"))]
    png = path.with_suffix(".png")
    if png.exists():
        link = os.path.relpath(png, out.parent).replace(os.sep, "/")
        lines += ["", f"![{png.name}]({link})"]
        return lines + [""], png
    return lines + [""], None


def report(results: Path, out: Path) -> str:
    """The whole Markdown document for the results under ``results``."""
    evaluated = sorted(results.rglob("evaluate.jsonl"), key=lambda p: (len(p.parts), p))
    others = sorted((p for p in results.rglob("*.json")
                     if not (p.name == "evaluate.json" and p.with_suffix(".jsonl").exists())),
                    key=lambda p: (len(p.parts), p))
    lines = ["# Benchmark results", "",
             "<!-- Generated by benchmarks/report.py; do not edit by hand. -->",
             ("Generated by `benchmarks/report.py` from `benchmarks/results/`: **do not edit "
              "by hand**; re-run `.venv/bin/python benchmarks/report.py` after a benchmark. "
              "An absolute time holds only on the machine its section names; compare ratios "
              "measured in the same run."), "", "## Contents", ""]
    lines += [f"- `{p.relative_to(results.parent.parent).as_posix()}`"
              for p in evaluated + others]
    lines.append("")
    linked = set()
    for path in evaluated + others:
        body, png = section(path, results, out)
        lines += body
        linked.add(png)
    rest = sorted(p for p in results.rglob("*.png") if p not in linked)
    if rest:
        lines += ["## Other plots", ""]
        lines += [f"- ![{p.name}]({os.path.relpath(p, out.parent)})" for p in rest] + [""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results.md")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report(args.results.resolve(), args.out.resolve()))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
