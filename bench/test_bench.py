"""The benchmarks: xpnet's three variants, the native peers, Keras and ONNX Runtime, in one run.

Each test is one row: it skips with the reason when its backend, device or dtype cannot
run here, checks its output against the float64 reference once, and times it (see
``harness``). ``pytest bench/ --benchmark-disable`` runs each row once, checked.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest

from xpnet import backends
from xpnet.api import Model
from xpnet.bench import cases, harness, native, peers
from xpnet.bench.cases import Case
from xpnet.bench.limits import DeviceLimits
from xpnet.streaming import Staging


def _backend(case: Case) -> backends.Backend:
    """The row's backend, or a skip saying why it cannot run here."""
    st = backends.status(case.backend, case.device)
    if not st.available:
        pytest.skip(st.reason)
    be = backends.get(case.backend, case.device)
    reason = be.dtype_missing(case.dtype)
    if reason:
        pytest.skip(f"{be.name} on {be.device}: {reason}")
    return be


def _import_or_skip(module: str, extra: str) -> Any:
    return pytest.importorskip(module, reason=f"{module} is not installed (pip install \"xpnet[{extra}]\")")


@pytest.fixture(scope="session")
def models(params: Any) -> dict[tuple[str, str, str], Model]:
    """One Model per (backend, device, dtype), reused by every size: compiled once per shape, as a user would."""
    return {}


def _model(models: dict, params: Any, be: backends.Backend, dtype: str) -> Model:
    key = (be.name, be.device, dtype)
    if key not in models:
        models[key] = Model(params, be, dtype=dtype)
    return models[key]


@pytest.fixture(scope="session")
def native_fns() -> dict[tuple[str, str, str], Any]:
    return {}


def _measure(
    benchmark: Any, case: Case, subject: harness.Subject, host_inputs: Any, settings: harness.Settings,
    device_limits: dict[str, DeviceLimits], version: str | None, peer: harness.Subject | None = None,
) -> None:
    """Check and time ``subject`` for ``case``, recording the row's identity and roofline in ``extra_info``."""
    benchmark.group = case.group
    xs, ref = host_inputs.get(case.m)
    with native.honest_compilers():
        found = harness.run(benchmark, subject, xs, ref, case.dtype, f"{case.impl} {case.id}", settings, peer)
    lim = device_limits.get(case.device)
    benchmark.extra_info.update(
        impl=case.impl, backend=case.backend, device=case.device, variant=case.variant, column=case.column,
        m=case.m, dtype=case.dtype, version=version,
        roofline=lim.roofline(case.dtype) if lim else None, bound=lim.bound(case.dtype) if lim else None,
        ceiling=lim.ceiling(case.dtype) if lim else None,
        **found,
    )


def _native(case: Case, kind: str, be: backends.Backend, model: Model, native_fns: dict) -> harness.Subject | str:
    """The native forward of ``kind`` on the model's device arrays, or why there is none."""
    key = (case.backend, case.device, kind)
    if key not in native_fns:
        try:
            native_fns[key] = native.build(case.backend, kind, be)
        except LookupError as err:
            native_fns[key] = err
    if isinstance(native_fns[key], LookupError):
        return str(native_fns[key])
    return harness.Subject(
        fn=functools.partial(native_fns[key], model.layers),
        prepare=lambda X: be.asarray(X, case.dtype), sync=be.sync, to_numpy=be.to_numpy,
    )


#: xpnet variant -> the native kind its overhead is measured against.
_PEER_KIND = {"matmul": "eager", "jit": "jit"}


def test_xpnet(benchmark: Any, xpnet_case: Case, params: Any, models: dict, native_fns: dict, host_inputs: Any,
               settings: harness.Settings, device_limits: dict) -> None:
    """xpnet's forward, ``Model.forward_fn(variant)`` on arrays already on the device; with its overhead against
    the native code measured in interleaved rounds when the backend has a native peer."""
    case = xpnet_case
    be = _backend(case)
    model = _model(models, params, be, case.dtype)
    if case.variant == cases.GRAPH:  # the eager forward, recorded once as a CUDA graph and replayed
        forward = be.capture(functools.partial(model.forward_fn("matmul"), model.layers),
                             model.asarray(host_inputs.get(case.m)[0][0]))
    else:
        forward = functools.partial(model.forward_fn(case.variant), model.layers)
    subject = harness.Subject(fn=forward, prepare=model.asarray, sync=be.sync, to_numpy=be.to_numpy,
                              clock=be.device_clock())
    peer = None
    if case.variant in _PEER_KIND and not settings.disabled:
        found = _native(case, _PEER_KIND[case.variant], be, model, native_fns)
        peer = None if isinstance(found, str) else found
    _measure(benchmark, case, subject, host_inputs, settings, device_limits, be.version, peer)


def test_user(benchmark: Any, user_case: Case, params: Any, models: dict, host_inputs: Any,
              settings: harness.Settings, device_limits: dict) -> None:
    """What a user calls: ``Model.predict_proba(X, variant)``, NumPy in (float32), checked, NumPy out; its overhead
    against the device-resident forward (``test_xpnet``'s subject) measured in interleaved rounds."""
    case = user_case
    be = _backend(case)
    model = _model(models, params, be, case.dtype)
    subject = harness.Subject(fn=functools.partial(model.predict_proba, variant=case.variant),
                              prepare=lambda X: np.ascontiguousarray(X, dtype=np.float32))
    forward = harness.Subject(fn=functools.partial(model.forward_fn(case.variant), model.layers),
                              prepare=model.asarray, sync=be.sync, to_numpy=be.to_numpy)
    _measure(benchmark, case, subject, host_inputs, settings, device_limits, be.version,
             None if settings.disabled else forward)
    # the copies apart: X onto the device as predict_proba stages it, and a forward's output back (computed on one
    # device copy of X made here: a fresh copy per call would time its freeing, which predict_proba never does)
    xs = host_inputs.get(case.m)[0]
    staging, unchecked, on_device = Staging(be, case.dtype, offset=True), model.forward_fn(case.variant), \
        model.asarray(xs[0])
    compiled = model._compiled(case.variant)  # as predict_proba decides
    benchmark.extra_info.update(harness.transfer_medians(
        lambda X: be.sync(staging.rows(X, compiled)), lambda: be.sync(unchecked(model.layers, on_device)), be.to_numpy,
        xs, 1 if settings.disabled else max(3, settings.min_rounds)))


def test_native(benchmark: Any, native_case: Case, params: Any, models: dict, native_fns: dict,
                host_inputs: Any, settings: harness.Settings, device_limits: dict) -> None:
    """The same math written directly in the framework, on the same device arrays as xpnet's."""
    case = native_case
    be = _backend(case)
    model = _model(models, params, be, case.dtype)
    subject = _native(case, case.variant, be, model, native_fns)
    if isinstance(subject, str):
        pytest.skip(subject)
    _measure(benchmark, case, subject, host_inputs, settings, device_limits, be.version)


@pytest.fixture(scope="session")
def keras_model(params: Any) -> Any:
    _import_or_skip("keras", "tensorflow")
    return peers.keras_model(params)


def test_keras(benchmark: Any, keras_case: Case, keras_model: Any, host_inputs: Any,
               settings: harness.Settings, device_limits: dict) -> None:
    """The lab's Keras model with the same weights: ``model.predict(x)`` (numpy in) and ``model(x)`` (a tensor)."""
    import keras

    case = keras_case
    if case.variant == "predict":
        subject = harness.Subject(fn=peers.keras_predict(keras_model), prepare=np.asarray)
    else:
        subject = harness.Subject(fn=peers.keras_call(keras_model), prepare=peers.keras_input,
                                  to_numpy=keras.ops.convert_to_numpy)
    _measure(benchmark, case, subject, host_inputs, settings, device_limits, keras.__version__)


@pytest.fixture(scope="session")
def ort_sessions(params: Any) -> dict[str, Any]:
    _import_or_skip("onnxruntime", "onnx")
    return {}


def test_onnxruntime(benchmark: Any, onnxruntime_case: Case, params: Any, ort_sessions: dict, host_inputs: Any,
                     settings: harness.Settings, device_limits: dict) -> None:
    """ONNX Runtime's CPU session on the same network (MatMul, Add, Sigmoid per layer), numpy in and out."""
    import onnxruntime

    case = onnxruntime_case
    if case.dtype not in ort_sessions:
        ort_sessions[case.dtype] = peers.onnxruntime_session(params, case.dtype)
    dtype = np.dtype(case.dtype)
    subject = harness.Subject(fn=ort_sessions[case.dtype], prepare=lambda X: np.ascontiguousarray(X, dtype=dtype))
    _measure(benchmark, case, subject, host_inputs, settings, device_limits, onnxruntime.__version__)
