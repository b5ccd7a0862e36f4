"""Weights files: a writer killed at any moment never leaves a broken file, and no file runs code.

The kill test runs a small server process (only NumPy and xpnet imported) that forks a
writer saving two sets of weights in turn to one path as fast as it can, SIGKILLs it after
a random delay of up to a few saves, and reports how many saves it finished. After every
kill the file must load and hold exactly one of the two sets. A control run with a naive
writer (``np.savez`` straight onto the target) shows that the harness does catch broken
files, so that the atomic run passing means something.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from xpnet import model
from xpnet.model import FileFormatError, LayerSpec, Network

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the kill test forks writers (POSIX only)")

#: Big enough that a save takes milliseconds (4 MB), so that kills land inside writes.
KILL_NETWORK = Network(1000, (LayerSpec(1000), LayerSpec(1)))
SEEDS = (1, 2)

_SERVER = r"""
import os, signal, sys, time
import numpy as np
from xpnet import model
from xpnet.model import LayerSpec, Network

path, style = sys.argv[1], sys.argv[2]
net = Network(1000, (LayerSpec(1000), LayerSpec(1)))
versions = [model.init_params(seed=s, network=net) for s in (1, 2)]
plain = [dict(np.load(model.save(p, path + f".plain{i}.npz"))) for i, p in enumerate(versions)]

def save(i):
    if style == "atomic":
        model.save(versions[i], path)
    else:  # the naive way: truncate the target, then write into it
        with open(path, "wb") as f:
            np.savez(f, **plain[i])

t0 = time.perf_counter()
model.save(versions[0], path)  # the old file every kill must leave intact, or replace whole
print("ready", time.perf_counter() - t0, flush=True)
for line in sys.stdin:
    delay = float(line)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the writer: save the two versions in turn until killed
        os.close(r)
        i = 1
        while True:
            save(i % 2)
            os.write(w, b".")
            i += 1
    os.close(w)
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    finished = len(os.read(r, 1 << 20))
    os.close(r)
    print(int(os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL), finished, flush=True)
"""


@pytest.fixture(autouse=True)
def _slow_only_when_asked(request: pytest.FixtureRequest) -> None:
    """``slow`` tests run only when ``-m`` names them (pyproject does not deselect them by default)."""
    if request.node.get_closest_marker("slow") and "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("slow: run with -m slow")


def _expected_versions() -> list[model.Params]:
    return [model.init_params(seed=s, network=KILL_NETWORK) for s in SEEDS]


def _which(path: Path, versions: list[model.Params]) -> int | None:
    """Index of the version the file holds; None for a broken file (any load error or other numbers)."""
    try:
        got = model.load(path, network=KILL_NETWORK)
    except (FileFormatError, OSError):
        return None
    for i, v in enumerate(versions):
        if all(np.array_equal(a, b) for a, b in zip(v.weights + v.biases, got.weights + got.biases, strict=True)):
            return i
    return None


def run_kills(folder: Path, kills: int, style: str = "atomic", seed: int = 0) -> dict[str, int | float]:
    """Kill ``kills`` writers mid-save; count what the file held after each kill."""
    path = folder / "weights.npz"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    server = subprocess.Popen([sys.executable, "-c", _SERVER, str(path), style], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=env)
    versions, rng = _expected_versions(), random.Random(seed)
    counts = {"kills": 0, "old_or_new": 0, "broken": 0, "mid_first_save": 0, "not_sigkilled": 0}
    start = time.perf_counter()
    try:
        save_seconds = float(server.stdout.readline().split()[1])
        for _ in range(kills):
            # uniform over the first few saves: kills land in every phase of a save (write, fsync, rename);
            # capped so that a disk with slow fsyncs keeps the test short
            server.stdin.write(f"{rng.uniform(0, min(4 * save_seconds, 0.05))}\n")
            server.stdin.flush()
            sigkilled, finished = map(int, server.stdout.readline().split())
            counts["kills"] += 1
            counts["not_sigkilled"] += not sigkilled
            counts["mid_first_save"] += finished == 0
            held = _which(path, versions)
            counts["broken" if held is None else "old_or_new"] += 1
    finally:
        server.stdin.close()
        server.wait(timeout=30)
    counts["seconds"] = time.perf_counter() - start
    counts["leftover_temporaries"] = len(list(folder.glob(".weights.npz.*.tmp")))
    return counts


def _assert_never_broken(counts: dict[str, int | float], kills: int) -> None:
    print(f"\nkill test: {counts}")
    assert counts["kills"] == kills and counts["not_sigkilled"] == 0
    assert counts["broken"] == 0, f"{counts['broken']} of {kills} kills left a broken weights file"
    assert counts["old_or_new"] == kills
    # the kills really interrupted saves: many left the temporary file of an unfinished save behind
    assert counts["leftover_temporaries"] > kills // 10


def test_a_writer_killed_200_times_mid_save_never_leaves_a_broken_file(tmp_path):
    counts = run_kills(tmp_path, 200)
    _assert_never_broken(counts, 200)


@pytest.mark.slow
def test_a_writer_killed_2000_times_mid_save_never_leaves_a_broken_file(tmp_path):
    counts = run_kills(tmp_path, 2000, seed=1)
    _assert_never_broken(counts, 2000)


def test_the_kill_harness_catches_a_naive_writer(tmp_path):
    """Control: writing straight onto the target is caught breaking the file, so the harness can fail."""
    counts = run_kills(tmp_path, 30, style="naive", seed=2)
    assert counts["broken"] > 0, counts


def test_save_leaves_no_temporary_and_replaces_the_old_file(tmp_path):
    path = tmp_path / "w.npz"
    model.save(model.init_params(seed=1), path)
    model.save(model.init_params(seed=2), path)
    np.testing.assert_array_equal(model.load(path).weights[0], model.init_params(seed=2).weights[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.npz"]


def test_a_failing_save_keeps_the_old_file_and_removes_its_temporary(tmp_path):
    from xpnet.model.files import atomic_write

    path = tmp_path / "w.npz"
    model.save(model.init_params(seed=1), path)

    def fail(f):
        f.write(b"half a file")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, fail)
    np.testing.assert_array_equal(model.load(path).weights[0], model.init_params(seed=1).weights[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.npz"]


# -- no loaded file can run code --------------------------------------------------------------


class _Exploit:
    """Unpickling this creates the marker file: proof that code ran."""

    marker = ""

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("where", ["W1", "activations", "extra"])
def test_a_pickle_anywhere_in_a_weights_file_is_refused_unrun(tmp_path, where):
    marker = tmp_path / "ran"
    _Exploit.marker = str(marker)
    arrays = dict(np.load(model.save(model.init_params(), tmp_path / "ok.npz")))
    arrays[where] = np.array([_Exploit()], dtype=object)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    with pytest.raises(FileFormatError, match="pickled object array"):
        model.load(bad)
    assert not marker.exists()


def test_a_bare_pickle_file_is_refused_unrun(tmp_path):
    import pickle

    marker = tmp_path / "ran"
    _Exploit.marker = str(marker)
    bad = tmp_path / "w.npz"
    bad.write_bytes(pickle.dumps(_Exploit()))
    with pytest.raises(FileFormatError, match="no zip header"):
        model.load(bad)
    assert not marker.exists()


# -- damaged files: a specific error, never a crash, never other numbers ------------------------


def _damage(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    kind = rng.choice(["truncate", "flip", "overwrite"])
    if kind == "truncate":
        return bytes(b[: rng.randrange(len(b))])
    for _ in range(1 if kind == "flip" else rng.randrange(2, 20)):
        i = rng.randrange(min(len(b), 600) if rng.random() < 0.3 else len(b))  # headers are the fragile part
        b[i] = b[i] ^ (1 << rng.randrange(8)) if kind == "flip" else rng.randrange(256)
    return bytes(b)


@pytest.mark.parametrize("compressed", [False, True], ids=["stored", "compressed"])
def test_randomly_damaged_weights_files_load_right_or_fail_with_file_format_error(tmp_path, compressed):
    """800 damaged copies: each loads exactly the original numbers (damage outside the data) or raises
    FileFormatError; any other exception (zlib.error, TokenError, MemoryError...) fails the test."""
    params = model.init_params(seed=0)
    good = model.save(params, tmp_path / "good.npz")
    if compressed:
        np.savez_compressed(good, **dict(np.load(good)))
    data, rng, path = good.read_bytes(), random.Random(3), tmp_path / "w.npz"
    outcome = {"same": 0, "refused": 0}
    for _ in range(800):
        path.write_bytes(_damage(data, rng))
        try:
            got = model.load(path)
        except FileFormatError:
            outcome["refused"] += 1
            continue
        for a, b in zip(params.weights + params.biases, got.weights + got.biases, strict=True):
            np.testing.assert_array_equal(a, b)  # a zip CRC guards every member: never other numbers
        outcome["same"] += 1
    assert outcome["refused"] > 600, outcome


def test_a_big_endian_weights_file_loads_native_and_runs_on_every_backend(tmp_path, backend):
    params = model.init_params(seed=4)
    arrays = dict(np.load(model.save(params, tmp_path / "w.npz")))
    for key in arrays:
        if arrays[key].dtype.kind == "f":
            arrays[key] = arrays[key].astype(">f4")
    np.savez(tmp_path / "be.npz", **arrays)
    loaded = model.load(tmp_path / "be.npz")
    assert all(W.dtype.isnative for W in loaded.weights)
    X = np.random.default_rng(0).random((3, 400), dtype=np.float32)
    import xpnet

    expected = xpnet.Model(params, "numpy").predict_proba(X)
    np.testing.assert_allclose(xpnet.Model(loaded, backend).predict_proba(X), expected, rtol=1e-5)


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True, reason="root reads any file")
def test_an_unreadable_weights_file_says_permission_denied(tmp_path):
    path = model.save(model.init_params(), tmp_path / "w.npz")
    path.chmod(0)
    with pytest.raises(PermissionError, match="cannot read .*w.npz: permission denied"):
        model.load(path)
