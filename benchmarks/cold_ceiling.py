"""What the C (cold-item) protocol allows: attribute baselines per attribute kind, and the
popularity ceiling, beside kgrec's measured C NDCG@20.

For each seed, on the C split of a dataset (default MovieLens 100K):

- **AttrProfile** restricted to each attribute kind, to every pair of kinds, and with
  all kinds (the harness's AttrProfile chooses between "all" and single kinds on
  validation). It shows which kinds make the cold baseline strong.
- **popularity ceiling**: every user gets the cold items ranked by their number of
  *test* interactions. It reads the test set, so it is not a baseline: it is the best
  any non-personalised ranking of the cold items can do, and cold-item ranking on
  sparse data is mostly a popularity-prediction problem.
- **warm reference**: EASE (λ 500) that has *seen* the held-out items: users are split
  into five folds, and each fold is scored by an EASE fitted on the C train part plus
  every other fold's interactions with the held-out items. It ranks the same items for
  the same users as if they were warm, so it shows how much a cold-start model can be
  expected to reach at all (also not a baseline: it trains on test interactions).
- **kgrec**: its C NDCG@20 per seed from ``benchmarks/results/evaluate.jsonl`` (the
  full harness run), when that file holds C rows for the dataset.

Prints a Markdown table (NDCG@20, Recall@20; mean ± std over seeds) and writes
``benchmarks/results/cold_ceiling.json``. Takes seconds (five closed-form EASE fits per
seed; nothing is trained by gradient).

Run: ``.venv/bin/python benchmarks/cold_ceiling.py [--dataset DIR|movielens:PATH]
[--seeds 2026,2027,2028]``
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import numpy as np
import scipy.sparse as sp
from _machine import dataset_parser, machine_info, read_data


class PopularityCeiling:
    """Scores every item by its test-interaction count (reads the test set: a ceiling)."""

    name = "popularity ceiling (reads test)"

    def __init__(self, test_counts: np.ndarray) -> None:
        self.counts = test_counts

    def fit(self, train: object, context: object) -> None:
        pass

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        return np.tile(self.counts, (len(user_idx), 1))


class WarmReference:
    """EASE scores for the C split as if the held-out items were warm (5 user folds)."""

    name = "warm reference (EASE, held-out items seen from other users)"

    def __init__(self, split: Any, lam: float = 500.0, folds: int = 5) -> None:
        self.split, self.lam, self.folds = split, lam, folds
        self.scores: np.ndarray | None = None

    def fit(self, train: object, context: object) -> None:
        from gnn.baselines._common import interaction_matrix
        from gnn.item_item import ease_scores, fit_ease

        split = self.split
        x = interaction_matrix(split.train)
        users, test = np.arange(x.shape[0]), split.test
        self.scores = np.zeros(x.shape, np.float32)
        for fold in range(self.folds):
            seen = test[:, test[0] % self.folds != fold]
            extra = sp.csr_matrix((np.ones(seen.shape[1], np.float32), (seen[0], seen[1])),
                                  shape=x.shape)
            mine = users[users % self.folds == fold]
            self.scores[mine] = ease_scores(x, fit_ease(x + extra, self.lam), mine)

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        assert self.scores is not None, "call fit() first"
        return self.scores[user_idx]


def main() -> None:
    args = dataset_parser(__doc__.split("\n")[0]).parse_args()

    from gnn.baselines._common import attribute_kinds
    from gnn.baselines.attr_profile import AttrProfile
    from gnn.evaluate import _rank, read_jsonl
    from gnn.split import make_split

    data = read_data(args)
    snap = data.to_snapshot()
    kinds = attribute_kinds(snap)
    subsets = [(k,) for k in kinds] + list(itertools.combinations(kinds, 2))
    results: dict[str, list[tuple[float, float]]] = {}
    for seed in (int(s) for s in args.seeds.split(",")):
        split = make_split(snap, "c", seed)
        counts = np.bincount(split.test[1], minlength=snap.num_items).astype(np.float32)
        models: list[tuple[str, Any]] = [(f"AttrProfile ({' + '.join(s)})", AttrProfile(kinds=s)) for s in subsets]
        models += [("AttrProfile (all kinds)", AttrProfile(kinds=None)),
                   (PopularityCeiling.name, PopularityCeiling(counts)),
                   (WarmReference.name, WarmReference(split))]
        for name, model in models:
            model.fit(split.train, None)
            m = _rank(model, split, [20])[0]
            results.setdefault(name, []).append((m.ndcg, m.recall))
    evaluated = args.out / "evaluate.jsonl"
    if evaluated.exists():
        rows = [r for r in read_jsonl(evaluated) if r.protocol == "C" and r.model == "kgrec"
                and r.k == 20 and r.dataset == data.name]
        if rows:
            results["kgrec (benchmarks/evaluate.py run)"] = [(r.ndcg, r.recall) for r in rows]

    lines = ["| model | NDCG@20 | Recall@20 | seeds |", "|---|---|---|---|"]
    summary = {}
    for name, vals in results.items():
        a = np.asarray(vals)
        mean, std = a.mean(0), (a.std(0, ddof=1) if len(a) > 1 else np.zeros(2))  # as the harness
        summary[name] = {"ndcg": round(float(mean[0]), 4), "ndcg_std": round(float(std[0]), 4),
                         "recall": round(float(mean[1]), 4), "seeds": len(vals)}
        lines.append(f"| {name} | {mean[0]:.4f} ± {std[0]:.4f} | {mean[1]:.4f} ± {std[1]:.4f} "
                     f"| {len(vals)} |")
    table = "\n".join(lines)
    print(f"dataset {data.name}, C protocol, seeds {args.seeds}\n\n{table}")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / "cold_ceiling.json"
    out.write_text(json.dumps({"dataset": data.name, "spec": args.dataset, "seeds": args.seeds,
                               "machine": machine_info(("numpy", "kgrec"), torch=False),
                               "models": summary, "table": table}, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
