"""The dask backend on real ``dask.distributed`` clusters: parity on 1 and 2 workers, clusters started by hand,
a worker killed mid-run, a scheduler that does not answer.

Every cluster here runs on 127.0.0.1 with ports chosen by the OS and no dashboard, and is closed by
the test that started it. The whole module skips, with the reason, where dask or distributed is not
installed (``pip install "xpnet[dask]"``; the test extra has both).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dask.array", reason='dask is not installed (pip install "xpnet[dask]")')
pytest.importorskip("distributed", reason='distributed is not installed (pip install "xpnet[dask]")')

from distributed import get_task_stream  # noqa: E402

import xpnet  # noqa: E402
from xpnet import cli, parity  # noqa: E402
from xpnet.cluster import ClusterSpec, ClusterUnreachable, connect, worker_count  # noqa: E402
from xpnet.model import init_params, save  # noqa: E402
from xpnet.score import score  # noqa: E402
from xpnet.validation import InputError  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 one-thread workers, shared by the tests that only need one to run on."""
    with connect(ClusterSpec(workers=2, worker_memory="1GiB")) as client:
        yield client


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seeded weights and a (120_000, 400) float32 .npy input (190 MB) in a module folder."""
    folder = tmp_path_factory.mktemp("dask")
    save(init_params(seed=0), folder / "w.npz")
    np.save(folder / "X.npy", np.random.default_rng(0).random((120_000, 400), dtype=np.float32))
    return folder


def test_parity_of_the_dask_backend_on_one_and_two_workers():
    report = parity.check(["dask"], workers=(1, 2), dtypes=["float32"], variants=["matmul", "jit"])
    assert report.ok, report.table()
    assert sorted({(r.workers, r.variant) for r in report.rows}) == [(1, "jit"), (1, "matmul"), (2, "jit"),
                                                                     (2, "matmul")]


def test_a_model_on_the_cluster_computes_there_and_matches_numpy(cluster):
    X = np.random.default_rng(1).random((3000, 400), dtype=np.float32)
    expected = xpnet.Model(init_params(seed=1)).predict_proba(X)
    model = xpnet.Model(init_params(seed=1), "dask")
    for variant in ("matmul", "jit"):
        with get_task_stream(cluster) as stream:
            np.testing.assert_allclose(model.predict_proba(X, variant, batch_size=1000), expected, rtol=1e-6)
        assert {task["worker"] for task in stream.data} <= set(cluster.scheduler_info()["workers"])
        assert stream.data, "nothing ran on the cluster's workers"
    assert worker_count(cluster) == 2


def test_the_jit_variant_is_one_task_per_block_and_the_matmul_variant_a_graph_of_operations():
    model = xpnet.Model(init_params(seed=0), "dask")
    X = model.backend.asarray(np.zeros((300_000, 400), np.float32))
    blocks = X.numblocks[0]
    mapped = model.forward_fn("jit")(model.layers, X)
    graph = model.forward_fn("matmul")(model.layers, X)
    assert len(mapped.__dask_graph__().layers) <= 3 and mapped.numblocks == (blocks, 1)
    assert len(graph.__dask_graph__().layers) > 20  # one layer per Array API operation, fused only at compute time


def test_cluster_options_that_contradict_each_other_are_refused():
    with pytest.raises(InputError, match="--scheduler uses the workers of a running cluster"):
        ClusterSpec(scheduler="tcp://127.0.0.1:8786", workers=2)
    with pytest.raises(InputError, match="workers must be a positive whole number"):
        ClusterSpec(workers=0)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_scheduler_is_a_clear_error_within_the_timeout_and_nothing_is_written(files, tmp_path):
    out = tmp_path / "P.npy"
    address = f"tcp://127.0.0.1:{_closed_port()}"
    t0 = time.perf_counter()
    with pytest.raises(ClusterUnreachable, match=f"no Dask scheduler answers at {address} within 1 s"):
        score(init_params(seed=0), files / "X.npy", out, backend="dask",
              cluster=ClusterSpec(scheduler=address, timeout=1.0))
    assert time.perf_counter() - t0 < 15
    assert list(tmp_path.iterdir()) == []  # no output, no temporary file


def test_the_cli_reports_an_unreachable_scheduler_in_one_line_with_exit_status_2(files, tmp_path, capsys):
    argv = ["score", "--weights", str(files / "w.npz"), "--input", str(files / "X.npy"), "--output",
            str(tmp_path / "P.npy"), "--backend", "dask", "--scheduler", f"tcp://127.0.0.1:{_closed_port()}",
            "--timeout", "1"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no Dask scheduler answers" in err and "dask scheduler" in err
    assert not (tmp_path / "P.npy").exists()


def _start(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _scheduler_address(info: Path, timeout: float) -> str:
    """The address in the scheduler file once it is written whole (the scheduler writes it in place: a reader can
    find it present and still empty)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return json.loads(info.read_text())["address"]
        except (OSError, ValueError, KeyError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_a_scheduler_and_two_workers_started_by_hand_score_the_file(files, tmp_path):
    """``dask scheduler`` and ``dask worker`` as a user (or a deployment tool) starts them; xpnet only connects."""
    info = tmp_path / "scheduler.json"
    dask = [str(Path(sys.executable).parent / "dask")]  # the command line installed beside this Python
    procs = [_start([*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(info)])]
    try:
        address = _scheduler_address(info, timeout=60)
        procs += [_start([*dask, "worker", address, "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard",
                          "--memory-limit", "1GiB"]) for _ in range(2)]
        with connect(ClusterSpec(scheduler=address)) as client:
            client.wait_for_workers(2, timeout=60)
        out = tmp_path / "P.npy"
        result = score(init_params(seed=0), files / "X.npy", out, backend="dask", batch_size=20_000,
                       cluster=ClusterSpec(scheduler=address))
        assert result.workers == 2 and result.rows == 120_000
        expected = xpnet.Model(init_params(seed=0)).predict_proba(np.load(files / "X.npy", mmap_mode="r"))
        np.testing.assert_allclose(np.load(out), expected, rtol=1e-5)
        with connect(ClusterSpec(scheduler=address)) as client:
            assert worker_count(client) == 2  # xpnet left the cluster running
    finally:
        for proc in reversed(procs):
            _stop(proc)


def test_a_worker_killed_mid_run_has_its_blocks_run_again_and_the_output_is_the_clean_runs(files, tmp_path, cluster):
    """A worker process is SIGKILLed while blocks remain; its nanny restarts it, the scheduler reruns what it had."""
    address = cluster.scheduler.address
    params, spec = init_params(seed=0), ClusterSpec(scheduler=address)
    clean = tmp_path / "clean.npy"
    score(params, files / "X.npy", clean, backend="dask", batch_size=5000, cluster=spec)

    victim_address, victim_pid = next(iter(cluster.run(os.getpid).items()))
    killed: dict[str, int] = {}

    def kill_mid_run() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = cluster.run_on_scheduler(_stored_blocks)
            if done >= 3:
                killed["after_blocks"] = done
                os.kill(victim_pid, signal.SIGKILL)
                return
            time.sleep(0.005)

    killer = threading.Thread(target=kill_mid_run)
    killer.start()
    out = tmp_path / "P.npy"
    result = score(params, files / "X.npy", out, backend="dask", batch_size=5000, cluster=spec)
    killer.join()
    assert killed, "the run ended before a worker could be killed"
    assert killed["after_blocks"] < 120_000 // 5000, "the worker was killed only after every block was stored"
    np.testing.assert_array_equal(np.load(out), np.load(clean))
    assert result.rows == 120_000
    cluster.wait_for_workers(2, timeout=60)
    assert victim_address not in cluster.scheduler_info()["workers"] or \
        cluster.run(os.getpid, workers=[victim_address])[victim_address] != victim_pid


def _stored_blocks(dask_scheduler) -> int:
    """On the scheduler: how many blocks of the running score have been written (its ``store-map`` tasks done)."""
    return sum(1 for key, ts in dask_scheduler.tasks.items() if "store-map" in str(key) and ts.state == "memory")


def test_bad_rows_scored_on_the_cluster_get_predicts_error_for_the_first_bad_row(files, tmp_path, cluster):
    """Two bad blocks: whichever worker fails first, the error names the first bad row of the file."""
    X = np.load(files / "X.npy")
    X[100_007, 3], X[61_234, 399] = np.inf, np.nan
    np.save(tmp_path / "X.npy", X)
    with pytest.raises(InputError, match=r"X has a non-finite value \(nan\) at index \(61234, 399\)"):
        score(init_params(seed=0), tmp_path / "X.npy", tmp_path / "P.npy", backend="dask", batch_size=20_000,
              cluster=ClusterSpec(scheduler=cluster.scheduler.address))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["X.npy"]


def test_zarr_in_and_out_on_the_cluster(files, tmp_path, cluster):
    zarr = pytest.importorskip("zarr", reason='zarr is not installed (pip install "xpnet[dask]")')
    X = np.load(files / "X.npy", mmap_mode="r")[:30_000]
    source = zarr.create_array(store=str(tmp_path / "X.zarr"), shape=X.shape, chunks=(7000, 400), dtype="f4")
    source[:] = X
    score(init_params(seed=0), tmp_path / "X.zarr", tmp_path / "P.zarr", backend="dask", batch_size=7000,
          cluster=ClusterSpec(scheduler=cluster.scheduler.address))
    expected = xpnet.Model(init_params(seed=0)).predict_proba(np.asarray(X))
    np.testing.assert_allclose(zarr.open_array(str(tmp_path / "P.zarr"), mode="r")[:], expected, rtol=1e-5)
