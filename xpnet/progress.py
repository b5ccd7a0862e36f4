"""Progress on stderr: Keras-style training epochs, and rows done in a long predict."""

from __future__ import annotations

import sys
import time
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


class RowProgress:
    """A one-line progress bar on stderr (rows done, percent, rows per second), redrawn at most 10 times a second."""

    def __init__(self, total: int, label: str = "xpnet", stream: TextIO | None = None) -> None:
        self.total, self.label = total, label
        self.stream = stream if stream is not None else sys.stderr
        self.start = self.last = time.perf_counter()
        self._draw(0)

    def update(self, done: int) -> None:
        now = time.perf_counter()
        if done >= self.total or now - self.last >= 0.1:
            self.last = now
            self._draw(done)

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()

    def _draw(self, done: int) -> None:
        width = 30
        filled = width * done // self.total
        elapsed = time.perf_counter() - self.start
        rate = f"{done / elapsed:,.0f} rows/s" if elapsed > 0 and done else ""
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done:,}/{self.total:,} rows "
                          f"{100 * done / self.total:5.1f}% {rate}")
        self.stream.flush()
