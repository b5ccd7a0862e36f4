"""Parity across every backend, and the command line around it."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from xpnet import backends, cli, model, parity


def _ten_digit_params(seed: int = 0, scale: float = 3.0) -> model.Params:
    """The lab sequel's network (relu, relu, softmax) with weights as large as training makes them."""
    params = model.init_params(seed, model.Network.parse("25:relu,15:relu,10:softmax"))
    return params.map(lambda a: a * np.float32(scale))


NETWORKS = {"lab": lambda: model.init_params(0), "ten digits": _ten_digit_params}
#: The lab network's parity on every pair, variant and dtype is also what ``xpnet run`` checks, with trained
#: weights on held-out digits (``tests/test_run_report.py``): here it runs with ``-m slow``, the sequel by default.
NETWORK_PARAMS = [pytest.param(name, marks=[pytest.mark.slow] if name == "lab" else [], id=name) for name in NETWORKS]


@pytest.mark.parametrize("network", NETWORK_PARAMS)
def test_parity_passes_on_every_available_backend_and_variant(backend, network):
    report = parity.check([backend.name], params=NETWORKS[network](), devices=[backend.device])
    assert report.rows, report.skipped
    assert report.ok, report.table()
    variants = {r.variant for r in report.rows}
    assert variants == ({"loop", "matmul", "jit"} if backend.compiler else {"loop", "matmul"})
    for row in report.rows:
        assert row.bound_share <= 1.0 and row.agreement == 1.0


def _rounded_to(bits: int):
    """A forward whose result keeps ``bits`` mantissa bits, like TF32's 10 (float32 has 23)."""
    from xpnet import api

    real = api.forward_matmul

    def forward(*args):
        out = np.asarray(real(*args), dtype=np.float32)
        return (out.view(np.uint32) & np.uint32(~((1 << (23 - bits)) - 1) & 0xFFFFFFFF)).view(np.float32)

    return forward


@pytest.mark.parametrize("network", NETWORKS, ids=NETWORKS)
@pytest.mark.parametrize("wrong", ["off by 1e-3", "TF32's 10-bit mantissa"])
def test_parity_catches_a_backend_that_is_wrong(monkeypatch, network, wrong):
    # The check can fail: a forward off by 1e-3, or rounded as TF32 rounds, fails its float32 rows.
    from xpnet import api

    real = api.forward_matmul
    bad = _rounded_to(10) if "TF32" in wrong else lambda *args: real(*args) * 1.001
    monkeypatch.setattr(api, "forward_matmul", bad)
    monkeypatch.setattr(api, "forward_checked", lambda *args: (bad(*args), True))  # predict_proba's forward
    report = parity.check(["numpy"], params=NETWORKS[network](), variants=["matmul"], dtypes=["float32"])
    assert report.rows and not report.ok, report.table()


def test_compare_counts_prediction_disagreements():
    ref = np.array([[0.4], [0.6]])
    _, _, agreement, ok = parity.compare(np.array([[0.4], [0.4]], np.float32), ref, "float32")
    assert agreement == 0.5 and not ok


def test_compare_counts_argmax_disagreements_of_several_outputs():
    ref = np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]])
    _, _, agreement, ok = parity.compare(np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]], np.float32), ref, "float32")
    assert agreement == 0.5 and not ok


@pytest.mark.parametrize("network", NETWORKS, ids=NETWORKS)
def test_float32_results_stay_inside_the_error_bound_that_parity_allows(network):
    """The bound is not a guess: float32 NumPy on real-looking inputs uses a fraction of it, float64 far less."""
    params = NETWORKS[network]()
    X = parity.sample_inputs(256, 400, seed=3)
    ref, condition = parity.reference(params, X), parity.conditions(params, X)
    assert (condition >= 1).all()
    p32 = model.forward_matmul(params.layers, X, params.network.activations, _numpy_xp())
    shares = parity.error_shares(np.asarray(p32), ref, "float32", condition)
    assert 0 < shares.max() <= 0.5


def test_larger_weights_mean_larger_condition_numbers():
    X = parity.sample_inputs(32, 400)
    small, large = (parity.conditions(_ten_digit_params(scale=s), X) for s in (1.0, 3.0))
    assert (large > small).all()


def _numpy_xp():
    import array_api_compat.numpy as xp

    return xp


def test_parity_reports_unknown_names_as_value_errors():
    with pytest.raises(ValueError, match="unknown backend 'theano'"):
        parity.check(["theano"])
    with pytest.raises(ValueError, match="unknown variant 'fast'"):
        parity.check(["numpy"], variants=["fast"])
    with pytest.raises(ValueError, match="unknown dtype 'float8'"):
        parity.check(["numpy"], dtypes=["float8"])


def test_cli_parity_json_has_the_documented_shape(capsys, tmp_path):
    weights = model.save(model.init_params(seed=4), tmp_path / "w.npz")
    rc = cli.main(["parity", "--backends", "numpy,array_api_strict", "--weights", str(weights), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["ok"] is True
    assert {r["backend"] for r in out["rows"]} == {"numpy", "array_api_strict"}
    keys = {"backend", "device", "variant", "dtype", "max_abs_err", "max_rel_err", "bound_share", "agreement", "ok"}
    assert all(keys <= set(r) for r in out["rows"])


def test_cli_parity_exits_1_when_a_row_fails(capsys, monkeypatch):
    monkeypatch.setattr(parity, "reference", lambda p, X: np.full((len(X), 1), 0.5))
    assert cli.main(["parity", "--backends", "numpy", "--dtypes", "float64"]) == 1
    assert "parity: FAILED" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["parity", "--backends", "theano"], "unknown backend 'theano'; known backends: numpy"),
    (["parity", "--weights", "/nonexistent/w.npz"], "no such file: /nonexistent/w.npz"),
    (["parity", "--variants", "fast"], "unknown variant 'fast'"),
])
def test_cli_usage_errors_exit_2_with_one_line_on_stderr(capsys, argv, message):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_parity_devices_gpu_selects_every_backend_that_has_a_gpu():
    report = parity.check(devices=["gpu"], variants=["matmul"], dtypes=["float32"])
    seen = {r.backend for r in report.rows} | {s.split(" ")[0] for s in report.skipped}
    with_gpu = {name for name in backends.names() if "gpu" in backends.backend_class(name).devices}
    assert seen == with_gpu and with_gpu
    assert parity.check(devices=["cuda"], variants=["matmul"], dtypes=["float32"]).skipped == report.skipped


def test_cli_backends_json_lists_every_pair_with_its_reason_in_one_device_vocabulary(capsys):
    # in this process: a subprocess would import every framework again (15 to 20 s); `python -m xpnet` runs as a
    # process in tests/test_run_report.py
    assert cli.main(["backends", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["backend"], r["device"]) for r in rows] == backends.pairs()
    for r in rows:
        assert set(r) == {"backend", "device", "available", "version", "reason", "device_count"}
        assert (r["reason"] is None) == r["available"] == (r["device_count"] is not None)
        assert re.fullmatch(r"cpu|gpu|gpu:[1-9][0-9]*|cpu:all|gpu:all", r["device"]), r["device"]
        assert r["device_count"] in (None, 1) or r["device"].endswith(":all")
