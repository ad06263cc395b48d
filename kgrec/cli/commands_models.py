"""``kgrec models list | use VERSION | prune --keep N``: trained models as versions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from kgrec.cli import JsonOpt, app, echo_json
from kgrec.settings import Settings

if TYPE_CHECKING:
    from gnn.model_store import ModelStore

__all__ = ["models_list", "models_prune", "models_use"]

models_app = typer.Typer(help="Trained models: list them, choose the one served, prune old ones.",
                         no_args_is_help=True)
app.add_typer(models_app, name="models")


def _store() -> ModelStore:
    from gnn.model_store import ModelStore

    return ModelStore(Settings.from_env().models_dir)


@models_app.command("list")
def models_list(as_json: JsonOpt = False) -> None:
    """The saved model versions, oldest first; * marks the one served (``latest``)."""
    versions = _store().versions()
    if as_json:
        echo_json([v.to_dict() for v in versions], indent=2)
        return
    if not versions:
        typer.echo("no trained model yet: run `kgrec train`")
    for v in versions:
        ndcg = f"{v.best_val_ndcg:.4f}" if v.best_val_ndcg is not None else "-"
        typer.echo(f"{'*' if v.latest else ' '} {v.version}  users {v.users}  items {v.items}  "
                   f"validation NDCG@20 {ndcg}")


@models_app.command("use")
def models_use(version: Annotated[str, typer.Argument(help="A version from `kgrec models list`.")],
               write: Annotated[bool, typer.Option(help="Re-write its embeddings into Neo4j "
                                                        "first (also repairs a crash in "
                                                        "the middle of `kgrec train`).")] = True,
               as_json: JsonOpt = False) -> None:
    """Serve VERSION: re-write its embeddings into Neo4j, then point ``latest`` at it
    (serving processes switch on refresh)."""
    written: dict[str, int] | None = None
    if not write:
        _store().use(version)
    else:
        from kg.connection import connect
        from kgrec.publish import use_model

        settings = Settings.from_env()
        _store().path(version)  # an unknown version fails before Neo4j is touched
        driver = connect(settings)
        try:
            written = use_model(settings, driver, version)
        finally:
            driver.close()
    if as_json:
        echo_json({"latest": version, "written": written})
        return
    if written is not None:
        typer.echo(f"wrote {written['items']} item and {written['users']} user embeddings")
    typer.echo(f"latest -> {version}")


@models_app.command("prune")
def models_prune(keep: Annotated[int, typer.Option(help="How many of the newest to keep.")] = 3,
                 as_json: JsonOpt = False) -> None:
    """Delete all but the newest KEEP versions (the one served is always kept)."""
    gone = _store().prune(keep)
    if as_json:
        echo_json({"deleted": gone})
        return
    typer.echo(f"deleted {len(gone)} model version(s)" + (f": {', '.join(gone)}" if gone else ""))
