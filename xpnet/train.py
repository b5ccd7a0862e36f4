"""Training on every backend: the lab's ``model.fit``, the loop around ``xpnet.model.training``.

The math (losses from logits, backpropagation, Adam, the pure step) is framework-free and
lives in ``xpnet.model.training``; this module feeds it. The batch order comes from NumPy
on the host, one seeded permutation per epoch, so every backend sees the same batches,
and a resumed run is the same run as one that was never interrupted. The targets are
built on the host from the labels, shaped like the network's outputs: 0/1 labels (m, 1)
for a one-unit sigmoid output, one-hot rows (m, k) for k outputs.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xpnet import backends
from xpnet.model import Adam, Params, make_step
from xpnet.model.files import FileFormatError, load_npz, save_npz
from xpnet.validation import check_labels, check_seed, host_features

Layers = tuple[tuple[Any, Any], ...]


def targets(y: Any, m: int, outputs: int) -> np.ndarray:
    """Labels as the training targets of a network with ``outputs`` output units, float64 on the host.

    One output: the 0/1 labels as (m, 1). Several: class indices 0..outputs-1 as one-hot rows (m, outputs).
    """
    labels = check_labels(y, m, n_classes=max(2, outputs))
    if outputs == 1:
        return labels
    return (labels.astype(np.int64) == np.arange(outputs)).astype(np.float64)


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffled example order of ``epoch``: a function of (seed, epoch) alone, so resuming is exact."""
    return np.random.default_rng([seed, epoch]).permutation(n)


@dataclass
class History:
    """What ``fit`` did: the mean loss of each epoch and the wall time of each."""

    backend: str
    device: str
    dtype: str
    jit: bool
    losses: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "device": self.device, "dtype": self.dtype, "jit": self.jit,
                "epochs": len(self.losses), "losses": self.losses, "epoch_seconds": self.epoch_seconds,
                "seconds": float(sum(self.epoch_seconds))}


#: ``on_batch(epoch, batch, n_batches, loss)`` and ``on_epoch(epoch, epochs, loss, seconds)``.
BatchCallback = Callable[[int, int, int, float], None]
EpochCallback = Callable[[int, int, float, float], None]


def fit(
    params: Params,
    X: Any,
    y: Any,
    *,
    backend: str | backends.Backend = "numpy",
    device: str | None = None,
    dtype: str = "float32",
    epochs: int = 20,
    batch_size: int = 32,
    seed: int = 0,
    optimizer: Adam | None = None,
    jit: bool = False,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    on_batch: BatchCallback | None = None,
    on_epoch: EpochCallback | None = None,
) -> tuple[Params, History]:
    """Train ``params`` on (X, y) like the lab's ``model.fit(X, y, epochs=20)``; return NumPy params.

    ``checkpoint``: a file where the weights, Adam's state and the losses are saved
    atomically after every epoch; with ``resume``, training continues from it.
    """
    opt = optimizer or Adam()
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive whole number, got {epochs!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive whole number, got {batch_size!r}")
    seed = check_seed(seed)
    X_host = host_features(X, params.network.input_dim)
    X_host = np.atleast_2d(X_host)
    y_host = targets(y, len(X_host), params.network.outputs)
    be = backends.get(backend, device)
    xp = be.xp
    history = History(be.name, be.device, dtype, jit)
    flat = tuple(be.asarray(a, dtype) for pair in params.map(backends.to_numpy).layers for a in pair)
    m = tuple(be.asarray(np.zeros(a.shape), dtype) for a in flat)
    v = tuple(be.asarray(np.zeros(a.shape), dtype) for a in flat)
    start_epoch, step_count = 0, 0
    digest = _digest(X_host, y_host, seed, batch_size, dtype)
    if resume and checkpoint is None:
        raise ValueError("resume=True needs a checkpoint file to continue from")
    if resume and not Path(checkpoint).exists():
        raise FileNotFoundError(f"nothing to resume: no checkpoint at {checkpoint} (train without resume to start "
                                "afresh)")
    if resume:
        flat, m, v, start_epoch, step_count, history.losses = _load_checkpoint(checkpoint, be, dtype, digest)
    step = make_step(params.network.activations, xp, opt)
    step = be.jit(step) if jit else step
    Xd, yd = be.asarray(X_host, dtype), be.asarray(y_host, dtype)
    n = len(X_host)
    n_batches = math.ceil(n / batch_size)
    for epoch in range(start_epoch, epochs):
        t0 = time.perf_counter()
        order = be.asarray(epoch_order(n, seed, epoch), "int32")
        # sync: a lazy backend (Dask) computes the epoch's order once, and each step's state before the next step,
        # instead of growing one graph over the whole training
        Xe, ye = be.sync((xp.take(Xd, order, axis=0), xp.take(yd, order, axis=0)))
        total = 0.0
        for b in range(n_batches):
            step_count += 1
            alpha = be.asarray(np.asarray(opt.alpha(step_count)), dtype)
            lo, hi = b * batch_size, min(n, (b + 1) * batch_size)
            flat, m, v, loss = be.sync(step(flat, m, v, alpha, Xe[lo:hi, ...], ye[lo:hi, ...]))
            batch_loss = float(be.to_numpy(loss))
            total += batch_loss * (hi - lo)
            if on_batch:
                on_batch(epoch, b, n_batches, total / hi)
        history.losses.append(total / n)
        history.epoch_seconds.append(time.perf_counter() - t0)
        if checkpoint is not None:
            _save_checkpoint(checkpoint, be, flat, m, v, epoch + 1, step_count, history.losses, digest)
        if on_epoch:
            on_epoch(epoch, epochs, history.losses[-1], history.epoch_seconds[-1])
    host = [be.to_numpy(a) for a in flat]
    record = {"epochs": epochs, "batch_size": batch_size, "seed": seed, "optimizer": f"Adam({opt.learning_rate})",
              "backend": be.name, "device": be.device, "dtype": dtype, "jit": jit,
              "final_loss": history.losses[-1]}
    trained = Params(params.network, host[0::2], host[1::2], params.record)
    return trained.with_record(training=record), history


def _digest(X: np.ndarray, y: np.ndarray, seed: int, batch_size: int, dtype: str) -> str:
    """Identifies the run a checkpoint belongs to: the data and the settings that fix the batch order."""
    h = hashlib.sha256()
    for part in (X.astype(np.float64).tobytes(), y.tobytes(), f"{seed}/{batch_size}/{dtype}".encode()):
        h.update(part)
    return h.hexdigest()


def _save_checkpoint(path: str | Path, be: backends.Backend, flat: Any, m: Any, v: Any, epoch: int,
                     step: int, losses: list[float], digest: str) -> None:
    arrays = {"epoch": np.asarray(epoch), "step": np.asarray(step), "losses": np.asarray(losses),
              "digest": np.asarray(digest)}
    for name, group in (("p", flat), ("m", m), ("v", v)):
        for i, a in enumerate(group):
            arrays[f"{name}{i}"] = be.to_numpy(a)
    save_npz(path, arrays)


def _load_checkpoint(path: str | Path, be: backends.Backend, dtype: str, digest: str) -> tuple[Any, ...]:
    arrays = load_npz(path)
    try:
        if str(arrays["digest"]) != digest:
            raise FileFormatError(f"{path}: this checkpoint belongs to another run (other data, seed, batch size "
                                  "or dtype); delete it or train without --resume")
        n = sum(1 for key in arrays if key.startswith("p"))
        groups = [tuple(be.asarray(arrays[f"{g}{i}"], dtype) for i in range(n)) for g in "pmv"]
        return (*groups, int(arrays["epoch"]), int(arrays["step"]), [float(x) for x in arrays["losses"]])
    except KeyError as err:
        raise FileFormatError(f"{path}: not an xpnet checkpoint (missing {err})") from err


def max_rel_difference(reference: Sequence[float], curve: Sequence[float]) -> float:
    """The largest relative difference of any epoch's loss in ``curve`` from the same epoch's in ``reference``.

    How far two backends' training drifted apart with the same seed and batches (float32: about 1e-7).
    """
    ref, other = np.asarray(reference, dtype=np.float64), np.asarray(curve, dtype=np.float64)
    if ref.shape != other.shape:
        raise ValueError(f"loss curves of {len(ref)} and {len(other)} epochs cannot be compared epoch by epoch")
    return float(np.max(np.abs(other - ref) / np.abs(ref), initial=0.0))


def accuracy(params: Params, X: Any, y: Any, backend: str = "numpy") -> float:
    """Fraction of examples whose predicted class equals the label (``xpnet.evaluate`` has the rest)."""
    from xpnet.api import Model
    from xpnet.evaluate import evaluate

    return evaluate(Model(params, backend), X, y).accuracy


__all__ = ["Adam", "History", "accuracy", "epoch_order", "fit", "max_rel_difference", "targets"]
