"""Write a books-like catalog folder, with the quirks real exports have, for
``benchmarks/evaluate.py --dataset DIR``: a dataset the model was never tuned on, read
through the catalog file readers rather than an in-memory generator.

What it holds (deterministic for a ``--seed``):

- ``items.csv``: 6,000 books with ``attr:category`` (one or two of 12, ``|``-separated),
  ``attr:author`` (2,500 authors, ~2.4 books each, 80% of them in the author's
  category), ``attr:publisher`` (40; 30% missing) and ``attr:language``; titles that
  say nothing about the content; descriptions from the category (10% empty, non-ASCII
  punctuation); 3% of the books have no attributes at all.
- ``users.jsonl``: 3,000 users, 60% with a ``country`` profile attribute.
- ``interactions.csv``: ``user_id,item_id,weight,timestamp`` (ratings 1–5, ISO-8601
  times), ~20 rows per user (~12 distinct books) on a Pareto distribution (many users
  with one or two), each user drawn to two categories and five favourite authors;
  item popularity is Pareto too, and 30% of the books are never read; 5% of the rows
  repeat a pair.

Run: ``.venv/bin/python benchmarks/books_catalog.py DIR [--seed 7]``, then
``.venv/bin/python benchmarks/evaluate.py --dataset DIR --fast --out benchmarks/results/books``.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

CATEGORIES = {
    "Mystery": "a detective unravels a murder in a small town",
    "Romance": "two strangers fall in love against the odds",
    "Science Fiction": "a crew travels to a distant star system",
    "Fantasy": "a young mage faces an ancient dragon",
    "History": "the rise and fall of a medieval empire",
    "Biography": "the life of a remarkable inventor",
    "Cooking": "simple recipes for weeknight dinners",
    "Travel": "a journey across the mountains of Asia",
    "Poetry": "a collection of verse about the sea",
    "Horror": "a haunted house and the ghosts within",
    "Self-Help": "habits that change your working life",
    "Economics": "how markets shape nations and wealth",
}
_ADJ = ["Silent", "Broken", "Golden", "Last", "Hidden", "Red", "Endless", "Little", "Open",
        "Northern", "Paper", "Quiet"]
_NOUN = ["River", "Garden", "Letter", "Winter", "House", "Road", "Promise", "Mirror", "Island",
         "Bridge", "Season", "Door"]


def write_catalog(out: Path, seed: int = 7, n_users: int = 3_000, n_items: int = 6_000,
                  n_authors: int = 2_500) -> None:
    """Write ``items.csv``, ``users.jsonl`` and ``interactions.csv`` under ``out``."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    cats = list(CATEGORIES)
    author_cat = rng.integers(0, len(cats), n_authors)
    item_author = rng.integers(0, n_authors, n_items)
    item_cat = np.where(rng.random(n_items) < 0.8, author_cat[item_author],
                        rng.integers(0, len(cats), n_items))
    with (out / "items.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "title", "description", "attr:category", "attr:author",
                    "attr:publisher", "attr:language"])
        for i in range(n_items):
            cat = cats[item_cat[i]]
            extra = cats[rng.integers(0, len(cats))]
            categories = cat + (f"|{extra}" if rng.random() < 0.3 and extra != cat else "")
            title = f"The {_ADJ[rng.integers(0, 12)]} {_NOUN[rng.integers(0, 12)]}, vol. {i}"
            desc = "" if rng.random() < 0.1 else \
                f"{CATEGORIES[cat].capitalize()} — édition {i % 7}, «{cat}»."
            bare = rng.random() < 0.03
            w.writerow([f"b{i:05d}", title, desc, "" if bare else categories,
                        "" if bare else f"Author {item_author[i]}",
                        f"Press {rng.integers(0, 40)}" if rng.random() < 0.7 else "",
                        "en" if rng.random() < 0.8 else "fr"])
    with (out / "users.jsonl").open("w", encoding="utf-8") as f:
        for u in range(n_users):
            rec: dict[str, object] = {"id": f"u{u}"}
            if rng.random() < 0.6:
                rec["attributes"] = {"country": [["US", "FR", "DE", "IN"][rng.integers(0, 4)]]}
            f.write(json.dumps(rec) + "\n")
    popularity = rng.pareto(1.2, n_items) + 0.05
    popularity[rng.random(n_items) < 0.3] = 0.0
    with (out / "interactions.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["user_id", "item_id", "weight", "timestamp"])
        for u in range(n_users):
            n = min(max(1, int(rng.pareto(1.0) * 5)), 300)
            tastes = rng.choice(len(cats), 2, replace=False)
            favourites = rng.integers(0, n_authors, 5)
            p = popularity * (0.1 + 3.0 * np.isin(item_cat, tastes)
                              + 20.0 * np.isin(item_author, favourites))
            for i in rng.choice(n_items, n, p=p / p.sum()):
                ts = f"2024-0{rng.integers(1, 10)}-1{rng.integers(0, 10)}T10:00:00Z"
                w.writerow([f"u{u}", f"b{i:05d}", int(rng.integers(1, 6)), ts])
                if rng.random() < 0.05:
                    w.writerow([f"u{u}", f"b{i:05d}", 1, ts])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="catalog folder to write")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    write_catalog(args.out, args.seed)
    print(f"wrote {args.out}/items.csv, users.jsonl, interactions.csv")


if __name__ == "__main__":
    main()
