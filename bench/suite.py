"""Run the benchmark suite (pytest bench/) in this process for ``xpnet bench``: a progress bar, not pytest's report.

pytest-benchmark prints a raw table per group and pytest its session report, about a hundred
lines that ``xpnet bench`` says better from the JSON afterwards; so pytest's output is kept
in memory (shown with ``--verbose``), a bar over the rows is drawn on a terminal, and only
the rows that failed, and why, are handed back.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from xpnet.progress import Bar

#: Skips that are not rows: a row kind with no case in this run, and the suite's tests of itself.
NOT_ROWS = ("got empty parameter set", "Skipping non-benchmark")


@dataclass(eq=False)  # pytest keeps its plugins in sets: hashable by identity
class SuiteProgress:
    """A pytest plugin: a bar over the collected rows on ``stream``, and the count of rows timed, skipped, failed."""

    stream: TextIO | None
    timed: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)
    #: Why rows were skipped, each reason once, in the order met.
    skip_reasons: list[str] = field(default_factory=list)
    _bar: Bar | None = None
    _done: int = 0
    _start: float = field(default_factory=time.perf_counter)

    def pytest_collection_finish(self, session: Any) -> None:
        self._bar = Bar("xpnet bench", len(session.items), "rows", self.stream)

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.failed:
            self.failed.append(f"{report.nodeid}: {report.longrepr.reprcrash.message}"
                               if hasattr(report.longrepr, "reprcrash") else report.nodeid)
        elif report.skipped and report.when in ("setup", "call"):  # a row whose backend cannot run skips in its call
            self.skipped += 1
            reason = str(report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr)
            reason = reason.removeprefix("Skipped: ")
            if reason not in self.skip_reasons and not reason.startswith(NOT_ROWS):
                self.skip_reasons.append(reason)
        elif report.passed and report.when == "call":
            self.timed += 1

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        self._done += 1
        if self._bar is not None:
            self._bar.update(self._done, nodeid.rpartition("[")[2].rstrip("]"))

    def pytest_sessionfinish(self, session: Any) -> None:
        if self._bar is not None:
            self._bar.close(f"xpnet bench: {self.timed} rows timed, {self.skipped} skipped (a GPU, framework or "
                            f"dtype absent, or not a benchmark), {len(self.failed)} failed, in "
                            f"{time.perf_counter() - self._start:.0f} s")


def run_suite(argv: list[str], verbose: bool = False) -> tuple[int, SuiteProgress]:
    """``pytest.main(argv)``, its output on the terminal when ``verbose``, else kept back behind a progress bar.

    Returns pytest's exit code and the plugin, which holds the counts and the failed rows.
    """
    import pytest

    progress = SuiteProgress(None if verbose else sys.stderr)
    if verbose:
        return int(pytest.main(argv, plugins=[progress])), progress
    kept = io.StringIO()
    with contextlib.redirect_stdout(kept), contextlib.redirect_stderr(kept):
        code = int(pytest.main(argv, plugins=[progress]))
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):  # a usage or internal error: what pytest said
        print(kept.getvalue()[-4000:], file=sys.stderr)
    return code, progress
