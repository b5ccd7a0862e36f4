"""``xpnet run``: the whole lab on one command, written up as a report folder.

Load the digits, train the lab's network with the lab's settings, save the weights,
check parity of the trained network on every backend and device found here, time the
loop and matmul forwards briefly, draw the lab's pictures, and write ``report.md`` and
``report.json`` beside them.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xpnet import backends, data, model, parity, train, workflow
from xpnet.api import Model
from xpnet.evaluate import Evaluation, evaluate
from xpnet.model.files import atomic_write
from xpnet.progress import FitProgress
from xpnet.validation import InputError


@dataclass(frozen=True)
class Timing:
    backend: str
    device: str
    variant: str
    m: int
    median_s: float

    @property
    def examples_per_s(self) -> float:
        return self.m / self.median_s


def median_seconds(fn: Callable[[], Any], sync: Callable[[Any], Any], budget_s: float = 0.3,
                   max_repeats: int = 50) -> float:
    """Median wall time of ``fn()`` with the device synchronised, after one warm-up (compilation) call."""
    sync(fn())
    times: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(times) < max_repeats and (len(times) < 5 or time.perf_counter() < deadline):
        t0 = time.perf_counter()
        sync(fn())
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def quick_timings(params: model.Params, X: np.ndarray, pairs: list[tuple[str, str]]) -> list[Timing]:
    """Median forward times of loop (one example) and matmul / jit (one example and the whole of X)."""
    rows = []
    for name, device in pairs:
        m = Model(params, name, device)
        be = m.backend
        X1, Xm = m.asarray(X[:1]), m.asarray(X)
        plan = [("loop", X1), ("matmul", X1), ("matmul", Xm)]
        if be.compiler:
            plan += [("jit", X1), ("jit", Xm)]
        for variant, Xd in plan:
            fn = m.forward_fn(variant)
            seconds = median_seconds(lambda fn=fn, Xd=Xd, layers=m.layers: fn(layers, Xd), be.sync)
            rows.append(Timing(name, device, variant, int(Xd.shape[0]), seconds))
    return rows


def run_lab(
    out_dir: str | Path,
    data_spec: str | None = "builtin",
    backend: str = "numpy",
    device: str | None = None,
    epochs: int = 20,
    seed: int = 0,
    test_fraction: float = 0.2,
    log: Callable[[str], None] = print,
    progress: FitProgress | None = None,
) -> dict[str, Any]:
    """Run the lab end to end and write the report folder; return the report as a dict."""
    out = _report_folder(out_dir)
    t_start = time.perf_counter()
    split = workflow.load_split(data_spec, (0, 1), seed, test_fraction)
    digits, train_set, test_set = split.digits, split.train, split.test
    log(f"data: {digits.format} from {digits.source}: {len(digits)} digits, "
        f"{len(train_set)} to train, {len(test_set)} held out")

    params, history = train.fit(model.init_params(seed).with_record(data=split.record), train_set.X, train_set.y,
                                backend=backend,
                                device=device, epochs=epochs, seed=seed,
                                on_batch=progress.on_batch if progress else None,
                                on_epoch=progress.on_epoch if progress else None)
    weights = model.save(params, out / "weights.npz")
    log(f"trained on {backend}: loss {history.losses[0]:.4f} -> {history.losses[-1]:.4f} "
        f"in {sum(history.epoch_seconds):.2f}s; weights: {weights}")

    pairs = backends.available()
    evaluations = [evaluate(Model(params, name, dev), test_set.X, test_set.y) for name, dev in pairs]
    report = parity.check(params=params, X=test_set.X)
    log(f"parity on {len(pairs)} (backend, device) pairs: {'ok' if report.ok else 'FAILED'}")
    timings = quick_timings(params, test_set.X, pairs)

    pictures = _pictures(out, test_set, evaluations, history, log)
    result = {
        "data": split.record,
        "training": history.to_dict(),
        "weights": str(weights),
        "evaluation": [e.to_dict() for e in evaluations],
        "parity": report.to_dict(),
        "timings": [vars(t) | {"examples_per_s": t.examples_per_s} for t in timings],
        "pictures": pictures,
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "processor": platform.processor() or platform.machine(),
                    "versions": {n: backends.backend_class(n).installed_version() for n in backends.names()}},
        "seconds": time.perf_counter() - t_start,
    }
    atomic_write(out / "report.json", lambda f: f.write(json.dumps(result, indent=2).encode()))
    atomic_write(out / "report.md", lambda f: f.write(_markdown(result, report).encode()))
    return result


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


def _pictures(out: Path, test_set: data.Digits, evaluations: list[Evaluation], history: train.History,
              log: Callable[[str], None]) -> dict[str, str]:
    from xpnet import plots

    try:
        first = evaluations[0]
        return {
            "loss": str(plots.loss_curves(out / "loss.png", {f"{history.backend} ({history.device})":
                                                               history.losses})),
            "digits": str(plots.digits_grid(out / "digits.png", test_set.X, test_set.y,
                                            {f"{e.backend}/{e.device}": e.yhat for e in evaluations})),
            "misclassified": str(plots.misclassified(out / "misclassified.png", test_set.X, test_set.y,
                                                     first.proba, first.misclassified)),
        }
    except plots.PlotUnavailable as err:
        log(f"no pictures: {err}")
        return {}


def _markdown(r: dict[str, Any], report: parity.ParityReport) -> str:
    d, t = r["data"], r["training"]
    lines = [
        "# xpnet run", "",
        f"Data: {d['format']} from `{d['source']}`: {d['digits']} digits, {d['train']} trained on, "
        f"{d['test']} held out (seed {d['split']['seed']}).", "",
        f"Training on {t['backend']} ({t['device']}, {t['dtype']}): {t['epochs']} epochs, Adam(0.001), "
        f"batch 32, {t['seconds']:.2f} s; loss {t['losses'][0]:.4f} -> {t['losses'][-1]:.4f}.", "",
        "## Held-out predictions", "",
        "| backend | device | accuracy | tn | fp | fn | tp | misclassified |", "|---|---|---|---|---|---|---|---|",
    ]
    for e in r["evaluation"]:
        c = e["confusion"]
        lines.append(f"| {e['backend']} | {e['device']} | {e['accuracy']:.2%} | {c['tn']} | {c['fp']} | {c['fn']} "
                     f"| {c['tp']} | {e['misclassified'][:10]}{' ...' if len(e['misclassified']) > 10 else ''} |")
    lines += ["", f"## Parity of the trained network: {'ok' if report.ok else 'FAILED'}", "",
              "| backend | device | variant | dtype | m | max abs err | max rel err | of bound | agreement | ok |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for row in report.rows:
        if row.error:
            lines.append(f"| {row.backend} | {row.device} | {row.variant} | {row.dtype} | {row.m} | error: "
                         f"{row.error} | | | | no |")
            continue
        lines.append(f"| {row.backend} | {row.device} | {row.variant} | {row.dtype} | {row.m} | "
                     f"{row.max_abs_err:.2e} | {row.max_rel_err:.2e} | {row.bound_share:.1%} | {row.agreement:.1%} | "
                     f"{'yes' if row.ok else 'NO'} |")
    lines += [f"- skipped: {s}" for s in report.skipped]
    lines += ["", "## Forward timings (median, float32; a short run: see `xpnet bench` for the real benchmark)",
              "", "| backend | device | variant | m | median | examples/s |", "|---|---|---|---|---|---|"]
    for tm in r["timings"]:
        lines.append(f"| {tm['backend']} | {tm['device']} | {tm['variant']} | {tm['m']} | "
                     f"{tm['median_s'] * 1e6:,.1f} us | {tm['examples_per_s']:,.0f} |")
    if r["pictures"]:
        lines += ["", "## Pictures", ""] + [f"![{k}]({Path(v).name})" for k, v in r["pictures"].items()]
    lines += ["", f"Machine: {r['machine']['platform']}, Python {r['machine']['python']}; "
              f"versions: {r['machine']['versions']}. Total {r['seconds']:.1f} s.", ""]
    return "\n".join(lines)
