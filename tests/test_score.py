"""``xpnet score``: files in, files out, on any backend; ``predict``'s errors; outputs that appear only when whole."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import xpnet
from xpnet import cli
from xpnet.cluster import ClusterSpec
from xpnet.model import FileFormatError, init_params, save
from xpnet.rowfiles import NpyRows
from xpnet.score import score
from xpnet.validation import InputError

M = 5000


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory):
    """Seeded weights, a (5000, 400) float32 input and its outputs by float32 NumPy."""
    folder = tmp_path_factory.mktemp("score")
    save(init_params(seed=0), folder / "w.npz")
    X = np.random.default_rng(0).random((M, 400), dtype=np.float32)
    np.save(folder / "X.npy", X)
    return folder, xpnet.Model(init_params(seed=0)).predict_proba(X)


def _argv(folder, out, *more: str) -> list[str]:
    return ["score", "--weights", str(folder / "w.npz"), "--input", str(folder / "X.npy"), "--output", str(out),
            *more]


def test_scoring_a_npy_file_with_the_cli_writes_every_rows_probability_and_reports_it(files, tmp_path, capsys):
    folder, expected = files
    out = tmp_path / "P.npy"
    assert cli.main(_argv(folder, out, "--batch-size", "1024", "--json")) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == M and report["output"] == str(out) and report["workers"] is None
    assert report["rows_per_s"] == pytest.approx(M / report["seconds"])
    np.testing.assert_allclose(np.load(out), expected, rtol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["P.npy"]  # no temporary file left beside it


def test_every_backend_scores_the_file_as_its_predict_proba_does(backend, files, tmp_path):
    folder, expected = files
    if backend.chunked:
        pytest.skip(f"{backend.name} scores on a Dask cluster: tests/test_dask.py")
    result = score(init_params(seed=0), folder / "X.npy", tmp_path / "P.npy", backend=backend.name,
                   device=backend.device, variant="matmul", batch_size=2048)  # (jit: compilation, tested elsewhere)
    assert (result.backend, result.device, result.rows) == (backend.name, backend.device, M)
    np.testing.assert_allclose(np.load(tmp_path / "P.npy"), expected, rtol=1e-5, atol=1e-7)


def test_zarr_in_and_zarr_out_in_one_process(files, tmp_path):
    zarr = pytest.importorskip("zarr", reason='zarr is not installed (pip install "xpnet[dask]")')
    folder, expected = files
    source = zarr.create_array(store=str(tmp_path / "X.zarr"), shape=(M, 400), chunks=(1000, 400), dtype="f4")
    source[:] = np.load(folder / "X.npy")
    score(init_params(seed=0), tmp_path / "X.zarr", tmp_path / "P.zarr", batch_size=1500)
    np.testing.assert_allclose(zarr.open_array(str(tmp_path / "P.zarr"), mode="r")[:], expected, rtol=1e-6)


def test_an_existing_output_is_kept_unless_overwrite_is_given(files, tmp_path, capsys):
    folder, expected = files
    out = tmp_path / "P.npy"
    np.save(out, np.zeros(3))
    assert cli.main(_argv(folder, out)) == 2
    assert f"{out} exists; pass --overwrite to replace it" in capsys.readouterr().err
    assert np.load(out).shape == (3,)
    assert cli.main(_argv(folder, out, "--overwrite", "--quiet")) == 0
    np.testing.assert_allclose(np.load(out), expected, rtol=1e-6)


@pytest.mark.parametrize("make, message", [
    (lambda p: np.save(p, np.zeros((10, 401), np.float32)), r"X must have shape \(m, 400\) or \(400,\), got "
                                                            r"\(10, 401\)"),
    (lambda p: p.write_bytes(b"not a numpy file"), "is not a valid .npy file"),
    (lambda p: np.save(p, np.zeros((10, 400), np.complex64)), "X must hold real numbers, got dtype complex64"),
    (lambda p: None, "no such file"),
])
def test_bad_input_gets_a_clear_error_and_writes_nothing(files, tmp_path, capsys, make, message):
    folder, _ = files
    make(tmp_path / "X.npy")
    out = tmp_path / "P.npy"
    argv = ["score", "--weights", str(folder / "w.npz"), "--input", str(tmp_path / "X.npy"), "--output", str(out)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(message, err), err
    assert not out.exists()


def test_a_non_finite_value_late_in_the_file_is_named_by_its_row_and_no_output_appears(files, tmp_path):
    folder, _ = files
    X = np.load(folder / "X.npy")
    X[4321, 17] = np.nan
    np.save(tmp_path / "X.npy", X)
    with pytest.raises(InputError, match=r"X has a non-finite value \(nan\) at index \(4321, 17\)"):
        score(init_params(seed=0), tmp_path / "X.npy", tmp_path / "P.npy", batch_size=1000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["X.npy"]  # chunks were written, then thrown away


def test_a_truncated_input_is_refused_before_anything_runs(files, tmp_path):
    folder, _ = files
    data = (folder / "X.npy").read_bytes()
    (tmp_path / "X.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError, match="is not a valid .npy file"):
        score(init_params(seed=0), tmp_path / "X.npy", tmp_path / "P.npy")


def test_only_npy_and_zarr_paths_are_taken(files, tmp_path):
    folder, _ = files
    with pytest.raises(InputError, match="--output must be a .npy file or a .zarr store"):
        score(init_params(seed=0), folder / "X.npy", tmp_path / "P.csv")
    with pytest.raises(InputError, match="cluster options .* run a chunked backend"):
        score(init_params(seed=0), folder / "X.npy", tmp_path / "P.npy",
              cluster=ClusterSpec(workers=2))


def test_npy_rows_read_and_write_whole_rows_in_place(tmp_path):
    rows = NpyRows.create(tmp_path / "a.npy", (7, 3), np.float32)
    rows[2:5] = np.arange(9, dtype=np.float32).reshape(3, 3)
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy")[2:5], np.arange(9).reshape(3, 3))
    again = NpyRows.open(tmp_path / "a.npy")
    np.testing.assert_array_equal(again[(slice(2, 4), slice(0, 3))], np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(again[:, 1], np.load(tmp_path / "a.npy")[:, 1])  # any other selection too
    with pytest.raises(IndexError, match="only whole rows"):
        again[:, 1] = 0
