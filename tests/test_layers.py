"""The layers import one way: import-linter's contracts (pyproject.toml) hold, and would catch the old arrows.

The folders install under ``xpnet`` through package-dir (``model/`` as ``xpnet.model``), which
an editable install maps without moving files; import-linter walks the package's folder, so
the tests lay the files out as a wheel would, in a temporary folder, and lint that.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = shutil.which("lint-imports")
pytestmark = pytest.mark.skipif(LINT_IMPORTS is None, reason="import-linter is not installed (pip install -e .[test])")

MODEL = "model: imports no framework and nothing of xpnet outside itself (it receives xp)"
MODEL_MATH = "model math (forward, activations, training): the namespace xp alone, NumPy only as the host format"
BACKENDS = "backends: know no network and nothing of xpnet outside themselves"
BENCH = "bench: loaded only by the command line (its bench command)"


def _installed_layout(dest: Path) -> Path:
    """The package's files under ``dest`` as ``pip install .`` lays them out, with pyproject.toml beside."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for package, folder in config["tool"]["setuptools"]["package-dir"].items():
        shutil.copytree(ROOT / folder, dest / package.replace(".", "/"), dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "results", "*.png", "*.json", "*.sh"))
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([LINT_IMPORTS, "--no-cache", "pyproject.toml"], cwd=root, capture_output=True, text=True,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, timeout=120)


def _broken(output: str) -> set[str]:
    """The names of the contracts reported broken."""
    squeezed = "".join(output.split())  # import-linter wraps long names across lines
    return {name for name in (MODEL, MODEL_MATH, BACKENDS, BENCH) if "".join(name.split()) + "BROKEN" in squeezed}


def test_every_layer_contract_is_kept(tmp_path):
    result = _lint(_installed_layout(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


#: The arrows a review found (and fixed), put back one at a time: (file, the import, the contracts that catch it).
OLD_ARROWS = [
    ("xpnet/model/activations.py", "from xpnet.backends import namespace_of", {MODEL, MODEL_MATH}),
    ("xpnet/model/params.py", "from xpnet.validation import check_seed", {MODEL}),
    ("xpnet/model/params.py", "from xpnet.backends import get, to_numpy", {MODEL}),
    ("xpnet/model/__init__.py", "from xpnet.keras_interop import to_keras", {MODEL}),
    ("xpnet/backends/__init__.py", "from xpnet.model import Params", {BACKENDS}),
    ("xpnet/api.py", "from xpnet.bench import harness", {BENCH}),
    ("xpnet/model/layers.py", "import torch", {MODEL}),
    ("xpnet/model/network.py", "import numpy as np", {MODEL_MATH}),
]


@pytest.mark.parametrize(("path", "line", "contracts"), OLD_ARROWS, ids=[f"{p}:{line}" for p, line, _ in OLD_ARROWS])
def test_an_old_arrow_put_back_breaks_its_contract(tmp_path, path, line, contracts):
    root = _installed_layout(tmp_path)
    with open(root / path, "a") as f:
        f.write(f"\n{line}  # noqa\n")
    result = _lint(root)
    assert result.returncode != 0
    assert _broken(result.stdout) == contracts, result.stdout


def _modules_loaded_by(code: str, prefixes: tuple[str, ...]) -> list[str]:
    """The modules under ``prefixes`` that a fresh interpreter has loaded after running ``code``."""
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(m for m in sys.modules if m.startswith({prefixes!r}))))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_command_line_loads_the_benchmark_suite_only_for_its_bench_command():
    code = ("from xpnet import cli; cli.build_parser()\n"
            "assert cli.main(['parity', '--backends', 'numpy', '--variants', 'matmul', '--dtypes', 'float64']) == 0")
    assert _modules_loaded_by(code, ("xpnet.bench",)) == []


def test_import_xpnet_reaches_every_public_submodule_without_importing_a_framework():
    code = ("import xpnet\n"
            "mods = [xpnet.lab, xpnet.data, xpnet.train, xpnet.parity, xpnet.evaluate, xpnet.keras_interop]\n"
            "assert callable(xpnet.to_keras) and callable(xpnet.summary)")
    frameworks = ("jax", "torch", "tensorflow", "keras", "cupy", "dask", "array_api_strict")
    assert _modules_loaded_by(code, frameworks) == []
