"""Text features for every node of a snapshot, through ``llm_bridge``.

Training from Neo4j (``kgrec train``) and evaluation from files (``kgrec evaluate``)
both call :func:`node_features`, so they see exactly the same inputs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from kg.snapshot import GraphSnapshot

__all__ = ["NodeFeatures", "attribute_texts", "item_texts", "node_features", "user_texts"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class NodeFeatures:
    """L2-normalised text features, rows in snapshot order.

    Shapes:
        - ``item``: ``float32 [num_items, D]``
        - ``attribute``: ``float32 [num_attributes, D]``
        - ``user``: ``float32 [num_users, D]`` (zero rows for users without a profile)
    """

    item: np.ndarray
    attribute: np.ndarray
    user: np.ndarray
    encoder_id: str

    @property
    def dim(self) -> int:
        return int(self.item.shape[1])


def item_texts(snapshot: GraphSnapshot) -> list[str]:
    """The text of every item: title + description + attributes (llm_bridge template)."""
    from llm_bridge import item_text

    attrs = snapshot.item_attributes()
    return [item_text(t, d, a) for t, d, a in
            zip(snapshot.item_title, snapshot.item_description, attrs, strict=True)]


def attribute_texts(snapshot: GraphSnapshot) -> list[str]:
    """The text of every attribute node, e.g. ``"genre: Film-Noir"``."""
    from llm_bridge import attribute_text

    return [attribute_text(*snapshot.attribute_kind_value(i)) for i in range(snapshot.num_attributes)]


def user_texts(snapshot: GraphSnapshot) -> list[str]:
    """The profile text of every user ("" for users without profile attributes)."""
    from llm_bridge import user_text

    profiles: list[dict[str, list[str]]] = [{} for _ in snapshot.user_ids]
    for user_idx, attr_idx in snapshot.user_attribute_index.T.tolist():
        kind, value = snapshot.attribute_kind_value(attr_idx)
        profiles[user_idx].setdefault(kind, []).append(value)
    return [user_text(p) if p else "" for p in profiles]


def node_features(snapshot: GraphSnapshot, store: object, show_progress: bool | None = None
                  ) -> NodeFeatures:
    """Encode items, attributes and user profiles with a ``llm_bridge.FeatureStore``.

    Args:
        snapshot: the graph.
        store: an ``llm_bridge.FeatureStore`` (cached) or a ``TextEncoder``.
        show_progress: progress bars while encoding.
    """
    def run(texts: list[str]) -> np.ndarray:
        out = store.encode(texts, show_progress=show_progress)  # type: ignore[attr-defined]
        return np.asarray(out[0] if isinstance(out, tuple) else out, dtype=np.float32)

    item = run(item_texts(snapshot))
    attribute = run(attribute_texts(snapshot)) if snapshot.num_attributes else \
        np.zeros((0, item.shape[1]), np.float32)
    texts = user_texts(snapshot)
    user = np.zeros((snapshot.num_users, item.shape[1]), np.float32)
    has = [i for i, t in enumerate(texts) if t]
    if has:
        user[has] = run([texts[i] for i in has])
    encoder = getattr(store, "encoder", store)
    logger.info("encoded %d items, %d attributes, %d user profiles",
                len(item), len(attribute), len(has))
    return NodeFeatures(item=item, attribute=attribute, user=user,
                        encoder_id=str(getattr(encoder, "model_id", type(encoder).__name__)))
