"""Big inputs: chunked predict on memory-mapped files in bounded memory, out-of-memory retries, progress.

The memory test runs the predict in a fresh subprocess and reads its peak resident memory
(VmHWM, reset just before the predict) from /proc: a (200_000, 400) float32 file (320 MB)
by default, the issue's (2_000_000, 400) one (3.2 GB) with ``-m slow``. A control run that
reads the whole file in one chunk shows that the measurement does see a file-sized peak.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import xpnet
from xpnet import streaming
from xpnet.api import MAPPED_BATCH_SIZE, DeviceMemoryError
from xpnet.mapped import MappedPages, copy_on_write_twin
from xpnet.validation import InputError

N = 400


@pytest.fixture(autouse=True)
def _slow_only_when_asked(request: pytest.FixtureRequest) -> None:
    """``slow`` tests run only when ``-m`` names them (pyproject does not deselect them by default)."""
    if request.node.get_closest_marker("slow") and "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("slow: run with -m slow")


def write_npy(path: Path, rows: int, seed: int = 0, chunk: int = 50_000) -> Path:
    """A (rows, 400) float32 .npy in [0, 1), written chunk by chunk (never whole in memory)."""
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (rows, N)})
        for lo in range(0, rows, chunk):
            rng.random((min(chunk, rows - lo), N), dtype=np.float32).tofile(f)
    return path


# -- peak memory, measured in a subprocess -----------------------------------------------------

_MEASURE = r"""
import json, sys
import numpy as np
import xpnet

path, backend, batch = sys.argv[1], sys.argv[2], None if sys.argv[3] == "None" else int(sys.argv[3])

def kib(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))

model = xpnet.Model(xpnet.init_params(seed=0), backend)
X = np.load(path, mmap_mode="r")
from xpnet.streaming import MAPPED_BATCH_SIZE
# warm-up on zeros (never the file's pages) in chunks of the size measured, up to 8192 rows: lazy imports,
# first allocations, and (JAX, TensorFlow) the compilation of each operation for that shape
warm = min(batch or MAPPED_BATCH_SIZE, 8192)
model.predict_proba(np.zeros((warm, X.shape[1]), np.float32), batch_size=warm)
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS (Linux >= 4.0)
    reset = True
except OSError:
    reset = False
before = kib("VmRSS")
p = model.predict_proba(X, batch_size=batch)
peak = kib("VmHWM")
rows = np.linspace(0, len(X) - 1, 50).astype(int)
print(json.dumps({"before_kib": before, "peak_kib": peak, "hwm_reset": reset, "shape": list(p.shape),
                  "rows": rows.tolist(), "p": p[rows, 0].tolist(), "finite": bool(np.isfinite(p).all())}))
"""


def measure_predict(path: Path, backend: str, batch_size: int | None) -> dict:
    """Peak RSS growth of a fresh process predicting the memmap at ``path`` (MiB), and sample probabilities."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(path), backend, str(batch_size)], env=env,
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["growth_mib"] = (result["peak_kib"] - result["before_kib"]) / 1024
    result["file_mib"] = path.stat().st_size / 2**20
    print(f"\n{backend} batch_size={batch_size}: file {result['file_mib']:.0f} MiB, RSS before "
          f"{result['before_kib'] / 1024:.0f} MiB, peak growth {result['growth_mib']:.1f} MiB "
          f"({100 * result['growth_mib'] / result['file_mib']:.1f}% of the file)")
    return result


def _check_sample(result: dict, path: Path) -> None:
    X = np.load(path, mmap_mode="r")
    rows = result["rows"]
    expected = xpnet.Model(xpnet.init_params(seed=0), "numpy").predict_proba(np.array(X[rows]))
    assert result["finite"] and result["shape"] == [len(X), 1]
    np.testing.assert_allclose(result["p"], expected[:, 0], rtol=1e-5)


@pytest.fixture(scope="module")
def file_200k(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_npy(tmp_path_factory.mktemp("big") / "X200k.npy", 200_000)


#: Every backend of the registry that runs on the CPU (each is measured in its own fresh process).
CPU_BACKENDS = [name for name, device in xpnet.backends.pairs() if device == "cpu"]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads peak RSS from /proc")
@pytest.mark.parametrize("backend_name", CPU_BACKENDS)
def test_predicting_a_memmap_keeps_peak_memory_below_a_quarter_of_the_file(file_200k, backend_name):
    status = xpnet.backends.status(backend_name, "cpu")
    if not status.available:
        pytest.skip(status.reason)
    result = measure_predict(file_200k, backend_name, 8192)
    assert result["growth_mib"] < 0.25 * result["file_mib"]
    _check_sample(result, file_200k)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads peak RSS from /proc")
def test_the_memory_measurement_sees_a_file_sized_peak_when_the_file_is_read_in_one_chunk(file_200k):
    """Control: one chunk of the whole file must show a peak near the file's size, or the measurement is blind."""
    result = measure_predict(file_200k, "numpy", 200_000)
    assert result["growth_mib"] > 0.8 * result["file_mib"]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads peak RSS from /proc")
@pytest.mark.parametrize("backend_name", CPU_BACKENDS)
def test_predicting_the_issues_2m_row_memmap_keeps_peak_memory_below_a_quarter_of_its_3_gb(
    tmp_path_factory, backend_name
):
    status = xpnet.backends.status(backend_name, "cpu")
    if not status.available:
        pytest.skip(status.reason)
    folder = tmp_path_factory.getbasetemp() / "big2m"
    folder.mkdir(exist_ok=True)
    path = folder / "X2m.npy"
    if not path.exists():
        write_npy(path, 2_000_000)
    result = measure_predict(path, backend_name, None)  # the default chunk for memmaps
    assert result["growth_mib"] < 0.25 * result["file_mib"]
    _check_sample(result, path)


# -- chunking gives the same answers -------------------------------------------------------------


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return np.random.default_rng(7).random((300, N), dtype=np.float32)


@pytest.mark.parametrize("batch_size", [7, 128, 300, 10_000])
def test_chunked_predict_equals_one_chunk_on_every_backend(backend, data, batch_size):
    # chunks of other shapes: other BLAS kernels, so equal within float32's tolerance, not bit for bit
    # (the jit variant's chunks, padded to one compiled shape, are checked below)
    model = xpnet.Model(xpnet.init_params(seed=1), backend)
    whole = model.predict_proba(data)
    chunked = model.predict_proba(data, batch_size=batch_size)
    assert chunked.shape == whole.shape == (300, 1) and chunked.dtype == whole.dtype
    np.testing.assert_allclose(chunked, whole, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(model.predict(data, batch_size=batch_size), (whole >= 0.5))


def test_chunked_forward_concatenates_on_the_device(backend, data):
    model = xpnet.Model(xpnet.init_params(seed=1), backend)
    out = model.forward(data, batch_size=128)
    assert xpnet.backends.owner(out) == backend.name and tuple(out.shape) == (300, 1)
    np.testing.assert_allclose(backend.to_numpy(out), model.predict_proba(data), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(backend.to_numpy(model.forward(data[:5], "loop", batch_size=2)),
                               model.predict_proba(data[:5]), rtol=1e-5)


def test_a_memmap_on_every_backend_gives_the_in_memory_answer(backend, data, tmp_path):
    np.save(tmp_path / "X.npy", data)
    X = np.load(tmp_path / "X.npy", mmap_mode="r")
    model = xpnet.Model(xpnet.init_params(seed=1), backend)
    np.testing.assert_allclose(model.predict_proba(X, batch_size=100), model.predict_proba(data), rtol=1e-6)


def test_a_non_finite_value_in_a_later_chunk_is_reported_at_its_index_in_the_whole_array(backend, data, tmp_path):
    bad = data.copy()
    bad[237, 11] = np.inf
    np.save(tmp_path / "X.npy", bad)
    model = xpnet.Model(backend=backend)
    for X in (np.load(tmp_path / "X.npy", mmap_mode="r"), bad, model.asarray(bad)):
        with pytest.raises(InputError, match=r"X has a non-finite value \(inf\) at index \(237, 11\)"):
            model.predict_proba(X, batch_size=50)
    with np.errstate(invalid="ignore"):  # opted out of the scan: the inf runs through (NaN, as NumPy)
        p = model.predict_proba(bad, batch_size=50, check_finite=False)
    assert p.shape == (300, 1)


def test_jit_chunks_are_padded_to_one_compiled_shape(data):
    model = xpnet.Model(backend="numpy")
    shapes = []
    forward = model._forward

    def recording(variant, checked):
        fn = forward(variant, checked)
        return lambda layers, X: shapes.append(tuple(X.shape)) or fn(layers, X)

    model._forward = recording
    p = model.predict_proba(data, "jit", batch_size=128)  # 128 + 128 + 44 rows
    assert shapes == [(128, N)] * 3
    np.testing.assert_allclose(p, model.predict_proba(data), rtol=1e-6)


def test_jit_chunks_of_a_memmap_are_even_and_a_short_last_chunk_reaches_back(tmp_path, monkeypatch, data):
    """No zero padding for the compiled forward: 300 rows in chunks of at most 128 run as three of 100; 300 rows
    in chunks of 128 asked run 0:128, 128:256 and 172:300, of which 256:300 is kept."""
    monkeypatch.setattr(streaming, "MAPPED_BATCH_SIZE", 128)
    np.save(tmp_path / "X.npy", data)
    model = xpnet.Model(backend="numpy")
    reads = []
    borrow = model.backend.borrow_rows
    monkeypatch.setattr(model.backend, "borrow_rows",
                        lambda x, dtype="float32": reads.append(len(x)) or borrow(x, dtype))
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    whole = model.predict_proba(data)
    np.testing.assert_allclose(model.predict_proba(mapped, "jit"), whole, rtol=1e-6)
    assert reads[-3:] == [100, 100, 100]
    reads.clear()
    np.testing.assert_allclose(model.predict_proba(mapped, "jit", batch_size=128), whole, rtol=1e-6)
    assert reads == [128, 128, 128]


def test_a_memmap_without_batch_size_is_read_in_default_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(streaming, "MAPPED_BATCH_SIZE", 64)
    np.save(tmp_path / "X.npy", np.zeros((300, N), np.float32))
    model, rows = xpnet.Model(), []
    borrow = model.backend.borrow_rows
    monkeypatch.setattr(model.backend, "borrow_rows",
                        lambda x, dtype="float32": rows.append(len(x)) or borrow(x, dtype))
    model.predict_proba(np.load(tmp_path / "X.npy", mmap_mode="r"))
    assert rows == [64, 64, 64, 64, 44]
    rows.clear()
    model.predict_proba(np.zeros((300, N), np.float32))  # in memory: one chunk
    assert rows == [300]
    assert MAPPED_BATCH_SIZE == 65536


@pytest.mark.parametrize("mode", ["r", "r+", "c"])
def test_releasing_pages_keeps_every_memmap_mode_correct(tmp_path, mode):
    """r+ writes stay in the file; a copy-on-write ("c") memmap keeps the user's private edits (no page is dropped)."""
    np.save(tmp_path / "X.npy", np.zeros((256, N), np.float32))
    X = np.load(tmp_path / "X.npy", mmap_mode=mode)
    if mode != "r":
        X[200, :] = 5.0  # an edit the predict must see, and must not discard
    model = xpnet.Model(xpnet.init_params(seed=2))
    p = model.predict_proba(X, batch_size=16)
    expected = model.predict_proba(np.array(X))
    np.testing.assert_allclose(p, expected, rtol=1e-6)  # chunks of 16 rows run other BLAS kernels than 256
    if mode != "r":
        assert (X[200] == 5.0).all()
        assert p[200, 0] != p[0, 0]
    assert (MappedPages.of(X) is None) == (mode == "c")


def test_a_read_only_memmap_has_a_private_writable_twin_of_the_same_file_bytes(tmp_path):
    """What a framework that shares no read-only memory (TensorFlow) is given instead of a copy: the same values,
    writable, and a write reaches neither the file nor the user's memmap."""
    data = np.random.default_rng(0).random((300, N), dtype=np.float32)
    np.save(tmp_path / "X.npy", data)
    X = np.load(tmp_path / "X.npy", mmap_mode="r")
    for part in (X, X[17:250], X[299]):
        twin, pages = copy_on_write_twin(part)
        np.testing.assert_array_equal(twin, part)
        assert twin.flags.writeable and pages is not None
        twin.reshape(-1)[0] = -1.0
        assert part.reshape(-1)[0] >= 0
    np.testing.assert_array_equal(np.load(tmp_path / "X.npy"), data)
    for other in (np.array(X), np.load(tmp_path / "X.npy", mmap_mode="r+"), np.load(tmp_path / "X.npy", mmap_mode="c"),
                  X[:, :10], X[::2], X[:0]):
        assert copy_on_write_twin(other) is None


def test_a_framework_that_shares_no_read_only_memory_shares_a_read_only_memmaps_twin(backend, tmp_path, monkeypatch):
    if backend.shares_read_only or not backend.host_alignment or backend.device != "cpu":
        pytest.skip(f"{backend.name} on {backend.device} is given the memmap's own chunks")
    data = np.random.default_rng(1).random((300, N), dtype=np.float32)
    np.save(tmp_path / "X.npy", data)
    model, chunks = xpnet.Model(xpnet.init_params(seed=1), backend=backend), []
    rows = streaming.Staging.rows
    monkeypatch.setattr(streaming.Staging, "rows",
                        lambda self, host, *args: chunks.append(host) or rows(self, host, *args))
    p = model.predict_proba(np.load(tmp_path / "X.npy", mmap_mode="r"), "jit", batch_size=100)
    assert len(chunks) == 3 and all(backend.shares_host(host) for host in chunks)
    np.testing.assert_allclose(p, model.predict_proba(data, "jit", batch_size=100), rtol=1e-6)


# -- out of memory: halve the chunk, then a clear error ----------------------------------------


#: Each framework's real out-of-memory error, made once per test process: TensorFlow's allocator retries a failed
#: allocation for 10 s before it raises, which three tests paid apiece.
_OUT_OF_MEMORY_ERRORS: dict[tuple[str, str], BaseException] = {}


def _real_out_of_memory_error(backend) -> BaseException:
    """The framework's own error for an allocation that cannot succeed (1 PiB: beyond any address space)."""
    key = (backend.name, backend.device)
    if key not in _OUT_OF_MEMORY_ERRORS:
        try:
            backend.sync(backend.xp.zeros((2**48,), dtype=backend.dtype("float32")))
        except Exception as err:  # noqa: BLE001 - whatever the framework raises is what is checked
            _OUT_OF_MEMORY_ERRORS[key] = err
        else:
            raise AssertionError("a 1 PiB allocation succeeded")
    return _OUT_OF_MEMORY_ERRORS[key]


def _can_fail_one_allocation(backend) -> bool:
    """Whether a 1 PiB array is one allocation that fails at once: on the CPU, and not split into blocks computed
    one by one (a chunked backend would allocate block after block until the machine's memory runs out)."""
    return backend.device.partition(":")[0] == "cpu" and not backend.chunked


def test_each_backend_recognises_its_frameworks_real_out_of_memory_error(backend):
    if not _can_fail_one_allocation(backend):
        pytest.skip("a 1 PiB allocation is tried on the CPU only, on a backend that allocates an array at once")
    err = _real_out_of_memory_error(backend)
    assert backend.is_out_of_memory(err), f"{type(err).__name__}: {err}"
    assert not backend.is_out_of_memory(ValueError("matmul: shapes do not match"))
    assert not backend.is_out_of_memory(RuntimeError("expected scalar type Float but found Double"))


def _model_failing_above(backend, rows_that_fit: int, err: BaseException, calls: list[int]) -> xpnet.Model:
    model = xpnet.Model(xpnet.init_params(seed=3), backend)
    made = model._forward  # the matmul forward predict_proba runs, checked or not

    def failing(variant, checked):
        fn = made(variant, checked)

        def forward(layers, X):
            calls.append(int(X.shape[0]))
            if X.shape[0] > rows_that_fit:
                raise err
            return fn(layers, X)

        return forward

    model._forward = failing
    return model


def _split_evenly(rows: int, backend) -> int:
    """The rows a forward sees for a chunk of ``rows``: padded to a multiple of the devices it is split across."""
    return -(-rows // backend.device_count) * backend.device_count


def test_out_of_memory_halves_the_chunk_until_it_fits_and_says_so(backend, data):
    err = _real_out_of_memory_error(backend) if _can_fail_one_allocation(backend) else MemoryError("out of memory")
    calls: list[int] = []
    model = _model_failing_above(backend, 40, err, calls)
    with pytest.warns(RuntimeWarning, match=r"out of memory on chunks of 300 rows; ran in chunks of 37 rows "
                                            r"instead \(pass batch_size=37"):
        p = model.predict_proba(data)
    assert calls[:4] == [_split_evenly(rows, backend) for rows in (300, 150, 75, 37)]
    assert max(calls[3:]) <= _split_evenly(37, backend)
    reference = xpnet.Model(xpnet.init_params(seed=3), backend).predict_proba(data)
    np.testing.assert_allclose(p, reference, rtol=1e-6, atol=1e-7)


def test_out_of_memory_even_on_one_row_names_the_sizes(backend, data):
    err = _real_out_of_memory_error(backend) if _can_fail_one_allocation(backend) else MemoryError("out of memory")
    calls: list[int] = []
    model = _model_failing_above(backend, 0, err, calls)
    with pytest.raises(DeviceMemoryError, match=rf"{backend.name} on {backend.device} ran out of memory even on a "
                                                r"chunk of 1 row of 400 float32 features") as info:
        model.predict_proba(data, batch_size=64)
    assert calls == [_split_evenly(rows, backend) for rows in (64, 32, 16, 8, 4, 2, 1)]
    assert info.value.__cause__ is err and isinstance(info.value, RuntimeError)  # the CLI's exit status 2


def test_an_error_that_is_not_out_of_memory_is_not_retried(data):
    calls: list[int] = []
    model = _model_failing_above("numpy", 0, ValueError("a bug, not a lack of memory"), calls)
    with pytest.raises(ValueError, match="a bug"):
        model.predict_proba(data, batch_size=64)
    assert calls == [64]


# -- progress ------------------------------------------------------------------------------------


def test_progress_bar_goes_to_stderr_only_when_asked(data, capsys):
    model = xpnet.Model()
    model.predict(data, batch_size=100, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "300/300 rows 100.0%" in captured.err and captured.err.endswith("\n")
    model.predict(data, batch_size=100)
    assert capsys.readouterr().err == ""


def test_an_array_on_another_device_is_refused_naming_both_devices():
    """array-api-strict simulates devices: the one CPU test of a device mismatch (GPUs are not here)."""
    strict = pytest.importorskip("array_api_strict")
    model = xpnet.Model(backend="array_api_strict")
    elsewhere = strict.asarray(np.zeros((2, N), np.float32), device=strict.Device("device1"))
    with pytest.raises(InputError, match=r"X is array_api_strict data on .*device1.*, but the model runs on cpu"):
        model.predict_proba(elsewhere)
    np.testing.assert_allclose(model.predict_proba(strict.asarray(np.zeros((2, N), np.float32))),
                               model.predict_proba(np.zeros((2, N), np.float32)))
