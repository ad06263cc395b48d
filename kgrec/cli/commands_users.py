"""``kgrec users delete ID``: erase a user (a data-subject request)."""

from __future__ import annotations

from typing import Annotated

import typer

from kgrec.cli import JsonOpt, app, echo_json
from kgrec.settings import Settings

__all__ = ["users_delete"]

users_app = typer.Typer(help="Users: erase one on request.", no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command("delete")
def users_delete(
    user: Annotated[str, typer.Argument(help="User id.")],
    yes: Annotated[bool, typer.Option("--yes", help="Really erase the user.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Erase a user: the node, its interactions and profile edges leave Neo4j; serving
    processes drop the user on their next refresh, and no later training sees it."""
    from kg.admin import delete_user
    from kg.connection import connect

    if not yes:
        typer.echo(f"Refusing: this erases user {user!r} and their interactions for good; "
                   "pass --yes to confirm.", err=True)
        raise typer.Exit(2)
    settings = Settings.from_env()
    with connect(settings) as driver:
        erased = delete_user(driver, user, settings.neo4j.database)
    if as_json:
        echo_json({"user_id": user, "deleted": True, "interactions": erased.interactions})
        return
    typer.echo(f"erased user {user!r} and {erased.interactions} interactions; serving "
               "processes drop the user on their next refresh")
