"""Honest timing of one benchmark case with pytest-benchmark.

What "honest" means here, and where each part is done:

* compilation and first-call costs stay out of the numbers: the first call (timed alone,
  reported as ``first_call_s``) and a warm-up run before the clock starts;
* device work is finished before the clock stops: every timed call ends in the backend's
  ``sync`` (``block_until_ready``, ``torch.cuda.synchronize``...);
* calls shorter than :data:`ROUND_SECONDS` are repeated within a round (pytest-benchmark's
  ``iterations``), so that timer resolution and the per-round overhead vanish;
* inputs are seeded uniform [0, 1) pixels, never zeros, and small inputs are rotated among
  several buffers (:func:`buffer_count`), so that a call never finds its input hot in cache
  from the previous call;
* the result of the benchmarked callable is compared with the float64 NumPy reference once,
  outside the timing, so that a fast wrong result fails instead of being reported.
"""

from __future__ import annotations

import gc
import itertools
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xpnet.parity import TOLERANCES, compare

#: Share of the CPUs used by other processes above which a measurement counts as taken on a busy machine:
#: the gate waits for less, the report marks rows above it, ``xpnet bench`` warns about them.
NOISY = 0.1

#: Inputs smaller than this are rotated among copies that together exceed it: twice the 32 MiB L3
#: of the machine the numbers come from, and more than the L2 of any current GPU.
ROTATE_BYTES = 64 << 20
MAX_BUFFERS = 64
#: Target duration of one round; shorter calls are repeated within it.
ROUND_SECONDS = 1e-3


class WrongResult(AssertionError):
    """A benchmarked callable whose output does not match the float64 reference."""


class QuietGate:
    """Holds a row back while other processes keep the CPUs busy, within a budget of seconds for the whole run.

    On a shared machine a neighbour that takes one of two cores stalls every two-threaded
    BLAS or OpenMP call by a scheduler time slice (8 ms per NumPy matmul measured here):
    a row timed then measures the neighbour. When the previous row was timed on a busy
    machine, the next one first waits (half-second samples) until the CPUs are quiet again.
    """

    def __init__(self, budget: float = 0.0, threshold: float = NOISY) -> None:
        self.budget, self.threshold = budget, threshold
        self.last: float | None = None
        self.waited = 0.0

    def wait(self) -> None:
        while self.budget > 0 and self.last is not None and self.last > self.threshold:
            meter = CpuMeter()
            meter.start()
            time.sleep(0.5)
            self.last = meter.stop()
            self.budget -= 0.5
            self.waited += 0.5


@dataclass(frozen=True)
class Settings:
    """How long to time each case (from pytest-benchmark's own options), and the run's quiet gate."""

    max_time: float = 1.0
    min_rounds: int = 5
    warmup: float = 0.1
    disabled: bool = False
    gate: QuietGate = field(default_factory=QuietGate)


@dataclass
class Subject:
    """A callable under test: ``fn(x)`` on inputs made by ``prepare(host_X)``, its output read by ``to_numpy``."""

    fn: Callable[[Any], Any]
    prepare: Callable[[np.ndarray], Any]
    sync: Callable[[Any], Any] = lambda out: out
    to_numpy: Callable[[Any], np.ndarray] = np.asarray
    #: The device's own stopwatch (``Backend.device_clock()``: CUDA events), or None where the host's time is all.
    clock: Any = None


def buffer_count(nbytes: int) -> int:
    """How many input buffers to rotate: enough to exceed :data:`ROTATE_BYTES`, at most :data:`MAX_BUFFERS`."""
    return max(1, min(MAX_BUFFERS, math.ceil(ROTATE_BYTES / max(nbytes, 1))))


def best_time(fn: Callable[[], Any], repeats: int) -> float:
    """The fastest of ``repeats`` calls of ``fn`` after one untimed call (compilation, first touch): the least
    disturbed one. ``fn`` must finish its device work itself (end in the backend's ``sync``)."""
    fn()
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def check(out: np.ndarray, ref: np.ndarray, dtype: str, what: str) -> float:
    """The max relative error of ``out`` against ``ref``; WrongResult when outside the dtype's tolerance.

    bfloat16 (8 significant bits) is held to its error bound only: a probability within
    that bound of 0.5 may round to the other side, so its 0/1 agreement is not required.
    """
    out = np.asarray(out)
    if out.shape != ref.shape:
        raise WrongResult(f"{what}: output shape {out.shape}, the reference has {ref.shape}")
    _, max_rel, agreement, ok = compare(out, ref, dtype)
    tol = TOLERANCES[dtype].max_rel_err
    if dtype == "bfloat16":
        ok = bool(np.isfinite(out.astype(np.float64)).all()) and max_rel <= tol
    if not ok:
        raise WrongResult(
            f"{what}: wrong result, max relative error {max_rel:.3e} (tolerance {tol:.0e}), "
            f"0/1 agreement {agreement:.2%}, against the float64 NumPy reference"
        )
    return max_rel


class CpuMeter:
    """Share of the machine's CPU time that other processes used while a measurement ran (Linux).

    A benchmark on a shared machine is only as good as the quiet it ran in: this is
    recorded with each row, so that a noisy row can be recognised as such.
    """

    def __init__(self) -> None:
        self._start: tuple[float, float, float] | None = None

    @staticmethod
    def _busy() -> float | None:
        try:
            with open("/proc/stat") as f:
                fields = [int(v) for v in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _own() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def start(self) -> None:
        busy = self._busy()
        self._start = None if busy is None else (time.perf_counter(), busy, self._own())

    def stop(self) -> float | None:
        busy = self._busy()
        if self._start is None or busy is None:
            return None
        t0, busy0, own0 = self._start
        elapsed = (time.perf_counter() - t0) * (os.cpu_count() or 1)
        if elapsed <= 0:
            return None
        return max(0.0, min(1.0, ((busy - busy0) - (self._own() - own0)) / elapsed))


def _rotating(subject: Subject, host_inputs: list[np.ndarray]) -> tuple[list[Any], Callable[[], Any]]:
    """The subject's prepared inputs, and a call that runs it (synchronised) on the next one in turn."""
    xs = [subject.prepare(X) for X in host_inputs]
    fn, sync = subject.fn, subject.sync
    rotation = itertools.cycle(xs)

    def target() -> Any:
        return sync(fn(next(rotation)))

    return xs, target


#: Calls timed on the device's clock after the host's timing, at most.
DEVICE_CALLS = 200


def device_median(fn: Callable[[Any], Any], xs: list[Any], clock: Any, calls: int) -> float:
    """Median seconds the device took for ``fn(x)`` (``xs`` in turn), between two events recorded around the call.

    The events are recorded on the device's stream before the call is launched and right after it, without
    the host's synchronisation in between (``clock.stop()`` waits for the second event): so the time
    includes the gaps in which the device waited for the host to launch the next kernel, which is
    what a CUDA graph removes, and not the host's own return from a wait.
    """
    times = []
    for x in itertools.islice(itertools.cycle(xs), max(1, calls)):
        clock.start()
        fn(x)
        times.append(clock.stop())
    return float(np.median(times))


def transfer_medians(
    to_device: Callable[[np.ndarray], Any], compute: Callable[[], Any],
    to_host: Callable[[Any], np.ndarray], host_inputs: list[np.ndarray], calls: int,
) -> dict[str, float]:
    """Median seconds of moving a batch X onto the device (``to_device(X)``, synchronised, ``host_inputs`` in turn)
    and of fetching a forward's output (``to_host(compute())``, the forward computed afresh before each fetch,
    synchronised and untimed: a framework may keep the host copy of an array fetched once), each timed apart
    from the compute: the copies of a user's path on their own."""
    ins, outs = [], []
    for X in host_inputs:  # first calls: allocations, a framework's own first-use costs, each input's own
        to_device(X)
    to_host(compute())
    for X in itertools.islice(itertools.cycle(host_inputs), max(1, calls)):
        t0 = time.perf_counter()
        to_device(X)
        ins.append(time.perf_counter() - t0)
        out = compute()
        t0 = time.perf_counter()
        to_host(out)
        outs.append(time.perf_counter() - t0)
    return {"to_device_s": float(np.median(ins)), "to_host_s": float(np.median(outs))}


def _warm(target: Callable[[], Any], seconds: float) -> tuple[float, int]:
    """Call ``target`` (already called once) for ``seconds``, at least once; the median call time, and the count."""
    calls: list[float] = []
    start = time.perf_counter()
    while not calls or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        target()
        calls.append(time.perf_counter() - t0)
    return float(np.median(calls)), len(calls)


#: Interleaved rounds of a paired measurement, at least: its estimator is a minimum, which needs a few samples.
PAIRED_MIN_ROUNDS = 7


def interleaved(calls: dict[str, Callable[[], Any]], rounds: int,
                iterations: int = 1) -> tuple[dict[str, list[float]], float | None]:
    """Each call's time per round (``iterations`` calls back to back) over ``rounds`` rounds in which every call
    runs once, so that a neighbour's load falls on all of them alike; and the share of the CPUs other processes
    used meanwhile (:class:`CpuMeter`).

    The rounds take the calls in turn in every rotation of their order and its reverse (:func:`round_orders`), so
    that no call always runs right after the same one: what a call leaves in the caches (a memory-mapped file's
    pages read, say) slows the call after it. With the order only reversed every other round, of three calls the
    first never ran after the third, and ``predict_proba`` on in-memory rows ran after the memory-mapped one in
    half of ``stream_timing``'s rounds and the forward never did (at m = 1000 on NumPy: 1.10x and 1.13x the
    forward that way, 1.04x, 1.05x and 1.04x this way: 2001 rounds each, AMD EPYC Zen 4, 2026-12-01).
    """
    meter = CpuMeter()
    meter.start()
    times: dict[str, list[float]] = {name: [] for name in calls}
    orders = round_orders(list(calls.items()))
    for i in range(rounds):
        for name, fn in orders[i % len(orders)]:
            t0 = time.perf_counter()
            for _ in range(iterations):
                fn()
            times[name].append(time.perf_counter() - t0)
    return times, meter.stop()


def round_orders(items: list[Any]) -> list[list[Any]]:
    """Every rotation of ``items`` and the reverse of each, in turn: for two items the two orders alternating, for
    three all six, so that each item runs right after each other one equally often within a round."""
    rotations = [items[i:] + items[:i] for i in range(len(items))] or [items]
    return [order for rotation in rotations for order in (rotation, rotation[::-1])]


def paired_overhead(
    a: Callable[[], Any], ta: float, b: Callable[[], Any], tb: float, settings: Settings,
) -> dict[str, Any]:
    """Time of ``a`` over time of ``b``, minus one, from interleaved rounds: robust on a shared machine.

    Separate rows are timed seconds apart, and a neighbour process that wakes up in between
    shifts their ratio by any amount. Here each round times both back to back (in
    alternating order), and the ratio of their fastest rounds is kept: interference only
    ever slows a round down, so each one's fastest round is its least disturbed, and
    taken from the same stretch of time the two are comparable. The median of the
    per-round ratios is kept beside it. ``ta`` and ``tb`` (per-call times from the warm-up)
    size the rounds.
    """
    iterations = max(1, round(ROUND_SECONDS / max(ta, tb)))
    rounds = max(settings.min_rounds, PAIRED_MIN_ROUNDS, math.ceil(settings.max_time / (iterations * (ta + tb))))
    rounds = min(rounds, 100_000)
    settings.gate.wait()
    times, load = interleaved({"a": a, "b": b}, rounds, iterations)
    settings.gate.last = load
    ratios = [ta_ / tb_ for ta_, tb_ in zip(times["a"], times["b"], strict=True)]
    return {"paired_overhead": min(times["a"]) / min(times["b"]) - 1,
            "paired_overhead_median": float(np.median(ratios)) - 1,
            "paired_rounds": rounds, "paired_iterations": iterations, "paired_foreign_load": load}


def run(
    benchmark: Any,
    subject: Subject,
    host_inputs: list[np.ndarray],
    ref: np.ndarray,
    dtype: str,
    what: str,
    settings: Settings,
    peer: Subject | None = None,
) -> dict[str, Any]:
    """Check ``subject`` against ``ref`` (the reference for ``host_inputs[0]``), then time it; returns extra info.

    With benchmarks disabled (``--benchmark-disable``) the callable runs once, and that
    one result is checked: the test suite's fast correctness pass over every row. With a
    ``peer`` (the native code of the same backend), its overhead is also measured in
    interleaved rounds (:func:`paired_overhead`), after the peer's own result is checked.
    """
    xs, target = _rotating(subject, host_inputs)
    if settings.disabled or getattr(benchmark, "disabled", False):
        out = benchmark.pedantic(target)  # one call, on xs[0]
        return {"max_rel_err": check(subject.to_numpy(out), ref, dtype, what)}

    t0 = time.perf_counter()
    out = target()  # on xs[0], whose reference is ``ref``
    first_call = time.perf_counter() - t0
    max_rel = check(subject.to_numpy(out), ref, dtype, what)
    del out
    for _ in xs[1:]:  # every other input once, untimed: its first-use costs stay out of the warm-up's estimate too
        target()
    per_call, warmup_calls = _warm(target, settings.warmup)
    iterations = max(1, round(ROUND_SECONDS / per_call))
    rounds = max(settings.min_rounds, math.ceil(settings.max_time / (iterations * per_call)))
    rounds = min(rounds, 100_000)

    gc.collect()
    settings.gate.wait()
    meter = CpuMeter()
    meter.start()
    benchmark.pedantic(target, rounds=rounds, iterations=iterations)
    load = settings.gate.last = meter.stop()
    device: dict[str, Any] = {}
    if subject.clock is not None:
        device["device_median_s"] = device_median(subject.fn, xs, subject.clock, min(DEVICE_CALLS, rounds * iterations))
    paired: dict[str, Any] = {}
    if peer is not None:
        _, ptarget = _rotating(peer, host_inputs)
        check(peer.to_numpy(ptarget()), ref, dtype, f"{what} (native peer)")
        peer_call, _ = _warm(ptarget, settings.warmup)
        paired = paired_overhead(target, per_call, ptarget, peer_call, settings)
    return paired | device | {
        "max_rel_err": max_rel,
        "first_call_s": first_call,
        "warmup_calls": warmup_calls + 1,
        "iterations": iterations,
        "rounds": rounds,
        "buffers": len(xs),
        "foreign_load": load,
    }
