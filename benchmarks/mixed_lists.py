"""New (cold) items in mixed lists: where do they land beside the warm catalog?

The C protocol ranks cold items only against each other. Serving ranks them against
every item, so this benchmark asks how often a model-scored new item reaches a top-20
and what guaranteed slots (``recommend(new_items=n)``) or score calibration cost.

On the C split of a dataset (default MovieLens 100K, seeds 2026-2028), kgrec is trained
exactly as in the harness (cold items: text and attributes only). The mixed test
holds, for every user, the held-out 20% of their warm items (the W rule) plus the
same 20% share of their cold items (the same rule over the cold pairs), so cold items
are as relevant as their real interactions make them. Every item is a candidate and
train items are excluded. Policies, all on the same scores:

- ``model``: the trained score, :meth:`gnn.scorer.Scorer.score_trained` (cold items: the
  cosine of their cold-rule embedding plus the item–item term through their
  content-predicted columns, :mod:`gnn.item_item`);
- ``new_items=1`` / ``=2``: the best 1 or 2 cold items in guaranteed slots;
- ``linear calibration``: cold scores mapped by the least-squares fit of the warm
  items' served scores on their cold-rule scores (what each warm item would score
  with no interactions);
- ``quantile calibration``: cold scores mapped so that their distribution matches
  the warm items' (catalog-share exposure).

Reported: NDCG@20 and Recall@20 over all held-out items, the share of top-20 slots
held by cold items, and the cold items' Recall@20 (users with a cold test item).
Prints a Markdown table and writes ``benchmarks/results/mixed_lists.json``.

Run: ``.venv/bin/python benchmarks/mixed_lists.py [--dataset DIR|movielens:PATH]
[--seeds 2026,2027,2028]`` (about a minute per seed on 2 cores)
"""

from __future__ import annotations

import json
from typing import Any

from _machine import dataset_parser, machine_info, read_data

K = 20


def _metrics(scores: Any, relevant: Any, cold: Any) -> dict[str, float]:
    """Top-K metrics of ``scores [U, I]`` (train items already ``-inf``)."""
    import numpy as np

    top = np.argpartition(-scores, K, axis=1)[:, :K]
    top = np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, 1), 1), 1)
    hits = np.take_along_axis(relevant, top, 1)
    disc = 1.0 / np.log2(np.arange(K) + 2.0)
    n_rel = relevant.sum(1)
    idcg = np.cumsum(disc)[np.minimum(n_rel, K) - 1]
    cold_rel = (relevant & cold).sum(1)
    cold_hits = (hits & cold[top]).sum(1)
    has_cold = cold_rel > 0
    return {"ndcg": float(((hits * disc).sum(1) / idcg).mean()),
            "recall": float((hits.sum(1) / n_rel).mean()),
            "cold_share": float(cold[top].mean()),
            "cold_recall": float((cold_hits[has_cold] / cold_rel[has_cold]).mean())}


def run_seed(snap: Any, features: Any, seed: int) -> dict[str, dict[str, float]]:
    """Train kgrec on the C split of ``seed`` and score every policy."""
    import numpy as np

    from gnn.evaluate import _context
    from gnn.infer import embed_new_items
    from gnn.kgrec_ranker import KGRecRanker
    from gnn.long_tail import every_slots, rank_scores
    from gnn.metrics import pair_matrix
    from gnn.scorer import Scorer
    from gnn.split import TRAIN_FRACTION, _distinct_pairs, make_split, split_pairs

    split = make_split(snap, "c", seed)
    ranker = KGRecRanker()
    ranker.fit(split.train, _context(split, features, "cpu"))
    tm = ranker.trained
    assert tm is not None
    n_u, n_i = snap.num_users, snap.num_items
    pairs = _distinct_pairs(snap.interaction_index, n_i)
    cold = np.zeros(n_i, dtype=bool)
    cold[split.cold_items] = True
    held = []
    for part in (pairs[:, ~cold[pairs[1]]], pairs[:, cold[pairs[1]]]):
        train_mask, _ = split_pairs(part, seed, TRAIN_FRACTION)
        held.append(part[:, ~train_mask])
    test = np.concatenate(held, axis=1)
    users = np.unique(test[0])
    relevant = pair_matrix(test, n_u, n_i)[users].toarray() > 0
    train = pair_matrix(split.train.interaction_index, n_u, n_i)
    seen = train[users].tocoo()

    scorer = Scorer(tm)
    raw = scorer.score_trained(users)
    base = raw.copy()
    base[seen.row, seen.col] = -np.inf
    # cold-rule scores of the warm items: what each would score with no interactions
    attrs: list[list[str]] = [[] for _ in range(n_i)]
    for i, a in zip(*snap.item_attribute_index.tolist(), strict=True):
        attrs[i].append(snap.attribute_ids[a])
    cold_rule = embed_new_items(tm, features.item, attrs)
    warm = tm.item_has_id
    fit_users = np.random.default_rng(seed).choice(n_u, min(n_u, 2000), replace=False)
    served = scorer.score_trained(fit_users)[:, warm].ravel()
    as_new = tm.user_emb[fit_users] @ cold_rule[warm].T
    term = tm.item_item
    if term is not None and term.content_map is not None:  # content-predicted columns
        rows = np.flatnonzero(warm)
        content = tm.content_rows(features.item[rows], [attrs[i] for i in rows])
        assert content is not None
        as_new += term.weight * (tm.graph.interactions[fit_users] @ term.content_map) @ content.T
    as_new = as_new.ravel()
    slope, shift = np.polyfit(as_new, served, 1)
    grid = np.linspace(0, 1, 201)
    from_q, to_q = np.quantile(as_new, grid), np.quantile(served, grid)

    policies: dict[str, Any] = {"model": base}
    for n in (1, 2):  # what recommend(new_items=n) does
        s = rank_scores(raw, train, users, cold, every_slots(max(2, K // n), K), limit=n)
        s[seen.row, seen.col] = -np.inf
        policies[f"new_items={n}"] = s
    for name, f in (("linear calibration", lambda c: slope * c + shift),
                    ("quantile calibration", lambda c: np.interp(c, from_q, to_q))):
        s = base.copy()
        s[:, cold] = np.where(np.isfinite(base[:, cold]), f(base[:, cold]), -np.inf)
        policies[name] = s
    out = {name: _metrics(s, relevant, cold) for name, s in policies.items()}
    out["_facts"] = {"users": len(users),
                     "cold_share_of_held_out": float(relevant[:, cold].sum() / relevant.sum()),
                     "linear_slope": float(slope), "linear_shift": float(shift)}
    return out


def main() -> None:
    args = dataset_parser(__doc__.split("\n")[0]).parse_args()

    import numpy as np

    from gnn.evaluate import _features
    from kgrec.settings import Settings

    data = read_data(args)
    snap = data.to_snapshot()
    features = _features(snap, None, Settings.from_env(), False)
    per_seed = {s: run_seed(snap, features, s) for s in (int(x) for x in args.seeds.split(","))}
    names = [n for n in next(iter(per_seed.values())) if not n.startswith("_")]
    lines = [f"| policy | NDCG@{K} | Recall@{K} | cold share of top-{K} | cold Recall@{K} |",
             "|---|---|---|---|---|"]
    summary = {}
    for name in names:
        m = {key: float(np.mean([r[name][key] for r in per_seed.values()]))
             for key in ("ndcg", "recall", "cold_share", "cold_recall")}
        summary[name] = {key: round(v, 4) for key, v in m.items()}
        lines.append(f"| {name} | {m['ndcg']:.4f} | {m['recall']:.4f} | {m['cold_share']:.3f} "
                     f"| {m['cold_recall']:.4f} |")
    facts = {s: r["_facts"] for s, r in per_seed.items()}
    share = np.mean([f["cold_share_of_held_out"] for f in facts.values()])
    table = "\n".join(lines)
    print(f"dataset {data.name}, C split, seeds {args.seeds}; cold items hold {share:.1%} of "
          f"the held-out interactions\n\n{table}")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / "mixed_lists.json"
    out.write_text(json.dumps({"dataset": data.name, "spec": args.dataset, "seeds": args.seeds,
                               "machine": machine_info(("torch", "numpy", "kgrec")),
                               "policies": summary, "facts": facts, "table": table}, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
