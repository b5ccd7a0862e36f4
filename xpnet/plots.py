"""The lab's pictures: digits with their labels and predictions, loss curves, the confusion matrix.

Labels and predictions are class indices; ``classes`` gives the digit each stands for
((0, 1) for the lab, so its pictures show the indices themselves).

matplotlib is an optional extra (``pip install "xpnet[plot]"``); it is imported only
here, with the non-interactive Agg backend, so plots work on machines with no display.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xpnet.model.files import atomic_write


class PlotUnavailable(ImportError):
    """matplotlib is missing; the message says how to install it."""


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as err:
        raise PlotUnavailable(f'plots need matplotlib ({err}); install it with: pip install "xpnet[plot]"') from err
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path) -> Path:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    _pyplot().close(fig)
    return atomic_write(path, lambda f: f.write(buffer.getvalue()))


def digits_grid(path: str | Path, X: np.ndarray, y: np.ndarray, yhat: Mapping[str, np.ndarray],
                seed: int = 0, rows: int = 8, cols: int = 8, classes: Sequence[int] = (0, 1)) -> Path:
    """The lab's 8x8 grid of random digits, each titled "label,yhat" with one yhat per backend.

    Drawn as one image of tiles with a title above each, not as 64 subplots, whose axes cost matplotlib tens of
    milliseconds each: 0.25 s against 1.74 s for the subplots (measured, a second call in one process).
    """
    plt = _pyplot()
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(X), size=min(rows * cols, len(X)), replace=False)
    side, gap, head = 20, 2, 7  # pixels per digit, between digits, and above each for its title
    cell_w, cell_h = side + gap, side + head
    canvas = np.full((rows * cell_h, cols * cell_w), np.nan)  # NaN: the background between digits
    fig, ax = plt.subplots(figsize=(8, 8.6))
    for k, i in enumerate(picks):
        r, c = divmod(k, cols)
        top, left = r * cell_h + head, c * cell_w
        canvas[top:top + side, left:left + side] = X[i].reshape(side, side).T  # the lab's column-major layout
        title = ",".join([str(classes[int(y[i, 0])])] + [str(classes[int(p[i, 0])]) for p in yhat.values()])
        ax.text(left + side / 2, top - 1.5, title, ha="center", va="bottom", fontsize=9)
    image = np.ma.masked_invalid(canvas)
    cmap = plt.get_cmap("gray").with_extremes(bad="white")
    ax.imshow(image, cmap=cmap, interpolation="nearest")
    ax.set_axis_off()
    fig.suptitle("label, yhat: " + ", ".join(yhat), fontsize=12)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.94)
    return _save(fig, path)


def misclassified(path: str | Path, X: np.ndarray, y: np.ndarray, proba: np.ndarray,
                  indices: Sequence[int], limit: int = 16, classes: Sequence[int] = (0, 1)) -> Path:
    """The misclassified digits, each titled "label, probability of 1" (one output) or "label as predicted"."""
    plt = _pyplot()
    shown = list(indices)[:limit]
    cols = max(1, min(8, len(shown)))
    rows = max(1, -(-len(shown) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols + 0.5, 1.5 * rows + 0.6), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, i in zip(axes.ravel(), shown, strict=False):
        ax.imshow(X[i].reshape(20, 20).T, cmap="gray")
        label = classes[int(y[i, 0])]
        if proba.shape[-1] == 1:
            ax.set_title(f"#{i}: {label}, p={proba[i, 0]:.2f}", fontsize=8)
        else:
            top = int(np.argmax(proba[i]))
            ax.set_title(f"#{i}: {label} as {classes[top]} ({proba[i, top]:.2f})", fontsize=8)
    title = f"misclassified: {len(indices)}" + (f" (first {len(shown)})" if len(indices) > len(shown) else "")
    if not shown:
        axes[0, 0].text(0.5, 0.5, "none", ha="center", va="center", fontsize=14)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


def loss_curves(path: str | Path, losses: Mapping[str, Sequence[float]], title: str = "training loss") -> Path:
    """The training loss per epoch of each backend, on one chart (curves that agree lie on each other)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    styles = ["-", "--", ":", "-."]
    for k, (name, curve) in enumerate(losses.items()):
        ax.plot(range(1, len(curve) + 1), curve, styles[k % len(styles)], marker="o", markersize=3, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (cross-entropy)")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return _save(fig, path)


def confusion_matrix(path: str | Path, matrix: np.ndarray, classes: Sequence[int]) -> Path:
    """The k x k confusion matrix as a picture: true digit down, predicted digit across, counts in the cells."""
    plt = _pyplot()
    k = len(classes)
    fig, ax = plt.subplots(figsize=(1.2 + 0.55 * k, 1.0 + 0.5 * k))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(k), [str(c) for c in classes])
    ax.set_yticks(range(k), [str(c) for c in classes])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    high = matrix.max() / 2 if matrix.size else 0
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=8,
                    color="white" if matrix[i, j] > high else "black")
    ax.set_title("confusion matrix")
    fig.tight_layout()
    return _save(fig, path)


def confusion_text(matrix: np.ndarray, classes: Sequence[int]) -> str:
    """The confusion matrix as aligned text (true digit down, predicted across); no matplotlib needed."""
    width = max(4, len(str(int(matrix.max(initial=0)))) + 1)
    head = "true\\pred" + "".join(f"{c:>{width}}" for c in classes)
    lines = [head] + [f"{c:>9}" + "".join(f"{int(v):>{width}}" for v in row) for c, row in zip(classes, matrix,
                                                                                            strict=True)]
    return "confusion matrix:\n" + "\n".join(lines)
