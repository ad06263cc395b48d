"""Reader for the MovieLens 100K folder (``u.item``, ``u.user``, ``u.data``, ``u.genre``).

Mapping to records:

- **Item** ``id`` = movie id; ``title`` as given (``"Toy Story (1995)"``);
  ``description = "<title>. Genres: <g1>, <g2>."``; attributes ``genre`` (all 19
  genres of ``u.genre``, ``"unknown"`` included), ``year`` (``"1995"``) and
  ``decade`` (``"1990s"``) from the release date; an item without a release date
  has no year or decade. ``u.item`` is Latin-1.
- **User** ``id`` = user id; attributes ``age_band`` (MovieLens-1M bands:
  ``"Under 18"``, ``"18-24"``, ``"25-34"``, ``"35-44"``, ``"45-49"``,
  ``"50-55"``, ``"56+"``), ``gender`` (``"M"``/``"F"``) and ``occupation``.
- **Interaction** per rating, ``ts`` from ``u.data``. Every rating is an
  implicit positive: ``weight=1.0`` by default; ``rating_weights=True`` gives
  ``weight = rating / 5`` instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from ingest.dataset import Dataset
from ingest.validation import as_id, check_attribute_value, check_timestamp, record_error
from kg.records import InteractionRecord, ItemRecord, SourceRef, UserRecord
from kgrec.errors import IngestError, RecordError

__all__ = [
    "age_band",
    "iter_movielens_interactions",
    "iter_movielens_items",
    "iter_movielens_users",
    "read_movielens",
]

logger = logging.getLogger(__name__)

_AGE_BANDS: tuple[tuple[int, str], ...] = (
    (18, "Under 18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (50, "45-49"), (56, "50-55"))


def age_band(age: int) -> str:
    """MovieLens-1M style age band of an age in years (``24 -> "18-24"``)."""
    for upper, label in _AGE_BANDS:
        if age < upper:
            return label
    return "56+"


def _read_lines(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    if not path.is_file():
        raise IngestError(f"{path}: file not found (expected a MovieLens 100K folder with "
                          f"u.item, u.user, u.data and u.genre)")
    try:
        with path.open(encoding=encoding, newline="") as fh:
            for n, line in enumerate(fh, 1):
                line = line.rstrip("\r\n")
                if line.strip():
                    yield n, line
    except OSError as e:
        raise IngestError(f"{path}: cannot be read ({e.strerror or e})") from e


def _number(text: str, path: str, line: int, field: str) -> int:
    """A non-negative decimal integer of ASCII digits (at most 18 of them)."""
    if not (text.isascii() and text.isdigit() and len(text) <= 18):
        raise record_error(path, line, field, f"must be a non-negative integer, got {text[:40]!r}")
    return int(text)


def _values(kind: str, values: list[str], path: str, line: int) -> tuple[str, ...]:
    return tuple(check_attribute_value(v, path, line, kind) for v in values)


def _genres(folder: Path) -> list[str]:
    by_index: dict[int, str] = {}
    path = folder / "u.genre"
    for n, line in _read_lines(path, "latin-1"):
        name, _, idx = line.rpartition("|")
        if not name:
            raise record_error(str(path), n, None, f"expected 'name|index', got {line[:80]!r}")
        by_index[_number(idx, str(path), n, "index")] = check_attribute_value(
            name, str(path), n, "name")
    if sorted(by_index) != list(range(len(by_index))):
        raise IngestError(f"{path}: genre indexes must be 0..{len(by_index) - 1}")
    return [by_index[i] for i in range(len(by_index))]


def iter_movielens_items(folder: str | Path) -> Iterator[ItemRecord]:
    """Stream the movies of ``u.item`` as items (see module docstring)."""
    folder = Path(folder)
    genres = _genres(folder)
    path = folder / "u.item"
    p = str(path)
    for n, line in _read_lines(path, "latin-1"):
        cols = line.split("|")
        if len(cols) != 5 + len(genres):
            raise record_error(p, n, None, f"has {len(cols)} fields, expected {5 + len(genres)} "
                               f"(5 + one flag per genre of u.genre)")
        item_id, title, date = as_id(cols[0], p, n, "movie id"), cols[1].strip(), cols[2].strip()
        flags = cols[5:]
        if any(f not in ("0", "1") for f in flags):
            raise record_error(p, n, "genre flags", f"must be 0 or 1, got {'|'.join(flags)!r}")
        names = [g for g, f in zip(genres, flags, strict=True) if f == "1"]
        attrs: dict[str, tuple[str, ...]] = {"genre": tuple(names)}
        if date:
            try:
                year = datetime.strptime(date, "%d-%b-%Y").year
            except ValueError:
                raise record_error(p, n, "release date", f"must look like 01-Jan-1995, got "
                                   f"{date[:40]!r}") from None
            attrs["year"] = (str(year),)
            attrs["decade"] = (f"{year // 10 * 10}s",)
        description = f"{title}. Genres: {', '.join(names)}." if names else f"{title}."
        yield ItemRecord(item_id, title, description, attrs, SourceRef(p, n))


def iter_movielens_users(folder: str | Path) -> Iterator[UserRecord]:
    """Stream ``u.user`` as users with ``age_band``, ``gender`` and ``occupation``."""
    path = Path(folder) / "u.user"
    p = str(path)
    for n, line in _read_lines(path, "latin-1"):
        cols = line.split("|")
        if len(cols) != 5:
            raise record_error(p, n, None, f"expected 'id|age|gender|occupation|zip', got "
                               f"{line[:80]!r}")
        age = _number(cols[1], p, n, "age")
        attrs = {"age_band": (age_band(age),),
                 "gender": _values("gender", [cols[2].strip()], p, n),
                 "occupation": _values("occupation", [cols[3].strip()], p, n)}
        yield UserRecord(as_id(cols[0], p, n, "user id"), attrs, SourceRef(p, n))


def iter_movielens_interactions(folder: str | Path, *, rating_weights: bool = False
                                ) -> Iterator[InteractionRecord]:
    """Stream ``u.data`` (``user item rating ts``, tab separated) as interactions."""
    path = Path(folder) / "u.data"
    p = str(path)
    for n, line in _read_lines(path, "latin-1"):
        cols = line.split("\t")
        if len(cols) != 4:
            raise record_error(p, n, None, f"expected 'user<TAB>item<TAB>rating<TAB>timestamp' "
                               f"with integer rating and timestamp, got {line[:80]!r}")
        rating = _number(cols[2], p, n, "rating")
        ts = check_timestamp(_number(cols[3], p, n, "timestamp"), p, n)
        weight = rating / 5.0 if rating_weights else 1.0
        if weight <= 0:
            raise record_error(p, n, "rating", f"must be 1 to 5, got {rating}")
        yield InteractionRecord(as_id(cols[0], p, n, "user id"), as_id(cols[1], p, n, "item id"),
                                weight, ts, SourceRef(p, n))


def read_movielens(path: str | Path, *, rating_weights: bool = False) -> Dataset:
    """Read a MovieLens 100K folder into a :class:`Dataset`.

    Args:
        path: the folder holding ``u.item``, ``u.user``, ``u.data`` and ``u.genre``.
        rating_weights: ``weight = rating / 5`` instead of ``1.0``.

    Returns:
        1682 items, 943 users and 100000 interactions for the original files.

    Raises:
        IngestError: a file is missing.
        RecordError: a line is malformed or a rating names an unknown movie.
    """
    folder = Path(path)
    items = list(iter_movielens_items(folder))
    users = list(iter_movielens_users(folder))
    known = {r.id for r in items}
    inter = list(iter_movielens_interactions(folder, rating_weights=rating_weights))
    for r in inter:
        if r.item_id not in known:
            raise RecordError(f"{r.source}: field 'item' names an unknown movie {r.item_id!r}",
                              path=r.source.path if r.source else None,
                              line=r.source.line if r.source else None, field="item")
    logger.info("read MovieLens %s: %d items, %d users, %d interactions", folder, len(items),
                len(users), len(inter))
    return Dataset(items=items, users=users, interactions=inter, name=folder.name)
