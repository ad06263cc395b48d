"""``kgrec recommend-batch USERS_FILE --out FILE``: top-k lists for many users at once."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from kgrec.cli import JsonOpt, app, echo_json
from kgrec.errors import IngestError, NotFoundError
from kgrec.settings import Settings

__all__ = ["recommend_batch"]


def read_user_ids(path: Path) -> list[str]:
    """One user id per line (blank lines and ``#`` comments skipped), in file order.

    Raises:
        IngestError: the file is missing, not UTF-8, or holds no user id.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise IngestError(f"{path}: cannot read the users file ({e})") from e
    ids = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not ids:
        raise IngestError(f"{path}: no user id (expected one per line)")
    return list(dict.fromkeys(ids))


@app.command("recommend-batch")
def recommend_batch(
    users_file: Annotated[Path, typer.Argument(help="User ids, one per line.")],
    out: Annotated[Path, typer.Option(help="Output JSONL: one {user_id, items, ...} per user.")],
    k: Annotated[int, typer.Option("-k", "--k", help="How many items per user.")] = 10,
    skip_unknown: Annotated[bool, typer.Option(help="Write an error line for an unknown "
                                                    "user instead of failing.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Top-k recommendations for every user of USERS_FILE, written as JSON lines.

    The output appears whole or not at all (written to a temporary file, then renamed).
    """
    from kgrec.recommender import Recommender

    users = read_user_ids(users_file)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    written = 0
    with Recommender(Settings.from_env()) as rec, tmp.open("w", encoding="utf-8") as f:
        for user in users:
            try:
                row = {"user_id": user, **rec.recommend(user, k).to_dict()}
            except NotFoundError as e:
                if not skip_unknown:
                    tmp.unlink(missing_ok=True)
                    raise
                row = {"user_id": user, "error": str(e)}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            written += 1
    tmp.replace(out)
    if as_json:
        echo_json({"lists": written, "out": str(out)})
    else:
        typer.echo(f"wrote {written} lists to {out}")
