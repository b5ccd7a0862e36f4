"""The options of the benchmark suite, declared once for its two front ends.

``pytest bench/`` takes each as ``--bench-NAME`` (``conftest.py``), ``xpnet bench`` as ``--NAME``
(``cli.py``), which hands it on to pytest unchanged; both read :data:`SUITE_OPTIONS`, so a new
option is one line here. Values travel as the text pytest parses: comma-separated lists are
checked and tidied on the way in (:func:`name_list`) and split where they are used.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from xpnet.bench.cases import PEERS
from xpnet.validation import split_names


def name_list(text: str) -> str:
    """argparse type of a comma-separated option: its items without spaces ("numpy, jax" -> "numpy,jax")."""
    items = split_names(text)
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return ",".join(items)


@dataclass(frozen=True)
class SuiteOption:
    """One option of the suite: ``--bench-NAME`` to pytest, ``--NAME`` to ``xpnet bench``; None when not given."""

    name: str
    help: str
    type: Callable[[str], Any] = name_list
    metavar: str | None = None

    def add_to(self, add_option: Callable[..., Any], prefix: str = "") -> None:
        """Declare the option through ``add_option`` (argparse's ``add_argument`` or pytest's ``addoption``)."""
        add_option(f"--{prefix}{self.name}", type=self.type, default=None, metavar=self.metavar, help=self.help)

    @property
    def dest(self) -> str:
        """The attribute ``xpnet bench``'s parser stores the value under."""
        return self.name.replace("-", "_")


SUITE_OPTIONS = (
    SuiteOption("backends", "comma-separated registry backends (default: all)"),
    SuiteOption("devices", "comma-separated devices: cpu, gpu, gpu:N (default: all)"),
    SuiteOption("sizes", "comma-separated batch sizes (1e6 allowed), 'default' (1,64,1000) or 'all' (adds 1e5 and "
                         "1e6); default: 'default' in pytest, 'all' in xpnet bench without --quick"),
    SuiteOption("dtypes", "comma-separated dtypes (default: float32 at every size, float64 and bfloat16 at m=1000 and "
                          "1e5); naming them runs them at every size"),
    SuiteOption("peers", f"peers to run beside xpnet: {','.join(PEERS)} (default: all) or 'none'"),
    SuiteOption("wait-quiet", "wait up to SECONDS in all for other processes to leave the CPUs idle before each row "
                              "that follows one timed on a busy machine, and in xpnet bench before the run too (a "
                              "shared machine's neighbours stall multi-threaded BLAS by milliseconds per call; "
                              "default: no waiting)", float, "SECONDS"),
)
