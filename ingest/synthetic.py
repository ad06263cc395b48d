"""A deterministic synthetic catalog with latent topics and a long-tailed popularity.

Generative story (all draws from ``numpy.random.Generator`` streams derived from
one ``seed``, so equal arguments give equal records):

- 16 latent **topics** (outdoor, kitchen, gaming, ...), each with a vocabulary,
  3 preferred ``category`` values, 6 preferred brands, 2 preferred styles and a
  preferred ``price_band``.
- Each **item** draws a topic mixture ``Dirichlet(0.3)``; its main topic picks
  ``category`` and (90 %) ``brand``; ``style`` comes from its two strongest
  topics; ``price_band`` from the main topic (70 %) or at random. Its
  description is built from templates filled with vocabulary words sampled from
  the mixture, so a text encoder can recover the topics.
- Item **popularity** is Zipf-like: ``p(rank) ~ rank ** -zipf_exponent`` over a
  random permutation of the items (a long tail).
- Each **user** draws topic preferences ``Dirichlet(0.25)`` and attributes
  ``age_band`` and ``region``; it has ``1 + Poisson(interactions_per_user - 1)``
  interactions. Each picks a topic from the user's preferences (85 %) and then an
  item of that main topic by popularity, or (15 %) any item by popularity.
  Repeated (user, item) pairs are dropped, so pairs are unique.
- **Timestamps**: uniform in 2023, sorted per user.

Everything is produced in chunks of ``chunk_size`` records, so 1M items and 10M
interactions never exist as Python objects at once; only a few ``int``/``float``
arrays of length ``n_items`` are held.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ingest.dataset import Dataset
from kg.records import InteractionRecord, ItemRecord, UserRecord

__all__ = ["TOPICS", "SyntheticCatalog", "generate_synthetic", "write_synthetic_catalog"]

logger = logging.getLogger(__name__)

#: (topic, categories, vocabulary, styles, price band)
TOPICS: tuple[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...], str], ...] = (
    ("outdoor", ("tents", "backpacks", "hiking boots"),
     ("trail", "waterproof", "camping", "summit", "lightweight", "rain", "forest", "compass",
      "hiking", "wilderness"), ("rugged", "sporty"), "mid"),
    ("kitchen", ("cookware", "knives", "bakeware"),
     ("recipe", "simmer", "chef", "nonstick", "oven", "flavor", "dinner", "skillet", "spice",
      "bread"), ("classic", "minimalist"), "mid"),
    ("gaming", ("consoles", "controllers", "gaming headsets"),
     ("multiplayer", "level", "graphics", "fps", "quest", "arcade", "esports", "joystick",
      "console", "boss"), ("futuristic", "bold"), "premium"),
    ("baby", ("strollers", "baby toys", "nursery"),
     ("newborn", "gentle", "toddler", "soft", "safety", "sleep", "lullaby", "diaper", "crib",
      "infant"), ("playful", "soft"), "mid"),
    ("fitness", ("yoga mats", "dumbbells", "running shoes"),
     ("workout", "cardio", "strength", "muscle", "stretch", "marathon", "sweat", "training",
      "endurance", "gym"), ("sporty", "minimalist"), "mid"),
    ("office", ("desks", "notebooks", "pens"),
     ("productivity", "meeting", "paper", "ergonomic", "desk", "planner", "focus", "document",
      "stapler", "schedule"), ("classic", "minimalist"), "budget"),
    ("beauty", ("skincare", "makeup", "fragrance"),
     ("serum", "glow", "moisturizer", "lipstick", "scent", "radiant", "cleanser", "lotion",
      "perfume", "hydration"), ("elegant", "soft"), "premium"),
    ("garden", ("planters", "seeds", "garden tools"),
     ("soil", "bloom", "compost", "flower", "harvest", "watering", "seedling", "shovel",
      "greenhouse", "herb"), ("rustic", "classic"), "budget"),
    ("music", ("guitars", "keyboards", "headphones"),
     ("melody", "chord", "amplifier", "rhythm", "acoustic", "studio", "bass", "tempo", "vinyl",
      "concert"), ("vintage", "bold"), "premium"),
    ("books", ("novels", "cookbooks", "comics"),
     ("chapter", "author", "story", "hardcover", "plot", "reader", "novel", "poetry", "library",
      "fiction"), ("classic", "vintage"), "budget"),
    ("pets", ("dog food", "cat toys", "aquariums"),
     ("puppy", "kitten", "leash", "treat", "paw", "grooming", "collar", "fetch", "litter",
      "aquarium"), ("playful", "rustic"), "budget"),
    ("travel", ("suitcases", "travel pillows", "adapters"),
     ("luggage", "airport", "passport", "journey", "carry-on", "flight", "hotel", "adventure",
      "itinerary", "souvenir"), ("sporty", "elegant"), "mid"),
    ("smart home", ("smart speakers", "smart bulbs", "security cameras"),
     ("wifi", "voice", "automation", "sensor", "app", "camera", "thermostat", "wireless", "alarm",
      "assistant"), ("futuristic", "minimalist"), "premium"),
    ("fashion", ("dresses", "sneakers", "handbags"),
     ("cotton", "denim", "runway", "tailored", "silk", "outfit", "leather", "casual", "pattern",
      "wardrobe"), ("elegant", "bold"), "luxury"),
    ("automotive", ("car care", "tires", "dash cams"),
     ("engine", "wax", "highway", "motor", "garage", "polish", "tread", "brake", "torque",
      "dashboard"), ("rugged", "bold"), "mid"),
    ("coffee", ("espresso machines", "coffee beans", "mugs"),
     ("espresso", "roast", "aroma", "latte", "grinder", "barista", "brew", "crema", "bean",
      "morning"), ("rustic", "vintage"), "premium"),
)
_PRICE_BANDS = ("budget", "mid", "premium", "luxury")
_AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55+")
_REGIONS = ("north", "south", "east", "west", "central")
_SYLLABLES = ("ka", "lo", "mi", "ra", "te", "vo", "zu", "bri", "dan", "fel", "gor", "hux",
              "jin", "kor", "lum", "nex", "pax", "quo", "ryn", "sol", "tav", "ul", "vex", "wim")
_TEMPLATES = (
    "{a_style} {category} by {brand} built for {w0} and {w1}.",
    "{brand} brings {w0} and {w1} together in this {style} {category}.",
    "This {category} from {brand} is perfect for {w0}, with {a_style} look.",
)
_SECOND = (
    " Great for {w2}, {w3} and {w4}.",
    " Customers love it for {w2} and {w3}; it also suits {w4}.",
    " Designed around {w2}, {w3} and everyday {w4}.",
)
_TS_START = 1_672_531_200  # 2023-01-01T00:00:00Z
_TS_SPAN = 365 * 86_400


def _brand_names(rng: np.random.Generator, n: int) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n:
        k = int(rng.integers(2, 4))
        name = "".join(_SYLLABLES[int(i)] for i in rng.integers(0, len(_SYLLABLES), k)).title()
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


@dataclass(frozen=True, eq=False)
class SyntheticCatalog:
    """A synthetic catalog; :meth:`items`, :meth:`users`, :meth:`interactions` stream records.

    Build it with :func:`generate_synthetic`. Each stream can be iterated any number
    of times and always yields the same records.
    """

    n_users: int
    n_items: int
    seed: int
    interactions_per_user: float
    zipf_exponent: float
    chunk_size: int
    brands: list[str] = field(repr=False)
    item_topic: np.ndarray = field(repr=False)        #: int64 [n_items] main topic
    item_popularity: np.ndarray = field(repr=False)   #: float64 [n_items], sums to 1

    @property
    def name(self) -> str:
        return f"synthetic-{self.n_users}u-{self.n_items}i-s{self.seed}"

    def _rng(self, stream: int, chunk: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, stream, chunk])

    def _topic_brands(self, t: int) -> list[str]:
        per = max(1, len(self.brands) // len(TOPICS))
        return self.brands[t * per:(t + 1) * per]

    def items(self) -> Iterator[ItemRecord]:
        """Stream the items ``"i0" .. "i<n-1>"`` in chunks."""
        n_topics = len(TOPICS)
        for c, start in enumerate(range(0, self.n_items, self.chunk_size)):
            stop = min(start + self.chunk_size, self.n_items)
            rng = self._rng(1, c)
            n = stop - start
            mix = rng.dirichlet(np.full(n_topics, 0.3), size=n)
            mix[np.arange(n), self.item_topic[start:stop]] += 1.0  # main topic dominates
            mix /= mix.sum(axis=1, keepdims=True)
            u = rng.random((n, 8))
            word_topics = (u[:, :5, None] > np.cumsum(mix, axis=1)[:, None, :]).sum(axis=2)
            word_idx = rng.integers(0, 10, size=(n, 5))
            second = np.argsort(-mix, axis=1)[:, 1]
            for j in range(n):
                t = int(self.item_topic[start + j])
                _, cats, _, styles, price = TOPICS[t]
                category = cats[int(u[j, 5] * len(cats))]
                tb = self._topic_brands(t)
                brand = tb[int(u[j, 6] * len(tb))] if u[j, 6] < 0.9 else \
                    self.brands[int(u[j, 6] * 1e6) % len(self.brands)]
                style = {styles[int(u[j, 7] * 2)], TOPICS[int(second[j])][3][int(u[j, 7] * 2)]}
                price_band = price if u[j, 7] < 0.7 else _PRICE_BANDS[int(u[j, 5] * 4)]
                words = {f"w{k}": TOPICS[int(word_topics[j, k])][2][int(word_idx[j, k])]
                         for k in range(5)}
                style0 = min(style)
                article = "an" if style0[0] in "aeiou" else "a"
                fmt = {"style": style0, "a_style": f"{article} {style0}", "category": category,
                       "brand": brand, **words}
                description = (_TEMPLATES[(start + j) % 3].format(**fmt)
                               + _SECOND[int(word_idx[j, 0]) % 3].format(**fmt))
                description = description[0].upper() + description[1:]
                title = f"{brand} {words['w0'].title()} {category.title()}"
                yield ItemRecord(f"i{start + j}", title, description,
                                 {"category": (category,), "brand": (brand,),
                                  "style": tuple(sorted(style)), "price_band": (price_band,)}, None)

    def users(self) -> Iterator[UserRecord]:
        """Stream the users ``"u0" .. "u<n-1>"`` with ``age_band`` and ``region``."""
        for c, start in enumerate(range(0, self.n_users, self.chunk_size)):
            stop = min(start + self.chunk_size, self.n_users)
            rng = self._rng(2, c)
            ages = rng.choice(len(_AGE_BANDS), size=stop - start, p=[.2, .3, .25, .15, .1])
            regions = rng.integers(0, len(_REGIONS), size=stop - start)
            for j in range(stop - start):
                yield UserRecord(f"u{start + j}", {"age_band": (_AGE_BANDS[int(ages[j])],),
                                                   "region": (_REGIONS[int(regions[j])],)})

    def _sampling_tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Items sorted by main topic, and cumulative popularity offset by topic index."""
        order = np.argsort(self.item_topic, kind="stable")
        topics = self.item_topic[order]
        pop = self.item_popularity[order]
        cum = np.empty_like(pop)
        for t in range(len(TOPICS)):
            sel = topics == t
            if sel.any():
                c = np.cumsum(pop[sel])
                cum[sel] = t + c / c[-1]
        return order, cum, np.cumsum(self.item_popularity)

    def interaction_arrays(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Stream ``(user_idx int64 [m], item_idx int64 [m], ts int64 [m])`` per user chunk."""
        order, topic_cum, global_cum = self._sampling_tables()
        present = np.bincount(self.item_topic, minlength=len(TOPICS)) > 0
        n_topics = len(TOPICS)
        for c, start in enumerate(range(0, self.n_users, self.chunk_size)):
            stop = min(start + self.chunk_size, self.n_users)
            rng = self._rng(3, c)
            n = stop - start
            pref = rng.dirichlet(np.full(n_topics, 0.25), size=n) * present
            pref /= pref.sum(axis=1, keepdims=True)
            counts = 1 + rng.poisson(max(self.interactions_per_user - 1.0, 0.0), size=n)
            users = np.repeat(np.arange(start, stop), counts)
            local = users - start
            m = len(users)
            topic = (rng.random(m)[:, None] > np.cumsum(pref, axis=1)[local]).sum(axis=1)
            topic = np.minimum(topic, n_topics - 1)
            items = order[np.minimum(np.searchsorted(topic_cum, topic + rng.random(m)),
                                     self.n_items - 1)]
            noise = rng.random(m) < 0.15
            items[noise] = np.minimum(
                np.searchsorted(global_cum, rng.random(int(noise.sum())) * global_cum[-1]),
                self.n_items - 1)
            ts = _TS_START + rng.integers(0, _TS_SPAN, size=m)
            key = users * self.n_items + items
            _, first = np.unique(key, return_index=True)
            first.sort()
            users, items, ts = users[first], items[first], ts[first]
            # timestamps ascend within each user (the sampling order is the time order)
            ts = np.sort(ts + users * (2 * _TS_SPAN)) - users * (2 * _TS_SPAN)
            yield users, items, ts

    def interactions(self) -> Iterator[InteractionRecord]:
        """Stream unique ``(user, item)`` interactions, weight 1.0, in user order."""
        for users, items, ts in self.interaction_arrays():
            for u, i, t in zip(users.tolist(), items.tolist(), ts.tolist(), strict=True):
                yield InteractionRecord(f"u{u}", f"i{i}", 1.0, t)

    def to_dataset(self) -> Dataset:
        """Everything in memory (small catalogs only)."""
        return Dataset(items=list(self.items()), users=list(self.users()),
                       interactions=list(self.interactions()), name=self.name)


def generate_synthetic(n_users: int, n_items: int, seed: int = 0, *,
                       interactions_per_user: float = 20.0, zipf_exponent: float = 1.0,
                       n_brands: int = 96, chunk_size: int = 10_000) -> SyntheticCatalog:
    """Set up a deterministic synthetic catalog (records are produced lazily).

    Args:
        n_users: number of users (``"u0"``...).
        n_items: number of items (``"i0"``...).
        seed: random seed; equal arguments give equal records.
        interactions_per_user: mean interactions per user (before dropping repeats).
        zipf_exponent: popularity exponent; larger means a heavier head.
        n_brands: size of the brand vocabulary.
        chunk_size: records generated per chunk (part of the seed: changing it
            changes the records).

    Raises:
        ValueError: a count is negative or zero.
    """
    if n_users < 1 or n_items < 1 or chunk_size < 1 or interactions_per_user < 1:
        raise ValueError("n_users, n_items, chunk_size and interactions_per_user must be >= 1")
    rng = np.random.default_rng([seed, 0])
    brands = _brand_names(rng, n_brands)
    item_topic = rng.integers(0, len(TOPICS), size=n_items)
    ranks = rng.permutation(n_items) + 1
    pop = ranks.astype(np.float64) ** -zipf_exponent
    return SyntheticCatalog(n_users, n_items, seed, float(interactions_per_user),
                            float(zipf_exponent), chunk_size, brands, item_topic,
                            pop / pop.sum())


def write_synthetic_catalog(directory: str | Path, n_users: int, n_items: int, seed: int = 0,
                            **kwargs: float) -> dict[str, int]:
    """Write a synthetic catalog as ``items.jsonl``, ``users.jsonl`` and ``interactions.csv``.

    The files follow the catalog format of :mod:`ingest.catalog`, so ``kgrec load
    catalog`` and ``kgrec evaluate`` can read them. ``kwargs`` go to
    :func:`generate_synthetic`.

    Returns:
        counts ``{"items": ..., "users": ..., "interactions": ...}``.
    """
    cat = generate_synthetic(n_users, n_items, seed, **kwargs)  # type: ignore[arg-type]
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    counts = {"items": 0, "users": 0, "interactions": 0}
    with (out / "items.jsonl").open("w", encoding="utf-8") as fh:
        for r in cat.items():
            fh.write(json.dumps({"id": r.id, "title": r.title, "description": r.description,
                                 "attributes": {k: list(v) for k, v in r.attributes.items()}},
                                ensure_ascii=False) + "\n")
            counts["items"] += 1
    with (out / "users.jsonl").open("w", encoding="utf-8") as fh:
        for u in cat.users():
            fh.write(json.dumps({"id": u.id, "attributes": {k: list(v) for k, v in
                                                           u.attributes.items()}}) + "\n")
            counts["users"] += 1
    with (out / "interactions.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["user_id", "item_id", "weight", "timestamp"])
        for users, items, ts in cat.interaction_arrays():
            w.writerows(zip((f"u{u}" for u in users.tolist()), (f"i{i}" for i in items.tolist()),
                            ["1.0"] * len(users), ts.tolist(), strict=True))
            counts["interactions"] += len(users)
    logger.info("wrote synthetic catalog %s: %s", out, counts)
    return counts
