"""Keras-style training progress: a bar per epoch on a terminal, one line per epoch elsewhere."""

from __future__ import annotations

import sys
from typing import TextIO


class FitProgress:
    """Callbacks for :func:`xpnet.train.fit` that print like Keras' ``model.fit``."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stdout
        self.width = width
        self.live = self.stream.isatty()
        self._batches = 0

    def on_batch(self, epoch: int, batch: int, n_batches: int, loss: float) -> None:
        self._batches = n_batches
        if self.live:
            done = (batch + 1) * self.width // n_batches
            bar = "=" * max(done - 1, 0) + (">" if done < self.width else "=") + "." * (self.width - done)
            self.stream.write(f"\r{batch + 1}/{n_batches} [{bar}] - loss: {loss:.4f}")
            self.stream.flush()

    def on_epoch(self, epoch: int, epochs: int, loss: float, seconds: float) -> None:
        n = self._batches
        per_step_ms = seconds / max(n, 1) * 1e3
        line = f"{n}/{n} [{'=' * self.width}] - {seconds:.2f}s {per_step_ms:.2f}ms/step - loss: {loss:.4f}"
        self.stream.write(f"{chr(13) if self.live else ''}Epoch {epoch + 1}/{epochs}  {line}\n")
        self.stream.flush()
