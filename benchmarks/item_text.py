"""Which item text the encoder reads: kgrec and the text baseline on C per template.

kgrec's item features come from ``llm_bridge.item_text`` with the template
``{title}\\n{description}\\n{attributes}``, and ContentKNN uses the same features
(EVALUATION.md: "the same encoder kgrec uses"), so the template moves both. This
benchmark encodes the items with each template below and runs, on the C split of
each seed, ContentKNN, AttrProfile (which reads no text: the fixed point) and kgrec:

- ``{title}\\n{description}\\n{attributes}``: the product's template;
- ``{description}``: the description alone (for MovieLens 100K the adapter's
  ``"Title (year). Genres: …"``, the published ContentKNN's text);
- ``{title}\\n{attributes}``: no description.

It answers two questions: does kgrec's template favour kgrec or weaken the baseline,
and where does a ContentKNN far from its published figure come from. Prints a
Markdown table (C NDCG@20, mean over seeds) and writes
``benchmarks/results/item_text.json``.

Run: ``.venv/bin/python benchmarks/item_text.py [--dataset DIR|movielens:PATH]
[--attribute-kinds genre] [--seeds 2026,2027,2028]`` (about a minute per template
and seed on 2 cores)
"""

from __future__ import annotations

import json

from _machine import dataset_parser, machine_info, read_data

TEMPLATES = ("{title}\n{description}\n{attributes}", "{description}", "{title}\n{attributes}")
MODELS = ("ContentKNN", "AttrProfile", "kgrec")


def main() -> None:
    args = dataset_parser(__doc__.split("\n")[0]).parse_args()

    from dataclasses import replace

    import numpy as np

    from gnn.evaluate import _features, evaluate
    from kgrec.settings import Settings
    from llm_bridge import FeatureStore, TextEncoder, item_text

    data = read_data(args)
    snap = data.to_snapshot()
    settings = Settings.from_env()
    store = FeatureStore(settings.features_dir, TextEncoder(settings.encoder))
    base = _features(snap, store, settings, False)
    attrs = snap.item_attributes()
    seeds = [int(s) for s in args.seeds.split(",")]
    results: dict[str, dict[str, list[float]]] = {}
    examples: dict[str, str] = {}
    for template in TEMPLATES:
        texts = [item_text(t, d, a, template=template) for t, d, a in
                 zip(snap.item_title, snap.item_description, attrs, strict=True)]
        examples[template] = texts[0]
        item = np.asarray(store.encode(texts, show_progress=False)[0], np.float32)
        rows = evaluate(snap, dataset=data.name, protocols=["c"], seeds=seeds, ks=[20],
                        models=list(MODELS), features=replace(base, item=item),
                        show_progress=False)
        for r in rows:
            results.setdefault(template, {}).setdefault(r.model, []).append(r.ndcg)
            print(f"{template!r} seed {r.seed} {r.model}: NDCG@20 {r.ndcg:.4f}", flush=True)

    lines = ["| item text template | " + " | ".join(MODELS) + " | kgrec / best baseline |",
             "|---|" + "---|" * (len(MODELS) + 1)]
    summary = {}
    for template, per_model in results.items():
        mean = {m: float(np.mean(v)) for m, v in per_model.items()}
        best = max(mean["ContentKNN"], mean["AttrProfile"])
        summary[template] = {"ndcg20": {m: round(v, 4) for m, v in mean.items()},
                             "per_seed": per_model, "example": examples[template]}
        cells = " | ".join(f"{mean[m]:.4f}" for m in MODELS)
        lines.append(f"| `{template.replace(chr(10), ' / ')}` | {cells} | "
                     f"{mean['kgrec'] / best:.2f}× |")
    table = "\n".join(lines)
    print(f"\ndataset {data.name}, C protocol, NDCG@20, seeds {args.seeds}\n\n{table}")
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = f"_{args.attribute_kinds.replace(',', '_')}" if args.attribute_kinds else ""
    out = args.out / f"item_text{suffix}.json"
    out.write_text(json.dumps({"dataset": data.name, "spec": args.dataset, "seeds": args.seeds,
                               "attribute_kinds": args.attribute_kinds,
                               "machine": machine_info(("torch", "numpy", "kgrec")),
                               "templates": summary, "table": table}, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
