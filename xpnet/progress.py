"""Progress on stderr: Keras-style training epochs, the steps of a long command, and rows done in a long predict."""

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


def bar(done: int, total: int, width: int = 30) -> str:
    """``[#########.....................]``: ``done`` of ``total`` as a bar of ``width`` characters."""
    filled = width * min(done, total) // max(total, 1)
    return f"[{'#' * filled}{'.' * (width - filled)}]"


class Bar:
    """The progress of one step of a long command, on one line, ending in a one-line summary.

    On a terminal the line is redrawn in place: ``label [#####.....] done/total unit  note``.
    Elsewhere (a log file, a pipe) nothing is drawn while the step runs, so that a log holds one
    line per step, its summary. ``stream=None`` draws and writes nothing.
    """

    def __init__(self, label: str, total: int, unit: str = "", stream: TextIO | None = None) -> None:
        self.label, self.total, self.unit, self.stream = label, total, unit, stream
        self.live = stream is not None and stream.isatty()
        self._width = 0
        self.update(0)

    def update(self, done: int, note: str = "") -> None:
        """Show ``done`` of ``total`` (and a short ``note``: what runs now)."""
        if not self.live:
            return
        line = f"{self.label} {bar(done, self.total)} {done}/{self.total} {self.unit}  {note}".rstrip()
        self.stream.write("\r" + line.ljust(self._width))
        self._width = max(self._width, len(line))
        self.stream.flush()

    def close(self, summary: str | None = None) -> None:
        """Clear the bar and write ``summary`` as its own line (nothing when None)."""
        if self.stream is None:
            return
        if self.live:
            self.stream.write("\r" + " " * self._width + "\r")
        if summary is not None:
            self.stream.write(summary + "\n")
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
        elapsed = time.perf_counter() - self.start
        rate = f"{done / elapsed:,.0f} rows/s" if elapsed > 0 and done else ""
        self.stream.write(f"\r{self.label} {bar(done, self.total)} {done:,}/{self.total:,} rows "
                          f"{100 * done / self.total:5.1f}% {rate}")
        self.stream.flush()
