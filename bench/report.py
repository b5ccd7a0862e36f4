"""The answer, the table, the project's goals and the plot of a benchmark run, read from pytest-benchmark's JSON.

The answer comes first (:func:`answer`: the fastest path for each batch size and dtype, and by
how much), then a legend of every column (:func:`legend`), the full table, and the project's own
performance goals (:func:`targets_text`), which say how xpnet measures up, not whether the run worked.
Everything here is derived from the JSON alone (each row's ``extra_info`` says what it
is; ``output_json["xpnet"]`` holds the measured limits), so an old run can be reported
again, and compared with a new one, without re-running it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xpnet.bench.cases import DTYPES, IMPLS
from xpnet.bench.harness import NOISY

#: The project's own performance goals (issue 4), checked by :func:`targets`.
OVERHEAD_MAX = {"small": 0.25, "large": 0.05}  # against native, at m = 1 and at m >= 1000
PREDICT_SPEEDUP_MIN = 1000.0  # fastest xpnet CPU path against Keras predict, at m = 1
ORT_LATENCY_MAX = 2.0  # ... within 2x of ONNX Runtime's latency at m = 1
ROOFLINE_MIN = 0.60  # best matmul/jit at m = 1e6 float32 (CPU) and m = 1e7 (GPU)
USER_PATH_MAX = 1.2  # predict_proba (NumPy in, checked, NumPy out) over the device-resident forward, m = 1e5
NUMPY_PREDICT_MAX = 1.10  # NumPy's predict_proba over its matmul forward at m = 1000
LAUNCH_FLOOR_MAX = 2.0  # fastest GPU forward at m = 1 over the launch floor (one kernel launch and one wait)


@dataclass(frozen=True)
class Row:
    """One benchmark of a run: what it is (from ``extra_info``) and its median time per call."""

    impl: str
    backend: str
    device: str
    variant: str
    column: str
    m: int
    dtype: str
    median: float
    roofline: float | None
    name: str
    foreign_load: float | None = None
    paired_overhead: float | None = None
    #: Examples/s the network's skinny first product allows here (``limits.DeviceLimits.ceiling``).
    ceiling: float | None = None
    #: Median time on the device's own clock (CUDA events), where the backend has one.
    device_median: float | None = None
    #: A user row's copies timed apart: X onto the device as predict_proba stages it, and the output back.
    to_device: float | None = None
    to_host: float | None = None

    @property
    def rate(self) -> float:
        """Examples per second."""
        return self.m / self.median

    @property
    def label(self) -> str:
        return {"xpnet": self.backend, "native": f"{self.backend} (native)",
                "user": f"{self.backend} predict_proba"}.get(self.impl, self.impl)

    @property
    def key(self) -> tuple[str, str, str, str]:
        """(impl, backend, device, variant): one line of the plot."""
        return (self.impl, self.backend, self.device, self.variant)


def load(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several runs' JSON as one run: their rows together, the first run's machine and options, and each device's
    limits from the first run that measured it. For one session's runs taken in separate processes (``bench/gpu.sh``
    runs each GPU backend in its own, so that a crash or a time limit costs one backend's rows, not all)."""
    merged = dict(runs[0]) | {"benchmarks": [b for run in runs for b in run.get("benchmarks", [])]}
    limits: dict[str, Any] = {}
    for run in runs:
        for device, found in run.get("xpnet", {}).get("limits", {}).items():
            limits.setdefault(device, found)
    merged["xpnet"] = dict(runs[0].get("xpnet", {})) | {"limits": limits}
    return merged


def rows(data: dict[str, Any]) -> list[Row]:
    """The run's rows that carry xpnet's ``extra_info`` (others, and failed ones, are left out)."""
    found = []
    for bench in data.get("benchmarks", []):
        info = bench.get("extra_info", {})
        if "impl" not in info or not bench.get("stats"):
            continue
        found.append(Row(
            info["impl"], info["backend"], info["device"], info["variant"], info["column"], int(info["m"]),
            info["dtype"], float(bench["stats"]["median"]), info.get("roofline"), bench["name"],
            info.get("foreign_load"), info.get("paired_overhead"), info.get("ceiling"),
            info.get("device_median_s"), info.get("to_device_s"), info.get("to_host_s"),
        ))
    return found


def _index(found: Iterable[Row]) -> dict[tuple[str, str, str, str, int, str], Row]:
    return {(r.impl, r.backend, r.device, r.variant, r.m, r.dtype): r for r in found}


def x_numpy(row: Row, index: dict) -> float | None:
    """Speed against xpnet's NumPy row of the same variant (matmul for compiled rows), m and dtype."""
    base_variant = "loop" if row.column == "loop" else "matmul"
    base = index.get(("xpnet", "numpy", "cpu", base_variant, row.m, row.dtype))
    return row.rate / base.rate if base else None


def overhead(row: Row, index: dict) -> float | None:
    """xpnet's time over the hand-written native code's (same backend, device, m, dtype), minus one.

    The interleaved measurement of the xpnet row when it has one (robust to a noisy
    machine), else the ratio of the two rows' medians.
    """
    if row.impl != "xpnet" or row.variant == "loop":
        return None
    if row.paired_overhead is not None:
        return row.paired_overhead
    peer = index.get(("native", row.backend, row.device, "eager" if row.variant == "matmul" else "jit", row.m,
                      row.dtype))
    return row.median / peer.median - 1 if peer else None


def share_of_roofline(row: Row) -> float | None:
    return row.rate / row.roofline if row.roofline else None


def fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_rate(rate: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if rate >= scale:
            return f"{rate / scale:.3g} {unit}/s"
    return f"{rate:.3g} /s"


def _pct(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "-"
    return f"{x:+.0%}" if signed else (f"{x:.1%}" if x < 0.1 else f"{x:.0%}")


def table(found: list[Row], markdown: bool = False, old: list[Row] | None = None,
          limits: dict[str, Any] | None = None) -> str:
    """One block per (dtype, m), rows fastest first; ``old`` adds the speed-up against an earlier run."""
    index = _index(found)
    old_by_name = {r.name: r for r in old or []}
    head = ["backend", "device", "variant", "m", "median", "examples/s", "x NumPy", "% roofline", "vs native"]
    on_device = any(r.device_median is not None for r in found)
    copies = any(r.to_device is not None for r in found)
    head += ["on device"] * on_device + ["copies in / out"] * copies
    if old is not None:
        head.append("vs old")
    busy = {r.name for r in noisy(found)}
    blocks = []
    for dtype in DTYPES:
        for m in sorted({r.m for r in found if r.dtype == dtype}):
            block = sorted((r for r in found if r.dtype == dtype and r.m == m), key=lambda r: -r.rate)
            lines = []
            for r in block:
                xn = x_numpy(r, index)
                mark = " *" if r.name in busy else ""
                cells = [r.label, r.device, r.variant, f"{m:,}", fmt_time(r.median) + mark, fmt_rate(r.rate),
                         "-" if xn is None else f"{xn:.3g}x", _pct(share_of_roofline(r)),
                         _pct(overhead(r, index), signed=True)]
                if on_device:
                    cells.append("-" if r.device_median is None else fmt_time(r.device_median))
                if copies:
                    cells.append("-" if r.to_device is None or r.to_host is None else
                                 f"{fmt_time(r.to_device)} / {fmt_time(r.to_host)}")
                if old is not None:
                    before = old_by_name.get(r.name)
                    cells.append(f"{before.median / r.median:.2f}x" if before else "-")
                lines.append(cells)
            blocks.append((f"{dtype}, m = {m:,}{_roof_note(limits, dtype)}", lines))
    text = "\n\n".join(_render(title, head, lines, markdown) for title, lines in blocks)
    if busy:
        text += f"\n\n* other processes used over {NOISY:.0%} of the CPUs while this row was timed"
    return text


def _roof_note(limits: dict[str, Any] | None, dtype: str) -> str:
    notes = []
    for dev, lim in (limits or {}).items():
        roof = lim.get("roofline", {}).get(dtype)
        if roof:
            notes.append(f"{dev} roofline {fmt_rate(roof)}")
    return f" ({'; '.join(notes)})" if notes else ""


def _render(title: str, head: list[str], lines: list[list[str]], markdown: bool,
            left: tuple[int, ...] = (0, 1, 2)) -> str:
    """A titled table, as Markdown or as aligned text (the columns numbered in ``left`` to the left, the rest right)."""
    if markdown:
        out = [f"**{title}**", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(out + ["| " + " | ".join(cells) + " |" for cells in lines])
    widths = [max(len(h), *(len(c[i]) for c in lines)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" if i in left else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join([title, fmt.format(*head).rstrip(), "-" * (sum(widths) + 2 * len(widths) - 2)]
                     + [fmt.format(*cells).rstrip() for cells in lines])


def targets(found: list[Row], limits: dict[str, Any] | None = None) -> list[tuple[str, bool | None, str]]:
    """Each performance target of issues 4 and 9: (target, met (None: not measured in this run), the numbers).

    ``limits``: the run's measured limits by device (``output_json["xpnet"]["limits"]``), for the GPU's launch floor.
    """
    index = _index(found)
    out: list[tuple[str, bool | None, str]] = []
    cpu_xpnet = [r for r in found if r.impl == "xpnet" and r.device == "cpu"]

    for size, limit, rule in (("small", OVERHEAD_MAX["small"], lambda m: m == 1),
                              ("large", OVERHEAD_MAX["large"], lambda m: m >= 1000)):
        measured = [(r, overhead(r, index)) for r in cpu_xpnet if rule(r.m) and r.dtype == "float32"]
        measured = [(r, o) for r, o in measured if o is not None]
        worst = sorted(measured, key=lambda ro: -ro[1])
        bad = [f"{r.backend} {r.variant} m={r.m:,} {o:+.0%}" for r, o in worst if o > limit]
        what = f"overhead against native <= {limit:.0%} at {'m = 1' if size == 'small' else 'm >= 1000'} (float32)"
        detail = "; ".join(bad) if bad else (f"worst {worst[0][0].backend} {worst[0][0].variant} "
                                             f"m={worst[0][0].m:,} {worst[0][1]:+.0%}" if worst else "")
        out.append((what, (not bad) if measured else None, detail))

    def fastest(m: int) -> Row | None:
        rows_m = [r for r in cpu_xpnet if r.m == m and r.dtype == "float32" and r.variant != "loop"]
        return min(rows_m, key=lambda r: r.median) if rows_m else None

    best1 = fastest(1)
    predict = index.get(("keras", "keras", "cpu", "predict", 1, "float32"))
    ort1 = index.get(("onnxruntime", "onnxruntime", "cpu", "session", 1, "float32"))
    if best1 and predict:
        ratio = predict.median / best1.median
        out.append((f"fastest xpnet CPU path >= {PREDICT_SPEEDUP_MIN:.0f}x Keras predict at m = 1",
                    ratio >= PREDICT_SPEEDUP_MIN, f"{best1.backend} {best1.variant} {fmt_time(best1.median)} vs "
                    f"predict {fmt_time(predict.median)}: {ratio:,.0f}x"))
    if best1 and ort1:
        ratio = best1.median / ort1.median
        out.append((f"fastest xpnet CPU path within {ORT_LATENCY_MAX:.0f}x of ONNX Runtime at m = 1",
                    ratio <= ORT_LATENCY_MAX, f"{best1.backend} {best1.variant} {fmt_time(best1.median)} vs "
                    f"{fmt_time(ort1.median)}: {ratio:.2f}x"))
    for m in sorted({r.m for r in found if r.m == 1 or r.m >= 1000}):
        best, ort = fastest(m), index.get(("onnxruntime", "onnxruntime", "cpu", "session", m, "float32"))
        if best and ort:
            out.append((f"fastest xpnet CPU path >= ONNX Runtime at m = {m:,}", best.rate >= ort.rate,
                        f"{best.backend} {best.variant} {fmt_rate(best.rate)} vs {fmt_rate(ort.rate)} (rows timed "
                        "apart: python -m xpnet.bench.versus compares the two in alternating processes)"))
    for r in sorted((r for r in found if r.impl == "user" and r.paired_overhead is not None), key=lambda r: r.key):
        if r.m == 100_000 and r.device == "cpu":
            ratio = 1 + r.paired_overhead
            out.append((f"{r.backend} {r.variant}: predict_proba <= {USER_PATH_MAX}x the device-resident forward at "
                        f"m = {r.m:,}", ratio <= USER_PATH_MAX, f"{ratio:.2f}x"))
        if r.m == 1000 and r.backend == "numpy" and r.variant == "matmul":
            ratio = 1 + r.paired_overhead
            out.append((f"numpy predict_proba <= {NUMPY_PREDICT_MAX}x its matmul forward at m = 1,000",
                        ratio <= NUMPY_PREDICT_MAX, f"{ratio:.2f}x"))
    for device, m in (("cpu", 1_000_000), ("gpu", 10_000_000)):
        cands = [r for r in found if r.impl == "xpnet" and r.m == m and r.dtype == "float32"
                 and r.variant in ("matmul", "jit") and (r.device == "cpu") == (device == "cpu") and r.roofline]
        if cands:
            best = max(cands, key=share_of_roofline)
            share = share_of_roofline(best) or 0.0
            out.append((f"best matmul/jit at m = {m:,} float32 on {device} >= {ROOFLINE_MIN:.0%} of roofline",
                        share >= ROOFLINE_MIN, f"{best.backend} {best.variant} {fmt_rate(best.rate)} = {share:.0%}"))
            if share < ROOFLINE_MIN and best.ceiling:  # the fallback: the skinny product's ceiling
                out.append((f"... or >= {ROOFLINE_MIN:.0%} of the ceiling of the first product (X @ W1 at the best "
                            "rate measured here)", best.rate / best.ceiling >= ROOFLINE_MIN,
                            f"{best.backend} {best.variant} {fmt_rate(best.rate)} = {best.rate / best.ceiling:.0%} "
                            f"of {fmt_rate(best.ceiling)}"))
    for device, lim in sorted((limits or {}).items()):
        floor = lim.get("launch_floor")
        ones = [r for r in found if r.impl == "xpnet" and r.device == device and r.m == 1 and r.dtype == "float32"
                and r.variant != "loop"]
        if device.startswith("gpu") and floor and ones:
            best = min(ones, key=lambda r: r.median)
            ratio = best.median / floor
            out.append((f"fastest forward at m = 1 on {device} <= {LAUNCH_FLOOR_MAX:.0f}x the launch floor",
                        ratio <= LAUNCH_FLOOR_MAX, f"{best.backend} {best.variant} {fmt_time(best.median)} vs "
                        f"{fmt_time(floor)} ({lim.get('launch_floor_by', '?')}): {ratio:.2f}x"))
    return out


#: How :func:`targets_text` words a goal's status: a goal not reached is the project's to-do, not the run's failure.
GOAL_STATUS = {True: "reached", False: "not yet", None: "not measured"}
GOALS_TITLE = ("xpnet's own performance goals (the project's targets, see BENCHMARKS.md; 'not yet' is work for "
               "xpnet, not a fault of this run or machine):")


def targets_text(found: list[Row], markdown: bool = False, limits: dict[str, Any] | None = None) -> str:
    """The project's goals, each with its status (reached, not yet, not measured) and the numbers behind it."""
    lines = [(GOAL_STATUS[ok], what, detail) for what, ok, detail in targets(found, limits)]
    if markdown:
        return "\n".join([GOALS_TITLE, "", "| project goal | status | measured |", "|---|---|---|"]
                         + [f"| {what} | {st} | {detail} |" for st, what, detail in lines])
    return "\n".join([GOALS_TITLE] + [f"  {st:<13}{what}" + (f": {detail}" if detail else "")
                                     for st, what, detail in lines])


def answer(found: list[Row], markdown: bool = False) -> str:
    """One line per (dtype, m): the fastest xpnet path, how much faster than the next one, and the fastest other
    library (Keras, ONNX Runtime) beside it."""
    head = ["dtype", "m", "fastest xpnet path", "median", "examples/s", "ahead of the next xpnet path by",
            "fastest other library"]
    lines = []
    for dtype in DTYPES:
        for m in sorted({r.m for r in found if r.dtype == dtype}):
            here = sorted((r for r in found if r.dtype == dtype and r.m == m), key=lambda r: r.median)
            ours = [r for r in here if r.impl == "xpnet"]
            if not ours:
                continue
            best = ours[0]
            ahead = f"{ours[1].median / best.median:.2f}x {_path(ours[1])}" if len(ours) > 1 else "-"
            other = next((r for r in here if r.impl not in ("xpnet", "user", "native")), None)  # Keras, ONNX Runtime
            lines.append([dtype, f"{m:,}", _path(best), fmt_time(best.median), fmt_rate(best.rate), ahead,
                          f"{_path(other)} {fmt_time(other.median)} ({_than(other.median / best.median)})"
                          if other else "-"])
    title = "The fastest way to run the network here, per batch size m and dtype (median time per call):"
    return _render(title, head, lines, markdown, left=(0, 2, 5, 6)) if lines else title + "\n  no xpnet row ran"


def _path(r: Row) -> str:
    device = "" if r.device == "cpu" and r.impl != "xpnet" else f" on {r.device}"
    return f"{r.label} {r.variant}{device}"


def _than(ratio: float) -> str:
    """An other library's time over xpnet's best, in words."""
    return f"{ratio:.2f}x slower" if ratio >= 1 else f"{1 / ratio:.2f}x faster"


def legend(old: bool = False) -> str:
    """What every column and variant of :func:`table` means."""
    lines = [
        "Columns: median = median time of one call on m examples (* = timed while other processes used over "
        f"{NOISY:.0%} of the CPUs); examples/s = m / median;",
        "  x NumPy = speed against xpnet's NumPy row of the same kind (loop against loop, everything else against "
        "matmul), same m and dtype;",
        "  % roofline = share of the most this machine allows for this network (the lesser of its measured copy "
        "bandwidth and matmul peak);",
        "  vs native = xpnet's time over the same math hand-written in that framework, minus one (+10%: xpnet "
        "takes 10% longer);",
        "  on device (GPU rows) = median time between CUDA events recorded around the call, on the GPU's own clock; "
        "copies in / out (predict_proba rows) = X onto the device as predict_proba stages it (shared where the "
        "framework can), and the output back, each timed apart from the compute.",
        "Variants: loop = the lab's per-unit my_dense (a teaching device); matmul = one matmul per layer "
        "(my_dense_v); jit = matmul compiled (jax.jit, tf.function, torch.compile);",
        "  graph (GPU) = the matmul forward recorded once as a CUDA graph and replayed, one launch for every kernel.",
        "  '(native)' rows, hand-written: eager = xpnet's math in the framework's own calls, builtin = the same "
        "with the framework's own sigmoid, jit = eager compiled;",
        "  keras predict / call = the lab's Keras model, model.predict(x) / model(x); onnxruntime session = ONNX "
        "Runtime's InferenceSession.run on the same weights.",
    ]
    if old:
        lines.insert(4, "  vs old = the earlier run's median over this one's (2.00x: twice as fast now).")
    return "\n".join(lines)


#: Line style of each implementation's rows in the plot, and marker of each variant.
_STYLE = {"xpnet": "-", "native": "--", "keras": ":", "onnxruntime": ":"}
_MARKER = {"loop": "v", "matmul": "o", "jit": "s", "eager": "o", "builtin": "x", "predict": "^", "call": "d",
           "session": "*", "graph": "P"}


def plot(found: list[Row], path: str | Path, limits: dict[str, Any] | None = None) -> Path:
    """Log-log examples/s against m: one line per (implementation, backend, device, variant), one panel per
    dtype, colour by backend, dashed for native code and dotted for peers, each device's roofline in black."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dtypes = [d for d in DTYPES if any(r.dtype == d for r in found)] or ["float32"]
    fig, axes = plt.subplots(len(dtypes), 1, figsize=(13, 7 * len(dtypes)), squeeze=False)
    backends_seen = sorted({r.backend for r in found}, key=lambda b: (b in ("keras", "onnxruntime"), b))
    colour = {b: plt.get_cmap("tab10")(i % 10) for i, b in enumerate(backends_seen)}
    order = {impl: i for i, impl in enumerate(IMPLS)}
    for ax, dtype in zip(axes[:, 0], dtypes, strict=True):
        lines: dict[tuple, list[Row]] = {}
        for r in found:
            if r.dtype == dtype:
                lines.setdefault(r.key, []).append(r)
        for key in sorted(lines, key=lambda k: (order.get(k[0], 9), k[1], k[2], k[3])):
            pts = sorted(lines[key], key=lambda r: r.m)
            ax.plot([r.m for r in pts], [r.rate for r in pts], linestyle=_STYLE.get(key[0], "-"),
                    marker=_MARKER.get(key[3], "."), color=colour[key[1]], markersize=5,
                    linewidth=2 if key[0] == "xpnet" else 1.2, label=f"{pts[0].label} {key[2]} {key[3]}")
        for dev, lim in (limits or {}).items():
            roof = lim.get("roofline", {}).get(dtype)
            if roof:
                ax.axhline(roof, color="k", linestyle="-.", linewidth=1.5)
                ax.annotate(f"{dev} roofline {fmt_rate(roof)}", (0.01, roof), xycoords=("axes fraction", "data"),
                            textcoords="offset points", xytext=(0, 4), fontsize=9)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("batch size m (examples per call)")
        ax.set_ylabel("examples / s (median)")
        ax.set_title(f"400-25-15-1 sigmoid forward, {dtype}: xpnet solid, native dashed, Keras and ONNX Runtime dotted")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def summary(data: dict[str, Any], brief: bool = False) -> str:
    """Machine, limits and the run's quietness, in a few lines; ``brief``: without the libraries, threads and
    backends (the indented lines)."""
    mi = data.get("machine_info", {})
    x = mi.get("xpnet", {})
    lines = [f"date: {data.get('datetime', '?')}",
             f"machine: {x.get('cpu_model', mi.get('processor', '?'))}, {x.get('cpus_usable', '?')} CPUs usable, "
             f"{x.get('memory_gib', '?')} GiB; python {mi.get('python_version', '?')}"]
    for lib in x.get("blas", []):
        lines.append(f"  {lib.get('user_api')}: {lib.get('internal_api')} {lib.get('version')} "
                     f"({lib.get('architecture')}, {lib.get('num_threads')} threads, {lib.get('library')})")
    for gpu in x.get("gpus", []):
        lines.append(f"  gpu: {gpu}")
    if x.get("versions"):
        lines.append("  versions: " + ", ".join(f"{k} {v}" for k, v in x["versions"].items() if v))
    for name, st in x.get("backends", {}).items():
        lines.append(f"  {name}: {st['version'] if st['available'] else 'unavailable: ' + str(st['reason'])}")
    run = data.get("xpnet", {})
    for dev, lim in run.get("limits", {}).items():
        peak = ", ".join(f"{d} {p / 1e9:.0f} GFLOP/s ({lim['peak_by'][d]})" for d, p in lim["peak"].items())
        floors = ""
        if lim.get("launch_floor"):
            floors += f"; launch floor {fmt_time(lim['launch_floor'])} ({lim.get('launch_floor_by', '?')})"
        if lim.get("host_link"):
            floors += f"; host to device {lim['host_link'] / 1e9:.1f} GB/s ({lim.get('host_link_by', '?')})"
        lines.append(f"limits {dev}: copy bandwidth {lim['bandwidth'] / 1e9:.1f} GB/s ({lim['bandwidth_by']}); "
                     f"matmul peak {peak}{floors}")
    load = run.get("foreign_load")
    if load is not None:
        lines.append(f"other processes used {load:.0%} of the CPUs during the run")
    return "\n".join(line for line in lines if not (brief and line.startswith("  ")))


def noisy(found: list[Row], threshold: float = NOISY) -> list[Row]:
    """Rows measured while other processes used more than ``threshold`` of the CPUs."""
    return [r for r in found if r.foreign_load is not None and r.foreign_load > threshold
            and not math.isnan(r.foreign_load)]
