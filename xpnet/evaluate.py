"""How well a trained network does on labelled digits: accuracy, confusion counts, the misses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from xpnet.api import Model
from xpnet.model import THRESHOLD
from xpnet.validation import check_labels


@dataclass(frozen=True)
class Evaluation:
    """Predictions of one (backend, device) on m labelled digits."""

    backend: str
    device: str
    proba: np.ndarray  # (m, 1)
    yhat: np.ndarray  # (m, 1) int32
    y: np.ndarray  # (m, 1)

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.yhat == self.y))

    @property
    def confusion(self) -> dict[str, int]:
        """Counts of true negatives (0 as 0), false positives (0 as 1), false negatives, true positives."""
        y, p = self.y.ravel() == 1, self.yhat.ravel() == 1
        return {"tn": int(np.sum(~y & ~p)), "fp": int(np.sum(~y & p)), "fn": int(np.sum(y & ~p)),
                "tp": int(np.sum(y & p))}

    @property
    def misclassified(self) -> list[int]:
        """Indices of the digits whose prediction differs from the label."""
        return [int(i) for i in np.flatnonzero(self.yhat.ravel() != self.y.ravel())]

    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "device": self.device, "m": len(self.y), "accuracy": self.accuracy,
                "confusion": self.confusion, "misclassified": self.misclassified}


def evaluate(model: Model, X: Any, y: Any) -> Evaluation:
    """Predict the digits X with ``model`` and compare with the labels y."""
    proba = model.predict_proba(X)
    labels = check_labels(y, len(proba)).astype(np.int32)
    yhat = (proba >= THRESHOLD).astype(np.int32)
    return Evaluation(model.backend.name, model.backend.device, proba, yhat, labels)
