"""``kgrec demo``: the whole story offline, in a few minutes on a laptop CPU.

1. start the local Neo4j (``KGREC_HOME``) and ensure the schema;
2. load a deterministic synthetic catalog (default 2,000 users × 1,000 items; the load
   MERGEs, so re-running is safe) or MovieLens 100K (``--dataset movielens:PATH``);
3. encode texts, train kgrec on CPU, checkpoint, write embeddings back;
4. show a user's top-10 with titles and why the first one is recommended;
5. add a brand-new item (a description and attributes only) that fits that user's
   main taste (first: what the catalog already has closest to its description), and
   show it is recommended at once: its nearest items, its rank for the user, the users
   it ranks highest for, the top user's list with a new-item slot, and its explanation;
6. print the Cypher (with parameters) that shows the same in Neo4j Browser.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Container
from itertools import count
from typing import TYPE_CHECKING

import numpy as np

from kgrec.errors import RequestError
from kgrec.settings import Settings

if TYPE_CHECKING:
    from rich.console import Console

    from kgrec.recommender import Recommender

__all__ = ["new_item_for_topic", "run_demo"]

logger = logging.getLogger(__name__)


def new_item_for_topic(category: str, taken: Container[str] = ()) -> dict[str, object]:
    """A brand-new synthetic-catalog item of the topic that owns ``category``, its id
    ``new-{topic}-{n}`` with the first ``n`` not in ``taken`` (a re-run adds another)."""
    from ingest.synthetic import TOPICS

    topic = next((t for t in TOPICS if category in t[1]), TOPICS[0])
    name, cats, words, styles, price = topic
    prefix = f"new-{name.replace(' ', '-')}-"
    return {
        "id": next(f"{prefix}{n}" for n in count(1) if f"{prefix}{n}" not in taken),
        "title": f"Novaline {words[0].title()} {cats[0].title()}",
        "description": (f"Brand new {styles[0]} {cats[0]} for {words[0]}, {words[1]} and "
                        f"{words[2]}. Made for {words[3]} and {words[4]} lovers."),
        "attributes": {"category": [cats[0]], "style": [styles[0]], "price_band": [price],
                       "brand": ["Novaline"]},
    }


def _load(settings: Settings, driver: object, dataset: str, n_users: int, n_items: int
          ) -> str:
    from ingest.loader import load_movielens, load_synthetic
    from kg.writer import GraphWriter

    writer = GraphWriter(driver, settings.neo4j.database, settings.batch_size)  # type: ignore[arg-type]
    if dataset == "synthetic":
        summary = load_synthetic(writer, n_users, n_items, seed=settings.seed)
        return str(summary)
    if dataset.startswith("movielens:"):
        return str(load_movielens(writer, dataset.partition(":")[2]))
    raise RequestError(f"--dataset must be 'synthetic' or 'movielens:PATH', got {dataset!r}")


def _demo_user(rec: Recommender) -> str:
    """The first of ``u0`` / ``1`` that has interactions (else the first such user)."""
    state = rec.state
    candidates = ("u0", "1", *state.model.graph.user_ids)
    return next(u for u in candidates if (s := state.user(u)) is not None and len(s.seen))


def _main_category(rec: Recommender, user: str) -> str:
    """The category (or genre) most of ``user``'s items carry."""
    state = rec.state
    seen = state.user(user)
    rows = seen.seen.tolist() if seen is not None else []
    cats = Counter(a.partition(":")[2] for r in rows for a in state.catalog.attributes(r)
                   if a.startswith(("category:", "genre:")))
    return cats.most_common(1)[0][0] if cats else ""


def run_demo(settings: Settings, *, dataset: str = "synthetic", n_users: int = 2_000,
             n_items: int = 1_000, max_epochs: int = 30) -> None:
    """Run the demo (see the module docstring), printing with rich."""
    from rich.console import Console
    from rich.rule import Rule

    from kg.connection import connect
    from kg.cypher_library import cypher_file
    from kg.indexes import ensure_schema
    from kgrec.recommender import Recommender
    from kgrec.render import print_explanation, print_ingest_summary, print_recommendations
    from kgrec.workflows import train_from_graph

    console = Console()
    t0 = time.perf_counter()
    console.print(Rule("1. Neo4j"))
    driver = connect(settings, start=True)
    try:
        ensure_schema(driver, settings.neo4j.database)
        console.print(f"connected ({settings.neo4j.uri or 'local server under ' + str(settings.home)})")
        console.print(Rule("2. Load the catalog"))
        console.print(_load(settings, driver, dataset, n_users, n_items))
        console.print(Rule("3. Encode and train (CPU)"))
        t1 = time.perf_counter()
        trained = train_from_graph(settings, driver, max_epochs=max_epochs)
        console.print(f"model {trained.version}: {trained}; trained in "
                      f"{time.perf_counter() - t1:.0f}s")
        verb = "watched" if dataset.startswith("movielens") else "bought"
        t1 = time.perf_counter()
        rec = Recommender(settings, driver=driver, interaction_verb=verb)
        console.print(f"recommender ready in {time.perf_counter() - t1:.2f}s from checkpoint "
                      f"{trained.version} (no graph export)")
        console.print(f"recommender warmed up in {rec.warm_up():.1f}s (text encoder loaded, "
                      "add_items and explain run once in Neo4j, nothing written)")
        console.print(Rule("4. Recommend and explain"))
        user = _demo_user(rec)
        top = rec.recommend(user, k=10)
        print_recommendations(rec, top, f"Top-10 for {user}")
        print_explanation(rec, rec.explain(user, top[0].item_id))
        console.print(Rule("5. A brand-new item, recommendable at once"))
        catalog = rec.state.catalog
        taken = {catalog.id_of(r) for r in range(len(catalog))}
        new = new_item_for_topic(_main_category(rec, user), taken)
        console.print(json.dumps(new, indent=1), markup=False)
        t2 = time.perf_counter()
        like = rec.similar_to_text(str(new["description"]), k=5)
        print_recommendations(rec, like, "Already in the catalog, closest to its description "
                              f"(similar_to_text, {(time.perf_counter() - t2) * 1000:.0f} ms)")
        t2 = time.perf_counter()
        summary = rec.add_items([new])
        print_ingest_summary(summary, f"add_items ({(time.perf_counter() - t2) * 1000:.0f} ms "
                                      "from call to recommendable)")
        new_id = str(new["id"])
        print_recommendations(rec, rec.similar_items(new_id, k=5), f"similar_items({new_id!r})")
        _show_audience(rec, console, user, new_id)
        console.print(Rule("6. The same in Neo4j Browser"))
        console.print(":params " + json.dumps({"item_id": new_id, "k": 5}), markup=False)
        console.print(cypher_file("similar_items"), markup=False)
        console.print(":params " + json.dumps({"since": int(time.time() * 1000) - 3_600_000,
                                               "users_per_item": 5}), markup=False)
        console.print(cypher_file("new_items_audience"), markup=False)
        console.print(f"demo finished in {time.perf_counter() - t0:.0f}s")
    finally:
        driver.close()


def _show_audience(rec: Recommender, console: Console, user: str, new_id: str) -> None:
    """Where the new item ranks for the demo user and for the users it fits best, one
    such user's list with a new-item slot, and why."""
    from kgrec.render import print_explanation, print_recommendations

    state = rec.state
    n = len(state.catalog)
    full = rec.recommend(user, k=n).item_ids
    rank = full.index(new_id) + 1 if new_id in full else None
    console.print(f"rank of {new_id} for {user}: {rank} of {len(full)}")
    row = state.catalog.row_of(new_id)
    assert row is not None
    item_vec = state.scorer.item_emb(np.asarray([row]))[0]
    scores = state.model.user_emb @ item_vec
    best_users = [state.model.graph.user_ids[i] for i in np.argsort(-scores)[:5]]
    for u in best_users:
        r = rec.recommend(u, k=n).item_ids
        console.print(f"  {u}: {new_id} ranks {r.index(new_id) + 1 if new_id in r else '-'}")
    fan = best_users[0]
    print_recommendations(rec, rec.recommend(fan, k=10, new_items=1),
                          f"Top-10 for {fan} with a slot for new items that fit (new_items=1)")
    print_explanation(rec, rec.explain(fan, new_id))
