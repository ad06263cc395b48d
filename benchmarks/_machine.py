"""Machine description written into every benchmark's JSON, and the set-up, timing and
peak-memory helpers the scripts share.

Importing it puts the repository root first on ``sys.path`` (``benchmarks/ingest.py``
would otherwise shadow the ``ingest`` package), so the scripts import it first."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATASET = f"movielens:{ROOT.parent / 'shared' / 'datasets' / 'ml-100k'}"
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))


def dataset_parser(description: str) -> argparse.ArgumentParser:
    """A parser with ``--dataset``, ``--seeds``, ``--out`` (the results folder) and
    ``--attribute-kinds`` (see :func:`read_data`)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--dataset", default=DEFAULT_DATASET,
                        help="catalog folder, movielens:PATH or synthetic:USERS,ITEMS[,SEED]")
    parser.add_argument("--seeds", default="2026,2027,2028")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--attribute-kinds", default=None,
                        help="keep only these item attribute kinds, e.g. genre")
    return parser


def read_data(args: argparse.Namespace) -> Any:
    """The dataset of ``--dataset``, restricted to ``--attribute-kinds`` when given."""
    from ingest import read_dataset

    data = read_dataset(args.dataset)
    if args.attribute_kinds:
        data = data.with_item_kinds(k.strip() for k in args.attribute_kinds.split(","))
    return data


def load_features(path: Path, num_items: int) -> Any:
    """Node features saved by ``benchmarks/train.py --save-features`` (for a machine
    without the text encoder, e.g. a GPU box); exits if they do not fit the dataset."""
    import numpy as np

    from gnn.features import NodeFeatures

    with np.load(path) as z:
        features = NodeFeatures(item=z["item"], attribute=z["attribute"], user=z["user"],
                                encoder_id=str(z["encoder_id"]))
    if features.item.shape[0] != num_items:
        raise SystemExit(f"{path}: {features.item.shape[0]} item rows, "
                         f"dataset has {num_items} items")
    return features


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or what platform knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_info(packages: tuple[str, ...] = (), *, torch: bool = True,
                 **extra: Any) -> dict[str, Any]:
    """CPU, cores, load, Python, platform, package versions, and torch threads/GPU."""
    versions: dict[str, str] = {}
    for name in packages:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    info: dict[str, Any] = {
        "cpu": cpu_model(), "cores": os.cpu_count(), "platform": platform.platform(),
        "python": platform.python_version(), "load_average_at_start": os.getloadavg(),
        "versions": versions,
    }
    if torch:
        import torch as _torch

        info["torch_threads"] = _torch.get_num_threads()
        info["gpu"] = (_torch.cuda.get_device_name(0) if _torch.cuda.is_available() else None)
    info.update(extra)
    return info


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@contextmanager
def peak_memory(out: dict[str, float], device: str) -> Iterator[None]:
    """Record the peak resident-set growth (MB) of the block, and CUDA peak on a GPU."""
    import torch

    base, peak, done = _rss_bytes(), [_rss_bytes()], threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            peak[0] = max(peak[0], _rss_bytes())

    thread = threading.Thread(target=sample, daemon=True)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        out["peak_rss_growth_mb"] = round((max(peak[0], _rss_bytes()) - base) / 2**20, 1)
        if device.startswith("cuda"):
            out["cuda_peak_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


def warm_up_training(device: str) -> None:
    """Train a tiny synthetic graph for one step on ``device``: torch's lazy imports and,
    on a GPU, the CUDA context and cuBLAS/cuSPARSE handles (~7 s on an H200) are then paid
    before any timed run, by no model in particular."""
    import numpy as np

    from gnn.config import KGRecConfig
    from gnn.features import NodeFeatures
    from gnn.train import train_model
    from ingest.synthetic import generate_synthetic

    tiny = generate_synthetic(50, 20, seed=1).to_dataset().to_snapshot()
    rng = np.random.default_rng(0)

    def unit(n: int) -> np.ndarray:
        x = rng.standard_normal((n, 384), dtype=np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    train_model(tiny, NodeFeatures(item=unit(tiny.num_items), attribute=unit(tiny.num_attributes),
                                   user=unit(tiny.num_users), encoder_id="random"),
                KGRecConfig().with_overrides(max_epochs=1, steps_per_epoch=1, item_item=False,
                                             tail_slots=0, batch_size=16, device=device),
                show_progress=False)
