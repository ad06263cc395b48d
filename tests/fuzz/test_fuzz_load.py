"""A failed load writes nothing (issue 29): a valid catalog with one corrupted line (or an
emptied file) put anywhere fails ``load_catalog(on_error="fail")`` with a located
KGRecError, and Neo4j holds nothing afterwards. Real Neo4j; few examples."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import neo4j
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.loader import load_catalog
from kg.writer import GraphWriter
from kgrec.errors import IngestError, RecordError
from kgrec.settings import Settings

CATALOG = Path(__file__).parents[1] / "data" / "catalog"
FILES = ("items.jsonl", "users.jsonl", "interactions.csv")
CORRUPT = {
    "items.jsonl": ['{"id": "bad", "title": ' + "[" * 50_000 + "]" * 50_000 + "}",
                    '{"id": "\\u200b"}', '{"id": "7", "title": "Other title"}', "not json",
                    '{"id": 1e400}', '{"id": "x", "attributes": {"bad kind": "v"}}'],
    "users.jsonl": ['{"id": "u\\u0085"}', '{"id": "u1", "attributes": []}', "[1, 2]",
                    '{"id": "u2", "attributes": ' + "[" * 50_000 + "]" * 50_000 + "}"],
    "interactions.csv": ["u1,1,1e308,0", "u1,1,1,1e20", "u1,1,1,-5",
                         "u1,1,1,1950-01-01T00:00:00Z", "u1,nope,1,0", "u1,1,0,0",
                         '"u1,1,1,0', "u1,1", "u1,1,6e11,0\nu1,1,6e11,0"],
}


@settings(max_examples=12, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=st.sampled_from(FILES), data=st.data())
def test_a_load_that_fails_writes_nothing(clean_db: neo4j.Driver, settings: Settings,
                                          name: str, data: st.DataObject) -> None:
    from kg.queries import DELETE_ALL

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "catalog"
        shutil.copytree(CATALOG, folder)
        path = folder / name
        lines = path.read_text(encoding="utf-8").splitlines()
        bad = data.draw(st.sampled_from([*CORRUPT[name], None]), label="bad line")
        if bad is None:
            lines = [] if name != "interactions.csv" else lines[:1]  # no records at all
        else:
            at = data.draw(st.integers(1 if name == "interactions.csv" else 0, len(lines)),
                           label="position")
            lines.insert(at, bad)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        writer = GraphWriter(clean_db, settings.neo4j.database, batch_size=5,
                             show_progress=False)
        try:
            load_catalog(writer, folder)
            raise AssertionError(f"{name}: loading {bad!r} did not fail")
        except RecordError as e:
            assert e.path == str(path) and (e.line or 0) >= 1, e
        except IngestError as e:
            assert str(e).startswith(str(path)), e
        records, _, _ = clean_db.execute_query("MATCH (n) RETURN count(n) AS n",
                                               database_=settings.neo4j.database)
        assert records[0]["n"] == 0
    with clean_db.session(database=settings.neo4j.database) as session:
        session.run(DELETE_ALL).consume()
