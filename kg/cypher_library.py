"""Analyst Cypher files shipped in ``kg/cypher/*.cypher`` (for Neo4j Browser / cypher-shell).

Each file starts with a comment header naming its ``$parameters``. These queries are
for people; the library itself runs the constants of :mod:`kg.queries*`.
"""

from __future__ import annotations

from importlib import resources

from kgrec.errors import NotFoundError

__all__ = ["cypher_file", "cypher_files"]


def cypher_files() -> list[str]:
    """Names (without ``.cypher``) of the shipped analyst queries, sorted."""
    folder = resources.files("kg") / "cypher"
    return sorted(p.name[:-len(".cypher")] for p in folder.iterdir()
                  if p.name.endswith(".cypher"))


def cypher_file(name: str) -> str:
    """The text of ``kg/cypher/<name>.cypher``.

    Example:
        >>> from kg import cypher_file
        >>> "queryNodes" in cypher_file("similar_items")
        True

    Raises:
        NotFoundError: no such file (the message lists the available names).
    """
    names = cypher_files()
    if name not in names:
        raise NotFoundError(f"no analyst query {name!r}; available: {', '.join(names)}")
    return (resources.files("kg") / "cypher" / f"{name}.cypher").read_text(encoding="utf-8")
