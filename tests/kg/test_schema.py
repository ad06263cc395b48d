from __future__ import annotations

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
