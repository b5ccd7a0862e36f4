"""Tests of the bench's own machinery, no timing: the matrix, the checks, the limits, the report, the CLI."""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from xpnet import backends, data
from xpnet.bench import breakdown, cases, cli, fit_timing, harness, limits, options, report, suite
from xpnet.model import init_params
from xpnet.parity import reference, sample_inputs


def test_matrix_covers_every_registry_pair_and_variant() -> None:
    rows = cases.matrix(sizes=cases.DEFAULT_SIZES)
    pairs = {(c.backend, c.device) for c in rows if c.impl == "xpnet"}
    assert pairs == set(backends.pairs())
    for name, device in backends.pairs():
        compiled = backends.backend_class(name).compiler is not None
        variants = {c.variant for c in rows if (c.impl, c.backend, c.device) == ("xpnet", name, device)}
        graphs = {cases.GRAPH} if backends.backend_class(name).graph_capture and device.startswith("gpu") else set()
        assert variants == ({"loop", "matmul", "jit"} if compiled else {"loop", "matmul"}) | graphs
    assert {c.m for c in rows if c.variant == "loop"} == set(cases.LOOP_SIZES)
    assert all(c.m == 1 for c in rows if c.variant == "loop" and backends.backend_class(c.backend).chunked)
    assert {c.dtype for c in rows if c.m != 1000} == {"float32"}  # other dtypes where they change the work
    assert {c.dtype for c in rows if c.m == 1000 and c.impl == "xpnet"} == set(cases.DTYPES)
    assert len({(c.impl, c.id) for c in rows}) == len(rows)


def test_matrix_filters_and_big_sizes() -> None:
    rows = cases.matrix(sizes=cases.ALL_SIZES, backend_names=["numpy"], devices=["cpu"], peers=["onnxruntime"])
    assert {c.impl for c in rows} == {"xpnet", "user", "onnxruntime"}
    assert {c.backend for c in rows if c.impl in ("xpnet", "user")} == {"numpy"}
    # the user path beside the forward: float32, m >= 1000, the variants a user calls for speed
    assert {(c.variant, c.m, c.dtype) for c in rows if c.impl == "user"} == {
        ("matmul", m, "float32") for m in cases.ALL_SIZES if m >= cases.USER_MIN_M}
    beyond = cases.matrix(sizes=(10_000_000,), backend_names=["numpy"], devices=["cpu"], peers=[])
    assert {c.impl for c in beyond} == {"xpnet"}  # past USER_MAX_M a user row would time the copy of X alone
    assert [c.m for c in rows] == sorted(c.m for c in rows)  # run order: by batch size
    assert {c.m for c in rows} == set(cases.ALL_SIZES) > set(cases.DEFAULT_SIZES)
    cpu_only = [n for n in backends.names() if "gpu" not in backends.backend_class(n).devices]
    assert not cases.matrix(devices=["gpu"], peers=["keras", "onnxruntime"], backend_names=cpu_only)
    with pytest.raises(ValueError, match="unknown backend"):
        cases.matrix(backend_names=["nope"])
    with pytest.raises(ValueError, match="unknown dtype"):
        cases.matrix(dtypes=["float16"])


def test_graph_rows_are_gpu_rows_of_the_backends_that_record_cuda_graphs_up_to_their_size() -> None:
    rows = cases.matrix(sizes=(1, 100_000, 1_000_000), peers=[])
    graphs = [c for c in rows if c.variant == cases.GRAPH]
    recording = {(n, d) for n, d in backends.pairs() if d.startswith("gpu") and backends.backend_class(n).graph_capture}
    assert recording >= {("torch", "gpu")}  # listed on any machine, skipped where no GPU is
    assert ("cupy", "gpu") not in recording  # CuPy refuses cuBLAS calls inside a capture (cupy_backend.py)
    assert {(c.backend, c.device) for c in graphs} == recording
    assert {c.m for c in graphs} == {1, 100_000}  # up to GRAPH_MAX_M
    assert all(c.impl == "xpnet" and c.column == "jit" and c.group.startswith("jit ") for c in graphs)


def test_matrix_reads_device_aliases_as_their_canonical_name() -> None:
    gpu_rows = cases.matrix(devices=["gpu"], peers=[])
    assert cases.matrix(devices=["cuda"], peers=[]) == cases.matrix(devices=["GPU:0"], peers=[]) == gpu_rows
    gpu_pairs = {(n, d) for n, d in backends.pairs() if d == "gpu"}
    assert {(c.backend, c.device) for c in gpu_rows} == gpu_pairs


def test_parse_sizes() -> None:
    assert cases.parse_sizes("default") == cases.DEFAULT_SIZES
    assert cases.parse_sizes("all") == cases.ALL_SIZES
    assert cases.parse_sizes("1e6,64,1_000") == (64, 1000, 1_000_000)
    with pytest.raises(ValueError):
        cases.parse_sizes("0.5")


def test_group_order_follows_the_run() -> None:
    names = ["jit float32 m=1000", "matmul float32 m=64", "matmul float32 m=1000000", "loop float32 m=1", "x"]
    assert sorted(names, key=cases.group_order) == [
        "loop float32 m=1", "matmul float32 m=64", "matmul float32 m=1000000", "jit float32 m=1000", "x"]


def test_limits_arithmetic() -> None:
    assert limits.flop_per_example() == 20_780
    assert limits.bytes_per_example("float32") == 1_600
    lim = limits.DeviceLimits("cpu", bandwidth=16e9, bandwidth_by="numpy", peak={"float32": 145e9})
    assert lim.roofline("float32") == pytest.approx(min(16e9 / 1600, 145e9 / 20_780))
    assert lim.bound("float32") == "compute"
    assert lim.roofline("float64") is None
    assert lim.ceiling("float32") is None  # the first product was not measured
    lim.first_product["float32"] = 60e9
    assert lim.ceiling("float32") == pytest.approx(min(16e9 / 1600, 60e9 / 20_780))
    assert lim.to_dict()["ceiling"] == {"float32": pytest.approx(60e9 / 20_780)}


def test_limit_operands_are_drawn_once_for_every_backend() -> None:
    drawn: dict = {}
    a = limits.uniform((3, 4), 1, drawn)
    assert limits.uniform((3, 4), 1, drawn) is a and limits.uniform((3, 4), 2, drawn) is not a
    np.testing.assert_array_equal(limits.uniform((3, 4), 1), a)  # the same seeded values without the cache
    assert 0 <= a.min() and a.max() < 1 and a.dtype == np.float32


def test_limits_measure_quick() -> None:
    found = limits.measure([("numpy", "cpu")], ["float32"], quick=True)
    assert found["cpu"].bandwidth > 0 and found["cpu"].peak["float32"] > 0
    assert 0 < found["cpu"].launch_floor < 1e-3 and found["cpu"].launch_floor_by == "numpy"
    assert found["cpu"].host_link is None  # measured on GPUs: on the CPU a framework may share host memory
    assert limits.host_to_device(backends.get("numpy"), 1 << 20) > 0
    assert found["cpu"].first_product["float32"] > 0 and found["cpu"].first_product_by["float32"] == "numpy"
    assert 0 < found["cpu"].ceiling("float32") <= found["cpu"].bandwidth / 1600


def test_big_batches_repeat_one_seeded_block_and_its_reference() -> None:
    from xpnet.bench.conftest import HostInputs

    params = init_params(seed=0)
    xs, ref = HostInputs(params, tile_rows=100).get(250)
    block = sample_inputs(100, 400, seed=0)
    assert len(xs) == 1 and xs[0].shape == (250, 400) and ref.shape == (250, 1)
    for lo in (0, 100, 200):  # the block twice, then its first half
        np.testing.assert_array_equal(xs[0][lo:lo + 100], block[:250 - lo])
    # the repeated reference is the reference of the repeated rows (float64 on both sides)
    np.testing.assert_allclose(ref, reference(params, xs[0]), rtol=1e-12, atol=0)
    small, _ = HostInputs(params, tile_rows=100).get(100)
    assert len(small) == harness.buffer_count(100 * 400 * 4) > 1  # up to the block: rotated buffers as before


def test_buffer_rotation_exceeds_the_cache() -> None:
    assert harness.buffer_count(1_600) == harness.MAX_BUFFERS
    assert harness.buffer_count(1_600_000) * 1_600_000 >= harness.ROTATE_BYTES
    assert harness.buffer_count(1_600_000_000) == 1


def test_interleaved_rounds_put_each_call_after_each_other_one_equally_often() -> None:
    """What a call leaves in the caches slows the call after it: over the rounds' orders, each call runs right after
    each other one as often as after any other (of three calls, the first never ran after the third when the
    order was only reversed every other round), and every round times every call once."""
    from collections import Counter

    orders = harness.round_orders(["a", "b", "c"])
    assert sorted(map(tuple, orders)) == sorted(set(map(tuple, orders))) and len(orders) == 6  # all six, once
    after = Counter((o[i], o[i + 1]) for o in orders for i in range(2))
    assert set(after) == {(x, y) for x in "abc" for y in "abc" if x != y} and len(set(after.values())) == 1
    assert harness.round_orders(["a", "b"])[:2] == [["a", "b"], ["b", "a"]]
    seen = []
    times, _ = harness.interleaved({name: (lambda name=name: seen.append(name)) for name in "abc"}, rounds=7)
    assert {name: len(ts) for name, ts in times.items()} == {"a": 7, "b": 7, "c": 7}
    assert [seen[3 * r:3 * r + 3] for r in range(6)] == orders


class _Events:
    """Fake CUDA events on a fake device timeline: ``now`` is the device's clock, in seconds."""

    def __init__(self) -> None:
        self.now, self.made = 0.0, []

    def make(self) -> Any:
        events = self

        class Event:
            def record(self, stream: Any) -> None:
                self.at, self.stream, self.waited = events.now, stream, False

            def synchronize(self) -> None:
                self.waited = True

        self.made.append(Event())
        return self.made[-1]


def test_the_device_clock_reads_the_time_between_two_events_on_the_stream() -> None:
    events = _Events()
    clock = backends.DeviceClock(events.make, lambda: "stream 7", lambda a, b: (b.at - a.at) * 1e3)
    clock.start()
    events.now = 0.25
    assert clock.stop() == pytest.approx(0.25)
    begin, end = events.made
    assert begin.stream == end.stream == "stream 7" and end.waited and not begin.waited


def test_device_median_is_the_median_of_the_device_times_of_calls_on_each_input_in_turn() -> None:
    events = _Events()
    clock = backends.DeviceClock(events.make, lambda: None, lambda a, b: (b.at - a.at) * 1e3)
    seen = []

    def fn(x: float) -> None:  # the "device" takes x seconds
        seen.append(x)
        events.now += x

    assert harness.device_median(fn, [1e-3, 5e-3, 2e-3], clock, 3) == pytest.approx(2e-3)
    assert seen == [1e-3, 5e-3, 2e-3]


def test_transfer_medians_time_the_copies_apart_and_fetch_a_fresh_output_each_time() -> None:
    moved, outputs, fetched = [], [], []

    def compute() -> np.ndarray:
        outputs.append(np.ones((8, 1)))
        return outputs[-1]

    inputs = [np.ones((8, 4)), np.zeros((8, 4))]
    found = harness.transfer_medians(lambda X: moved.append(X) or np.array(X), compute,
                                     lambda out: fetched.append(out) or np.asarray(out), inputs, 4)
    assert set(found) == {"to_device_s", "to_host_s"} and all(v > 0 for v in found.values())
    assert [id(X) for X in moved] == [id(inputs[i]) for i in (0, 1, 0, 1, 0, 1)]  # each once untimed, then in turn
    assert len(outputs) == len(fetched) == 5 and all(a is b for a, b in zip(outputs, fetched, strict=True))


class _Timing:
    """pytest-benchmark's fixture, timing: pedantic runs the target rounds x iterations times, recorded apart."""

    def __init__(self) -> None:
        self.timed = 0

    def pedantic(self, target: Any, rounds: int = 1, iterations: int = 1, **kwargs: Any) -> Any:
        self.timed += rounds * iterations
        for _ in range(rounds * iterations):
            target()


def test_every_input_is_used_once_before_the_warm_up_and_the_timing() -> None:
    """A first call on each rotated input (a compile for another alignment, a cache entry) is slow once: it must
    not be timed, nor make the warm-up's estimate of a call (which sets the iterations per round) a compile's."""
    params = init_params(seed=0)
    xs = [sample_inputs(8, seed=i) for i in range(5)]
    seen, calls = set(), []

    def fn(X: np.ndarray) -> np.ndarray:
        calls.append(id(X))
        if id(X) not in seen:
            seen.add(id(X))
            time.sleep(0.05)  # its first use
        return reference(params, X).astype(np.float32)

    subject = harness.Subject(fn=fn, prepare=lambda X: X)
    bench = _Timing()
    found = harness.run(bench, subject, xs, reference(params, xs[0]), "float32", "first uses",
                        harness.Settings(max_time=0.05, warmup=0.01))
    assert calls[:5] == [id(X) for X in xs]  # the check's call on xs[0], then every other input once
    assert found["iterations"] > 1  # the warm-up saw calls, not first uses
    assert bench.timed > 0


class _Disabled:
    """pytest-benchmark's fixture with --benchmark-disable: pedantic runs the target once."""

    def pedantic(self, target: Any, **kwargs: Any) -> Any:
        return target()


def test_a_wrong_result_fails_its_row() -> None:
    params = init_params(seed=0)
    xs = [sample_inputs(8, seed=0)]
    ref = reference(params, xs[0])
    right = harness.Subject(fn=lambda X: reference(params, X).astype(np.float32), prepare=np.asarray)
    settings = harness.Settings(disabled=True)
    assert harness.run(_Disabled(), right, xs, ref, "float32", "right", settings)["max_rel_err"] < 1e-6
    wrong = harness.Subject(fn=lambda X: reference(params, X) * 1.001, prepare=np.asarray)
    with pytest.raises(harness.WrongResult, match="wrong result"):
        harness.run(_Disabled(), wrong, xs, ref, "float32", "wrong", settings)
    shape = harness.Subject(fn=lambda X: reference(params, X)[:, 0], prepare=np.asarray)
    with pytest.raises(harness.WrongResult, match="shape"):
        harness.run(_Disabled(), shape, xs, ref, "float32", "shape", settings)


def test_quiet_gate_waits_only_after_a_busy_row_and_within_its_budget() -> None:
    gate = harness.QuietGate(budget=1.0, threshold=0.1)
    gate.wait()  # nothing measured yet: no wait
    assert gate.waited == 0.0
    gate.last = 2.0  # "busy": waits in half-second samples until quiet or out of budget
    gate.wait()
    assert 0.5 <= gate.waited <= 1.0 and (gate.budget <= 0 or (gate.last or 0) <= 0.1)


def test_paired_overhead_measures_a_known_ratio_through_interference(monkeypatch) -> None:
    """A clock that the two calls advance by 3 and 1 units, with every fifth round of ``a`` disturbed by a
    neighbour (+50 units): the fastest rounds give the true ratio exactly, the median of the ratios stays near it.

    A simulated clock, so the test proves the estimator and not the machine's load at the time.
    """
    clock = {"now": 0.0, "calls": 0}

    def a() -> None:
        clock["calls"] += 1
        clock["now"] += 3.0 + (50.0 if clock["calls"] % 5 == 0 else 0.0)

    def b() -> None:
        clock["now"] += 1.0

    monkeypatch.setattr(harness.time, "perf_counter", lambda: clock["now"])
    found = harness.paired_overhead(a, 3.0, b, 1.0, harness.Settings(max_time=0.0, min_rounds=20))
    assert found["paired_overhead"] == pytest.approx(2.0)
    assert found["paired_overhead_median"] == pytest.approx(2.0)
    assert found["paired_rounds"] >= harness.PAIRED_MIN_ROUNDS


def _bench(impl: str, backend: str, variant: str, column: str, m: int, median: float, **extra: Any) -> dict:
    return {"name": f"test_{impl}[{backend}-{variant}-{m}]", "stats": {"median": median},
            "extra_info": {"impl": impl, "backend": backend, "device": "cpu", "variant": variant, "column": column,
                           "m": m, "dtype": "float32", "roofline": 7e6} | extra}


@pytest.fixture
def run_json(tmp_path: Path) -> Path:
    data = {
        "datetime": "2026-01-01T00:00:00", "machine_info": {"python_version": "3.11"},
        "xpnet": {"limits": {"cpu": {"bandwidth": 16e9, "bandwidth_by": "numpy", "peak": {"float32": 145e9},
                                     "peak_by": {"float32": "torch"}, "roofline": {"float32": 7e6}}},
                  "foreign_load": 0.02},
        "benchmarks": [
            _bench("xpnet", "numpy", "matmul", "matmul", 1, 20e-6, paired_overhead=0.10),
            _bench("native", "numpy", "eager", "matmul", 1, 18e-6),
            _bench("xpnet", "torch", "jit", "jit", 1, 30e-6),
            _bench("native", "torch", "jit", "jit", 1, 20e-6),
            _bench("keras", "keras", "predict", "jit", 1, 0.04),
            _bench("onnxruntime", "onnxruntime", "session", "jit", 1, 12e-6),
            _bench("xpnet", "numpy", "matmul", "matmul", 1_000_000, 0.5, paired_overhead=0.01, ceiling=3e6),
            _bench("onnxruntime", "onnxruntime", "session", "jit", 1_000_000, 0.4),
            {"name": "unrelated", "stats": {"median": 1.0}, "extra_info": {}},
        ],
    }
    path = tmp_path / "run.json"
    path.write_text(json.dumps(data))
    return path


def test_report_table_and_targets(run_json: Path, tmp_path: Path) -> None:
    data = report.load(run_json)
    found = report.rows(data)
    assert len(found) == 8
    index = report._index(found)
    torch_jit = index[("xpnet", "torch", "cpu", "jit", 1, "float32")]
    assert report.overhead(torch_jit, index) == pytest.approx(0.5)  # no paired value: ratio of medians
    assert report.overhead(index[("xpnet", "numpy", "cpu", "matmul", 1, "float32")], index) == 0.10
    text = report.table(found, limits=data["xpnet"]["limits"])
    assert "float32, m = 1 (cpu roofline 7 M/s)" in text and "+50%" in text and "numpy (native)" in text
    assert report.table(found, markdown=True).count("| backend |") == 2
    status = {what: ok for what, ok, _ in report.targets(found)}
    assert status["overhead against native <= 25% at m = 1 (float32)"] is False  # torch jit +50%
    assert status["fastest xpnet CPU path >= 1000x Keras predict at m = 1"] is True  # 0.04 / 20e-6 = 2000x
    assert status["fastest xpnet CPU path within 2x of ONNX Runtime at m = 1"] is True  # 20 / 12 us
    assert status["fastest xpnet CPU path >= ONNX Runtime at m = 1"] is False  # ... but not as fast
    assert status["fastest xpnet CPU path >= ONNX Runtime at m = 1,000,000"] is False
    assert status["best matmul/jit at m = 1,000,000 float32 on cpu >= 60% of roofline"] is False  # 2 of 7 M/s
    fallback = [(ok, detail) for what, ok, detail in report.targets(found) if "ceiling of the first product" in what]
    assert fallback == [(True, "numpy matmul 2 M/s = 67% of 3 M/s")]  # 2 of the 3 M/s its first product allows
    assert "16.0 GB/s" in report.summary(data)
    assert report.plot(found, tmp_path / "plot.png", data["xpnet"]["limits"]).stat().st_size > 10_000


def test_the_gpu_goal_reads_the_launch_floor_and_the_table_shows_device_times_and_copies() -> None:
    rows = [report.Row("xpnet", "torch", "gpu", "graph", "jit", 1, "float32", 30e-6, None, "a", device_median=12e-6),
            report.Row("xpnet", "torch", "gpu", "matmul", "matmul", 1, "float32", 90e-6, None, "b"),
            report.Row("user", "torch", "gpu", "matmul", "matmul", 1000, "float32", 1e-3, None, "c",
                       to_device=2e-4, to_host=3e-5)]
    found = {what: (ok, detail) for what, ok, detail in
             report.targets(rows, {"gpu": {"launch_floor": 10e-6, "launch_floor_by": "cupy"}})}
    assert found["fastest forward at m = 1 on gpu <= 2x the launch floor"] == (False, "torch graph 30 us vs 10 us "
                                                                                       "(cupy): 3.00x")
    assert not [what for what in report.targets(rows) if "launch floor" in what]  # no limits: not measured
    text = report.table(rows)
    assert "on device" in text and "12 us" in text and "200 us / 30 us" in text
    assert "on device" not in report.table(rows[1:2]) and "copies" not in report.table(rows[:2])
    summary = report.summary({"xpnet": {"limits": {"gpu": {
        "bandwidth": 4e12, "bandwidth_by": "cupy", "peak": {}, "peak_by": {}, "launch_floor": 5e-6,
        "launch_floor_by": "cupy", "host_link": 25e9, "host_link_by": "torch"}}}})
    assert "launch floor 5 us (cupy); host to device 25.0 GB/s (torch)" in summary


def test_cli_arguments_and_report_only(run_json: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["--quick", "--backends", "numpy, jax", "--sizes", "1,1e6", "--json", "x.json"])
    argv = cli.pytest_args(args, "x.json")
    assert "--bench-sizes=1,1e6" in argv and "--bench-backends=numpy,jax" in argv
    assert "--benchmark-json=x.json" in argv and "--benchmark-max-time=0.1" in argv
    full = cli.pytest_args(parser.parse_args([]), "y.json")
    assert "--bench-sizes=all" in full and "--benchmark-max-time=1.0" in full
    plot = tmp_path / "p.png"
    args = parser.parse_args(["--report-only", str(run_json), "--compare", str(run_json), "--plot", str(plot)])
    assert cli.run(args) == 0
    out = capsys.readouterr().out
    assert "vs old" in out and "1.00x" in out and plot.exists()
    assert cli.run(parser.parse_args(["--compare", str(tmp_path / "missing.json")])) == 2


def test_runs_of_separate_processes_are_reported_as_one(run_json: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    whole = json.loads(run_json.read_text())
    halves = []
    for i, rows in enumerate((whole["benchmarks"][::2], whole["benchmarks"][1::2])):
        part = dict(whole, benchmarks=rows)
        if i == 1:  # the second process measured the first's devices again
            part["xpnet"] = dict(whole["xpnet"], limits={
                device: dict(found, bandwidth=1.0) for device, found in whole["xpnet"]["limits"].items()})
        halves.append(tmp_path / f"part{i}.json")
        halves[-1].write_text(json.dumps(part))
    merged = report.merge([report.load(path) for path in halves])
    assert len(merged["benchmarks"]) == len(whole["benchmarks"])
    assert merged["xpnet"]["limits"] == whole["xpnet"]["limits"]  # each device's from the first run that has it
    gpu = {"gpu": {"bandwidth": 4e12}}
    with_gpu = report.merge([whole, dict(whole, xpnet={"limits": gpu})])
    assert with_gpu["xpnet"]["limits"] == whole["xpnet"]["limits"] | gpu
    assert cli.run(cli.build_parser().parse_args(["--report-only", str(run_json)])) == 0
    alone = capsys.readouterr().out
    assert cli.run(cli.build_parser().parse_args(["--report-only", *map(str, halves)])) == 0
    assert capsys.readouterr().out == alone
    assert cli.run(cli.build_parser().parse_args(["--report-only", str(halves[0]), str(tmp_path / "no.json")])) == 2
    assert "no.json" in capsys.readouterr().err


def test_the_report_leads_with_the_answer_explains_its_columns_and_writes_nothing_unasked(
        run_json: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)
    assert cli.run(cli.build_parser().parse_args(["--report-only", str(run_json)])) == 0
    out = capsys.readouterr().out
    assert list(here.iterdir()) == []  # no plot, no JSON, no pytest-benchmark folder unless asked
    head = out.splitlines()[:15]
    assert head[0].startswith("The fastest way to run the network here")
    answers = [line for line in head if line.startswith("float32")]
    assert len(answers) == 2  # one line per (dtype, m): m = 1 and m = 1e6
    assert "numpy matmul on cpu" in answers[0] and "1.50x torch jit on cpu" in answers[0]
    assert "onnxruntime session 12 us (1.67x faster)" in answers[0]
    legend = report.legend()
    table_head = report.table(report.rows(report.load(run_json))).splitlines()[1]
    for column in ("median", "examples/s", "x NumPy", "% roofline", "vs native"):
        assert column in table_head and f"{column} = " in legend
    for variant in ("loop", "matmul", "jit", "eager", "builtin", "predict", "call", "session"):
        assert re.search(rf"\b{variant}\b[^=]*=", legend), variant
    assert "MISSED" not in out and report.GOALS_TITLE in out and "not yet" in out
    assert out.index("The fastest way") < out.index("Columns:") < out.index("float32, m = 1 ") < out.index(
        report.GOALS_TITLE)


def test_pytest_benchmark_keeps_its_files_in_the_given_folder(tmp_path: Path) -> None:
    argv = cli.pytest_args(cli.build_parser().parse_args(["--quick"]), "x.json", str(tmp_path))
    assert f"--benchmark-storage=file://{tmp_path.resolve()}" in argv


@pytest.mark.slow
def test_a_quick_run_answers_first_and_leaves_the_working_folder_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                        capsys: pytest.CaptureFixture) -> None:
    """The suite itself, run inside this one (about a minute): the answer on top, pytest's report kept back."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["--quick", "--backends", "numpy", "--sizes", "1", "--peers", "none", "--dtypes", "float32"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("The fastest way to run the network here")
    assert "benchmark 'matmul float32 m=1'" not in captured.out and "rows timed" in captured.err
    assert list(tmp_path.iterdir()) == []


def test_a_run_where_no_row_can_run_says_why_instead_of_reporting_nothing(monkeypatch: pytest.MonkeyPatch,
                                                                           capsys: pytest.CaptureFixture) -> None:
    progress = suite.SuiteProgress(None)
    for when, reason in (("setup", "Skipped: got empty parameter set for (keras_case)"),
                         ("call", "Skipped: torch on gpu: no GPU"), ("call", "Skipped: torch on gpu: no GPU"),
                         ("setup", "Skipping non-benchmark (--benchmark-only active).")):
        progress.pytest_runtest_logreport(argparse.Namespace(failed=False, skipped=True, passed=False, when=when,
                                                             longrepr=("bench/test_bench.py", 1, reason)))
    assert progress.skipped == 4 and progress.skip_reasons == ["torch on gpu: no GPU"]
    monkeypatch.setattr(cli, "run_suite", lambda argv, verbose: (0, progress))
    assert cli.run(cli.build_parser().parse_args(["--devices", "gpu"])) == 1
    assert capsys.readouterr().err == "xpnet bench: no row could run here; skipped because:\n  torch on gpu: no GPU\n"
    progress.skip_reasons.clear()
    assert cli.run(cli.build_parser().parse_args(["--devices", "gpu"])) == 1
    assert "no row matches these --backends, --devices" in capsys.readouterr().err


def test_each_suite_option_is_declared_once_for_pytest_and_the_cli(pytestconfig: pytest.Config,
                                                                  capsys: pytest.CaptureFixture) -> None:
    given = {o.name: ("2" if o.type is float else "a, b") for o in options.SUITE_OPTIONS}
    argv = [arg for name, value in given.items() for arg in (f"--{name}", value)]
    forwarded = cli.pytest_args(cli.build_parser().parse_args(argv), "x.json")
    for o in options.SUITE_OPTIONS:
        pytestconfig.getoption(f"--bench-{o.name}")  # declared for pytest: ValueError otherwise
        assert f"--bench-{o.name}={'2.0' if o.type is float else 'a,b'}" in forwarded
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    usage = capsys.readouterr().out
    assert all(f"--{o.name}" in usage for o in options.SUITE_OPTIONS)
    with pytest.raises(argparse.ArgumentTypeError):
        options.name_list(" , ")


def test_breakdown_times_every_piece_of_the_forward() -> None:
    found = breakdown.pieces(backends.get("numpy"), m=64, repeats=1)
    assert list(found) == ["X @ W1", "sigmoid(Z1 + b1)", "layers 2 and 3", "whole forward"]
    assert all(0 < eager and 0 < jit for eager, jit in found.values())


def test_breakdown_times_onnxruntime_on_the_same_pieces() -> None:
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install \"xpnet[onnx]\")")
    pytest.importorskip("onnx", reason="onnx is not installed (pip install \"xpnet[onnx]\")")
    found = breakdown.onnxruntime_pieces(m=64, repeats=1)
    assert list(found) == ["X @ W1 + b1", "whole forward"]
    assert all(seconds > 0 for seconds in found.values())


def test_versus_times_paths_in_alternating_processes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from xpnet.bench import versus

    paths = ["numpy-matmul"] + (["array_api_strict-matmul"] if backends.status("array_api_strict", "cpu").available
                                else ["numpy-loop"])
    out = tmp_path / "versus.json"
    assert versus.main(["--paths", ",".join(paths), "--m", "8", "--rounds", "2", "--seconds", "0.02",
                        "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["m"], r["path"], len(r["medians"])) for r in rows] == [(8, p, 2) for p in paths]
    assert rows[0]["over_first"] == 1.0 and all(r["median"] > 0 for r in rows)
    assert f"| 8 | {paths[1]} |" in capsys.readouterr().out
    assert versus.main(["--paths", "numpy-matmul,nosuch-jit"]) == 2


def test_blocks_times_the_whole_batch_and_each_smaller_block(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from xpnet.bench import blocks

    out = tmp_path / "blocks.json"
    blocks.main(["--backend", "numpy", "--m", "300", "--blocks", "64,128,512", "--rounds", "3", "--json", str(out)])
    (row,) = json.loads(out.read_text())
    assert (row["m"], row["rounds"], list(row["median_s"])) == (300, 3, ["whole", "64", "128"])  # no block >= m
    assert all(seconds > 0 for seconds in row["median_s"].values())
    assert "| 300 | " in capsys.readouterr().out and backends.get("numpy").block_rows == 4096  # put back


def test_stream_timing_times_each_variant_asked_and_checks_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from xpnet.bench import stream_timing

    assert stream_timing._pairs(["numpy", "jax"], ("matmul", "jit", "fastest")) == [
        ("numpy", "matmul"), ("jax", "matmul"), ("jax", "jit")]  # no jit without a compiler; fastest seen once
    out = tmp_path / "stream.json"
    stream_timing.main(["--rows", "64", "--backends", "numpy", "--rounds", "2", "--variants", "matmul,jit",
                        "--json", str(out)])
    (row,) = json.loads(out.read_text())
    assert (row["backend"], row["variant"], row["rows"]) == ("numpy", "matmul", 64)
    assert set(row["median_s"]) == {"forward", "predict_proba", "memmap"} and all(row["median_s"].values())
    assert "| numpy | matmul |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        stream_timing.main(["--variants", "eager"])


class _HostTransfers:
    """Pinned transfers done at once on the host, so that ``upload_timing`` can run without a GPU."""

    def pinned(self, nbytes: int) -> tuple[np.ndarray, np.ndarray]:
        buffer = np.empty(nbytes, np.uint8)
        return buffer, buffer

    def empty(self, shape: tuple[int, ...], dtype: str) -> np.ndarray:
        return np.full(shape, np.nan, dtype)  # NaN where no copy wrote (np.empty may reuse the last X's memory)

    def copy_in(self, dst: np.ndarray, lo: int, hi: int, buffer: np.ndarray, nbytes: int) -> None:
        dst[lo:hi] = buffer[:nbytes].view(dst.dtype).reshape(hi - lo, dst.shape[1])

    def host_waits(self, event: None) -> None:
        pass

    def device_waits(self, event: None) -> None:
        pass


def test_upload_timing_checks_and_times_each_way_onto_a_device(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from xpnet.bench import upload_timing

    if not upload_timing.gpu_backends():
        assert upload_timing.main(["--rows", "10"]) == 0
        assert "no GPU backend with pinned transfers here" in capsys.readouterr().out
    be = backends.get("numpy")
    monkeypatch.setattr(be, "transfers", _HostTransfers)
    monkeypatch.setattr(upload_timing, "gpu_backends", lambda: [be])
    out = tmp_path / "upload.json"
    assert upload_timing.main(["--rows", "300", "--pieces", "1", "--threads", "1,3", "--rounds", "2",
                               "--json", str(out)]) == 0
    (row,) = json.loads(out.read_text())
    assert set(row["median_s"]) == {"host copy x1", "host copy x3", "pageable", "pinned 1 MiB x1", "pinned 1 MiB x3"}
    assert row["best_pinned"].startswith("pinned 1 MiB")
    assert row["bytes"] == 300 * 400 * 4 and row["pinned_over_pageable"] > 0
    assert "| numpy | cpu | 300 |" in capsys.readouterr().out
    monkeypatch.setattr(_HostTransfers, "copy_in", lambda self, dst, lo, hi, buffer, nbytes: None)  # rows lost
    with pytest.raises(AssertionError, match="pinned 1 MiB x1 gave other values than X"):
        upload_timing.main(["--rows", "300", "--pieces", "1", "--threads", "1", "--rounds", "1"])


def test_fit_timing_trains_with_xpnet_and_keras() -> None:
    digits = data.load("builtin")
    tr, te = data.train_test_split(digits, test_fraction=0.2, seed=0)
    params = init_params(seed=0)
    row = fit_timing.xpnet_fit("numpy", "cpu", False, params, tr, te, epochs=1)
    assert row["run"] == "xpnet numpy" and row["seconds"] > 0 and 0 <= row["test_accuracy"] <= 1
    pytest.importorskip("keras", reason="keras is not installed (pip install \"xpnet[tensorflow]\")")
    row = fit_timing.keras_fit(params, tr, te, epochs=1)
    assert row["run"].startswith("keras") and np.isfinite(row["final_loss"]) and 0 <= row["test_accuracy"] <= 1
