"""``xpnet run`` as a user runs it: one subprocess, shared by every test here (a full run costs about a minute).

What is checked is what the Quick start promises: every backend that runs here trains the same
network through the same batches with agreeing loss curves, parity holds on every (backend, device,
variant, dtype), the timings cover every pair beside ONNX Runtime, nothing of the frameworks' start-up
chatter reaches the terminal, and ``index.html`` (self-contained) and ``report.md`` hold every table
and picture of ``report.json``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from xpnet import backends, model
from xpnet.model import VARIANTS
from xpnet.onnx_export import onnxruntime_version

#: Few epochs: the curves' agreement and the report's shape do not need the lab's 20.
EPOCHS = 3
#: The acceptance's grep: the frameworks' start-up chatter, none of which may reach the terminal.
CHATTER = re.compile(r"onednn|absl|cuda_|computation placer", re.IGNORECASE)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One ``xpnet run`` in a subprocess: its folder, report.json, and its stdout and stderr as a user sees them.

    Under pytest-xdist the workers share it (the first to come runs it, under a file lock), so that
    ``pytest -n 2`` does not run it once per worker.
    """
    folder, lock = _shared_folder(tmp_path_factory)
    with lock:
        out, output = folder / "xpnet-report", folder / "output.txt"
        if not output.exists():
            done = subprocess.run([sys.executable, "-m", "xpnet", "run", "--epochs", str(EPOCHS), "--out", str(out)],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
            assert done.returncode == 0, done.stdout
            output.write_text(done.stdout)
    return {"out": out, "report": json.loads((out / "report.json").read_text()), "output": output.read_text()}


def _shared_folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A folder for the run, shared by this session's xdist workers, and a lock that makes one of them run it."""
    session = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    try:
        import fcntl
    except ImportError:  # no flock (Windows): each worker runs its own
        session = None
    if session is None:
        return tmp_path_factory.mktemp("run"), contextlib.nullcontext()
    folder = tmp_path_factory.getbasetemp().parent / f"xpnet-run-{session}"
    folder.mkdir(exist_ok=True)

    @contextlib.contextmanager
    def lock() -> Any:
        with open(folder / ".lock", "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            yield

    return folder, lock()


def test_run_trains_every_available_backend_and_their_loss_curves_agree_in_float32(run):
    report = run["report"]
    assert set(report["loss_curves"]) == {name for name, _ in backends.available()}
    first = next(iter(report["loss_curves"].values()))
    for name, curve in report["loss_curves"].items():
        assert len(curve) == EPOCHS and curve[-1] < curve[0], name
        assert max(abs(a - b) / b for a, b in zip(curve, first, strict=True)) <= 1e-4, name
    assert {t["dtype"] for t in report["training"]} == {"float32"}
    assert report["max_rel_loss_difference"] <= 1e-4
    params = model.load(run["out"] / "weights.npz")
    assert params.record["training"]["backend"] == report["training"][0]["backend"]
    assert params.record["data"]["fingerprint"] == report["data"]["fingerprint"]


def test_run_checks_parity_of_every_available_pair_variant_and_dtype(run):
    parity = run["report"]["parity"]
    assert parity["ok"] and all(row["ok"] and row["bound_share"] <= 1 for row in parity["rows"])
    for name, device in backends.available():
        variants = {row["variant"] for row in parity["rows"] if (row["backend"], row["device"]) == (name, device)}
        compiled = backends.backend_class(name).compiler is not None
        assert variants == (set(VARIANTS) if compiled else set(VARIANTS) - {"jit"}), (name, device)


def test_run_times_matmul_and_jit_on_every_pair_beside_onnxruntime(run):
    timings = run["report"]["timings"]
    for name, device in backends.available():
        variants = {t["variant"] for t in timings if (t["backend"], t["device"]) == (name, device)}
        assert variants == ({"matmul", "jit"} if backends.backend_class(name).compiler else {"matmul"}), name
    assert any(t["backend"] == "onnxruntime" for t in timings) == (onnxruntime_version() is not None)
    assert {t["m"] for t in timings} == {1, run["report"]["data"]["test"]}


def test_run_output_is_xpnets_alone_without_framework_chatter(run):
    output = run["output"]
    assert not CHATTER.findall(output), CHATTER.findall(output)
    assert "Traceback" not in output and "Warning" not in output
    lines = output.splitlines()
    assert lines[-1].startswith("report: ") and "index.html" in lines[-1]
    assert len(lines) <= 20  # one line per step: data, a line per backend trained, curves, parity, timings, result


class _Page(HTMLParser):
    """The tables (by id: header and rows of cell text), the pictures (by id: src) and any script or remote link."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.pictures: dict[str, str] = {}
        self.remote: list[str] = []
        self._table: str | None = None
        self._figure: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script" or any((v or "").startswith(("http:", "https:", "//")) for v in a.values()):
            self.remote.append(f"<{tag} {a}>")
        if tag == "table":
            self._table = a["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []
        elif tag == "figure":
            self._figure = a["id"]
        elif tag == "img" and self._figure:
            self.pictures[self._figure] = a["src"]

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None
        elif tag == "figure":
            self._figure = None


def test_index_html_is_one_offline_page_with_every_table_and_picture_of_report_json(run):
    report, out = run["report"], run["out"]
    page = _Page()
    page.feed((out / "index.html").read_text())
    assert not page.remote  # no script, nothing fetched: it opens offline
    names = {t["name"] for t in report["tables"]}
    assert {"data", "training", "predictions", "parity", "timings", "machine"} <= names
    for table in report["tables"]:
        assert page.tables[table["name"]] == [table["columns"], *table["rows"]], table["name"]
    assert set(report["pictures"]) >= {"loss", "digits", "misclassified"}
    for name, file in report["pictures"].items():
        src = page.pictures[f"picture-{name}"]
        assert src.startswith("data:image/png;base64,")
        png = (out / file).read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and base64.b64decode(src.split(",", 1)[1]) == png, name


def test_report_md_holds_the_same_tables(run):
    text = (run["out"] / "report.md").read_text()
    for table in run["report"]["tables"]:
        for row in [table["columns"], *table["rows"]]:
            assert "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" in text, (table["name"], row)
    for file in run["report"]["pictures"].values():
        assert f"]({Path(file).name})" in text
