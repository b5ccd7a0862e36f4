#!/usr/bin/env bash
# The GPU benchmark, one prepared script for the device machine (an H200 with NumPy, CuPy, JAX,
# PyTorch, pytest-benchmark and setuptools; no TensorFlow, no array-api-compat, no network).
# Stages: install; GPU tests beside parity; host-to-device uploads, pageable against pinned (upload-gpu.json);
# each backend's benchmark; the report.
#
# It installs xpnet from this checkout and array-api-compat from a carried wheel (into /tmp/xpnet-site, on
# PYTHONPATH), runs the GPU tests (CUDA graphs replay the forward, CUDA events time device work, TF32
# is off) beside parity on every GPU backend, then the benchmark of each GPU backend in a process of its
# own, in float32 up to m = 10_000_000 (graph rows, device times from CUDA events, the copies of
# predict_proba timed apart, the launch floor and the host-to-device bandwidth beside the roofline), and
# last the report of all three as one run, with every target's status. One process per backend: a crash
# or a time limit costs that backend's rows, not the others'. Stages share a time budget
# (XPNET_GPU_BUDGET seconds, default 480: 8 minutes): each benchmark gets what is left after keeping a
# reserve for those after it, and is interrupted there, losing the rows it had not reached (the largest m
# run last). On the H200 (2026-11-30) the whole took 507 s with a budget of 540, and JAX's rows at 10^7
# did not fit; the limits' operands are drawn once per process since, not once per backend (8.5 s per
# backend on the 2-vCPU machine of BENCHMARKS.md; not re-run on a GPU). Everything lands under $OUT.
#
# Before the run, here (the registry is reachable here, not there):
#   pip download --no-deps --only-binary=:all: -d bench/.wheels "array-api-compat>=1.11"
# (where array-api-compat is installed already, no wheel is needed; $OUT is made if missing)
# then run `bash bench/gpu.sh` on the device machine with bench/.wheels carried (git ignores it). Afterwards, here:
#   python -m xpnet.bench.cli --report-only <files_at>/bench-gpu-*.json --markdown
# Without a GPU, XPNET_GPU_DEVICES=cpu tries the whole script on the CPU (XPNET_GPU_SIZES to shorten it).
set -uo pipefail  # not -e: a stage that fails is reported, and the next one runs
export PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT to the folder that comes back}
OUT=$(mkdir -p "$OUT" && cd "$OUT" && pwd)
REPO=$(cd "$(dirname "$0")/.." && pwd)
WHEELS=$(cd "$REPO" && cd "${XPNET_WHEELS:-bench/.wheels}" 2>/dev/null && pwd)
SIZES=${XPNET_GPU_SIZES:-1,1000,100000,10000000}
DEVICES=${XPNET_GPU_DEVICES:-gpu}
BACKENDS=${XPNET_GPU_BACKENDS:-torch jax cupy}  # torch first: its compiler takes the longest
MAX_TIME=${XPNET_GPU_MAX_TIME:-0.2}
DEADLINE=$((SECONDS + ${XPNET_GPU_BUDGET:-480}))
RESERVE=60  # seconds kept for each benchmark still to run
REPORT=20   # and for the report
declare -A CAP=([torch]=200 [jax]=150 [cupy]=120)  # torch took 156 s, CuPy 120, JAX over 150 on the H200
SITE=/tmp/xpnet-site
# Commands run from an empty folder: in the checkout, its own xpnet/ folder would shadow the installed package
# (whose xpnet.backends, xpnet.model and xpnet.bench are the checkout's top-level folders, mapped by pyproject.toml).
RUN=$(mktemp -d)
cd "$RUN" || exit 1
stage() { echo "== $(date -u +%T) $* ($((DEADLINE - SECONDS)) s left)"; }

{
  stage "machine"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,clocks.mem,power.limit \
    --format=csv || echo "nvidia-smi: not here"
  nproc
  python3 -m pip list 2>/dev/null | grep -iE '^(numpy|jax|jaxlib|jax-cuda[0-9]+-plugin|torch|triton|cupy-cuda[0-9x]+|scikit-learn|pytest|pytest-benchmark|setuptools) '
  if compgen -G "$WHEELS/array_api_compat-*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" \
      "$WHEELS"/array_api_compat-*.whl || exit 1
  else
    echo "no array-api-compat wheel in ${XPNET_WHEELS:-bench/.wheels}: the installed one is used, if any"
  fi
  python3 -m pip install -q --no-deps --no-build-isolation --no-compile --no-cache-dir --target "$SITE" "$REPO" \
    || exit 1
  export PYTHONPATH=$SITE${PYTHONPATH:+:$PYTHONPATH}
  python3 -m xpnet backends

  stage "GPU tests and parity, side by side"
  (timeout 120 python3 -m pytest -q -p no:cacheprovider -c "$REPO/pyproject.toml" --rootdir "$REPO" \
     "$REPO/tests/test_gpu.py" "$REPO/tests/test_backends.py::test_float32_matmul_keeps_full_float32_precision" \
     >"$OUT/tests-gpu.txt" 2>&1; echo "GPU tests: exit $?" >>"$OUT/tests-gpu.txt") &
  # shellcheck disable=SC2086  # the backends are a list
  timeout 120 python3 -m xpnet parity --backends "$(echo $BACKENDS | tr ' ' ,)" --devices "$DEVICES" --json \
    >"$OUT/parity-gpu.json"
  echo "parity: exit $? (0: every row within its tolerances; parity-gpu.json has them)"
  wait
  tail -n 25 "$OUT/tests-gpu.txt"

  stage "host rows onto the GPU: the framework's copy from pageable memory against xpnet's pinned buffers"
  # Decides Backend.pinned_from_bytes (None, off, until this shows where the pinned path pays); CuPy and PyTorch.
  timeout 90 python3 -m xpnet.bench.upload_timing --rows "${XPNET_GPU_UPLOAD_ROWS:-1e4,1e5,1e6}" --pieces 4,16 \
    --threads 1,4 --rounds 9 --json "$OUT/upload-gpu.json"
  echo "upload timing: exit $?"

  # shellcheck disable=SC2206
  order=($BACKENDS)
  for i in "${!order[@]}"; do
    be=${order[$i]}
    cap=$(( DEADLINE - SECONDS - RESERVE * (${#order[@]} - i - 1) - REPORT ))
    (( cap > ${CAP[$be]:-150} )) && cap=${CAP[$be]:-150}
    stage "benchmark $be, at most $cap s"
    if (( cap < 30 )); then echo "benchmark $be: skipped, no time left"; continue; fi
    # At its limit it is interrupted (SIGINT), as Ctrl-C would: pytest ends the session and pytest-benchmark still
    # writes the rows timed so far; --verbose keeps pytest's report of any row that failed, traceback and all.
    timeout -s INT -k 20 "$cap" python3 -m xpnet.bench.cli --backends "$be" --devices "$DEVICES" --peers native \
      --dtypes float32 --sizes "$SIZES" --max-time "$MAX_TIME" --json "$OUT/bench-gpu-$be.json" --verbose
    echo "benchmark $be: exit $? (124: interrupted at its limit, the rows timed till then kept)"
  done

  stage "the report of every backend's run as one"
  shopt -s nullglob
  runs=("$OUT"/bench-gpu-*.json)
  if (( ${#runs[@]} )); then
    python3 -m xpnet.bench.cli --report-only "${runs[@]}" --markdown --plot "$OUT/bench-gpu.png" \
      >"$OUT/bench-gpu.md"
    echo "report: exit $?"
  fi
  nvidia-smi --query-gpu=clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv 2>/dev/null
  stage "done"
  cat "$OUT/bench-gpu.md" 2>/dev/null
} 2>&1 | tee "$OUT/gpu-log.txt"
