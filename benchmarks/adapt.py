"""Benchmark encoder adaptation (``llm_bridge.adapt``): does the adapted encoder lift cold items?

On one catalog folder, for protocol C (cold items, ``gnn.split.make_split``, one seed):

1. mine positive pairs from the split's **training** interactions only (co-interacted item
   pairs) and from the item-attribute edges of warm items (``gnn.pairs.catalog_pairs``
   with ``exclude=split.cold_items``), and check that no pair touches a cold item;
2. adapt the encoder (``llm_bridge.adapt.adapt_encoder``) within ``--budget`` seconds;
3. encode every node with the base and with the adapted encoder (``FeatureStore`` under
   ``--features-dir``: the two get different fingerprints, hence different cache folders);
4. rank with ContentKNN (and kgrec with ``--kgrec``) on C through ``gnn.evaluate``, base
   and adapted in the same run, and time encoding throughput (items/s, uncached, batch 64)
   of both encoders on the same item texts.

Prints a Markdown table, writes ``--out/adapt.json`` (with the machine) and
``--out/adapt_loss.png`` (the loss curve).

Run: ``.venv/bin/python benchmarks/office_catalog.py ../shared/datasets/amazon-office-2014
/tmp/office`` then ``.venv/bin/python benchmarks/adapt.py --dataset /tmp/office``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from _machine import ROOT, machine_info

SEED = 2026


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="catalog folder (benchmarks/*_catalog.py)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--budget", type=float, default=540.0, help="adaptation seconds")
    parser.add_argument("--trainable-layers", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--per-item", type=int, default=10, help="co-interacted pairs per item")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--model-out", type=Path, default=Path("/tmp/kgrec-adapted-encoder"))
    parser.add_argument("--features-dir", type=Path,
                        default=Path("~/.cache/kgrec/features").expanduser())
    parser.add_argument("--throughput-items", type=int, default=256)
    parser.add_argument("--kgrec", action="store_true", help="also evaluate kgrec (slow)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    return parser.parse_args()


def mine(snapshot: Any, seed: int, per_item: int) -> tuple[Any, Any]:
    from gnn.pairs import catalog_pairs
    from gnn.split import make_split

    split = make_split(snapshot, "c", seed)
    cold = split.cold_items
    assert not np.isin(split.train.interaction_index[1], cold).any(), "cold item in train"
    pairs = catalog_pairs(split.train, cold, per_item=per_item)
    item_side = pairs.pairs[pairs.pairs < snapshot.num_items]
    assert not np.isin(item_side, cold).any(), "a pair touches a cold item: leakage"
    return split, pairs


def throughput(encoder: Any, texts: list[str]) -> float:
    encoder.encode(texts[:64], batch_size=64, show_progress=False)  # load + warm up
    t0 = time.perf_counter()
    encoder.encode(texts, batch_size=64, show_progress=False)
    return len(texts) / (time.perf_counter() - t0)


def features_for(model: str | None, snapshot: Any, features_dir: Path,
                 sample: list[str]) -> tuple[Any, dict[str, Any]]:
    from gnn.features import node_features
    from kgrec.settings import EncoderSettings
    from llm_bridge import FeatureStore, TextEncoder

    encoder = TextEncoder(EncoderSettings(model=model, device="cpu"))
    store = FeatureStore(features_dir, encoder)
    t0 = time.perf_counter()
    feats = node_features(snapshot, store, show_progress=False)
    info = {"model": encoder.model_id, "fingerprint": encoder.fingerprint,
            "cache_folder": str(store.path), "features_seconds": round(time.perf_counter() - t0, 1),
            "items_per_s": round(throughput(encoder, sample), 1)}
    print(f"  {info['model']}: features {info['features_seconds']}s, "
          f"{info['items_per_s']} items/s, fingerprint {encoder.fingerprint[:12]}", flush=True)
    return feats, info


def rank(snapshot: Any, feats: Any, seed: int, with_kgrec: bool) -> dict[str, dict[str, float]]:
    from gnn.evaluate import evaluate

    models = ["ContentKNN"] + (["kgrec"] if with_kgrec else [])
    rows = evaluate(snapshot, dataset="adapt", protocols=("c",), seeds=(seed,), ks=(20,),
                    models=models, features=feats, show_progress=False)
    return {r.model: {"ndcg@20": r.ndcg, "recall@20": r.recall, "users": r.n_users,
                      "fit_seconds": r.train_seconds} for r in rows}


def plot_losses(losses: list[float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = np.arange(1, len(losses) + 1)
    window = max(1, len(losses) // 10)
    smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(steps, losses, color="tab:blue", alpha=0.35, label="step loss")
    ax.plot(steps[window - 1:], smooth, color="tab:blue", label=f"mean of {window} steps")
    ax.set_xlabel("step")
    ax.set_ylabel("symmetric InfoNCE loss")
    ax.set_title("encoder adaptation")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def table(result: dict[str, Any]) -> str:
    lines = ["| encoder | model | C NDCG@20 | C Recall@20 | items/s (encode) |", "|---|---|---|---|---|"]
    for name in ("base", "adapted"):
        enc = result["encoders"][name]
        for model, m in result["ranking"][name].items():
            lines.append(f"| {name} | {model} | {m['ndcg@20']:.4f} | {m['recall@20']:.4f} | "
                         f"{enc['items_per_s']:.1f} |")
    a = result["adaptation"]
    lines.append(f"\nadaptation: {a['steps']} steps ({a['pairs_seen']} pairs seen of "
                 f"{a['pairs']}) in {a['train_seconds']:.0f}s (+ {a['load_seconds']:.0f}s load), "
                 f"stopped by {a['stopped_by']}; loss {a['loss_first_20']:.3f} -> "
                 f"{a['loss_last_20']:.3f}")
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    from ingest import read_dataset
    from llm_bridge.adapt import AdaptConfig, adapt_encoder

    info = machine_info(("torch", "transformers"))
    snapshot = read_dataset(args.dataset).to_snapshot()
    split, pairs = mine(snapshot, args.seed, args.per_item)
    print(f"{snapshot.num_items} items, {len(split.cold_items)} cold; pairs {pairs.kinds}",
          flush=True)
    config = AdaptConfig(budget_seconds=args.budget, trainable_layers=args.trainable_layers,
                         batch_size=args.batch_size, max_length=args.max_length,
                         learning_rate=args.learning_rate, seed=args.seed, device=args.device)
    t0 = time.perf_counter()
    adapted = adapt_encoder(None, pairs.texts, pairs.pairs, args.model_out, config=config,
                            pair_kinds=pairs.kinds, show_progress=False)
    total_s = time.perf_counter() - t0
    m = adapted.manifest
    print(f"adapted in {total_s:.0f}s: {m['steps']} steps, stopped by {m['stopped_by']}",
          flush=True)
    sample = pairs.texts[:args.throughput_items]
    encoders: dict[str, Any] = {}
    ranking: dict[str, Any] = {}
    for name, model in (("base", None), ("adapted", str(adapted.path))):
        feats, encoders[name] = features_for(model, snapshot, args.features_dir, sample)
        ranking[name] = rank(snapshot, feats, args.seed, args.kgrec)
        print(f"  {name}: {ranking[name]}", flush=True)
    assert encoders["base"]["fingerprint"] != encoders["adapted"]["fingerprint"]
    losses = m["losses"]
    result = {
        "dataset": str(args.dataset), "protocol": "C", "seed": args.seed, "machine": info,
        "adaptation": {**{k: v for k, v in m.items() if k != "losses"},
                       "total_seconds": round(total_s, 1),
                       "loss_first_20": float(np.mean(losses[:20])),
                       "loss_last_20": float(np.mean(losses[-20:]))},
        "encoders": encoders, "ranking": ranking, "losses": losses,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "adapt.json").write_text(json.dumps(result, indent=1))
    plot_losses(losses, args.out / "adapt_loss.png")
    print(table(result))


if __name__ == "__main__":
    main()
