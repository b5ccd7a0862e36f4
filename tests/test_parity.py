"""Parity across every backend, and the command line around it."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from xpnet import backends, cli, model, parity


def test_parity_passes_on_every_available_backend_and_variant(backend):
    report = parity.check([backend.name], devices=[backend.device])
    assert report.rows, report.skipped
    assert report.ok, report.table()
    variants = {r.variant for r in report.rows}
    assert variants == ({"loop", "matmul", "jit"} if backend.compiler else {"loop", "matmul"})
    for row in report.rows:
        assert row.max_rel_err <= parity.TOLERANCES[row.dtype].max_rel_err
        assert row.agreement == 1.0


def test_parity_catches_a_backend_that_is_wrong(monkeypatch):
    # A forward that is off by 1e-3 must fail the float32 row: the check can fail.
    from xpnet import api

    real = api.forward_matmul
    monkeypatch.setattr(api, "forward_matmul", lambda layers, X, acts, xp: real(layers, X, acts, xp) * 1.001)
    report = parity.check(["numpy"], variants=["matmul"])
    assert not report.ok and all(not r.ok for r in report.rows)


def test_compare_counts_prediction_disagreements():
    ref = np.array([[0.4], [0.6]])
    _, _, agreement, ok = parity.compare(np.array([[0.4], [0.4]], np.float32), ref, "float32")
    assert agreement == 0.5 and not ok


def test_parity_reports_unknown_names_as_value_errors():
    with pytest.raises(ValueError, match="unknown backend 'theano'"):
        parity.check(["theano"])
    with pytest.raises(ValueError, match="unknown variant 'fast'"):
        parity.check(["numpy"], variants=["fast"])
    with pytest.raises(ValueError, match="unknown dtype 'float8'"):
        parity.check(["numpy"], dtypes=["float8"])


def test_tolerances_are_documented_in_one_place():
    assert parity.TOLERANCES["float32"].max_rel_err == 1e-5
    assert parity.TOLERANCES["float64"].max_rel_err == 1e-12
    assert all(t.why for t in parity.TOLERANCES.values())


def test_cli_parity_json_has_the_documented_shape(capsys, tmp_path):
    weights = model.save(model.init_params(seed=4), tmp_path / "w.npz")
    rc = cli.main(["parity", "--backends", "numpy,array_api_strict", "--weights", str(weights), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["ok"] is True
    assert {r["backend"] for r in out["rows"]} == {"numpy", "array_api_strict"}
    keys = {"backend", "device", "variant", "dtype", "max_abs_err", "max_rel_err", "agreement", "ok"}
    assert all(keys <= set(r) for r in out["rows"])


def test_cli_parity_exits_1_when_a_row_fails(capsys, monkeypatch):
    monkeypatch.setitem(parity.TOLERANCES, "float64", parity.Tolerance(0.0, "impossible, to see a failure"))
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


def test_cli_backends_json_lists_every_pair_with_its_reason():
    out = subprocess.run([sys.executable, "-m", "xpnet", "backends", "--json"], capture_output=True, text=True,
                         check=True)
    rows = json.loads(out.stdout)
    assert [(r["backend"], r["device"]) for r in rows] == backends.pairs()
    for r in rows:
        assert set(r) == {"backend", "device", "available", "version", "reason"}
        assert (r["reason"] is None) == r["available"]
