"""The lab's commands end to end: train, predict, run, and their pictures."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from xpnet import cli, model, plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path) -> bool:
    import matplotlib.image

    with open(path, "rb") as f:
        if f.read(8) != PNG_MAGIC:
            return False
    return matplotlib.image.imread(path).ndim == 3  # decodes: a real image, not just a header


def test_train_then_predict_with_json(tmp_path, capsys):
    weights = tmp_path / "w.npz"
    rc = cli.main(["train", "--epochs", "20", "--out", str(weights), "--json", "--plot", str(tmp_path / "loss.png")])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and len(out["runs"][0]["losses"]) == 20
    assert out["runs"][0]["losses"][-1] < out["runs"][0]["losses"][0]
    assert _is_png(tmp_path / "loss.png")
    model.load(weights, network=model.LAB_NETWORK)

    rc = cli.main(["predict", "--weights", str(weights), "--split", "test", "--json",
                   "--plot", str(tmp_path / "grid.png")])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and 0.9 <= out["accuracy"] <= 1.0
    c = out["confusion"]
    assert c["tn"] + c["fp"] + c["fn"] + c["tp"] == out["m"] == 72
    assert len(out["misclassified"]) == c["fp"] + c["fn"]
    assert _is_png(tmp_path / "grid.png") and _is_png(tmp_path / "grid-misclassified.png")


def test_train_on_two_backends_reports_their_loss_difference(capsys):
    assert cli.main(["train", "--backend", "numpy,array_api_strict", "--epochs", "3", "--quiet",
                     "--dtype", "float64"]) == 0
    out = capsys.readouterr().out
    assert "largest relative difference of any epoch's loss from numpy's" in out
    spread = float(out.rsplit(":", 1)[1])
    assert spread <= 1e-12


def test_train_resume_continues_from_the_checkpoint(tmp_path, capsys):
    weights = tmp_path / "w.npz"
    assert cli.main(["train", "--epochs", "2", "--out", str(weights), "--quiet"]) == 0
    assert (tmp_path / "w.npz.ckpt.npz").exists()
    assert cli.main(["train", "--epochs", "4", "--out", str(weights), "--resume", "--json"]) == 0
    resumed = json.loads(capsys.readouterr().out.split("\n", 1)[1])["runs"][0]
    assert resumed["epochs"] == 4 and len(resumed["epoch_seconds"]) == 2


@pytest.mark.parametrize("argv, message", [
    (["train", "--resume"], "--resume needs --out"),
    (["train", "--backend", "caffe"], "unknown backend 'caffe'"),
    (["train", "--data", "/nonexistent/digits"], "/nonexistent/digits"),
    (["predict", "--weights", "/nonexistent.npz"], "no such file: /nonexistent.npz"),
    (["train", "--epochs", "0"], "epochs must be a positive whole number"),
])
def test_lab_commands_report_usage_errors_in_one_line(capsys, argv, message):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and "Traceback" not in "\n".join(err)


def test_plots_without_matplotlib_say_which_extra_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    with pytest.raises(plots.PlotUnavailable, match=r'pip install "xpnet\[plot\]"'):
        plots.loss_curves(tmp_path / "x.png", {"numpy": [1.0, 0.5]})


def test_run_writes_the_whole_report_offline(tmp_path):
    out = tmp_path / "report"
    proc = subprocess.run([sys.executable, "-m", "xpnet", "run", "--out", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"report: {out / 'report.md'}" in proc.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["parity"]["ok"] and report["data"]["format"] == "builtin"
    assert {e["backend"] for e in report["evaluation"]} >= {"numpy", "array_api_strict"}
    assert all(e["accuracy"] >= 0.9 for e in report["evaluation"])
    for name in ("loss.png", "digits.png", "misclassified.png"):
        assert _is_png(out / name)
    text = (out / "report.md").read_text()
    assert "## Parity of the trained network: ok" in text and "| numpy | cpu | matmul |" in text
    params = model.load(out / "weights.npz")
    assert np.isfinite(params.weights[0]).all()
