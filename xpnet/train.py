"""Training on every backend: the lab's ``model.fit``, written once against ``xp``.

Binary cross-entropy from the last layer's pre-activation (Keras' numerically stable
from-logits form), backpropagation derived by hand (so that NumPy and CuPy, which have
no autodiff, train too), and Adam with Keras' defaults. The batch order comes from NumPy
on the host, one seeded permutation per epoch, so every backend sees the same batches,
and a resumed run is the same run as one that was never interrupted.

The training step is a pure function ``(layers, m, v, alpha, X, y) -> (layers, m, v,
loss)``: no array is written into, so it runs on immutable arrays and compiles with
``jax.jit``, ``tf.function`` and ``torch.compile``.
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
from xpnet.model import Params, activation
from xpnet.model.files import FileFormatError, load_npz, save_npz
from xpnet.validation import check_labels, check_seed, host_features

Layers = tuple[tuple[Any, Any], ...]


@dataclass(frozen=True)
class Adam:
    """Adam with Keras' defaults (``keras.optimizers.Adam()``)."""

    learning_rate: float = 0.001
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7

    def alpha(self, step: int) -> float:
        """Keras' bias-corrected step size at optimizer step ``step`` (1-based)."""
        return self.learning_rate * math.sqrt(1 - self.beta_2**step) / (1 - self.beta_1**step)


def _relu0(z: Any, xp: Any) -> Any:
    """max(z, 0) as 0.5 * (z + |z|): exact, and needs no Python scalar inside ``maximum``."""
    return 0.5 * (z + xp.abs(z))


def bce_from_logits(z: Any, y: Any, xp: Any) -> Any:
    """Mean binary cross-entropy of labels ``y`` given logits ``z``, without overflow.

    max(z, 0) - z*y + log(1 + exp(-|z|)) equals -y log s(z) - (1-y) log(1 - s(z)) for
    every finite z, and neither ``exp`` nor ``log1p`` can overflow.
    """
    per_example = _relu0(z, xp) - z * y + xp.log1p(xp.exp(-xp.abs(z)))
    return xp.mean(per_example)


#: d activation / d z, from the pre-activation ``Z`` and the activation ``A``.
_DERIVATIVES: dict[str, Callable[[Any, Any, Any], Any]] = {
    "sigmoid": lambda Z, A, xp: A * (1.0 - A),
    "linear": lambda Z, A, xp: 0.0 * Z + 1.0,
    "relu": lambda Z, A, xp: xp.astype(Z > 0, Z.dtype),
}


def check_trainable(activations: Sequence[str]) -> None:
    """The loss is computed from the last layer's logits, so that layer must be a sigmoid."""
    if activations[-1] != "sigmoid":
        raise ValueError(f"training needs a sigmoid last layer (binary cross-entropy), got {activations[-1]!r}")
    for name in activations:
        if name not in _DERIVATIVES:
            raise ValueError(f"no derivative for activation {name!r}; trainable: {', '.join(_DERIVATIVES)}")


def logits(layers: Layers, X: Any, activations: Sequence[str], xp: Any) -> Any:
    """The last layer's pre-activation: the forward pass without the final sigmoid."""
    A = X
    for (W, b), name in zip(layers[:-1], activations[:-1], strict=True):
        A = activation(name)(xp.matmul(A, W) + b, xp)
    W, b = layers[-1]
    return xp.matmul(A, W) + b


def loss(layers: Layers, X: Any, y: Any, activations: Sequence[str], xp: Any) -> Any:
    """The mean binary cross-entropy of the network on (X, y): what ``loss_and_grads`` differentiates."""
    return bce_from_logits(logits(layers, X, activations, xp), y, xp)


def loss_and_grads(layers: Layers, X: Any, y: Any, activations: Sequence[str], xp: Any) -> tuple[Any, Layers]:
    """The mean loss on the batch and its gradient ``((dW1, db1), ...)``, by backpropagation."""
    As, Zs = [X], []
    for i, ((W, b), name) in enumerate(zip(layers, activations, strict=True)):
        Z = xp.matmul(As[-1], W) + b
        Zs.append(Z)
        if i < len(layers) - 1:
            As.append(activation(name)(Z, xp))
    z_out = Zs[-1]
    loss = bce_from_logits(z_out, y, xp)
    # d loss / d z_out for sigmoid + cross-entropy is (s(z) - y) / batch. The batch size is
    # counted as an array, since a compiler may trace the batch dimension as unknown.
    batch = xp.sum(0.0 * y + 1.0)
    dZ = (activation("sigmoid")(z_out, xp) - y) / batch
    grads: list[tuple[Any, Any]] = []
    for i in range(len(layers) - 1, -1, -1):
        W = layers[i][0]
        grads.append((xp.matmul(xp.matrix_transpose(As[i]), dZ), xp.sum(dZ, axis=0)))
        if i > 0:
            dA = xp.matmul(dZ, xp.matrix_transpose(W))
            dZ = dA * _DERIVATIVES[activations[i - 1]](Zs[i - 1], As[i], xp)
    return loss, tuple(reversed(grads))


def adam_update(params: Any, grads: Any, m: Any, v: Any, alpha: Any, opt: Adam, xp: Any) -> tuple[Any, Any, Any]:
    """One Adam step on flat tuples of arrays, in Keras 3's form; returns new (params, m, v)."""
    new_p, new_m, new_v = [], [], []
    for p, g, m_i, v_i in zip(params, grads, m, v, strict=True):
        m_i = m_i + (g - m_i) * (1 - opt.beta_1)
        v_i = v_i + (g * g - v_i) * (1 - opt.beta_2)
        new_p.append(p - (m_i * alpha) / (xp.sqrt(v_i) + opt.epsilon))
        new_m.append(m_i)
        new_v.append(v_i)
    return tuple(new_p), tuple(new_m), tuple(new_v)


def make_step(activations: Sequence[str], xp: Any, opt: Adam) -> Callable[..., tuple[Any, Any, Any, Any]]:
    """The pure training step ``(flat, m, v, alpha, X, y) -> (flat, m, v, loss)``.

    ``flat`` is (W1, b1, W2, b2, ...); ``alpha`` is the step size as a 0-d array (an array,
    not a Python float, so that compilers do not specialise on its value every step).
    """
    check_trainable(activations)

    def step(flat: Any, m: Any, v: Any, alpha: Any, X: Any, y: Any) -> tuple[Any, Any, Any, Any]:
        layers = tuple(zip(flat[0::2], flat[1::2], strict=True))
        loss, grads = loss_and_grads(layers, X, y, activations, xp)
        flat_grads = tuple(g for pair in grads for g in pair)
        flat, m, v = adam_update(flat, flat_grads, m, v, alpha, opt, xp)
        return flat, m, v, loss

    return step


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
    y_host = check_labels(y, len(X_host))
    be = backends.get(backend, device)
    xp = be.xp
    history = History(be.name, be.device, dtype, jit)
    flat = tuple(be.asarray(a, dtype) for pair in params.numpy().layers for a in pair)
    m = tuple(be.asarray(np.zeros(a.shape), dtype) for a in flat)
    v = tuple(be.asarray(np.zeros(a.shape), dtype) for a in flat)
    start_epoch, step_count = 0, 0
    digest = _digest(X_host, y_host, seed, batch_size, dtype)
    if resume and checkpoint is not None and Path(checkpoint).exists():
        flat, m, v, start_epoch, step_count, history.losses = _load_checkpoint(checkpoint, be, dtype, digest)
    step = make_step(params.network.activations, xp, opt)
    step = be.jit(step) if jit else step
    Xd, yd = be.asarray(X_host, dtype), be.asarray(y_host, dtype)
    n = len(X_host)
    n_batches = math.ceil(n / batch_size)
    for epoch in range(start_epoch, epochs):
        t0 = time.perf_counter()
        order = be.asarray(epoch_order(n, seed, epoch), "int32")
        Xe, ye = xp.take(Xd, order, axis=0), xp.take(yd, order, axis=0)
        total = 0.0
        for b in range(n_batches):
            step_count += 1
            alpha = be.asarray(np.asarray(opt.alpha(step_count)), dtype)
            lo, hi = b * batch_size, min(n, (b + 1) * batch_size)
            flat, m, v, loss = step(flat, m, v, alpha, Xe[lo:hi, ...], ye[lo:hi, ...])
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
    return Params(params.network, host[0::2], host[1::2]), history


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


def accuracy(params: Params, X: Any, y: Any, backend: str = "numpy") -> float:
    """Fraction of examples whose 0/1 prediction equals the label (``xpnet.evaluate`` has the rest)."""
    from xpnet.api import Model
    from xpnet.evaluate import evaluate

    return evaluate(Model(params, backend), X, y).accuracy


__all__ = ["Adam", "History", "accuracy", "adam_update", "bce_from_logits", "epoch_order", "fit", "logits",
           "loss", "loss_and_grads", "make_step"]
