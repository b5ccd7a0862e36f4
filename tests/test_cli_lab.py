"""The lab's commands end to end: train, predict, run, and their pictures."""

from __future__ import annotations

import json
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
    (["train", "--resume", "--out", "/tmp/xpnet-no-such-weights.npz"], "nothing to resume: no checkpoint at"),
    (["run", "--out", __file__], "is a file; the report needs a folder"),
    (["train", "--backend", "caffe"], "unknown backend 'caffe'"),
    (["train", "--data", "/nonexistent/digits"], "/nonexistent/digits"),
    (["predict", "--weights", "/nonexistent.npz"], "no such file: /nonexistent.npz"),
    (["train", "--epochs", "0"], "epochs must be a positive whole number"),
    (["train", "--digits", "0-9"], "the network has 1 output unit but the data have 10 classes"),
    (["train", "--layers", "25:relu,3:softmax"], "the network has 3 output units but the data have 2 classes"),
])
def test_lab_commands_report_usage_errors_in_one_line(capsys, argv, message):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and "Traceback" not in "\n".join(err)


def test_plots_without_matplotlib_say_which_extra_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    with pytest.raises(plots.PlotUnavailable, match=r'pip install "xpnet\[plot\]"'):
        plots.loss_curves(tmp_path / "x.png", {"numpy": [1.0, 0.5]})


def test_predict_split_test_scores_exactly_the_digits_held_out_in_training(tmp_path, capsys):
    weights = tmp_path / "w.npz"
    assert cli.main(["train", "--epochs", "2", "--seed", "7", "--test-fraction", "0.25", "--out", str(weights),
                     "--quiet"]) == 0
    capsys.readouterr()
    record = model.load(weights).record
    assert record["data"]["split"] == {"seed": 7, "test_fraction": 0.25} and record["data"]["classes"] == [0, 1]
    assert record["training"]["epochs"] == 2 and record["data"]["fingerprint"]
    assert cli.main(["predict", "--weights", str(weights), "--split", "test", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    from xpnet import data

    _, held_out = data.train_test_split(data.load("builtin"), test_fraction=0.25, seed=7)
    assert out["m"] == len(held_out) == record["data"]["test"]
    assert out["data"]["part"] == "test" and out["data"]["split"] == {"seed": 7, "test_fraction": 0.25}


@pytest.mark.parametrize("argv, message", [
    (["--seed", "0"], "--seed 0 differs from the 7 these weights were trained with"),
    (["--digits", "0-2"], "--digits [0, 1, 2] differs from the [0, 1]"),
])
def test_predict_refuses_a_split_other_than_the_trained_one(tmp_path, capsys, argv, message):
    weights = tmp_path / "w.npz"
    assert cli.main(["train", "--epochs", "1", "--seed", "7", "--out", str(weights), "--quiet"]) == 0
    assert cli.main(["predict", "--weights", str(weights), "--split", "test", *argv]) == 2
    assert message in capsys.readouterr().err


def test_predict_refuses_the_test_split_of_other_data(tmp_path, capsys):
    weights = tmp_path / "w.npz"
    assert cli.main(["train", "--epochs", "1", "--out", str(weights), "--quiet"]) == 0
    lab = tmp_path / "lab"
    lab.mkdir()
    rng = np.random.default_rng(0)
    np.save(lab / "X.npy", rng.random((1000, 400)).astype(np.float32))  # the lab's 1000 rows: 500 0s, 500 1s
    np.save(lab / "y.npy", np.repeat([0, 1], 500).reshape(-1, 1))
    assert cli.main(["predict", "--weights", str(weights), "--data", str(lab), "--split", "test"]) == 2
    assert "trained on other data" in capsys.readouterr().err
    assert cli.main(["predict", "--weights", str(weights), "--data", str(lab), "--split", "all"]) == 0


def test_the_ten_digit_sequel_trains_and_predicts_with_a_confusion_matrix(tmp_path, capsys):
    weights = tmp_path / "w10.npz"
    assert cli.main(["train", "--digits", "0-9", "--layers", "25:relu,15:relu,10:softmax", "--epochs", "5",
                     "--out", str(weights), "--quiet"]) == 0
    capsys.readouterr()
    params = model.load(weights)
    assert params.network.spec == "25:relu,15:relu,10:softmax" and params.record["data"]["classes"] == list(range(10))
    assert cli.main(["predict", "--weights", str(weights), "--split", "test", "--json",
                     "--plot", str(tmp_path / "grid.png")]) == 0
    out = json.loads(capsys.readouterr().out)
    matrix = np.array(out["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == out["m"]
    assert out["accuracy"] == pytest.approx(np.trace(matrix) / out["m"])
    assert set(out["per_class_accuracy"]) == {str(d) for d in range(10)}
    assert all(_is_png(p) for p in out["pictures"]) and any("confusion" in p for p in out["pictures"])


@pytest.mark.slow
def test_the_sequel_on_mnist_reaches_90_percent_on_every_cpu_backend_and_parity_holds(mnist_dir, tmp_path, capsys):
    """The issue's acceptance: all ten MNIST digits, 40 epochs, relu-relu-softmax, every CPU backend >= 90%."""
    from xpnet import backends

    weights = tmp_path / "w10.npz"
    assert cli.main(["train", "--data", str(mnist_dir), "--digits", "0-9", "--layers", "25:relu,15:relu,10:softmax",
                     "--epochs", "40", "--out", str(weights), "--quiet"]) == 0
    names = ",".join(sorted({name for name, device in backends.available() if device == "cpu"}))
    capsys.readouterr()
    assert cli.main(["predict", "--weights", str(weights), "--data", str(mnist_dir), "--digits", "0-9", "--split",
                     "test", "--backend", names, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert all(b["accuracy"] >= 0.90 for b in out["backends"]), [(b["backend"], b["accuracy"]) for b in out["backends"]]
    assert out["backends_agree"]
    assert cli.main(["parity", "--weights", str(weights)]) == 0
