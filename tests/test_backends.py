"""The backend interface and registry: placement, conversion, dtypes, precision, errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from xpnet import backends
from xpnet.backends import BackendUnavailable


def test_registry_lists_every_framework_of_the_design():
    assert backends.names() == ["numpy", "jax", "tensorflow", "torch", "cupy", "array_api_strict"]
    assert ("torch", "cuda") in backends.pairs() and ("jax", "gpu") in backends.pairs()


def test_unknown_backend_is_a_value_error_listing_the_known_names():
    with pytest.raises(ValueError, match="unknown backend 'mxnet'; known backends: numpy, jax"):
        backends.get("mxnet")


def test_unknown_device_is_a_value_error_listing_the_backends_devices():
    with pytest.raises(ValueError, match="unknown device 'tpu' for backend 'torch'; known devices: cpu, cuda"):
        backends.get("torch", "tpu")


def test_device_aliases_name_the_same_backend():
    assert backends.backend_class("torch").canonical_device("gpu") == "cuda"
    assert backends.backend_class("jax").canonical_device("CUDA") == "gpu"


def test_missing_framework_raises_backend_unavailable_with_the_install_command(monkeypatch):
    cls = backends.backend_class("cupy")

    def not_installed():
        raise ImportError("No module named 'cupy'")

    monkeypatch.setattr(cls, "_import", staticmethod(not_installed))
    backends._create.cache_clear()
    with pytest.raises(BackendUnavailable, match=r'cupy is not installed .*pip install "xpnet\[cupy\]"'):
        backends.get("cupy")
    st = backends.status("cupy", "gpu")
    assert not st.available and "pip install" in st.reason
    backends._create.cache_clear()


def test_absent_device_raises_backend_unavailable_naming_it():
    if backends.status("torch", "cpu").available and not backends.status("torch", "cuda").available:
        with pytest.raises(BackendUnavailable, match="torch on cuda: torch.cuda.is_available"):
            backends.get("torch", "cuda")
    else:
        pytest.skip("needs torch installed without a usable CUDA device")


def test_available_is_the_pairs_whose_status_is_available():
    got = backends.available()
    assert ("numpy", "cpu") in got
    assert got == [p for p in backends.pairs() if backends.status(*p).available]
    assert backends.available(["numpy"]) == [("numpy", "cpu")]
    with pytest.raises(ValueError, match="unknown backend"):
        backends.available(["nope"])


def test_get_returns_one_cached_object_per_backend_and_device():
    assert backends.get("numpy") is backends.get("numpy", "cpu")


def test_asarray_places_data_in_the_asked_dtype_and_round_trips(backend, dtype):
    host = np.arange(12, dtype=np.int64).reshape(3, 4)  # integers are converted
    x = backend.asarray(host, dtype)
    assert backends.owner(x) == backend.name
    assert x.dtype == backend.dtype(dtype)
    back = backend.to_numpy(backend.sync(x))
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back, host)
    np.testing.assert_array_equal(backends.to_numpy(x), host)


def test_namespace_of_finds_the_backends_namespace(backend):
    x = backend.asarray(np.ones(3))
    xp = backends.namespace_of(x)
    assert xp.__name__ == backend.xp.__name__


def test_bfloat16_where_supported_comes_back_as_float32(backend):
    reason = backend.dtype_missing("bfloat16")
    if reason:
        assert backend.name in ("numpy", "array_api_strict", "cupy")
        pytest.skip(reason)
    x = backend.asarray(np.array([1.0, 2.5, -3.0]), "bfloat16")
    out = backend.to_numpy(x)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [1.0, 2.5, -3.0])


def test_unknown_dtype_is_a_value_error(backend):
    with pytest.raises(ValueError, match="unknown dtype 'float16'"):
        backend.asarray(np.ones(2), "float16")


def test_matmul_precision_is_pinned_to_full_float32(backend):
    if backend.name == "jax":
        assert backend.module.config.jax_default_matmul_precision == "highest"
    elif backend.name == "torch":
        torch = backend.module
        assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
        assert torch.get_float32_matmul_precision() == "highest"
    elif backend.name == "tensorflow":
        assert not backend.module.config.experimental.tensor_float_32_execution_enabled()
    else:
        pytest.skip(f"{backend.name} has no TF32 switch to pin")


def test_jit_compiles_where_the_backend_has_a_compiler(backend):
    def double(x):
        return x + x

    compiled = backend.jit(double)
    assert (compiled is double) == (backend.compiler is None)
    x = backend.asarray(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(backend.to_numpy(compiled(x)), [2.0, 4.0])


def test_importing_xpnet_imports_no_framework():
    code = (
        "import sys, xpnet, xpnet.backends, xpnet.model, xpnet.lab, xpnet.parity, xpnet.cli;"
        "print([m for m in ('jax', 'tensorflow', 'torch', 'cupy', 'keras', 'array_api_strict') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_gpu_memory_is_not_grabbed_by_jax_or_tensorflow():
    code = (
        "import os, xpnet.backends as b; b.backend_class('jax'); b.backend_class('tensorflow');"
        "print(os.environ['XLA_PYTHON_CLIENT_PREALLOCATE'], os.environ['TF_FORCE_GPU_ALLOW_GROWTH'])"
    )
    env = {k: v for k, v in __import__("os").environ.items()
           if k not in ("XLA_PYTHON_CLIENT_PREALLOCATE", "TF_FORCE_GPU_ALLOW_GROWTH")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["false", "true"]
