"""The layout of ``xpnet run``'s report: its result (``report.json``'s content) as a :class:`~xpnet.document.Document`.

One function per section; every number shown comes from the result, so ``report.md``,
``index.html`` and the ``tables`` of ``report.json`` hold the same tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xpnet.document import Document, Picture, Section, Table
from xpnet.machine import describe

#: Titles of the pictures, by their name in ``report.json``.
PICTURE_TITLES = {"loss": "Training loss per epoch, every backend on one chart",
                  "digits": "64 held-out digits: label, then each backend's prediction",
                  "misclassified": "The held-out digits the first backend got wrong"}


def document(r: dict[str, Any], folder: Path) -> Document:
    """The report of result ``r``, whose pictures lie in ``folder``."""
    pictures = {name: Picture(name, PICTURE_TITLES[name], folder / file) for name, file in r["pictures"].items()}
    sections = [_data(r), _training(r, pictures), _predictions(r, pictures), _parity(r), _timings(r), _machine(r)]
    return Document("xpnet run: the lab's network on every backend", _intro(r), sections)


def _intro(r: dict[str, Any]) -> list[str]:
    runs, p = r["training"], r["parity"]
    names = ", ".join(t["backend"] for t in runs)
    accuracy = r["evaluation"][0]["accuracy"]
    pairs = len({(row["backend"], row["device"]) for row in p["rows"]})
    return [f"{r['date']}, on {describe(r['machine'])}; {r['seconds']:.0f} s in all.",
            f"Trained on {len(runs)} backend{'s' * (len(runs) != 1)} ({names}) from the same weights through the "
            f"same batches: the loss curves agree to {r['max_rel_loss_difference']:.1e} (relative, every epoch); "
            f"held-out accuracy {accuracy:.2%}. Parity {'ok' if p['ok'] else 'FAILED'}: "
            f"{sum(row['ok'] for row in p['rows'])} of {len(p['rows'])} rows on {pairs} (backend, device) pairs "
            f"within their float error bound."]


def _data(r: dict[str, Any]) -> Section:
    d = r["data"]
    rows = [("format", d["format"]), ("source", d["source"]),
            ("digits", f"{d['digits']} of {', '.join(map(str, d['classes']))}"), ("trained on", str(d["train"])),
            ("held out", f"{d['test']} (fraction {d['split']['test_fraction']}, seed {d['split']['seed']})"),
            ("fingerprint", d["fingerprint"])]
    return Section("Data", tables=[Table("data", "The data record (stored in the weights file too)",
                                         ("what", "value"), tuple(rows))])


def _training(r: dict[str, Any], pictures: dict[str, Picture]) -> Section:
    runs = r["training"]
    first = runs[0]
    rows = tuple((t["backend"], t["device"], t["dtype"], f"{t['seconds']:.2f} s", f"{t['first_loss']:.6f}",
                  f"{t['final_loss']:.6f}", f"{t['max_rel_loss_difference']:.1e}", f"{t['test_accuracy']:.2%}")
                 for t in runs)
    text = (f"The lab's settings: Adam(0.001), batch 32, {first['epochs']} epochs, from the same initial weights "
            f"(seed {r['data']['split']['seed']}) and the same batches on every backend, eagerly. The weights file "
            f"holds the network trained on {first['backend']}.")
    table = Table("training", "Training on each backend",
                  ("backend", "device", "dtype", "time", "loss, epoch 1", "final loss",
                   f"max rel. difference from {first['backend']}", "held-out accuracy"), rows)
    return Section("Training", [text], [table], _chosen(pictures, "loss"))


def _predictions(r: dict[str, Any], pictures: dict[str, Picture]) -> Section:
    rows = []
    for e in r["evaluation"]:
        c, missed = e["confusion"], e["misclassified"]
        rows.append((e["backend"], e["device"], f"{e['accuracy']:.2%}", str(c["tn"]), str(c["fp"]), str(c["fn"]),
                     str(c["tp"]), ", ".join(map(str, missed[:10])) + (" ..." if len(missed) > 10 else "")))
    table = Table("predictions", "Held-out predictions of the trained network",
                  ("backend", "device", "accuracy", "tn", "fp", "fn", "tp", "misclassified"), tuple(rows))
    return Section("Held-out predictions", tables=[table], pictures=_chosen(pictures, "digits", "misclassified"))


def _parity(r: dict[str, Any]) -> Section:
    p = r["parity"]
    rows = []
    for row in p["rows"]:
        head = (row["backend"], row["device"], row["variant"], row["dtype"], str(row["m"]))
        if row["error"]:
            rows.append(head + (f"error: {row['error']}", "", "", "", "no"))
            continue
        rows.append(head + (f"{row['max_abs_err']:.2e}", f"{row['max_rel_err']:.2e}", f"{row['bound_share']:.1%}",
                            f"{row['agreement']:.1%}", "yes" if row["ok"] else "NO"))
    text = ("Every (backend, device, variant, dtype) against a float64 NumPy reference on the held-out digits. "
            "'of bound': the largest error as a share of what the dtype allows that output (its eps times the "
            "row's condition number; ok up to 100%); 'agreement': predictions equal to the reference's.")
    table = Table("parity", "Parity of the trained network", ("backend", "device", "variant", "dtype", "m",
                  "max abs err", "max rel err", "of bound", "agreement", "ok"), tuple(rows),
                  tuple(f"skipped: {s}" for s in p["skipped"]))
    return Section(f"Parity: {'ok' if p['ok'] else 'FAILED'}", [text], [table])


def _timings(r: dict[str, Any]) -> Section:
    by_path: dict[tuple[str, str, str], dict[int, float]] = {}
    for t in r["timings"]:
        by_path.setdefault((t["backend"], t["device"], t["variant"]), {})[t["m"]] = t["median_s"]
    sizes = sorted({t["m"] for t in r["timings"]})
    rows = tuple(path + tuple(_time(times.get(m)) for m in sizes)
                 + (_rate(max(sizes), times.get(max(sizes))) if sizes else "-",)
                 for path, times in sorted(by_path.items(), key=lambda kv: min(kv[1].values())))
    text = ("Median time per call after a warm-up call, device synchronised: one example (latency) and the whole "
            "held-out set (throughput); fastest first. A glance, not a benchmark: `xpnet bench` measures properly "
            "(BENCHMARKS.md).")
    load, cpus = r["machine"].get("load_average"), r["machine"]["cpus_usable"]
    if load is not None:
        text += (f" Load average {load:.1f} on {cpus} CPUs before the timings (this run counts for about 1; more "
                 "means other processes shared the CPUs, and multi-threaded BLAS calls stall behind them).")
    columns = ("backend", "device", "variant", *(f"m = {m}" for m in sizes),
               f"examples/s at m = {max(sizes)}" if sizes else "examples/s")
    return Section("Forward timings (float32)", [text], [Table("timings", "Forward timings", columns, rows)])


def _machine(r: dict[str, Any]) -> Section:
    m = r["machine"]
    rows = [("CPU", m["cpu_model"]), ("CPUs usable", str(m["cpus_usable"])), ("memory", f"{m['memory_gib']} GiB"),
            ("platform", m["platform"]), ("Python", m["python"])]
    rows += [(name, version) for name, version in m["versions"].items() if version]
    return Section("Machine", tables=[Table("machine", "Machine and versions", ("what", "value"), tuple(rows))])


def _chosen(pictures: dict[str, Picture], *names: str) -> list[Picture]:
    return [pictures[n] for n in names if n in pictures]


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1e6:,.1f} us" if seconds < 1e-3 else f"{seconds * 1e3:,.2f} ms"


def _rate(m: int, seconds: float | None) -> str:
    return "-" if seconds is None else f"{m / seconds:,.0f}"
