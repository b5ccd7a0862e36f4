"""JAX on every local CPU device at once ("cpu:all"): parameters replicated, rows split, one compiled forward.

A machine has one CPU device unless ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` is set
before JAX starts, and JAX is already running in this test process: each check runs in a fresh
Python with two CPU devices forced. (In this process "cpu:all" is listed as unavailable, with that
reason, so the registry-driven tests skip it.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("jax", reason='jax is not installed (pip install "xpnet[jax]")')

#: Two CPU devices, forced before JAX is imported.
FORCED = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", TF_CPP_MIN_LOG_LEVEL="3")

_CHECKS = r"""
import dataclasses, json, sys
import numpy as np
import xpnet
from xpnet import backends, parity
from xpnet.model import init_params, save
from xpnet.score import score

folder = sys.argv[1]
found = {}
be = backends.get("jax", "cpu:all")
model = xpnet.Model(init_params(seed=0), "jax", "cpu:all")
X = np.random.default_rng(0).random((1000, 400), dtype=np.float32)
expected = xpnet.Model(init_params(seed=0)).predict_proba(X)

Xd = model.asarray(X)
found["rows_per_device"] = sorted(s.data.shape[0] for s in Xd.addressable_shards)
found["params_replicated"] = all(a.sharding.is_fully_replicated and len(a.devices()) == 2
                                 for pair in model.layers for a in pair)
forward = model.forward_fn("jit")
out = forward(model.layers, Xd)
forward(model.layers, model.asarray(X[::-1].copy()))
found["out_rows_per_device"] = sorted(s.data.shape[0] for s in out.addressable_shards)
found["compiled_forwards"] = forward.__wrapped__._cache_size()  # jax.jit's own, under xpnet's wrapper
found["device_of"] = be.device_of(out)
# chunks of 333 rows, each padded to 334 to split evenly
found["max_rel_err"] = float(np.max(np.abs(model.predict_proba(X, "jit", batch_size=333) - expected) / expected))

# (each eager operation on sharded arrays compiles a program: the loop variant's parity, hundreds of them, is
# left to `xpnet parity` and the slow test below)
report = parity.check(["jax"], devices=["cpu:all"], variants=["matmul", "jit"])
found["parity_ok"], found["parity_rows"] = report.ok, len(report.rows)
found["parity_variants"] = sorted({(r.variant, r.dtype) for r in report.rows})

np.save(f"{folder}/X.npy", X)
save(init_params(seed=0), f"{folder}/w.npz")
result = score(init_params(seed=0), f"{folder}/X.npy", f"{folder}/P.npy", backend="jax", device="cpu:all",
               batch_size=300)
found["score_device"] = result.device
found["score_max_rel_err"] = float(np.max(np.abs(np.load(f"{folder}/P.npy") - expected) / expected))

found["listed"] = dataclasses.asdict(backends.status("jax", "cpu:all"))  # a row of `xpnet backends --json`
print(json.dumps(found))
"""


def test_cpu_all_splits_rows_across_two_forced_devices_with_one_compiled_forward(tmp_path: Path):
    out = subprocess.run([sys.executable, "-c", _CHECKS, str(tmp_path)], env=FORCED, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["rows_per_device"] == [500, 500] and found["out_rows_per_device"] == [500, 500]
    assert found["params_replicated"]
    assert found["compiled_forwards"] == 1  # one forward for both batches, compiled once, run on both devices
    assert found["device_of"] == "cpu:all"
    assert found["max_rel_err"] <= 1e-5
    assert found["parity_ok"] and found["parity_rows"] == 4, found
    assert found["score_device"] == "cpu:all" and found["score_max_rel_err"] <= 1e-5
    listed = found["listed"]
    assert (listed["backend"], listed["available"], listed["device_count"]) == ("jax", True, 2)


def test_without_forced_devices_cpu_all_is_listed_as_unavailable_saying_how_to_get_two():
    from xpnet import backends

    st = backends.status("jax", "cpu:all")
    if st.available:  # this process was started with several CPU devices: nothing to check here
        pytest.skip(f"this process has {st.device_count} CPU devices")
    assert "xla_force_host_platform_device_count" in st.reason and "use cpu" in st.reason


@pytest.mark.slow
def test_every_registry_test_passes_on_cpu_all_with_two_forced_devices():
    """The registry-driven tests and benchmark rows, each run on "cpu:all" (minutes: JAX compiles every shape)."""
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "cpu:all",
                          "-m", "not slow", "tests", "bench"], cwd=root, env=FORCED, capture_output=True,
                         text=True, timeout=3600)
    assert out.returncode == 0, out.stdout[-5000:]
    assert " passed" in out.stdout.splitlines()[-1]
