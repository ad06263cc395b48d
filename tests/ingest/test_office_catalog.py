"""benchmarks/office_catalog.py on a hand-written dump in the raw Amazon-2014 layout
(3 items, 5 users; the real data is never copied into the repository)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.office_catalog import category_levels, convert, level_joins
from ingest import read_dataset

ITEMS = {
    "0": {"title": "AT&amp;T 210 Corded Phone",
          "description": "A basic phone.\u0007 Easy   to use.",
          "brand": "AT&amp;T",
          "categories": "Office Electronics, Telephones & Accessories, Corded Telephones"},
    "1": {"title": "Ledger book", "description": "", "brand": "",
          "categories": "Office & School Supplies, Forms, Recordkeeping & Money Handling, "
                        "Account Books"},
    "2": {"title": "Generic pens", "description": "Blue ink.", "brand": "Bic",
          "categories": "Office Electronics"},
}
INTER = {"0": [0, 1], "1": [1, 2], "2": [0], "3": [2, 0, 1], "4": [1]}


def _dump(folder: Path) -> Path:
    folder.mkdir()
    (folder / "Shop.item.json").write_text(json.dumps(ITEMS, indent=4), encoding="utf-8")
    (folder / "Shop.inter.json").write_text(json.dumps(INTER, indent=4), encoding="utf-8")
    return folder


def test_dump_becomes_a_loadable_catalog(tmp_path: Path) -> None:
    counts = convert(_dump(tmp_path / "raw"), tmp_path / "catalog")
    assert counts == {"items": 3, "users": 5, "interactions": 9, "joined_levels": 1}
    data = read_dataset(tmp_path / "catalog")
    snap = data.to_snapshot()
    assert (snap.num_items, snap.num_users) == (3, 5)
    assert snap.interaction_index.shape[1] == 9
    phone = next(i for i in data.items if i.id == "0")
    assert phone.title == "AT&T 210 Corded Phone"
    assert phone.description == "A basic phone. Easy to use."
    assert phone.attributes == {"brand": ("AT&T",), "department": ("Office Electronics",),
                                "category": ("Corded Telephones", "Telephones & Accessories")}
    ledger = next(i for i in data.items if i.id == "1")
    assert "brand" not in ledger.attributes
    assert ledger.attributes["category"] == ("Account Books",
                                             "Forms, Recordkeeping & Money Handling")
    assert next(i for i in data.items if i.id == "2").attributes == {
        "brand": ("Bic",), "department": ("Office Electronics",)}


def test_level_names_with_commas_are_joined_only_in_list_form() -> None:
    paths = ["A & B, Forms, Recordkeeping & Money Handling",
             "Computers & Accessories, Cables & Accessories",
             "Scanners & Accessories, Scanners, Flatbed & Photo Scanners",
             "Scanners & Accessories, Scanners, Document Scanners"]
    joins = level_joins(paths)
    assert joins == {"Forms": "Recordkeeping & Money Handling"}
    assert category_levels(paths[0], joins) == ["A & B", "Forms, Recordkeeping & Money Handling"]
    assert category_levels(paths[1], joins) == ["Computers & Accessories", "Cables & Accessories"]
    assert category_levels(paths[2], joins)[-1] == "Flatbed & Photo Scanners"
