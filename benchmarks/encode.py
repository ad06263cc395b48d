"""Benchmark llm_bridge: encoder throughput and cached re-encoding of a large catalog.

Measures, on the packaged all-MiniLM-L6-v2 and deterministic ~20-word item texts:

1. sentences/s of ``TextEncoder.encode`` at batch 1 (baseline), 32, 64 and 128 on CPU in
   float32 and bfloat16-autocast, and on CUDA in float16 when a GPU is present;
2. re-encoding an unchanged catalog of ``--n-cached`` (default 100k) distinct texts through
   ``FeatureStore``: the cache is pre-filled with random unit vectors under the right keys
   via ``FeatureStore.put`` (the store's own write path) instead of running the model on
   100k texts; the timed part (open store = checksum + index load, then ``encode`` with
   all hits) is exactly what an unchanged re-encode does;
3. exactness: real vectors of 1,000 texts read back from the cache vs a fresh encode.

Prints a Markdown table and writes ``benchmarks/results/encode.json``.

Run: ``.venv/bin/python benchmarks/encode.py [--n-cached 100000] [--n-throughput 1024]``
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-cached", type=int, default=100_000)
    parser.add_argument("--n-throughput", type=int, default=512)
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parent / "results" / "encode.json")
    args = parser.parse_args()

    info = machine_info(("torch", "transformers", "numpy", "kgrec"), seed=SEED)
    print(f"machine: {info['cpu']}, {info['cores']} cores, torch threads "
          f"{info['torch_threads']}, GPU {info['gpu']}, load {info['load_average_at_start']}")
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
                                    "text_words": 20, "throughput": rows, "cache": cache},
                                   indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
