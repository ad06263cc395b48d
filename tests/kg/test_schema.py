from __future__ import annotations

import threading

import neo4j
import pytest

from kg.indexes import ensure_schema, ensure_vector_index
from kg.schema import ITEM_EMBEDDING_INDEX
from kgrec.errors import SchemaError


def _constraints(driver: neo4j.Driver) -> set[tuple[str, str]]:
    records = driver.execute_query(
        "SHOW CONSTRAINTS YIELD type, labelsOrTypes, properties "
        "RETURN type, labelsOrTypes[0] AS label, properties[0] AS prop").records
    return {(r["label"], r["prop"]) for r in records if r["type"] == "UNIQUENESS"}


def test_constraints_and_indexes_exist(clean_db: neo4j.Driver) -> None:
    ensure_schema(clean_db)  # second call must be a no-op
    assert {("User", "id"), ("Item", "id"), ("Attribute", "id")} <= _constraints(clean_db)
    names = {r["name"] for r in clean_db.execute_query("SHOW INDEXES YIELD name").records}
    assert {"attribute_kind", "item_created_at"} <= names


def test_uniqueness_is_enforced(clean_db: neo4j.Driver) -> None:
    clean_db.execute_query("CREATE (:Item {id: 'a'})")
    with pytest.raises(neo4j.exceptions.ConstraintError):
        clean_db.execute_query("CREATE (:Item {id: 'a'})")


def _dims(driver: neo4j.Driver) -> int:
    rec = driver.execute_query("SHOW VECTOR INDEXES YIELD name, options WHERE name = $n "
                               "RETURN options", n=ITEM_EMBEDDING_INDEX).records
    return int(rec[0]["options"]["indexConfig"]["vector.dimensions"])


def test_vector_index_recreated_on_new_dim(clean_db: neo4j.Driver) -> None:
    ensure_vector_index(clean_db, 8)
    assert _dims(clean_db) == 8
    assert ensure_vector_index(clean_db, 8) is False
    assert ensure_vector_index(clean_db, 4) is True
    assert _dims(clean_db) == 4


def test_vector_index_rejects_bad_dim(clean_db: neo4j.Driver) -> None:
    with pytest.raises(SchemaError, match="1..4096"):
        ensure_vector_index(clean_db, 0)


def _drop_schema_rules(driver: neo4j.Driver) -> None:
    """Drop the constraints and range indexes that ``ensure_schema`` creates (names as
    Neo4j lists them; vector and lookup indexes stay)."""
    for r in driver.execute_query("SHOW CONSTRAINTS YIELD name").records:
        driver.execute_query(f"DROP CONSTRAINT `{r['name']}` IF EXISTS")  # type: ignore[arg-type]
    for r in driver.execute_query("SHOW INDEXES YIELD name, type, owningConstraint "
                                  "WHERE type = 'RANGE' AND owningConstraint IS NULL "
                                  "RETURN name").records:
        driver.execute_query(f"DROP INDEX `{r['name']}` IF EXISTS")  # type: ignore[arg-type]


def test_concurrent_schema_creators_on_an_empty_database_all_succeed(
        clean_db: neo4j.Driver) -> None:
    # Two `kgrec load` at once on an empty database used to fail one of them with
    # EquivalentSchemaRuleAlreadyExists; here 6 creators start together (a barrier).
    _drop_schema_rules(clean_db)
    assert not _constraints(clean_db)
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def create() -> None:
        barrier.wait()
        try:
            ensure_schema(clean_db)
        except BaseException as e:  # noqa: BLE001 - collected for the assertion
            errors.append(e)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {("User", "id"), ("Item", "id"), ("Attribute", "id")} <= _constraints(clean_db)
