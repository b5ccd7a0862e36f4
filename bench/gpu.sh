#!/usr/bin/env bash
# The GPU benchmark, one prepared script for the device machine (an H200 with NumPy, CuPy, JAX,
# PyTorch, pytest-benchmark and setuptools; no TensorFlow, no array-api-compat, no network).
#
# It installs xpnet from this checkout and array-api-compat from a carried wheel, runs the GPU tests
# (CUDA graphs replay the forward, CUDA events time device work, TF32 is off), parity on every GPU
# backend, then the benchmark on every GPU backend up to m = 10_000_000 in float32 (graph rows,
# device times from CUDA events, the copies of predict_proba timed apart, the launch floor and the
# host-to-device bandwidth beside the roofline), in about 6 minutes, and writes everything under
# $OUT (pytest-benchmark's JSON, the parity JSON, the log).
#
# Before the run, here (the registry is reachable here, not there):
#   pip download --no-deps --only-binary=:all: -d bench/.wheels "array-api-compat>=1.11"
# then run `bash bench/gpu.sh` on the device machine with bench/.wheels carried (an untracked,
# not-ignored folder travels as it is). Afterwards, here:
#   python -m xpnet.bench.cli --report-only <files_at>/bench-gpu.json --markdown --plot bench-gpu.png
set -euo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to the folder that comes back}
WHEELS=${XPNET_WHEELS:-bench/.wheels}
SIZES=${XPNET_GPU_SIZES:-1,64,1000,100000,1000000,10000000}
log="$OUT/gpu-log.txt"

{
  echo "== $(date -u +%FT%TZ) machine"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv || true
  python3 -c 'import numpy, sys; print(sys.version); print("numpy", numpy.__version__)'
  python3 -m pip install --no-index --no-deps "$WHEELS"/array_api_compat-*.whl
  python3 -m pip install --no-deps --no-build-isolation .
  python3 -m xpnet backends || true

  echo "== GPU tests"
  python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py \
    "tests/test_backends.py::test_float32_matmul_keeps_full_float32_precision" \
    && echo "GPU tests ok" || echo "GPU tests FAILED"

  echo "== parity"
  python3 -m xpnet parity --backends cupy,jax,torch --devices gpu --json >"$OUT/parity-gpu.json" \
    && echo "parity ok" || echo "parity FAILED (see parity-gpu.json)"

  echo "== benchmark"
  # No peers but the native code (Keras and ONNX Runtime are CPU peers, and absent there); float32
  # only (parity covers float64); 0.3 s per row keeps the whole run near 6 minutes, compile time included.
  timeout 420 python3 -m xpnet.bench.cli --backends cupy,jax,torch --devices gpu --peers native \
    --dtypes float32 --sizes "$SIZES" --max-time 0.3 --json "$OUT/bench-gpu.json" --plot ''
} 2>&1 | tee "$log"
