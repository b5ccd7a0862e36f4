"""The backend interface and registry: devices, placement, conversion, dtypes, precision, errors.

Written once for every backend: the registry and the ``backend`` fixture decide where a
test runs, and a backend's properties are read from the backend object, never from its name.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from xpnet import backends
from xpnet.backends import Backend, BackendUnavailable

#: Every device name the vocabulary allows: "cpu", "gpu", "gpu:N" with N >= 1, "cpu:all", "gpu:all".
VOCABULARY = re.compile(r"cpu|gpu|gpu:[1-9]\d*|cpu:all|gpu:all")


def _classes_with(device: str) -> list[type[Backend]]:
    """The registry's backend classes that know ``device`` ("cpu" or "gpu")."""
    return [c for c in map(backends.backend_class, backends.names()) if device in c.devices]


def _installed(cls: type[Backend]) -> bool:
    try:
        cls._import()
    except ImportError:
        return False
    return True


# -- the device vocabulary -----------------------------------------------------------------------


def test_every_listed_device_is_named_in_the_one_vocabulary():
    for name in backends.names():
        assert set(backends.backend_class(name).devices) <= {"cpu", "gpu", "cpu:all", "gpu:all"}
    assert all(VOCABULARY.fullmatch(device) for _, device in backends.pairs())


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [("gpu", "gpu"), ("GPU", "gpu"), ("cuda", "gpu"), ("CUDA", "gpu"), ("gpu:0", "gpu"), ("cuda:0", "gpu"),
     ("gpu:2", "gpu:2"), ("Cuda:2", "gpu:2"), ("cpu", "cpu"), ("CPU", "cpu"), ("CPU:ALL", "cpu:all"),
     ("cuda:all", "gpu:all"), ("GPU:all", "gpu:all")],
)
def test_cuda_and_gpu_0_are_aliases_shown_as_gpu(alias, canonical):
    assert backends.canonical_device(alias) == canonical
    for cls in _classes_with(canonical if canonical.endswith(":all") else canonical.partition(":")[0]):
        assert cls.canonical_device(alias) == canonical


@pytest.mark.parametrize("name", backends.names())
@pytest.mark.parametrize("device", ["tpu", "gpu:-1", "gpu:x", "cuda:", "cpu:0"])
def test_unknown_device_is_a_value_error_listing_the_backends_devices(name, device):
    cls = backends.backend_class(name)
    with pytest.raises(ValueError, match=f"unknown device '{re.escape(device)}' for backend '{name}'") as err:
        backends.get(name, device)
    listed = str(err.value).split("known devices: ")[1].split(", ")
    assert set(cls.devices) <= set(listed)
    assert ("gpu:N" in listed) == ("gpu" in cls.devices)


def test_unknown_device_message_names_the_gpu_n_form():
    cls = _classes_with("gpu")[0]
    with pytest.raises(ValueError, match=r"; known devices: .*gpu, gpu:N(, |$)"):
        cls.canonical_device("tpu")


def test_a_cpu_only_backend_refuses_every_gpu_name():
    for cls in (c for c in map(backends.backend_class, backends.names()) if "gpu" not in c.devices):
        for name in ("gpu", "cuda", "gpu:1"):
            with pytest.raises(ValueError, match="known devices: cpu$"):
                cls.canonical_device(name)


# -- which devices are present: a fake framework with one GPU -------------------------------------


class _OneGpuBackend(Backend):
    """A backend over NumPy that pretends to see ``gpus`` GPUs: the base class's presence logic, alone."""

    name = "fake"
    devices = ("cpu", "gpu")
    extra = "fake"
    array_modules = ("numpy",)
    gpus = 1

    @classmethod
    def _import(cls) -> Any:
        return np

    def _gpu_count(self) -> int:
        return self.gpus

    def _no_gpu_reason(self) -> str:
        return "the fake framework sees no GPU"

    def _namespace(self) -> Any:
        return np


@pytest.mark.parametrize("device", ["gpu:1", "gpu:3", "cuda:3"])
def test_a_gpu_beyond_the_machines_count_is_absent_with_the_count(device):
    shown = backends.canonical_device(device)
    with pytest.raises(BackendUnavailable, match=f"^fake on {shown}: no {shown}: 1 GPU found$"):
        _OneGpuBackend(device)


def test_the_first_gpu_and_its_aliases_are_present_when_one_is_found():
    for alias in ("gpu", "cuda", "GPU:0", "cuda:0"):
        assert _OneGpuBackend(alias).device == "gpu"


def test_no_gpu_at_all_gives_the_frameworks_reason(monkeypatch):
    monkeypatch.setattr(_OneGpuBackend, "gpus", 0)
    for device in ("gpu", "gpu:2"):
        with pytest.raises(BackendUnavailable, match=f"^fake on {device}: the fake framework sees no GPU$"):
            _OneGpuBackend(device)


@pytest.mark.parametrize("cls", _classes_with("gpu"), ids=lambda c: c.name)
def test_a_gpu_this_machine_lacks_is_reported_absent_never_a_crash(cls):
    if not _installed(cls):
        pytest.skip(f"{cls.name} is not installed")
    st = backends.status(cls.name, "cuda:64")
    assert not st.available and st.device == "gpu:64"
    assert st.reason.startswith(f"{cls.name} on gpu:64: ")


# -- which devices are listed ------------------------------------------------------------------


def test_pairs_list_gpu_n_rows_for_every_visible_gpu(monkeypatch):
    gpu_backends = [c.name for c in _classes_with("gpu")]
    monkeypatch.setattr(backends, "visible_gpus", lambda: 1)
    numbered = re.compile(r"gpu:[0-9]+").fullmatch
    one = backends.pairs()
    assert not [d for _, d in one if numbered(d)]
    monkeypatch.setattr(backends, "visible_gpus", lambda: 3)
    three = backends.pairs()
    assert [p for p in three if numbered(p[1])] == [(n, d) for n in gpu_backends for d in ("gpu:1", "gpu:2")]
    assert [p for p in three if not numbered(p[1])] == one


@pytest.mark.parametrize(
    ("visible", "count"),
    [(None, 4), ("0,1", 2), ("3", 1), ("1,-1,2", 1), ("", 0), ("-1", 0), ("GPU-8e2b1c4d-0000-1111, 1", 2)],
)
def test_visible_gpus_counts_the_drivers_gpus_capped_by_cuda_visible_devices(monkeypatch, tmp_path, visible, count):
    for bus in ("0000:01:00.0", "0000:02:00.0", "0000:03:00.0", "0000:04:00.0"):
        (tmp_path / bus).mkdir()
    monkeypatch.setattr(backends, "_NVIDIA_GPUS", str(tmp_path))
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert backends.visible_gpus() == count


def test_visible_gpus_is_zero_without_an_nvidia_driver(monkeypatch, tmp_path):
    monkeypatch.setattr(backends, "_NVIDIA_GPUS", str(tmp_path / "absent"))
    assert backends.visible_gpus() == 0


# -- the registry -------------------------------------------------------------------------------


def test_unknown_backend_is_a_value_error_listing_the_known_names():
    with pytest.raises(ValueError, match=f"unknown backend 'mxnet'; known backends: {', '.join(backends.names())}$"):
        backends.get("mxnet")


@pytest.mark.parametrize("name", backends.names())
def test_missing_framework_raises_backend_unavailable_with_the_install_command(monkeypatch, name):
    cls = backends.backend_class(name)

    def not_installed():
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(cls, "_import", staticmethod(not_installed))
    backends._create.cache_clear()
    try:
        with pytest.raises(BackendUnavailable, match=rf'{name} is not installed .*pip install "xpnet\[{cls.extra}\]"'):
            backends.get(name)
        st = backends.status(name, cls.devices[0])
        assert not st.available and "pip install" in st.reason
    finally:
        backends._create.cache_clear()


def test_available_is_the_pairs_whose_status_is_available():
    got = backends.available()
    assert ("numpy", "cpu") in got
    assert got == [p for p in backends.pairs() if backends.status(*p).available]
    assert backends.available(["numpy"]) == [("numpy", "cpu")]
    with pytest.raises(ValueError, match="unknown backend"):
        backends.available(["nope"])


def test_get_returns_one_cached_object_per_backend_and_device():
    assert backends.get("numpy") is backends.get("numpy", "cpu") is backends.get("numpy", "CPU")


# -- arrays: placement, ownership, device, namespace ---------------------------------------------


def test_asarray_places_data_in_the_asked_dtype_and_round_trips(backend, dtype):
    host = np.arange(12, dtype=np.int64).reshape(3, 4)  # integers are converted
    x = backend.asarray(host, dtype)
    assert backends.owner(x) == backend.name
    assert x.dtype == backend.dtype(dtype)
    back = backend.to_numpy(backend.sync(x))
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back, host)
    np.testing.assert_array_equal(backends.to_numpy(x), host)


def test_backend_owns_its_arrays_and_names_their_device(backend):
    x = backend.asarray(np.ones((2, 3)))
    for a in (x, backend.xp.exp(x), backend.xp.matmul(x, backend.xp.ones((3, 2), dtype=x.dtype))):
        assert backend.owns(a)
        assert backend.device_of(a) == backend.device
    for not_an_array in ([1.0, 2.0], 1.0, None, "cpu"):
        assert not backend.owns(not_an_array)
        with pytest.raises(TypeError, match=f"is not an array of backend '{backend.name}'"):
            backend.device_of(not_an_array)


def test_array_version_is_none_or_a_token_that_changes_when_the_array_is_written(backend):
    """What a Model's kept copies (widened layers, the eager product's weights) rest on: a token for the backend's
    own arrays that changes whenever one is written in place, or None where no one can tell. Written here in
    place where the framework allows it: the token must not stay the same."""
    a = backend.asarray(np.zeros((3, 4)), "float32")
    version = backend.array_version(a)
    if version is None:
        return
    writable = backend.name in ("torch", "cupy", "numpy")  # the frameworks here whose arrays take in-place writes
    if writable:
        a += 1
        assert backend.array_version(a) != version
    else:  # JAX's arrays and TensorFlow's tensors are never written in place
        assert backend.array_version(a) == version


def test_a_tensorflow_variable_has_no_version_a_tensor_has_a_constant_one():
    if not backends.status("tensorflow", "cpu").available:
        pytest.skip(backends.status("tensorflow", "cpu").reason)
    be = backends.get("tensorflow")
    tf = be.module
    assert be.array_version(tf.Variable([1.0])) is None
    assert be.array_version(be.asarray(np.ones(2), "float32")) == 0


def test_no_backend_owns_another_frameworks_arrays(backend):
    mine = backend.asarray(np.ones(3))
    for name, device in backends.available():
        other = backends.get(name, device)
        theirs = other.asarray(np.ones(3))
        if other.owns(mine):
            continue  # the same framework on another device
        assert not backend.owns(theirs)
        with pytest.raises(TypeError, match=f"not an array of backend '{backend.name}'"):
            backend.device_of(theirs)
        with pytest.raises(TypeError, match=rf"arrays of different frameworks \({backend.name}, {name}\)"):
            backends.namespace_of(mine, theirs)


def test_namespace_of_finds_the_backends_namespace(backend):
    x = backend.asarray(np.ones(3))
    assert backends.namespace_of(x).__name__ == backend.xp.__name__
    assert backends.namespace_of(x, 2.0, backend.xp.exp(x), None).__name__ == backend.xp.__name__


def test_bfloat16_where_supported_comes_back_as_float32(backend):
    reason = backend.dtype_missing("bfloat16")
    if reason:
        pytest.skip(reason)
    x = backend.asarray(np.array([1.0, 2.5, -3.0]), "bfloat16")
    out = backend.to_numpy(x)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [1.0, 2.5, -3.0])


def test_unknown_dtype_is_a_value_error(backend):
    with pytest.raises(ValueError, match="unknown dtype 'float16'"):
        backend.asarray(np.ones(2), "float16")


def test_float32_matmul_keeps_full_float32_precision(backend):
    """TF32 (and bfloat16 passes) round 1 + 2**-15 to 1: a matmul by the identity shows whether they are off."""
    A = backend.asarray(np.full((128, 128), 1 + 2.0**-15, dtype=np.float32))
    eye = backend.asarray(np.eye(128, dtype=np.float32))
    np.testing.assert_array_equal(backend.to_numpy(backend.sync(backend.xp.matmul(A, eye))), backend.to_numpy(A))


def test_jit_compiles_where_the_backend_has_a_compiler(backend):
    def double(x):
        return x + x

    compiled = backend.jit(double)
    assert (compiled is double) == (backend.compiler is None)
    x = backend.asarray(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(backend.to_numpy(compiled(x)), [2.0, 4.0])


def test_rows_borrowed_for_a_compiled_function_are_its_argument_with_their_values(backend, dtype):
    """What ``borrow_for_compiled`` gives (a host array itself for JAX's jit) runs in the backend's compiled
    function as the device array would, at any alignment and in every dtype."""
    buffer = np.zeros(12 * 4 + 16, dtype)
    compiled = backend.jit(lambda x: x * 2)
    for start in (0, 1, 16 // np.dtype(dtype).itemsize):
        host = buffer[start:start + 48].reshape(12, 4)
        host[...] = np.arange(48).reshape(12, 4) + start
        out = backend.to_numpy(backend.sync(compiled(backend.borrow_for_compiled(host, dtype))))
        np.testing.assert_array_equal(out, 2 * host)


def test_on_the_cpu_there_is_no_device_clock_and_no_cuda_graph(backend):
    """On the CPU the host's clock is the device's, and there are no kernel launches to record."""
    if backends.device_kind(backend.device) == "gpu":
        pytest.skip("a GPU's clock and graphs are tested in tests/test_gpu.py")
    assert backend.device_clock() is None
    with pytest.raises(NotImplementedError, match=f"{backend.name} on {backend.device} records no CUDA graphs"):
        backend.capture(lambda x: x, backend.asarray(np.ones((1, 4))))


# -- importing ----------------------------------------------------------------------------------


def test_importing_xpnet_imports_no_framework():
    # NumPy is xpnet's host format, imported by design; every other backend's framework must wait.
    frameworks = {m for n in backends.names() for m in backends.backend_class(n).array_modules} - {"numpy"}
    code = (
        "import sys, xpnet, xpnet.backends, xpnet.model, xpnet.lab, xpnet.parity, xpnet.cli;"
        f"print(sorted(m for m in {sorted(frameworks | {'keras'})!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_gpu_memory_is_not_grabbed_by_jax_or_tensorflow():
    code = (
        "import os, xpnet.backends as b; [b.backend_class(n) for n in b.names()];"
        "print(os.environ['XLA_PYTHON_CLIENT_PREALLOCATE'], os.environ['TF_FORCE_GPU_ALLOW_GROWTH'])"
    )
    unset = ("XLA_PYTHON_CLIENT_PREALLOCATE", "TF_FORCE_GPU_ALLOW_GROWTH")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["false", "true"]


def test_tensorflow_bfloat16_is_missing_where_onednn_capped_below_avx512_would_crash_on_it():
    """TensorFlow 2.21's bfloat16 matmul dies of SIGSEGV when ONEDNN_MAX_CPU_ISA caps oneDNN below AVX-512 on a CPU
    with AVX512_BF16 (measured): bfloat16 is then reported missing with the reason, never run. The rule alone
    (no TensorFlow needed), on given environments and CPU flags."""
    from xpnet.backends.tensorflow_backend import onednn_bfloat16_crash

    bf16_cpu, older_cpu = frozenset({"avx2", "avx512f", "avx512_bf16"}), frozenset({"avx2", "fma"})
    for cap in ("AVX2", "avx2", "SSE41", "AVX2_VNNI_2"):
        reason = onednn_bfloat16_crash({"ONEDNN_MAX_CPU_ISA": cap}, bf16_cpu)
        assert reason and f"ONEDNN_MAX_CPU_ISA={cap.upper()}" in reason and "TF_ENABLE_ONEDNN_OPTS=0" in reason
    assert onednn_bfloat16_crash({"ONEDNN_MAX_CPU_ISA": "AVX2"}, frozenset({"amx_bf16"}))
    for environ in ({}, {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_VNNI"}, {"ONEDNN_MAX_CPU_ISA": "ALL"},
                    {"ONEDNN_MAX_CPU_ISA": "AVX2", "TF_ENABLE_ONEDNN_OPTS": "0"}):
        assert onednn_bfloat16_crash(environ, bf16_cpu) is None, environ
    assert onednn_bfloat16_crash({"ONEDNN_MAX_CPU_ISA": "AVX2"}, older_cpu) is None  # no oneDNN bfloat16 path there
