"""Turn an Amazon-2014-style product dump (the LC-Rec/LETTER preprocessed layout) into a
catalog folder for ``benchmarks/evaluate.py --dataset DIR``.

Input: a folder holding ``<Name>.item.json`` and ``<Name>.inter.json`` (one of each; the
name is free, e.g. ``Office``), as in ``../shared/datasets/amazon-office-2014``:

- ``*.item.json``: ``{"<item idx>": {"title", "description", "brand", "categories"}}``,
  ``categories`` being one category path whose levels are joined by ``", "``;
- ``*.inter.json``: ``{"<user idx>": [item idx, ...]}``.

Output (the catalog format of ``ingest/catalog.py``), written to the folder you name,
never into the repository (the Amazon text is research-only, see the dataset's
PROVENANCE.md):

- ``items.jsonl``: ``id`` (the item idx), ``title``, ``description``, attributes
  ``brand`` (when not empty), ``category`` and ``department`` (below);
- ``users.jsonl``: one ``{"id": ...}`` per user (the data has no user profile);
- ``interactions.csv``: ``user_id,item_id``, weight 1; the source has no ratings and no
  times, so none are invented.

Text is cleaned as it would be by a careful export: HTML entities are decoded
(``AT&amp;T`` -> ``AT&T``), control characters become spaces, whitespace collapses.
Titles and descriptions are otherwise kept whole: what the encoder does with a long
description is ``llm_bridge``'s business (docs/item_text.md).

**Category paths to attribute values.** A path such as ``Office & School Supplies,
Writing & Correction Supplies, Pens & Refills, Rollerball Pens`` becomes

- ``department`` = its first level (3 values on Office, 69% of the items under one of
  them): a hub that says almost nothing inside one catalog, so it is a kind of its own
  that ``--attribute-kinds`` can drop, rather than a ``category`` value that would give
  most items a common neighbour;
- ``category`` = the leaf and its parent (``Rollerball Pens``, ``Pens & Refills``): the
  leaf is the most specific thing the catalog says about an item, the parent lets a
  cold item whose leaf is rare (a third of the Office leaves hold 1-2 items) still meet
  its siblings. Levels between the department and the parent are left out: they repeat
  what the parent already groups. A path of two levels gives its leaf only (the parent
  is the department), a path of one level gives no ``category``.

Level names may themselves contain ``", "`` (``Forms, Recordkeeping & Money Handling``),
so the path cannot be split blindly. A fragment is joined to the one after it when, over
the whole dump, the fragment never ends a path and is always followed by that same
fragment, and the pair reads as one list, ``A, B & C``: the follower holds ``" & "``
and the fragment does not (``Computers & Accessories, Cables & Accessories`` stays two
levels). Such a pair has identical item sets, so even a wrong join loses no grouping.

Run: ``.venv/bin/python benchmarks/office_catalog.py ../shared/datasets/amazon-office-2014
/tmp/office``, then ``.venv/bin/python benchmarks/evaluate.py --dataset /tmp/office``.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import re
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_SEP = ", "
_SPACE_RE = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u200b\ufeff]+")
_MAX_VALUE = 200  # the catalog's attribute value limit (kg.schema.check_value)


def clean(text: str) -> str:
    """HTML entities decoded, control characters and whitespace runs as one space."""
    return _SPACE_RE.sub(" ", html.unescape(text or "")).strip()


def _fragments(path: str) -> list[str]:
    return [f for f in (clean(x) for x in (path or "").split(_SEP)) if f]


def level_joins(paths: list[str]) -> dict[str, str]:
    """Fragments that are the head of a level name containing ``", "``: fragment ->
    the fragment that always follows it (see the module docstring for the rule)."""
    followers: dict[str, set[str]] = defaultdict(set)
    for path in paths:
        frags = _fragments(path)
        for i, f in enumerate(frags):
            followers[f].add(frags[i + 1] if i + 1 < len(frags) else "")
    return {f: next(iter(nxt)) for f, nxt in followers.items()
            if len(nxt) == 1 and " & " in next(iter(nxt)) and " & " not in f}


def category_levels(path: str, joins: Mapping[str, str]) -> list[str]:
    """The levels of one category path, fragments joined back per ``joins``."""
    frags, levels, i = _fragments(path), [], 0
    while i < len(frags):
        if i + 1 < len(frags) and joins.get(frags[i]) == frags[i + 1]:
            levels.append(f"{frags[i]}{_SEP}{frags[i + 1]}")
            i += 2
        else:
            levels.append(frags[i])
            i += 1
    return [v[:_MAX_VALUE].rstrip() for v in levels]


def item_attributes(raw: Mapping[str, Any], joins: Mapping[str, str]) -> dict[str, list[str]]:
    """``brand``, ``department`` and ``category`` of one raw item (empty kinds left out)."""
    attrs: dict[str, list[str]] = {}
    brand = clean(str(raw.get("brand") or ""))[:_MAX_VALUE].rstrip()
    if brand:
        attrs["brand"] = [brand]
    levels = category_levels(str(raw.get("categories") or ""), joins)
    if levels:
        attrs["department"] = [levels[0]]
    if len(levels) > 1:
        attrs["category"] = list(dict.fromkeys(reversed(levels[1:][-2:])))  # leaf first
    return attrs


def _one(folder: Path, suffix: str) -> Path:
    found = sorted(folder.glob(f"*{suffix}"))
    if len(found) != 1:
        raise SystemExit(f"{folder}: expected exactly one *{suffix}, found "
                         f"{[p.name for p in found] or 'none'}")
    return found[0]


def convert(src: Path, out: Path) -> dict[str, int]:
    """Write ``items.jsonl``, ``users.jsonl`` and ``interactions.csv`` under ``out``.

    Args:
        src: the folder with one ``*.item.json`` and one ``*.inter.json``.
        out: the catalog folder to write (created).

    Returns:
        Counts: ``items``, ``users``, ``interactions``, ``joined_levels``.
    """
    items: dict[str, dict[str, Any]] = json.loads(_one(src, ".item.json").read_text("utf-8"))
    inter: dict[str, list[Any]] = json.loads(_one(src, ".inter.json").read_text("utf-8"))
    joins = level_joins([str(v.get("categories") or "") for v in items.values()])
    out.mkdir(parents=True, exist_ok=True)
    with (out / "items.jsonl").open("w", encoding="utf-8") as f:
        for item_id, raw in items.items():
            rec = {"id": item_id, "title": clean(str(raw.get("title") or "")),
                   "description": clean(str(raw.get("description") or "")),
                   "attributes": item_attributes(raw, joins)}
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    n_pairs = 0
    with (out / "users.jsonl").open("w", encoding="utf-8") as users, \
            (out / "interactions.csv").open("w", newline="", encoding="utf-8") as pairs:
        w = csv.writer(pairs)
        w.writerow(["user_id", "item_id"])
        for user_id, held in inter.items():
            users.write(json.dumps({"id": user_id}) + "\n")
            for item_id in dict.fromkeys(str(i) for i in held):
                w.writerow([user_id, item_id])
                n_pairs += 1
    return {"items": len(items), "users": len(inter), "interactions": n_pairs,
            "joined_levels": len(joins)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src", type=Path, help="folder with *.item.json and *.inter.json")
    parser.add_argument("out", type=Path, help="catalog folder to write (outside the repo)")
    args = parser.parse_args()
    counts = convert(args.src, args.out)
    print(f"wrote {args.out}/items.jsonl, users.jsonl, interactions.csv: {counts['items']} "
          f"items, {counts['users']} users, {counts['interactions']} interactions; "
          f"{counts['joined_levels']} category level names rejoined at ', '")


if __name__ == "__main__":
    main()
