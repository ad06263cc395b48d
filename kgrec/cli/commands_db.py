"""``kgrec db …``, ``kgrec stats``, ``kgrec cypher`` and ``kgrec export rdf``.

``db start`` launches the local Neo4j of ``KGREC_HOME`` in the background; later
commands connect to it (or to ``NEO4J_URI`` when set).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, LiteralString

import typer

from kgrec.cli import JsonOpt, app, echo_json
from kgrec.errors import GraphError
from kgrec.settings import Settings

if TYPE_CHECKING:
    import neo4j

__all__ = ["db_app", "export_app", "parse_params"]

logger = logging.getLogger(__name__)

db_app = typer.Typer(name="db", help="Manage the local Neo4j server.", no_args_is_help=True)
export_app = typer.Typer(name="export", help="Export the knowledge graph.",
                         no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(export_app, name="export")

def _connect(settings: Settings) -> neo4j.Driver:
    from kg.connection import connect

    return connect(settings)


@db_app.command("start")
def db_start(timeout: Annotated[float, typer.Option(help="Seconds to wait for Bolt.")] = 120,
             as_json: JsonOpt = False) -> None:
    """Start the local Neo4j server (fetching its jars once) and print its Bolt URI (with
    --json also its Neo4j Browser URL)."""
    from kg.server import LocalNeo4j

    server = LocalNeo4j(Settings.from_env())
    uri = server.start(timeout=timeout)
    if as_json:
        echo_json({"uri": uri, "browser_url": server.status().browser_url})
    else:
        typer.echo(uri)


@db_app.command("fetch")
def db_fetch(as_json: JsonOpt = False) -> None:
    """Fetch the Neo4j server jars from Maven Central into the cache (once; offline after)
    and print their folder."""
    from kg.server import LocalNeo4j

    lib = LocalNeo4j(Settings.from_env()).ensure_jars()
    if as_json:
        echo_json({"lib": str(lib), "jars": len(list(lib.glob("*.jar")))})
    else:
        typer.echo(lib)


@db_app.command("stop")
def db_stop(as_json: JsonOpt = False) -> None:
    """Stop the local Neo4j server."""
    from kg.server import LocalNeo4j

    stopped = LocalNeo4j(Settings.from_env()).stop()
    if as_json:
        echo_json({"stopped": stopped})
    else:
        typer.echo("stopped" if stopped else "not running")


@db_app.command("status")
def db_status(as_json: JsonOpt = False) -> None:
    """Show whether the local server runs, its pid, Bolt URI, Neo4j Browser URL (log in as
    neo4j with the password in <home>/credentials.json), home and log file."""
    from kg.server import LocalNeo4j

    st = LocalNeo4j(Settings.from_env()).status()
    data = {"running": st.running, "pid": st.pid, "uri": st.uri,
            "browser_url": st.browser_url, "home": str(st.home), "log_path": str(st.log_path)}
    if as_json:
        echo_json(data)
    else:
        for key, value in data.items():
            typer.echo(f"{key:11} {value if value is not None else '-'}")


@db_app.command("reset")
def db_reset(yes: Annotated[bool, typer.Option("--yes", help="Really delete the data.")] = False,
             as_json: JsonOpt = False) -> None:
    """Stop the local server and delete all its data."""
    from kg.server import LocalNeo4j

    server = LocalNeo4j(Settings.from_env())
    if not yes:
        typer.echo(f"Refusing: this deletes every graph under {server.data_dir}; "
                   "pass --yes to confirm.", err=True)
        raise typer.Exit(2)
    server.reset()
    if as_json:
        echo_json({"deleted": str(server.data_dir)})
    else:
        typer.echo(f"deleted {server.data_dir}")


@db_app.command("init")
def db_init(as_json: JsonOpt = False) -> None:
    """Create constraints and indexes (starting the local server if needed)."""
    from kg.connection import connect
    from kg.indexes import ensure_schema

    settings = Settings.from_env()
    with connect(settings, start=True) as driver:
        ensure_schema(driver, database=settings.neo4j.database)
    if as_json:
        echo_json({"schema": "ready"})
    else:
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
def stats_cmd(as_json: JsonOpt = False) -> None:
    """Count nodes per label and relationships per type."""
    settings = Settings.from_env()
    with _connect(settings) as driver:
        data = graph_stats(driver, settings.neo4j.database)
    if as_json:
        echo_json(data)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("kind", "name", "count")
    for kind, counts in data.items():
        for name, n in counts.items():
            table.add_row(kind, name, f"{n:,}")
    Console().print(table)


_PARAM_TYPES = ("int", "float", "bool", "str")
_INT = re.compile(r"[+-]?[0-9]+")


def _typed_value(item: str, kind: str, text: str) -> Any:
    """``text`` as a ``kind`` value of ``-p item``; a BadParameter names what was wrong."""
    if kind == "str":
        return text
    if kind == "int" and _INT.fullmatch(text):
        return int(text)
    if kind == "float":
        with contextlib.suppress(ValueError):
            number = float(text)
            if math.isfinite(number):
                return number
    if kind == "bool" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    expected = {"int": "an integer such as 42", "float": "a finite number such as 1.5",
                "bool": "true or false"}[kind]
    raise typer.BadParameter(f"{item!r}: {kind} value must be {expected}, got {text!r}",
                             param_hint="-p")


def parse_params(raw: list[str], raw_json: str | None = None) -> dict[str, Any]:
    """``-p`` options and a ``-P`` JSON object -> query parameters.

    ``name=value`` is a string as written (``id=42`` is ``"42"``, as item ids are);
    ``name:int=5``, ``name:float=1.5``, ``name:bool=true`` and ``name:str=...`` give the
    type; ``-P '{"ids": ["2"], "n": 5}'`` passes any JSON value (lists, maps).

    Raises:
        typer.BadParameter: a malformed option, an unknown type, a value not of its
            type, JSON that is not an object, or a name given twice.
    """
    params: dict[str, Any] = {}
    for item in raw:
        spec, sep, value = item.partition("=")
        name, colon, kind = spec.partition(":")
        if not sep or not name.isidentifier():
            raise typer.BadParameter(f"expected name=value or name:type=value, got {item!r}",
                                     param_hint="-p")
        if colon and kind not in _PARAM_TYPES:
            raise typer.BadParameter(f"{item!r}: unknown type {kind!r} (expected one of "
                                     f"{', '.join(_PARAM_TYPES)}; -P for JSON)",
                                     param_hint="-p")
        if name in params:
            raise typer.BadParameter(f"parameter {name!r} given twice", param_hint="-p")
        params[name] = _typed_value(item, kind or "str", value)
    if raw_json is not None:
        params_json = _json_object(raw_json)
        if twice := sorted(params.keys() & params_json.keys()):
            raise typer.BadParameter(f"parameter(s) {', '.join(twice)} given with -p and -P",
                                     param_hint="-P")
        params.update(params_json)
    return params


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as e:
        raise typer.BadParameter(f"not JSON ({e}): {text[:80]!r}", param_hint="-P") from None
    if not isinstance(value, dict) or not all(isinstance(k, str) and k.isidentifier()
                                              for k in value):
        raise typer.BadParameter('expected a JSON object of parameters, e.g. \'{"n": 5}\', '
                                 f"got {text[:80]!r}", param_hint="-P")
    return value


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
    query: Annotated[str, typer.Argument(help="Cypher text; pass values with -p or -P.")],
    param: Annotated[list[str] | None, typer.Option(
        "-p", "--param", help="name=value, a string as written (id=42 is \"42\"); typed: "
                              "name:int=5, name:float=1.5, name:bool=true, name:str=text; "
                              "repeatable.")
    ] = None,
    params_json: Annotated[str | None, typer.Option(
        "-P", "--params-json", help='Parameters as one JSON object, e.g. \'{"ids": ["2"], '
                                    '"n": 5}\' (lists, maps, numbers).')] = None,
    as_json: JsonOpt = False,
    write: Annotated[bool, typer.Option("--write", help="Run in a write transaction.")] = False,
) -> None:
    """Run a Cypher query (read-only unless --write) and print the rows.

    -p id=42 passes the string "42" (ids are strings); give a type for other values
    (-p n:int=5, -p x:float=1.5, -p b:bool=true) or pass JSON with -P '{"ids": ["2"]}'.

    With --json the output is strict JSON (RFC 8259): a NaN or infinite float, which
    JSON cannot spell, prints as null.
    """
    params = parse_params(param or [], params_json)
    settings = Settings.from_env()
    with _connect(settings) as driver:
        keys, rows = run_cypher(driver, query, params, write=write,
                                database=settings.neo4j.database)
    if as_json:
        echo_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*keys)
    for row in rows:
        table.add_row(*(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                        for v in row.values()))
    Console().print(table)


@export_app.command("rdf")
def export_rdf_cmd(path: Annotated[Path, typer.Argument(help="Output .ttl file.")],
                   as_json: JsonOpt = False) -> None:
    """Write the whole graph as Turtle."""
    from kg.rdf import export_turtle

    settings = Settings.from_env()
    with _connect(settings) as driver:
        n = export_turtle(driver, path, database=settings.neo4j.database)
    if as_json:
        echo_json({"triples": n, "path": str(path)})
    else:
        typer.echo(f"wrote {n:,} triples to {path}")
