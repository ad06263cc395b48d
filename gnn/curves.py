"""Training curves as a PNG (loss and validation NDCG@20 per epoch)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_history"]


def plot_history(history: dict[str, list[float]], path: str) -> None:
    """Write a PNG with the training loss and validation NDCG@20 per epoch.

    Args:
        history: :attr:`gnn.train.TrainResult.history`.
        path: output ``.png`` file.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(history["epoch"], history["loss"], marker=".")
    ax1.set(xlabel="epoch", ylabel="loss", title="training loss")
    val = np.asarray(history["val_ndcg"], dtype=float)
    if np.isfinite(val).any():
        ax2.plot(history["epoch"], val, marker=".", color="tab:green")
        best = int(np.nanargmax(val))
        ax2.axvline(history["epoch"][best], color="grey", linestyle="--", linewidth=0.8)
    ax2.set(xlabel="epoch", ylabel="NDCG@20", title="validation NDCG@20")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
