"""``kgrec db …``, ``kgrec stats``, ``kgrec cypher`` and ``kgrec export rdf``.

``db start`` launches the local Neo4j of ``KGREC_HOME`` in the background; later
commands connect to it (or to ``NEO4J_URI`` when set).
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, LiteralString

import typer

from kgrec.cli import app
from kgrec.errors import GraphError
from kgrec.settings import Settings

if TYPE_CHECKING:
    import neo4j

__all__ = ["db_app", "export_app"]

logger = logging.getLogger(__name__)

db_app = typer.Typer(name="db", help="Manage the local Neo4j server.", no_args_is_help=True)
export_app = typer.Typer(name="export", help="Export the knowledge graph.",
                         no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(export_app, name="export")

_Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _connect(settings: Settings) -> neo4j.Driver:
    from kg.connection import connect

    return connect(settings)


@db_app.command("start")
def db_start(timeout: Annotated[float, typer.Option(help="Seconds to wait for Bolt.")] = 120
             ) -> None:
    """Start the local Neo4j server (fetching its jars once) and print its Bolt URI."""
    from kg.server import LocalNeo4j

    uri = LocalNeo4j(Settings.from_env()).start(timeout=timeout)
    typer.echo(uri)


@db_app.command("fetch")
def db_fetch() -> None:
    """Fetch the Neo4j server jars from Maven Central into the cache (once; offline after)."""
    from kg.server import LocalNeo4j

    lib = LocalNeo4j(Settings.from_env()).ensure_jars()
    logger.info("Neo4j jars in %s", lib)


@db_app.command("stop")
def db_stop() -> None:
    """Stop the local Neo4j server."""
    from kg.server import LocalNeo4j

    stopped = LocalNeo4j(Settings.from_env()).stop()
    typer.echo("stopped" if stopped else "not running")


@db_app.command("status")
def db_status(as_json: _Json = False) -> None:
    """Show whether the local server runs, its pid, URI, home and log file."""
    from kg.server import LocalNeo4j

    st = LocalNeo4j(Settings.from_env()).status()
    data = {"running": st.running, "pid": st.pid, "uri": st.uri, "home": str(st.home),
            "log_path": str(st.log_path)}
    if as_json:
        typer.echo(json.dumps(data))
    else:
        for key, value in data.items():
            typer.echo(f"{key:9} {value if value is not None else '-'}")


@db_app.command("reset")
def db_reset(yes: Annotated[bool, typer.Option("--yes", help="Really delete the data.")] = False
             ) -> None:
    """Stop the local server and delete all its data."""
    from kg.server import LocalNeo4j

    server = LocalNeo4j(Settings.from_env())
    if not yes:
        typer.echo(f"Refusing: this deletes every graph under {server.data_dir}; "
                   "pass --yes to confirm.", err=True)
        raise typer.Exit(2)
    server.reset()
    typer.echo(f"deleted {server.data_dir}")


@db_app.command("init")
def db_init() -> None:
    """Create constraints and indexes (starting the local server if needed)."""
    from kg.connection import connect
    from kg.indexes import ensure_schema

    settings = Settings.from_env()
    with connect(settings, start=True) as driver:
        ensure_schema(driver, database=settings.neo4j.database)
    typer.echo("schema ready")


def graph_stats(driver: neo4j.Driver, database: str) -> dict[str, dict[str, int]]:
    """Counts per node label and per relationship type.

    Raises:
        GraphError: the query failed, or Neo4j is unreachable.
    """
    from neo4j.exceptions import DriverError, Neo4jError

    from kg import queries as q
    from kg.connection import graph_error

    try:
        nodes = driver.execute_query(q.COUNT_NODES, database_=database).records
        rels = driver.execute_query(q.COUNT_RELATIONSHIPS, database_=database).records
    except (Neo4jError, DriverError) as e:
        raise graph_error("counting nodes and relationships", e, driver) from e
    return {"nodes": {r["label"]: r["count"] for r in nodes},
            "relationships": {r["type"]: r["count"] for r in rels}}


@app.command("stats")
def stats_cmd(as_json: _Json = False) -> None:
    """Count nodes per label and relationships per type."""
    settings = Settings.from_env()
    with _connect(settings) as driver:
        data = graph_stats(driver, settings.neo4j.database)
    if as_json:
        typer.echo(json.dumps(data))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("kind", "name", "count")
    for kind, counts in data.items():
        for name, n in counts.items():
            table.add_row(kind, name, f"{n:,}")
    Console().print(table)


def _parse_params(raw: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in raw:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier():
            raise typer.BadParameter(f"expected name=value, got {item!r}", param_hint="-p")
        try:
            params[name] = json.loads(value)
        except ValueError:
            params[name] = value
    return params


def _plain(value: Any) -> Any:
    """Driver values -> JSON-able plain values."""
    import neo4j.graph

    if isinstance(value, neo4j.graph.Node):
        return {"labels": sorted(value.labels), "properties": _plain(dict(value))}
    if isinstance(value, neo4j.graph.Relationship):
        return {"type": value.type, "properties": _plain(dict(value))}
    if isinstance(value, neo4j.graph.Path):
        return [_plain(n) for n in value.nodes]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    iso = getattr(value, "iso_format", None)
    return iso() if callable(iso) else str(value)


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by ``None`` (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def run_cypher(driver: neo4j.Driver, query: str, params: dict[str, Any], *, write: bool,
               database: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Run a user query in a read (or write) transaction; return column names and rows.

    Raises:
        GraphError: the query failed, or Neo4j is unreachable.
    """
    import neo4j as _neo4j
    from neo4j.exceptions import DriverError, Neo4jError

    from kg.connection import graph_error

    # the text comes from the user on purpose (mypy treats LiteralString as str); values
    # still go in as parameters
    q: LiteralString = query

    def work(tx: _neo4j.ManagedTransaction) -> tuple[list[str], list[dict[str, Any]]]:
        result = tx.run(q, params)
        keys = list(result.keys())
        return keys, [{k: _plain(r[k]) for k in keys} for r in result]

    try:
        with driver.session(database=database) as session:
            return session.execute_write(work) if write else session.execute_read(work)
    except Neo4jError as e:
        hint = " (use --write for queries that change the graph)" if (
            not write and "write" in (e.message or "").lower()) else ""
        raise GraphError(f"query failed: {e.message}{hint}") from e
    except DriverError as e:
        raise graph_error("query", e, driver) from e


@app.command("cypher")
def cypher_cmd(
    query: Annotated[str, typer.Argument(help="Cypher text; pass values with -p.")],
    param: Annotated[list[str] | None, typer.Option(
        "-p", "--param", help="name=value (JSON when it parses, else a string); repeatable.")
    ] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the rows as strict JSON: NaN and infinite numbers print as null.")
    ] = False,
    write: Annotated[bool, typer.Option("--write", help="Run in a write transaction.")] = False,
) -> None:
    """Run a Cypher query (read-only unless --write) and print the rows.

    With --json the output is strict JSON (RFC 8259): a NaN or infinite float, which
    JSON cannot spell, prints as null.
    """
    params = _parse_params(param or [])
    settings = Settings.from_env()
    with _connect(settings) as driver:
        keys, rows = run_cypher(driver, query, params, write=write,
                                database=settings.neo4j.database)
    if as_json:
        typer.echo(json.dumps(_finite(rows), ensure_ascii=False, allow_nan=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*keys)
    for row in rows:
        table.add_row(*(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                        for v in row.values()))
    Console().print(table)


@export_app.command("rdf")
def export_rdf_cmd(path: Annotated[Path, typer.Argument(help="Output .ttl file.")]) -> None:
    """Write the whole graph as Turtle."""
    from kg.rdf import export_turtle

    settings = Settings.from_env()
    with _connect(settings) as driver:
        n = export_turtle(driver, path, database=settings.neo4j.database)
    typer.echo(f"wrote {n:,} triples to {path}")
