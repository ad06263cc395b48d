"""Benchmark llm_bridge: encoder throughput and cached re-encoding of a large catalog.

Measures, on the packaged all-MiniLM-L6-v2 and deterministic ~20-word item texts:

1. sentences/s of ``TextEncoder.encode`` at batch 1 (baseline), 32, 64 and 128 on CPU in
   float32 and bfloat16-autocast, and on CUDA in float16 when a GPU is present;
2. re-encoding an unchanged catalog of ``--n-cached`` (default 100k) distinct texts through
   ``FeatureStore``: the cache is pre-filled with random unit vectors under the right keys
   via ``FeatureStore.put`` (the store's own write path) instead of running the model on
   100k texts; the timed part (open store = checksum + index load, then ``encode`` with
   all hits) is exactly what an unchanged re-encode does;
3. exactness: real vectors of 1,000 texts read back from the cache vs a fresh encode;
4. with ``--dataset DIR`` (a catalog with item text, e.g. the Office catalog of
   ``benchmarks/office_catalog.py``): **quality beside speed** for each encoder of
   ``--encoders`` (``packaged`` = the packaged MiniLM, or a local model folder) and each
   item-text rule (template order x long-text rule): the C-protocol (cold items)
   NDCG@20 of ContentKNN on that encoder's item features, mean over ``--quality-seeds``,
   the catalog's encode time and the share of item texts over the window.
   ContentKNN is the cheapest judge of what the text alone carries: it ranks cold
   items by cosine to the user's items, with no training. ``--skip-speed`` skips 1-3.

Prints Markdown tables and writes ``benchmarks/results/encode.json``.

Run: ``.venv/bin/python benchmarks/encode.py [--n-cached 100000] [--n-throughput 1024]
[--dataset /tmp/office --encoders packaged,/path/to/model --quality-seeds 2026,2027,2028]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _machine import machine_info

SEED = 2026
_WORDS = [
    "love", "war", "space", "robot", "family", "comedy", "drama", "heist", "detective", "city",
    "night", "ocean", "journey", "secret", "island", "kingdom", "dragon", "school", "music",
    "dance", "winter", "summer", "river", "mountain", "desert", "ghost", "prison", "train",
    "ship", "village", "doctor", "soldier", "queen", "king", "pirate", "witch", "island",
    "storm", "friendship", "betrayal", "revenge", "mystery", "escape", "rescue", "dream",
    "memory", "future", "past", "empire", "rebel", "hero", "villain", "wedding", "funeral",
    "murder", "courtroom", "election", "newspaper", "spy", "mission", "alien", "planet",
    "galaxy", "machine", "virus", "hospital", "farm", "horse", "wolf", "forest", "garden",
    "kitchen", "chef", "painter", "writer", "singer", "boxer", "runner", "lawyer", "teacher",
    "student", "child", "mother", "father", "brother", "sister", "stranger", "neighbour",
    "town", "road", "bridge", "tower", "castle", "cave", "jungle", "harbor"
]
_GLUE = [
    "a", "the", "of", "and", "in", "with", "about", "on", "from"
]


def make_texts(n: int, seed: int = SEED, words: int = 20) -> list[str]:
    """``n`` distinct, deterministic item texts of about ``words`` words."""
    rng = np.random.default_rng(seed)
    vocab = np.array(_WORDS + _GLUE)
    picks = rng.integers(0, len(vocab), size=(n, words - 2))
    return [f"Item {i}: " + " ".join(vocab[row].tolist()) + "." for i, row in enumerate(picks)]


def _seeds(text: str) -> list[int]:
    return [int(x) for x in text.split(",")]


def throughput(encoder: Any, texts: list[str], batch_size: int) -> float:
    encoder.encode(texts[:batch_size], batch_size=batch_size, show_progress=False)  # warm-up
    t0 = time.perf_counter()
    encoder.encode(texts, batch_size=batch_size, show_progress=False)
    return len(texts) / (time.perf_counter() - t0)


def bench_throughput(n: int) -> list[dict[str, Any]]:
    import torch

    from kgrec.settings import EncoderSettings
    from llm_bridge import TextEncoder

    texts = make_texts(n, seed=SEED + 1)
    configs = [("cpu", "float32"), ("cpu", "bfloat16")]
    if torch.cuda.is_available():
        configs.append(("cuda", "float16"))
    rows = []
    for device, dtype in configs:
        enc = TextEncoder(EncoderSettings(device=device), dtype=dtype)  # type: ignore[arg-type]
        base = throughput(enc, texts[: min(n, 128)], 1)
        rows.append({"device": device, "dtype": dtype, "batch_size": 1, "texts": min(n, 128),
                     "sentences_per_s": base, "vs_batch_1": 1.0})
        for bs in (32, 64, 128):
            rate = throughput(enc, texts, bs)
            rows.append({"device": device, "dtype": dtype, "batch_size": bs, "texts": n,
                         "sentences_per_s": rate, "vs_batch_1": rate / base})
            print(f"  {device} {dtype} batch {bs}: {rate:,.0f} sentences/s", flush=True)
    return rows


def bench_cache(n: int) -> dict[str, Any]:
    from kgrec.settings import EncoderSettings
    from llm_bridge import FeatureStore, TextEncoder

    enc = TextEncoder(EncoderSettings(device="cpu"))
    texts = make_texts(n)
    assert len(set(texts)) == n
    rng = np.random.default_rng(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        fake = rng.standard_normal((n, enc.dim), dtype=np.float32)
        fake /= np.linalg.norm(fake, axis=1, keepdims=True)
        t0 = time.perf_counter()
        FeatureStore(root, enc).put(texts, fake)
        prefill_s = time.perf_counter() - t0
        del fake

        t0 = time.perf_counter()
        store = FeatureStore(root, enc)  # fresh process state: verify checksums, load index
        open_s = time.perf_counter() - t0
        x, stats = store.encode(texts, show_progress=False)
        total_s = time.perf_counter() - t0
        assert stats.hits == n and x.shape == (n, enc.dim)

        changed = list(texts)
        changed[n // 2] += " Now with a new ending."
        t0 = time.perf_counter()
        _, one = store.encode(changed, show_progress=False)  # loads the model for 1 miss
        changed_s = time.perf_counter() - t0
        assert (one.hits, one.misses) == (n - 1, 1)

        real = make_texts(1000, seed=SEED + 2)
        fresh = enc.encode(real, show_progress=False)
        store.encode(real, show_progress=False)
        cached, st = FeatureStore(root, enc).encode(real, show_progress=False)
        assert st.hits == len(real)
        max_abs = float(np.abs(cached - fresh).max())
    return {
        "n": n, "prefill_with_random_vectors_s": prefill_s, "open_store_s": open_s,
        "encode_all_hits_s": stats.seconds, "total_reencode_s": total_s,
        "sentences_per_s": n / total_s, "one_changed_text_s": changed_s,
        "one_changed_text_note": "includes loading the model for the single miss",
        "cached_vs_fresh_max_abs_diff_1000_real": max_abs,
    }


TEMPLATES = {"title, description, attributes": "{title}\n{description}\n{attributes}",
             "title, attributes, description": "{title}\n{attributes}\n{description}"}


def _model_size_mb(path: str) -> float:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 2**20


def bench_quality(dataset: str, encoders: list[str], seeds: list[int],
                  rules: list[tuple[str, str]], budget_s: float | None = None
                  ) -> list[dict[str, Any]]:
    """ContentKNN C NDCG@20 and encode cost per (encoder, template, long-text rule).

    With ``budget_s``, an encoder whose uncached catalog encode is estimated (from its
    throughput) to take longer is reported with its speed only."""
    from gnn.evaluate import evaluate
    from gnn.features import NodeFeatures
    from ingest import read_dataset
    from kgrec.settings import EncoderSettings, Settings
    from llm_bridge import FeatureStore, TextEncoder, item_text

    snap = read_dataset(dataset).to_snapshot()
    attrs = snap.item_attributes()
    features_dir = Settings.from_env().features_dir
    rows = []
    for spec in encoders:
        model = None if spec == "packaged" else spec
        for template_name, long_text in rules:
            template = TEMPLATES[template_name]
            texts = [item_text(t, d, a, template=template) for t, d, a in
                     zip(snap.item_title, snap.item_description, attrs, strict=True)]
            enc = TextEncoder(EncoderSettings(model=model, device="cpu"),
                              long_text=long_text)  # type: ignore[arg-type]
            lengths = enc.length_report(texts)
            sample = texts[:: max(1, len(texts) // 256)][:256]
            rate = throughput(enc, sample, 32)
            store = FeatureStore(features_dir, enc)
            estimate_s = lengths.windows / rate
            row: dict[str, Any] = {
                "encoder": enc.model_id, "dim": enc.dim,
                "model_mb": round(_model_size_mb(enc.model_path), 1),
                "template": template_name, "long_text": long_text, "window": enc.window,
                "texts_over_window": lengths.share, "windows": lengths.windows,
                "texts_per_s_batch32": rate, "estimated_catalog_encode_s": estimate_s}
            if budget_s is not None and estimate_s > budget_s:
                rows.append({**row, "c_contentknn_ndcg20": None,
                             "note": f"quality not measured: encode estimated {estimate_s:.0f}s"
                                     f" > budget {budget_s:.0f}s"})
                print(f"  {spec}: {rate:,.1f} texts/s; quality skipped ({rows[-1]['note']})")
                continue
            t0 = time.perf_counter()
            item, stats = store.encode(texts, show_progress=False)
            encode_s = time.perf_counter() - t0
            dim = item.shape[1]  # ContentKNN reads item features only
            feats = NodeFeatures(item=item,
                                 attribute=np.zeros((snap.num_attributes, dim), np.float32),
                                 user=np.zeros((snap.num_users, dim), np.float32),
                                 encoder_id=enc.model_id)
            results = evaluate(snap, protocols=["c"], seeds=seeds, ks=[20],
                               models=["ContentKNN"], features=feats, show_progress=False)
            ndcg = [r.ndcg for r in results]
            rows.append({**row, "catalog_encode_s": encode_s if stats.encoded else None,
                         "c_contentknn_ndcg20": float(np.mean(ndcg)),
                         "c_contentknn_ndcg20_per_seed": ndcg})
            print(f"  {spec} {template_name} {long_text}: C ContentKNN NDCG@20 "
                  f"{rows[-1]['c_contentknn_ndcg20']:.4f}, {rate:,.1f} texts/s", flush=True)
    return rows


def _print_quality(rows: list[dict[str, Any]], dataset: str, seeds: str) -> None:
    print(f"\nEncoders and item-text rules on {dataset}: C protocol (cold items), ContentKNN "
          f"NDCG@20, mean over seeds {seeds}; throughput on 256 of its item texts, batch 32\n")
    print("| encoder | dim | MB | item text | long texts | over window | C NDCG@20 | "
          "texts/s |")
    print("|---|---:|---:|---|---|---:|---:|---:|")
    for r in rows:
        quality = "-" if r["c_contentknn_ndcg20"] is None else f"{r['c_contentknn_ndcg20']:.4f}"
        print(f"| {Path(r['encoder']).name} | {r['dim']} | {r['model_mb']:.0f} | "
              f"{r['template']} | {r['long_text']} ({r['window']} tokens) | "
              f"{r['texts_over_window']:.1%} | {quality} | {r['texts_per_s_batch32']:,.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-cached", type=int, default=100_000)
    parser.add_argument("--n-throughput", type=int, default=512)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "encode.json")
    parser.add_argument("--dataset", default=None,
                        help="catalog folder for the quality table (none: skipped)")
    parser.add_argument("--encoders", default="packaged",
                        help="comma-separated: packaged, or local model folders")
    parser.add_argument("--quality-seeds", default="2026,2027,2028")
    parser.add_argument("--rules", default="title, attributes, description:chunk",
                        help="';'-separated TEMPLATE:LONG_TEXT pairs, e.g. 'title, "
                             "description, attributes:truncate;title, attributes, "
                             "description:chunk' (first rule only for the 2nd+ encoder)")
    parser.add_argument("--quality-budget-s", type=float, default=None,
                        help="skip the quality of an encoder whose catalog encode is "
                             "estimated to take longer (its speed is still reported)")
    parser.add_argument("--skip-speed", action="store_true",
                        help="only the quality table (keeps the speed figures of --out)")
    args = parser.parse_args()

    info = machine_info(("torch", "transformers", "numpy", "kgrec"), seed=SEED)
    print(f"machine: {info['cpu']}, {info['cores']} cores, torch threads "
          f"{info['torch_threads']}, GPU {info['gpu']}, load {info['load_average_at_start']}")
    quality: list[dict[str, Any]] = []
    if args.dataset:
        rules = [(r.rsplit(":", 1)[0].strip(), r.rsplit(":", 1)[1].strip())
                 for r in args.rules.split(";")]
        encoders = args.encoders.split(",")
        seeds = _seeds(args.quality_seeds)
        quality = bench_quality(args.dataset, encoders[:1], seeds, rules, args.quality_budget_s)
        if encoders[1:]:
            quality += bench_quality(args.dataset, encoders[1:], seeds, rules[-1:],
                                     args.quality_budget_s)
        _print_quality(quality, args.dataset, args.quality_seeds)
    if args.skip_speed:
        old = json.loads(args.out.read_text()) if args.out.exists() else {}
        old["quality"] = {"dataset": args.dataset, "seeds": args.quality_seeds,
                          "machine": info, "rows": quality}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(old, indent=2))
        print(f"wrote {args.out} (quality only)")
        return
    rows = bench_throughput(args.n_throughput)
    cache = bench_cache(args.n_cached)

    print("\n| device | dtype | batch | texts | sentences/s | vs batch 1 |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['device']} | {r['dtype']} | {r['batch_size']} | {r['texts']} | "
              f"{r['sentences_per_s']:,.0f} | {r['vs_batch_1']:.1f}x |")
    print(f"\n| cached re-encode of {cache['n']:,} unchanged texts | seconds |")
    print("|---|---:|")
    print(f"| open store (checksums + index) | {cache['open_store_s']:.2f} |")
    print(f"| encode, all hits | {cache['encode_all_hits_s']:.2f} |")
    print(f"| **total** ({cache['sentences_per_s']:,.0f} texts/s) | "
          f"**{cache['total_reencode_s']:.2f}** |")
    print(f"| one text changed (1 miss, model load included) | {cache['one_changed_text_s']:.2f} |")
    print("\nThe 100k cache was pre-filled with random unit vectors through FeatureStore.put "
          "(same write path as encode) rather than by running the model on 100k texts.")
    print(f"Exactness: cached vs fresh real vectors (1,000 texts), max |diff| = "
          f"{cache['cached_vs_fresh_max_abs_diff_1000_real']:.1e}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": info, "model": "all-MiniLM-L6-v2 (packaged)",
                                    "text_words": 20, "throughput": rows, "cache": cache,
                                    "quality": {"dataset": args.dataset,
                                                "seeds": args.quality_seeds, "rows": quality}},
                                   indent=2))
    if quality:
        _print_quality(quality, args.dataset, args.quality_seeds)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
