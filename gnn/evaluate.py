"""The evaluation harness: every model on the same split, the same metric code, one run.

Implements ``EVALUATION.md``. For each seed: the W split is built once and every W/L
model is fitted once on it, then ranked on W and on L (L only restricts the test pairs);
C models are fitted on the C split, H models on the H (hybrid) split. On H each row also
carries the hybrid metrics (:func:`gnn.metrics.hybrid_metrics`). Each ``(protocol, model, seed, k)`` gives one
:class:`ResultRow` (a JSON-lines record).

Loading a dataset spec (a catalog folder, ``movielens:PATH``) is ``ingest``'s job, which
``gnn`` may not import: the CLI (``kgrec evaluate``) and ``benchmarks/evaluate.py`` read
the dataset and pass its snapshot here.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from gnn.baselines import COLD_BASELINES, SLOW_BASELINES, baselines_for
from gnn.features import NodeFeatures
from gnn.metrics import (
    HybridMetrics,
    RankingMetrics,
    evaluate_scores,
    hybrid_metrics,
    pair_matrix,
    ranked_lists,
    ranking_metrics,
)
from gnn.ranker import EvalContext, Ranker
from gnn.split import PROTOCOLS, Split, make_split
from kg.snapshot import GraphSnapshot
from kgrec.errors import ConfigError, ResourceError
from kgrec.settings import Settings

__all__ = [
    "KGREC_MODELS",
    "TEXT_MODELS",
    "ResultRow",
    "default_models",
    "evaluate",
    "format_table",
    "plot_results",
    "read_jsonl",
    "write_jsonl",
]

logger = logging.getLogger(__name__)

KGREC_MODELS: tuple[str, ...] = ("kgrec", "kgrec-tail", "kgrec-no-text", "kgrec-no-attributes",
                                 "kgrec-no-id", "kgrec-shuffled-kg")
TEXT_MODELS: frozenset[str] = frozenset({"ContentKNN", *COLD_BASELINES, *KGREC_MODELS})
"""Models that need text features (the encoder runs only when one of them is selected)."""

_VERSION_PACKAGES = ("kgrec", "numpy", "scipy", "torch", "torch_geometric", "implicit",
                     "transformers")


@dataclass(frozen=True)
class ResultRow:
    """One JSON-lines record of ``kgrec evaluate``."""

    dataset: str
    protocol: str
    model: str
    seed: int
    k: int
    recall: float
    ndcg: float
    hit_rate: float
    coverage: float
    tail_share: float
    n_users: int
    train_seconds: float
    device: str
    versions: dict[str, str] = field(default_factory=dict)
    # H (hybrid) only; None elsewhere and then left out of the JSON line
    new_share: float | None = None
    new_test_share: float | None = None
    users_with_new: float | None = None
    new_recall: float | None = None
    warm_ndcg: float | None = None
    warm_only_ndcg: float | None = None

    def as_dict(self) -> dict[str, object]:
        """Plain dict (JSON-serialisable); the H-only fields only when set."""
        return {k: v for k, v in asdict(self).items()
                if v is not None or k not in HYBRID_FIELDS}


HYBRID_FIELDS: tuple[str, ...] = ("new_share", "new_test_share", "users_with_new", "new_recall",
                                  "warm_ndcg", "warm_only_ndcg")
"""The optional :class:`ResultRow` fields of protocol H."""


def _versions(encoder_id: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in _VERSION_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name.replace("_", "-"))
        except importlib.metadata.PackageNotFoundError:
            continue
    if encoder_id:
        out["encoder"] = encoder_id
    return out


def _kgrec_rankers(protocol: str) -> list[Ranker]:
    """kgrec and its ablations; ``kgrec-tail`` only on W and L (its slots are tail slots)."""
    from gnn.kgrec_ranker import kgrec_rankers

    return [m for m in kgrec_rankers() if protocol in ("w", "l") or m.name != "kgrec-tail"]


def default_models(protocol: str, fast: bool = False, include_kgrec: bool = True
                   ) -> list[Ranker]:
    """Fresh rankers for ``protocol``: its baselines, then kgrec and its ablations.

    Args:
        protocol: ``"w"``, ``"c"``, ``"l"`` or ``"h"``.
        fast: skip the slow baselines (ALS, LightGCN).
        include_kgrec: add kgrec and its ablations.
    """
    models = baselines_for(protocol, fast=fast)
    return models + (_kgrec_rankers(protocol) if include_kgrec else [])


def _select(models: list[Ranker], names: Sequence[str] | None) -> list[Ranker]:
    if names is None:
        return models
    wanted = {n.lower() for n in names}
    return [m for m in models if m.name.lower() in wanted]


def _check_names(names: Sequence[str] | None, fast: bool) -> None:
    if names is None:
        return
    known = {m.name for p in ("w", "c", "h")
             for m in default_models(p, fast=False, include_kgrec=False)}
    known |= set(KGREC_MODELS)
    unknown = sorted({n for n in names if n.lower() not in {k.lower() for k in known}})
    if unknown:
        raise ConfigError(f"--models: unknown model(s) {', '.join(unknown)}; choose from "
                          f"{', '.join(sorted(known))}")
    if fast and any(n in SLOW_BASELINES for n in names):
        logger.warning("--fast skips %s", ", ".join(sorted(SLOW_BASELINES)))


def _features(snapshot: GraphSnapshot, store: object | None, settings: Settings | None,
              show_progress: bool | None) -> NodeFeatures:
    from gnn.features import node_features

    if store is None:
        from llm_bridge import FeatureStore, TextEncoder

        settings = settings or Settings()
        store = FeatureStore(settings.features_dir, TextEncoder(settings.encoder))
    return node_features(snapshot, store, show_progress=show_progress)


def _context(split: Split, feats: NodeFeatures, device: str) -> EvalContext:
    return EvalContext(item_features=feats.item, attribute_features=feats.attribute,
                       user_features=feats.user, valid=split.valid, fit_train=split.fit_train,
                       seed=split.seed, device=device,
                       extra={"valid_candidates": split.valid_candidates,
                              "protocol": split.protocol})


def _rank(model: Ranker, split: Split, ks: Sequence[int]
          ) -> list[tuple[RankingMetrics, HybridMetrics | None]]:
    """The metrics at every ``k``; on H also the hybrid metrics of the same lists."""
    n_u, n_i = split.snapshot.num_users, split.snapshot.num_items
    relevant = pair_matrix(split.test, n_u, n_i)
    seen = pair_matrix(split.train.interaction_index, n_u, n_i)
    if split.protocol != "h":
        return [(m, None) for m in evaluate_scores(model.score, split.users, relevant, seen,
                                                   split.candidates, split.tail, ks, split.seed)]
    cold = np.zeros(n_i, bool)
    cold[split.cold_items] = True
    top, warm_top = ranked_lists(model.score, split.users, seen, [split.candidates, ~cold],
                                 max(ks), split.seed)
    plain = ranking_metrics(top, relevant[split.users], ks, split.candidates, split.tail)
    extra = hybrid_metrics(top, warm_top, relevant[split.users], cold, ks)
    return list(zip(plain, extra, strict=True))


def _row(dataset: str, protocol: str, model: str, seed: int, seconds: float, device: str,
         versions: dict[str, str], m: RankingMetrics, h: HybridMetrics | None) -> ResultRow:
    extra = {} if h is None else {f: getattr(h, f) for f in HYBRID_FIELDS}
    return ResultRow(dataset=dataset, protocol=protocol, model=model, seed=seed, k=m.k,
                     recall=m.recall, ndcg=m.ndcg, hit_rate=m.hit_rate, coverage=m.coverage,
                     tail_share=m.tail_share, n_users=m.n_users,
                     train_seconds=round(seconds, 3), device=device, versions=versions,
                     **extra)


def evaluate(
    snapshot: GraphSnapshot,
    *,
    dataset: str = "snapshot",
    protocols: Sequence[str] = ("w", "c", "l"),
    seeds: Sequence[int] = (2026,),
    ks: Sequence[int] = (10, 20, 50),
    models: Sequence[str] | None = None,
    fast: bool = False,
    features: NodeFeatures | None = None,
    store: object | None = None,
    settings: Settings | None = None,
    device: str = "cpu",
    model_factory: Callable[[str], list[Ranker]] | None = None,
    show_progress: bool | None = None,
) -> list[ResultRow]:
    """Run every selected model on every protocol and seed.

    Args:
        snapshot: the whole dataset (e.g. ``ingest.read_dataset(spec).to_snapshot()``).
        dataset: the dataset's name in the result rows.
        protocols: any of ``"w"``, ``"c"``, ``"l"``, ``"h"``.
        seeds: split seeds.
        ks: metric cutoffs.
        models: model names to keep (case-insensitive); ``None`` = all of the protocol.
        fast: skip ALS and LightGCN.
        features: precomputed node features; else computed once with ``store``.
        store: an ``llm_bridge.FeatureStore`` (or ``TextEncoder``); default
            ``FeatureStore(settings.features_dir, TextEncoder(settings.encoder))``.
        settings: used only to build the default store.
        device: ``"cpu"`` or ``"cuda"``, passed to rankers via :class:`EvalContext`.
        model_factory: ``protocol -> fresh rankers``; default :func:`default_models`.
        show_progress: progress bars (``None``: on when logging at INFO).

    Returns:
        One :class:`ResultRow` per protocol, model, seed and ``k``.

    Raises:
        ConfigError: unknown protocol or model name.

    A model whose fit raises :class:`ResourceError` (more memory than the machine has)
    is skipped with a warning; the others still run.
    """
    protocols = [p.lower() for p in protocols]
    bad = [p for p in protocols if p not in PROTOCOLS]
    if bad:
        raise ConfigError(f"protocol must be among {', '.join(PROTOCOLS)}; got {', '.join(bad)}")
    _check_names(models, fast)
    factory = model_factory or (lambda p: default_models(p, fast=fast))
    needs_text = any(m.name in TEXT_MODELS
                     for p in {(p if p in ("c", "h") else "w") for p in protocols}
                     for m in _select(factory(p), models))
    if features is None:
        if needs_text:
            features = _features(snapshot, store, settings, show_progress)
        else:  # no text model selected: do not load the encoder
            features = NodeFeatures(
                item=np.zeros((snapshot.num_items, 1), np.float32),
                attribute=np.zeros((snapshot.num_attributes, 1), np.float32),
                user=np.zeros((snapshot.num_users, 1), np.float32), encoder_id="none")
    versions = _versions(features.encoder_id if needs_text else None)
    rows: list[ResultRow] = []
    # W and L share one split and one fit per model; C and H have their own.
    groups = [g for g in (("w", [p for p in ("w", "l") if p in protocols]),
                          ("c", ["c"] if "c" in protocols else []),
                          ("h", ["h"] if "h" in protocols else [])) if g[1]]
    for seed in seeds:
        for fit_protocol, eval_protocols in groups:
            splits = {p: make_split(snapshot, p, seed) for p in eval_protocols}
            fit_split = splits[eval_protocols[0]]
            context = _context(fit_split, features, device)
            for model in _select(factory(fit_protocol), models):
                start = time.perf_counter()
                try:
                    model.fit(fit_split.train, context)
                except ResourceError as e:  # e.g. EASE's dense I×I on a large catalog
                    logger.warning("%s skipped on %s seed %d: %s", model.name,
                                   fit_protocol.upper(), seed, e)
                    continue
                seconds = time.perf_counter() - start
                for p in eval_protocols:
                    for m, h in _rank(model, splits[p], ks):
                        rows.append(_row(dataset, p.upper(), model.name, seed, seconds, device,
                                         versions, m, h))
                    mine = [r for r in rows[-len(ks):] if r.protocol == p.upper()]
                    head = next((r for r in mine if r.k == 20), mine[-1])
                    logger.info("%s seed %d %s: NDCG@%d %.4f, Recall@%d %.4f (fit %.1fs)",
                                p.upper(), seed, model.name, head.k, head.ndcg, head.k,
                                head.recall, seconds)
    return rows


def _mean_spread(values: list[float]) -> tuple[float, float]:
    mean = float(np.mean(values))
    return mean, float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def format_table(rows: Iterable[ResultRow], k: int = 20) -> str:
    """Markdown table at cutoff ``k``: mean ± standard deviation over seeds, and the ratio
    of each model's mean NDCG and Recall to the best baseline (by mean NDCG) of its
    protocol. Baselines are all models whose name does not start with ``kgrec``.
    """
    rows = [r for r in rows if r.k == k]
    head = (f"| protocol | model | NDCG@{k} | Recall@{k} | HitRate@{k} | Coverage@{k} | "
            f"Tail share@{k} | users | seeds | NDCG ratio | Recall ratio |")
    lines = [head, "|" + "---|" * 11]
    for protocol in [p for p in ("W", "C", "L", "H") if any(r.protocol == p for r in rows)]:
        by_model: dict[str, list[ResultRow]] = {}
        for r in rows:
            if r.protocol == protocol:
                by_model.setdefault(r.model, []).append(r)
        means = {m: (_mean_spread([r.ndcg for r in rs])[0], _mean_spread([r.recall for r in rs])[0])
                 for m, rs in by_model.items()}
        base = [m for m in means if not m.startswith("kgrec")]
        best = max(base, key=lambda m: means[m][0]) if base else None
        for model, rs in by_model.items():
            cells = []
            for metric in ("ndcg", "recall", "hit_rate", "coverage", "tail_share"):
                mean, spread = _mean_spread([getattr(r, metric) for r in rs])
                cells.append(f"{mean:.4f} ± {spread:.4f}" if len(rs) > 1 else f"{mean:.4f}")
            ratios = ["", ""]
            if best is not None:
                ratios = [f"{means[model][i] / means[best][i]:.2f}×" if means[best][i] > 0
                          else "n/a" for i in (0, 1)]
                if model == best:
                    ratios = [f"{x} (best baseline)" for x in ratios]
            lines.append(f"| {protocol} | {model} | " + " | ".join(cells) +
                         f" | {rs[0].n_users} | {len(rs)} | {ratios[0]} | {ratios[1]} |")
    hybrid = [r for r in rows if r.protocol == "H" and r.new_share is not None]
    return "\n".join(lines + (["", *_hybrid_table(hybrid, k)] if hybrid else []))


def _hybrid_table(rows: list[ResultRow], k: int) -> list[str]:
    """H's extra metrics (means over seeds): new items in the mixed top-k lists, and the
    warm-only NDCG@k of those lists against the same model's warm-only ranking."""
    head = (f"| H model | new share@{k} | new test share | users with new@{k} | "
            f"new Recall@{k} | warm NDCG@{k} (mixed) | warm-only NDCG@{k} | warm drop |")
    lines = [head, "|" + "---|" * 8]
    by_model: dict[str, list[ResultRow]] = {}
    for r in rows:
        by_model.setdefault(r.model, []).append(r)
    for model, rs in by_model.items():
        means = {f: float(np.mean([getattr(r, f) for r in rs])) for f in HYBRID_FIELDS}
        drop = (1.0 - means["warm_ndcg"] / means["warm_only_ndcg"]
                if means["warm_only_ndcg"] > 0 else 0.0)
        lines.append(f"| {model} | " + " | ".join(f"{means[f]:.4f}" for f in HYBRID_FIELDS)
                     + f" | {100 * drop:.1f}% |")
    return lines


def write_jsonl(rows: Iterable[ResultRow], path: str | Path) -> Path:
    """Write one JSON object per row; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r.as_dict(), sort_keys=False) + "\n")
    return path


def read_jsonl(path: str | Path) -> list[ResultRow]:
    """Read rows written by :func:`write_jsonl`."""
    with Path(path).open(encoding="utf-8") as f:
        return [ResultRow(**json.loads(line)) for line in f if line.strip()]


def plot_results(rows: Iterable[ResultRow], path: str | Path, k: int = 20) -> Path:
    """PNG bar chart of mean NDCG@k per model, one panel per protocol (error bars: std)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rows if r.k == k]
    protocols = [p for p in ("W", "C", "L", "H") if any(r.protocol == p for r in rows)]
    fig, axes = plt.subplots(1, max(len(protocols), 1), figsize=(5 * max(len(protocols), 1), 4),
                             squeeze=False)
    for ax, protocol in zip(axes[0], protocols, strict=False):
        by_model: dict[str, list[float]] = {}
        for r in rows:
            if r.protocol == protocol:
                by_model.setdefault(r.model, []).append(r.ndcg)
        names = list(by_model)
        stats = [_mean_spread(v) for v in by_model.values()]
        colors = ["tab:red" if n.startswith("kgrec") else "tab:blue" for n in names]
        ax.bar(range(len(names)), [s[0] for s in stats], yerr=[s[1] for s in stats],
               color=colors, capsize=3)
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
        ax.set_title(f"{protocol}: NDCG@{k}")
        ax.set_ylim(0, max([s[0] + s[1] for s in stats] + [1e-3]) * 1.15)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path

