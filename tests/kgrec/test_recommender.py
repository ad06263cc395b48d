"""Behaviour of :class:`kgrec.Recommender` on the planted catalog (real Neo4j, real encoder)."""

from __future__ import annotations

import numpy as np
import pytest

from gnn.scorer import Scorer
from kg.explain import run_path
from kg.queries import COUNT_NODES
from kgrec.errors import NotFoundError, RecordError, RequestError
from kgrec.rerank import MMR, NewItemSlots, TailSlots

INJECTION = "x' }) DETACH DELETE n //"


def _counts(driver) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {r["label"]: r["count"] for r in driver.execute_query(COUNT_NODES).records}


def _seen(rec, user: str) -> set[str]:  # type: ignore[no-untyped-def]
    state = rec.state
    return set(state.catalog.ids_of(state.user(user).seen))


def test_warm_user_gets_own_community_and_k(rec) -> None:  # type: ignore[no-untyped-def]
    top = rec.recommend("ua0", k=6)
    assert len(top) == 6 and top.fallback is None and top.user_id == "ua0"
    assert all(r.item_id.startswith("a") for r in top)  # its 6 unseen space items
    assert [r.score for r in top] == sorted((r.score for r in top), reverse=True)


def test_seen_excluded_and_deterministic(rec) -> None:  # type: ignore[no-untyped-def]
    seen = _seen(rec, "ub3")
    top = rec.recommend("ub3", k=30)
    assert not seen & set(top.item_ids)
    assert rec.recommend("ub3", k=30) == top
    assert set(rec.recommend("ub3", k=60, exclude_seen=False).item_ids) >= seen


def test_served_scores_equal_evaluated_scores(rec) -> None:  # type: ignore[no-untyped-def]
    tm = rec.model
    u = tm.graph.user_rows["ua1"]
    expected = Scorer(tm).score_trained(np.array([u]))[0]  # what the harness ranks
    assert tm.item_item is not None  # the hybrid term is part of served scores
    for r in rec.recommend("ua1", k=10):
        assert r.score == pytest.approx(float(expected[tm.graph.item_rows[r.item_id]]),
                                        abs=1e-6)


def test_filters_include_and_negation(rec) -> None:  # type: ignore[no-untyped-def]
    top = rec.recommend("ua0", k=40, exclude_seen=False, filters={"genre": ["Baking"]})
    assert top.item_ids and all(int(i[1:]) % 2 == 1 and i[0] == "b" for i in top.item_ids)
    top = rec.recommend("ua0", k=100, exclude_seen=False,
                        filters={"-genre": "SciFi", "exclude_items": ["a1", "b2"]})
    assert "a1" not in top.item_ids and "b2" not in top.item_ids
    assert not any(i[0] == "a" and int(i[1:]) % 2 == 0 for i in top.item_ids)
    assert len(top) == 60 - 15 - 2


@pytest.mark.parametrize("bad", [["genre"], {"gen re": ["x"]}, {"genre": []},
                                 {"genre": [" padded"]}, {"nokind": ["x"]}, {"genre": [3]}])
def test_malformed_filters_rejected(rec, bad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RequestError, match="filter|allowed|kind"):
        rec.recommend("ua0", k=5, filters=bad)


@pytest.mark.parametrize("k", [0, -1, 10_001, 2.5, True])
def test_bad_k(rec, k) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RequestError, match="k must be"):
        rec.recommend("ua0", k=k)


def test_unknown_ids_and_injection_are_inert(rec, neo4j_driver) -> None:  # type: ignore[no-untyped-def]
    before = _counts(neo4j_driver)
    with pytest.raises(NotFoundError):
        rec.recommend(INJECTION)
    with pytest.raises(NotFoundError):
        rec.similar_items(INJECTION)
    with pytest.raises(NotFoundError):
        rec.explain("ua0", INJECTION)
    with pytest.raises(RequestError, match="no item has this value"):
        rec.recommend("ua0", k=5, filters={"genre": [INJECTION]})
    assert len(rec.recommend("ua0", k=5, filters={"exclude_items": [INJECTION]})) == 5
    with pytest.raises(RequestError):
        rec.recommend("ua0", k=5, filters={INJECTION: ["x"]})
    assert _counts(neo4j_driver) == before


def test_diversity_reranks_within_filters(rec) -> None:  # type: ignore[no-untyped-def]
    plain = rec.recommend("ua2", k=8)
    diverse = rec.recommend("ua2", k=8, diversity=0.9)
    assert len(diverse) == 8 and diverse.item_ids != plain.item_ids
    with pytest.raises(RequestError, match="diversity"):
        rec.recommend("ua2", diversity=1.5)


def test_long_tail_slots(rec) -> None:  # type: ignore[no-untyped-def]
    from gnn.long_tail import tail_items

    catalog = rec.state.catalog
    tail = set(catalog.ids_of(np.flatnonzero(tail_items(catalog.popularity))))
    plain = rec.recommend("ub1", k=10).item_ids
    slots = rec.recommend("ub1", k=10, policies=[TailSlots(3)]).item_ids
    assert len(slots) == 10 and all(i in tail for i in slots[7:])  # the page closes with 3
    assert slots[:7] == [i for i in plain if i not in slots[7:]][:7]  # the model's order
    full = rec.recommend("ub1", k=60).item_ids  # every unseen item, model order
    expected: list[str] = []
    for pos in range(20):  # 1.5 per page: pages close with 1, then 2
        stream = [i for i in full if i in tail] if pos in (9, 18, 19) else full
        expected.append(next(i for i in stream if i not in expected))
    assert rec.recommend("ub1", k=20, policies=[TailSlots(1.5)]).item_ids == expected
    chosen = rec.model.tail_slots  # long_tail=True: the slots chosen at training
    assert rec.recommend("ub1", k=20, long_tail=True).item_ids == \
        rec.recommend("ub1", k=20, policies=[TailSlots(chosen)]).item_ids
    with pytest.raises(RequestError, match="does not combine"):
        rec.recommend("ub1", long_tail=True, diversity=0.5)


def test_cold_user_fallbacks(rec) -> None:  # type: ignore[no-untyped-def]
    prof = rec.recommend("cold-a", k=5)
    assert prof.fallback == "profile"
    assert sum(i.startswith("a") for i in prof.item_ids) >= 4
    pop = rec.recommend("cold-none", k=5)
    assert pop.fallback == "popularity" and len(pop) == 5


def test_similar_items_and_text(rec) -> None:  # type: ignore[no-untyped-def]
    sim = rec.similar_items("a3", k=5)
    assert "a3" not in sim.item_ids and all(i.startswith("a") for i in sim.item_ids)
    assert sum(i.startswith("b") for i in rec.similar_to_text(
        "a chef bakes bread in the oven", k=5).item_ids) >= 4


def test_explain_paths_exist_and_carry_the_score(rec, neo4j_driver) -> None:  # type: ignore[no-untyped-def]
    top = rec.recommend("ua0", k=1)[0]
    e = rec.explain("ua0", top.item_id, max_paths=5)
    assert e.score == pytest.approx(top.score, abs=1e-6)
    # the parts are an exact split of the score it explains
    assert sum(e.parts.values()) == pytest.approx(e.score, abs=1e-4)
    assert e.paths and len(e.paths) <= 5
    contributions = [p.contribution for p in e.paths]
    assert contributions == sorted(contributions, reverse=True) and min(contributions) > 0
    assert e.explained == pytest.approx(sum(contributions) / e.score, abs=1e-6)
    assert 0 < e.explained <= e.parts["items"] / e.score + e.parts["profile"] / e.score + 1e-6
    for p in e.paths:
        assert p.kind in {"attribute", "collaborative", "profile"}
        assert run_path(neo4j_driver, p.cypher, p.parameters) >= 1
        assert p.reason.endswith(".") and p.nodes[0] == ("User", "ua0")
        assert p.nodes[-1] == ("Item", top.item_id)
    # ua0's profile says genre SciFi, which a0 carries
    prof = [p for p in rec.explain("ua0", "a0", max_paths=50).paths if p.kind == "profile"]
    assert prof and run_path(neo4j_driver, prof[0].cypher, prof[0].parameters) == 1


def test_explain_follows_the_largest_contributions(rec) -> None:  # type: ignore[no-untyped-def]
    from gnn.infer import decompose_user, user_neighbours

    state = rec.state
    user = state.user("ub2")
    item = rec.recommend("ub2", k=3).item_ids[2]
    row = state.catalog.row_of(item)
    model = state.model
    nbrs = user_neighbours(model, user.seen, user.attribute_ids)
    parts = decompose_user(model, user.layer0, nbrs)
    e_i = model.item_emb[row]
    _, off_i, off_a = model.offsets
    share = {state.catalog.id_of(int(n) - off_i): float(c) / parts.norm
             for n, c in zip(parts.neighbours, parts.parts @ e_i) if off_i <= n < off_a}
    for j, c in zip(user.seen, state.scorer.item_item_contributions(user.seen, row)):
        share[state.catalog.id_of(int(j))] += float(c)
    paths = [p for p in rec.explain("ub2", item, max_paths=3).paths if p.kind != "profile"]
    assert paths
    for p in paths:  # each path carries its held item's contribution
        assert p.contribution == pytest.approx(share[p.nodes[1][1]], abs=1e-5)
    assert paths[0].contribution == pytest.approx(max(share.values()), abs=1e-5)


def test_add_items_recommendable_at_once(rec, neo4j_driver) -> None:  # type: ignore[no-untyped-def]
    new = {"id": "new-space", "title": "Nebula Starship Odyssey",
           "description": "Astronauts pilot a starship through a galaxy nebula to an alien "
                          "comet in orbit.",
           "attributes": {"genre": ["SciFi"], "style": ["futuristic"], "studio": ["Nova"]}}
    summary = rec.add_items([new])
    assert (summary.added, summary.updated, summary.unchanged, summary.rejected) == (1, 0, 0, 0)
    assert "new-space" in rec.recommend("ua0", k=7).item_ids
    # the opposite user gets it only after every unseen item of its own taste
    opposite = list(rec.recommend("ub0", k=40).item_ids)
    own = [i for i in opposite if i.startswith("b")]
    assert len(own) == 6 and opposite.index("new-space") > max(map(opposite.index, own))
    rec_row = neo4j_driver.execute_query(
        "MATCH (i:Item {id: $id}) RETURN i.embeddingVersion AS v, i.updatedAt AS t, "
        "i.contentHash AS h, [(i)-[:HAS_ATTRIBUTE]->(a) | a.id] AS attrs", id="new-space"
    ).records[0]
    assert rec_row["v"] == rec.model.version and "studio:Nova" in rec_row["attrs"]
    # unchanged: nothing re-embedded or rewritten
    again = rec.add_items([new])
    assert (again.added, again.updated, again.unchanged) == (0, 0, 1)
    row2 = neo4j_driver.execute_query(
        "MATCH (i:Item {id: $id}) RETURN i.embeddingVersion AS v, i.updatedAt AS t",
        id="new-space").records[0]
    assert (row2["v"], row2["t"]) == (rec_row["v"], rec_row["t"])
    # changed text: updated and re-embedded
    changed = rec.add_items([{**new, "description": new["description"] + " Sequel."}])
    assert changed.updated == 1
    # trained items re-sent unchanged (their hash was written with the model) too
    catalog = rec.state.catalog
    assert rec.add_items([{"id": "a1", "title": catalog.title(catalog.row_of("a1")),
                           "description": "A story about galaxy, astronaut and nebula.",
                           "attributes": {"genre": ["Space Opera"], "style": ["futuristic"]}}]
                         ).unchanged == 1


def test_warm_up_rehearses_add_items_and_writes_nothing(rec, neo4j_driver) -> None:  # type: ignore[no-untyped-def]
    from kg.writer import rehearse_item_write

    def state() -> tuple[int, ...]:
        r = neo4j_driver.execute_query(
            "MATCH (n) RETURN count(n) AS nodes, count(n.contentHash) AS hashes, "
            "count(n.embedding) AS embeddings, COUNT { ()-[]->() } AS edges").records[0]
        return tuple(r.values())

    before = state()
    seen = rehearse_item_write(neo4j_driver, rec.model.dim, rec.database)
    # inside its transaction the sentinel went through every add_items statement ...
    assert seen.id.startswith("kgrec-warm-up-") and seen.attribute_ids == ("kgrec:warm-up",)
    assert (seen.content_hash, seen.embedding is not None, seen.version) == \
        ("", True, "warm-up")
    # ... and the rollback left nothing behind
    assert state() == before
    assert rec.warm_up() > 0 and state() == before
    assert neo4j_driver.execute_query(
        "MATCH (n) WHERE n.id STARTS WITH 'kgrec-warm-up' OR n.id = 'kgrec:warm-up' "
        "RETURN count(n) AS n").records[0]["n"] == 0


def test_new_item_slots_reach_only_users_they_fit(rec) -> None:  # type: ignore[no-untyped-def]
    rec.add_items([{"id": "new-slot", "title": "Nebula Starship Voyage",
                    "description": "A starship crew explores a galaxy nebula.",
                    "attributes": {"genre": ["SciFi"], "style": ["futuristic"]}}])
    # a space user: the new SciFi item fits, so a slot shows it if the list has none
    plain = rec.recommend("ua3", k=4).item_ids
    slots = rec.recommend("ua3", k=4, new_items=1).item_ids
    assert "new-slot" in slots and (slots == plain or slots[:3] == plain[:3])
    # a cooking user: it scores below their relevance floor, so no slot shows it
    assert "new-slot" not in rec.recommend("ub0", k=6, new_items=1).item_ids
    assert "new-slot" not in rec.recommend("ub0", k=6, policies=[NewItemSlots(1, floor=0.05)]
                                           ).item_ids
    # with the floor at every candidate, the slot is guaranteed again
    guaranteed = rec.recommend("ub0", k=6, policies=[NewItemSlots(1, floor=1.0)]).item_ids
    assert guaranteed[5] in {"new-slot", "cold-a"} or "new-slot" in guaranteed
    # slot policies compose; MMR re-selects the whole list and does not
    both = rec.recommend("ua3", k=10, new_items=1, long_tail=True)
    assert len(both) == 10 and "new-slot" in both.item_ids
    for bad in (-1, 1.5, True):
        with pytest.raises(RequestError, match="new_items"):
            rec.recommend("ub0", new_items=bad)
    with pytest.raises(RequestError, match="does not combine"):
        rec.recommend("ub0", policies=[NewItemSlots(1), MMR(0.5)])


def test_add_items_validation(rec) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RecordError, match=r"record 2: field 'title'"):
        rec.add_items([{"id": "ok-1", "title": "x"}, {"id": "bad", "title": 42}])
    s = rec.add_items([{"id": "ok-2", "title": "Rocket"}, {"id": "bad", "colour": "x"}],
                      on_error="skip")
    assert (s.added, s.rejected) == (1, 1) and "colour" in s.reasons[0]


def test_add_interactions_folds_user_in(rec) -> None:  # type: ignore[no-untyped-def]
    s = rec.add_interactions([{"user_id": "new-user", "item_id": "b1"},
                              {"user_id": "new-user", "item_id": "b2"},
                              {"user_id": "new-user", "item_id": "b5"}])
    assert (s.interactions, s.users) == (3, 1)
    top = rec.recommend("new-user", k=5)
    assert top.fallback is None and sum(i.startswith("b") for i in top.item_ids) >= 4
    with pytest.raises(RecordError, match="item_id"):
        rec.add_interactions([{"user_id": "new-user", "item_id": "nope"}])


def test_restart_serves_what_earlier_calls_added(rec, settings, neo4j_driver,  # type: ignore[no-untyped-def]
                                                 planted_model) -> None:
    from dataclasses import replace

    from kg.writer import GraphWriter
    from kgrec.recommender import Recommender
    from tests.kgrec.conftest import planted_records

    other = Recommender(settings, model_dir=planted_model, driver=neo4j_driver)
    # a trained item re-sent with new content, a new item, a trained user's new items
    rec.add_items([{"id": "a3", "title": "Comet Kitchen", "description": "A chef bakes "
                    "bread and soup on a comet.", "attributes": {"genre": ["Cooking"]}},
                   {"id": "new-restart", "title": "Orbit Bakery", "description": "An "
                    "astronaut chef bakes dessert in orbit.",
                    "attributes": {"genre": ["SciFi", "Baking"], "style": ["homely"]}}])
    unseen = next(i for i in rec.recommend("ua1", k=40).item_ids if i.startswith("a"))
    rec.add_interactions([{"user_id": "ua1", "item_id": "new-restart"},
                          {"user_id": "ua1", "item_id": unseen},
                          {"user_id": "restart-user", "item_id": "b4"},
                          {"user_id": "restart-user", "item_id": "new-restart"}])
    # a bulk re-load changes b0's text: whoever reads it next embeds its new content
    GraphWriter(neo4j_driver, settings.neo4j.database, show_progress=False).write_items(
        [replace(i, description=i.description + " Re-loaded.") if i.id == "b0" else i
         for i in planted_records()[0] if i.id.startswith("b")])
    with pytest.raises(NotFoundError):  # the other process has not refreshed yet
        other.recommend("restart-user")
    assert other.refresh() is False  # same model, new catalog
    rec.refresh()
    started = Recommender(settings, model_dir=planted_model, driver=neo4j_driver)
    for again in (other, started):
        assert len(again.state.catalog) == len(rec.state.catalog)
        for user in ("ua0", "ua1", "ub0", "restart-user", "cold-a"):
            before = {r.item_id: r.score for r in rec.recommend(user, k=100)}
            after = {r.item_id: r.score for r in again.recommend(user, k=100)}
            assert before.keys() == after.keys(), user
            np.testing.assert_allclose([after[i] for i in before], list(before.values()),
                                       rtol=1e-4, atol=1e-5, err_msg=user)
        assert again.similar_items("new-restart", k=10).item_ids == \
            rec.similar_items("new-restart", k=10).item_ids
    other.close()
    started.close()
