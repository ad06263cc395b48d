"""MovieLens 100K reader (no database needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.movielens import age_band, read_movielens
from kgrec.errors import IngestError, RecordError
from tests.conftest import ML100K, needs_movielens


@needs_movielens
def test_counts_genres_and_text() -> None:
    ds = read_movielens(ML100K)
    assert (len(ds.items), len(ds.users), len(ds.interactions)) == (1682, 943, 100000)
    genres = {g for r in ds.items for g in r.attributes["genre"]}
    assert len(genres) == 19 and "unknown" in genres
    toy = ds.items[0]
    assert toy.title == "Toy Story (1995)"
    assert toy.description == "Toy Story (1995). Genres: Animation, Children's, Comedy."
    assert toy.attributes["year"] == ("1995",) and toy.attributes["decade"] == ("1990s",)
    no_date = [r for r in ds.items if "year" not in r.attributes]
    assert [r.id for r in no_date] == ["267"] and "decade" not in no_date[0].attributes
    assert ds.users[0].attributes == {"age_band": ("18-24",), "gender": ("M",),
                                      "occupation": ("technician",)}
    first = ds.interactions[0]
    assert (first.user_id, first.item_id, first.weight, first.ts) == ("196", "242", 1.0, 881250949)


@needs_movielens
def test_rating_weights() -> None:
    ds = read_movielens(ML100K, rating_weights=True)
    assert ds.interactions[0].weight == pytest.approx(3 / 5)


@pytest.mark.parametrize(("age", "band"), [(7, "Under 18"), (18, "18-24"), (24, "18-24"),
                                           (25, "25-34"), (49, "45-49"), (55, "50-55"),
                                           (56, "56+"), (73, "56+")])
def test_age_bands(age: int, band: str) -> None:
    assert age_band(age) == band


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"u\.genre: file not found"):
        read_movielens(tmp_path)
    (tmp_path / "u.genre").write_text("unknown|0\nAction|1\n", encoding="latin-1")
    (tmp_path / "u.item").write_text("1|A (1995)|01-Jan-1995||url|0|1\n2|B|13-Foo-1995||u|0|1\n",
                                     encoding="latin-1")
    with pytest.raises(RecordError, match=r"u\.item line 2: field 'release date' must look like"):
        read_movielens(tmp_path)
