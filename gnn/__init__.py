"""gnn: graph assembly, the kgrec GNN, training, checkpoints, inductive inference.

Public names are imported lazily (PEP 562), so ``import gnn`` loads neither torch
nor torch_geometric until a name that needs them is used.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "Delta",
    "EvalContext",
    "HomogeneousGraph",
    "KGRecConfig",
    "KGRecModel",
    "KGRecRanker",
    "ModelConfig",
    "ModelStore",
    "NodeFeatures",
    "Ranker",
    "Scorer",
    "ScoringConfig",
    "TrainConfig",
    "TrainResult",
    "TrainedModel",
    "build_homogeneous",
    "embed_new_items",
    "embed_users",
    "kgrec_rankers",
    "load_checkpoint",
    "node_features",
    "plot_history",
    "save_checkpoint",
    "to_hetero_data",
    "train_model",
    "write_back",
]

_WHERE = {
    "EvalContext": "gnn.ranker", "Ranker": "gnn.ranker",
    "NodeFeatures": "gnn.features", "node_features": "gnn.features",
    "HomogeneousGraph": "gnn.graph", "build_homogeneous": "gnn.graph",
    "to_hetero_data": "gnn.graph",
    "KGRecConfig": "gnn.config", "ModelConfig": "gnn.config", "TrainConfig": "gnn.config",
    "ScoringConfig": "gnn.config",
    "KGRecModel": "gnn.model",
    "TrainResult": "gnn.train", "train_model": "gnn.train", "plot_history": "gnn.curves",
    "TrainedModel": "gnn.trained", "Scorer": "gnn.scorer", "Delta": "gnn.delta",
    "save_checkpoint": "gnn.checkpoint", "load_checkpoint": "gnn.checkpoint",
    "ModelStore": "gnn.model_store",
    "embed_new_items": "gnn.infer", "embed_users": "gnn.infer",
    "KGRecRanker": "gnn.kgrec_ranker", "kgrec_rankers": "gnn.kgrec_ranker",
    "write_back": "gnn.writeback",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'gnn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
