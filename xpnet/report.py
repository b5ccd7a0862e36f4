"""``xpnet run``: the whole lab in one command, on every backend installed here, written up as a report folder.

Load the digits; train the lab's network with the lab's settings (Adam 0.001, batch 32, 20 epochs)
on every backend, each from the same initial weights and through the same batches, so that their
loss curves must agree epoch by epoch; save the first backend's weights; check parity of the trained
network on every (backend, device, variant, dtype); time the matmul and jit forwards beside ONNX
Runtime; draw the pictures; and write ``index.html``, ``report.md`` and ``report.json``, three
renderings of one document (``xpnet.report_document``). Each long step shows a progress bar on a
terminal and leaves one summary line.
"""

from __future__ import annotations

import datetime
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from xpnet import backends, data, machine, model, parity, train, workflow
from xpnet.api import Model
from xpnet.evaluate import Evaluation, evaluate
from xpnet.model.files import atomic_write
from xpnet.progress import Bar
from xpnet.report_document import document
from xpnet.timing import Timing, forward_timings, onnxruntime_timings
from xpnet.validation import InputError, split_names


def run_lab(
    out_dir: str | Path,
    data_spec: str | None = "builtin",
    backend_names: Sequence[str] | str | None = None,
    device: str | None = None,
    epochs: int = 20,
    seed: int = 0,
    test_fraction: float = 0.2,
    progress: TextIO | None = None,
) -> dict[str, Any]:
    """Run the lab end to end and write the report folder; return ``report.json``'s content.

    ``backend_names``: the backends to train on, a list or comma-separated text (default: every
    one that runs here, each on its first available device, or on ``device``). ``progress``: where the progress bars and
    the one-line summaries of the steps go (None: nowhere).
    """
    out = _report_folder(out_dir)
    t_start = time.perf_counter()
    say: Callable[[str], None] = (lambda text: None) if progress is None else (
        lambda text: print(text, file=progress, flush=True))
    split = workflow.load_split(data_spec, (0, 1), seed, test_fraction)
    digits, test_set = split.digits, split.test
    say(f"data: {digits.format} from {digits.source}: {len(digits)} digits, {len(split.train)} to train, "
        f"{len(test_set)} held out")

    trained = [_train(name, dev, split, epochs, seed, progress) for name, dev in training_pairs(backend_names, device)]
    params, first = trained[0]
    weights = model.save(params, out / "weights.npz")
    differences = {h.backend: train.max_rel_difference(first.losses, h.losses) for _, h in trained}
    say(f"loss curves: the largest relative difference of any epoch's loss from {first.backend}'s is "
        f"{max(differences.values()):.1e}; weights (trained on {first.backend}): {weights}")

    pairs = backends.available()
    evaluations = [evaluate(Model(params, name, dev), test_set.X, test_set.y) for name, dev in pairs]
    report = _parity(params, test_set.X, pairs, progress)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None  # how busy the CPUs were, for the timings
    timings = _timings(params, test_set.X, pairs, progress)
    histories = [h for _, h in trained]
    result: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "data": split.record,
        "training": [_training_summary(h, differences[h.backend], params_h, test_set)
                     for (params_h, h) in trained],
        "loss_curves": {h.backend: h.losses for h in histories},
        "max_rel_loss_difference": max(differences.values()),
        "weights": str(weights),
        "evaluation": [e.to_dict() for e in evaluations],
        "parity": report.to_dict(),
        "timings": [t.to_dict() for t in timings],
        "pictures": _pictures(out, test_set, evaluations, histories, say),
        "machine": machine.facts() | {"load_average": load, "versions": _versions()},
    }
    result["seconds"] = time.perf_counter() - t_start
    doc = document(result, out)
    result["tables"] = [t.to_dict() for t in doc.tables]
    atomic_write(out / "report.json", lambda f: f.write(json.dumps(result, indent=2).encode()))
    atomic_write(out / "report.md", lambda f: f.write(doc.markdown().encode()))
    atomic_write(out / "index.html", lambda f: f.write(doc.html().encode()))
    return result


def training_pairs(names: Sequence[str] | str | None, device: str | None = None) -> list[tuple[str, str]]:
    """(backend, device) to train on: each of ``names`` on ``device`` (its default when None), or, when
    ``names`` is None, every backend that runs here on ``device`` or on its first available device.

    A named backend that cannot run raises :class:`~xpnet.backends.BackendUnavailable` with the reason.
    """
    if isinstance(names, str):
        names = split_names(names)
    if names is not None:
        return [(name, backends.get(name, device).device) for name in names]
    chosen: dict[str, str] = {}
    for name, dev in backends.available():
        if device is None or dev == backends.canonical_device(device):
            chosen.setdefault(name, dev)
    if not chosen:
        raise InputError(f"no backend runs on device {device!r} here (xpnet backends lists what does)")
    return list(chosen.items())


def _train(name: str, device: str, split: workflow.Split, epochs: int, seed: int,
           progress: TextIO | None) -> tuple[model.Params, train.History]:
    bar = Bar(f"training on {name}", epochs, "epochs", progress)
    params, history = train.fit(
        model.init_params(seed).with_record(data=split.record), split.train.X, split.train.y, backend=name,
        device=device, epochs=epochs, seed=seed,
        on_batch=lambda epoch, b, n, loss: bar.update(epoch, f"batch {b + 1}/{n}, loss {loss:.4f}"),
        on_epoch=lambda epoch, total, loss, seconds: bar.update(epoch + 1, f"loss {loss:.4f}"))
    bar.close(f"trained on {name} ({history.device}): loss {history.losses[0]:.4f} -> {history.losses[-1]:.4f} "
              f"in {sum(history.epoch_seconds):.1f} s")
    return params, history


def _training_summary(history: train.History, difference: float, params: model.Params,
                      test_set: data.Digits) -> dict[str, Any]:
    summary = {k: v for k, v in history.to_dict().items() if k not in ("losses", "epoch_seconds")}
    return summary | {"first_loss": history.losses[0], "final_loss": history.losses[-1],
                      "max_rel_loss_difference": difference,
                      "test_accuracy": train.accuracy(params, test_set.X, test_set.y)}


def _parity(params: model.Params, X: np.ndarray, pairs: list[tuple[str, str]],
            progress: TextIO | None) -> parity.ParityReport:
    """Parity of the trained network on the held-out digits, every (backend, device), a bar over the pairs."""
    bar = Bar("parity", len(pairs), "backends", progress)
    seen: set[tuple[str, str]] = set()

    def on_row(row: parity.ParityRow) -> None:
        seen.add((row.backend, row.device))
        bar.update(len(seen) - 1, f"{row.backend} on {row.device}: {row.variant} {row.dtype}")  # earlier ones done

    report = parity.check(params=params, X=X, on_row=on_row)
    worst = max((r.bound_share or 0.0 for r in report.rows), default=0.0)
    bar.close(f"parity: {'ok' if report.ok else 'FAILED'}, {sum(r.ok for r in report.rows)}/{len(report.rows)} rows "
              f"on {len(seen)} (backend, device) pairs; the largest error is {worst:.0%} of its bound")
    return report


def _timings(params: model.Params, X: np.ndarray, pairs: list[tuple[str, str]],
             progress: TextIO | None) -> list[Timing]:
    bar = Bar("timing", len(pairs) + 1, "backends", progress)
    rows: list[Timing] = []
    for i, (name, dev) in enumerate(pairs):
        bar.update(i, f"{name} on {dev}")
        rows += forward_timings(params, X, name, dev)
    bar.update(len(pairs), "ONNX Runtime")
    rows += onnxruntime_timings(params, X)
    fastest = min((t for t in rows if t.m == 1), key=lambda t: t.median_s, default=None)
    bar.close(f"timings: {len(rows)} rows" + (f"; fastest on one example: {fastest.backend} {fastest.variant}, "
                                               f"{fastest.median_s * 1e6:,.1f} us" if fastest else ""))
    return rows


def _versions() -> dict[str, str | None]:
    from xpnet.onnx_export import onnxruntime_version

    found = {n: backends.backend_class(n).installed_version() for n in backends.names()}
    return found | {"onnxruntime": onnxruntime_version()}


def _report_folder(out_dir: str | Path) -> Path:
    """The report folder, made if missing; a clear error when the path is a file (or cannot be made)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; the report needs a folder (give a new or existing folder)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(f"cannot make the report folder {out}: {err.strerror or err}") from err
    return out


def _pictures(out: Path, test_set: data.Digits, evaluations: list[Evaluation], histories: list[train.History],
              say: Callable[[str], None]) -> dict[str, str]:
    """The loss curves of every backend in one chart, the digit grid and the misclassified digits: file names."""
    from xpnet import plots

    try:
        first = evaluations[0]
        paths = {
            "loss": plots.loss_curves(out / "loss.png", {f"{h.backend} ({h.device})": h.losses for h in histories},
                                      title=f"training loss on {len(histories)} backends, same seed and batches"),
            "digits": plots.digits_grid(out / "digits.png", test_set.X, test_set.y,
                                        {f"{e.backend}/{e.device}": e.yhat for e in evaluations}),
            "misclassified": plots.misclassified(out / "misclassified.png", test_set.X, test_set.y, first.proba,
                                                 first.misclassified),
        }
    except plots.PlotUnavailable as err:
        say(f"no pictures: {err}")
        return {}
    return {name: path.name for name, path in paths.items()}
