"""How well a trained network does on labelled digits: accuracy, per-class accuracy, confusion, the misses.

Works for the lab's one-output 0/1 network and for a softmax network of k classes alike:
predictions and labels are class indices, and the confusion matrix is k x k (rows: the
true class, columns: the predicted one), 2 x 2 for the lab.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import array_api_compat.numpy as xp
import numpy as np

from xpnet.api import Model
from xpnet.model import predict_from_proba
from xpnet.validation import check_labels


@dataclass(frozen=True)
class Evaluation:
    """Predictions of one (backend, device) on m labelled digits; ``classes`` names each class index."""

    backend: str
    device: str
    proba: np.ndarray  # (m, outputs)
    yhat: np.ndarray  # (m, 1) int32 predicted class index, as the lab's yhat
    y: np.ndarray  # (m, 1) int32 true class index
    classes: tuple[int, ...] = (0, 1)

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.yhat == self.y))

    @property
    def confusion_matrix(self) -> np.ndarray:
        """(k, k) counts: entry [i, j] is how many digits of class i were predicted as class j."""
        k = len(self.classes)
        return np.bincount(self.y.ravel() * k + self.yhat.ravel(), minlength=k * k).reshape(k, k)

    @property
    def per_class_accuracy(self) -> dict[int, float | None]:
        """For each class (by its digit), the share of its digits predicted right (None when it has none)."""
        matrix = self.confusion_matrix
        totals = matrix.sum(axis=1)
        return {digit: (float(matrix[i, i] / totals[i]) if totals[i] else None)
                for i, digit in enumerate(self.classes)}

    @property
    def confusion(self) -> dict[str, int]:
        """The lab's 2 x 2 counts by name: 0 as 0 (tn), 0 as 1 (fp), 1 as 0 (fn), 1 as 1 (tp); two classes only."""
        if len(self.classes) != 2:
            raise ValueError(f"confusion counts by name need two classes, got {len(self.classes)}; "
                             "use confusion_matrix")
        (tn, fp), (fn, tp) = self.confusion_matrix.tolist()
        return {"tn": tn, "fp": fp, "fn": fn, "tp": tp}

    @property
    def misclassified(self) -> list[int]:
        """Indices of the digits whose prediction differs from the label."""
        return [int(i) for i in np.flatnonzero(self.yhat.ravel() != self.y.ravel())]

    def to_dict(self) -> dict[str, Any]:
        out = {"backend": self.backend, "device": self.device, "m": len(self.y), "accuracy": self.accuracy,
               "classes": list(self.classes),
               "per_class_accuracy": {str(d): a for d, a in self.per_class_accuracy.items()},
               "confusion_matrix": self.confusion_matrix.tolist(), "misclassified": self.misclassified}
        if len(self.classes) == 2:
            out["confusion"] = self.confusion
        return out


def evaluate(model: Model, X: Any, y: Any, classes: Sequence[int] | None = None) -> Evaluation:
    """Predict the digits X with ``model`` and compare with the labels y (class indices).

    ``classes``: the digit each class index stands for (default 0..k-1, k = the network's
    outputs, or 2 for one output).
    """
    k = max(2, model.network.outputs)
    classes = tuple(range(k)) if classes is None else tuple(int(c) for c in classes)
    if len(classes) != k:
        raise ValueError(f"the network predicts {k} classes but {len(classes)} digits were named: {classes}")
    proba = model.predict_proba(X)
    labels = check_labels(y, len(proba), n_classes=k).astype(np.int32)
    yhat = np.asarray(predict_from_proba(proba, xp)).reshape(-1, 1).astype(np.int32)
    return Evaluation(model.backend.name, model.backend.device, proba, yhat, labels, classes)

