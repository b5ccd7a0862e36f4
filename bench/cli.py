"""``xpnet bench``: time every forward, then answer first: the fastest path for each batch size and dtype.

The suite is ``pytest bench/`` with pytest-benchmark, run in this process behind a progress
bar (``xpnet.bench.suite``; pytest's own report with ``--verbose``); this command chooses its
options, then reads pytest-benchmark's JSON back (``xpnet.bench.report``) and prints the
answer, the machine in a line, a legend of the columns, the full table and the project's own
goals. It writes no file unless asked (``--json``, ``--plot``).
Exit status: 0 when every row ran and was right, 1 when a row failed (a wrong result
fails its row), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from xpnet.bench.harness import NOISY
from xpnet.bench.options import SUITE_OPTIONS
from xpnet.bench.suite import run_suite

BENCH_DIR = Path(__file__).resolve().parent
#: --quick: the default sizes, and this long per row.
QUICK_MAX_TIME = 0.1


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``xpnet bench``: the suite's own options (:data:`~xpnet.bench.options.SUITE_OPTIONS`), and
    how long to time, where to write and what to report."""
    parser = argparse.ArgumentParser(
        prog="xpnet bench", description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  xpnet bench --quick --backends numpy,jax --sizes 1,1000\n"
               "  xpnet bench --json run.json --plot run.png\n  xpnet bench --report-only run.json --markdown")
    parser.add_argument("--quick", action="store_true",
                        help=f"a short run: sizes 1,64,1000 and {QUICK_MAX_TIME} s per row (default: every size "
                             "up to 1e6, 1 s per row)")
    for option in SUITE_OPTIONS:
        option.add_to(parser.add_argument)
    parser.add_argument("--max-time", type=float, default=None, metavar="SECONDS", help="timing per row")
    parser.add_argument("--json", metavar="FILE", default=None, help="keep pytest-benchmark's JSON in FILE")
    parser.add_argument("--compare", metavar="OLD.json", default=None,
                        help="compare with an earlier --json (pytest-benchmark's comparison, and a 'vs old' column)")
    parser.add_argument("--plot", metavar="FILE", default=None,
                        help="draw a log-log plot of examples/s against m to FILE (default: no plot)")
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    parser.add_argument("--verbose", action="store_true",
                        help="show pytest-benchmark's raw tables as the rows run, and the machine in full")
    parser.add_argument("--report-only", metavar="RUN.json", nargs="+", default=None,
                        help="run nothing: report an earlier --json (several: their rows as one run's)")
    return parser


def pytest_args(args: argparse.Namespace, json_path: str, storage: str | None = None) -> list[str]:
    """The pytest command line for ``args``: pytest-benchmark's timing options, and the suite's options as given.

    ``storage``: a folder for pytest-benchmark's own files (it makes ``./.benchmarks`` otherwise).
    """
    max_time = args.max_time if args.max_time is not None else (QUICK_MAX_TIME if args.quick else 1.0)
    argv = [str(BENCH_DIR), "-q", "-p", "no:cacheprovider", "--benchmark-only", "--benchmark-enable",
            f"--benchmark-json={json_path}", f"--benchmark-max-time={max_time}",
            "--benchmark-min-rounds=3", "--benchmark-sort=mean",
            "--benchmark-columns=min,median,iqr,ops,rounds,iterations"]
    given = {option.name: getattr(args, option.dest) for option in SUITE_OPTIONS}
    given["sizes"] = given["sizes"] or ("default" if args.quick else "all")
    argv += [f"--bench-{name}={value}" for name, value in given.items() if value]
    if storage is not None:
        argv.append(f"--benchmark-storage=file://{Path(storage).resolve()}")
    if args.compare:
        argv.append(f"--benchmark-compare={Path(args.compare).resolve()}")
    return argv


def wait_quiet(seconds: float, threshold: float = NOISY, window: float = 5.0) -> float | None:
    """Wait until other processes use less than ``threshold`` of the CPUs over ``window`` seconds, at most
    ``seconds``; the last load seen (None where it cannot be measured)."""
    import time

    from xpnet.bench.harness import CpuMeter

    deadline = time.monotonic() + seconds
    while True:
        meter = CpuMeter()
        meter.start()
        time.sleep(window)
        load = meter.stop()
        if load is None or load < threshold or time.monotonic() >= deadline:
            return load
        print(f"xpnet bench: other processes use {load:.0%} of the CPUs; waiting", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Run the suite as ``args`` ask, then report; the exit status (0, 1 or 2)."""
    if args.compare and not Path(args.compare).is_file():
        print(f"xpnet bench: error: no such file: {args.compare}", file=sys.stderr)
        return 2
    if args.report_only:
        return _report(args, args.report_only, failed=[])
    if (args.wait_quiet or 0.0) > 0:
        load = wait_quiet(args.wait_quiet)
        if load is not None and load >= NOISY:
            print(f"xpnet bench: warning: starting while other processes use {load:.0%} of the CPUs", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="xpnet-bench-") as scratch:  # pytest-benchmark's files, and the JSON
        json_path = args.json or str(Path(scratch) / "bench.json")
        code, progress = run_suite(pytest_args(args, json_path, scratch), verbose=args.verbose)
        if code not in (0, 1):  # pytest's OK and TESTS_FAILED
            print(f"xpnet bench: error: pytest exited with status {code}", file=sys.stderr)
            return 2
        if not progress.timed and not progress.failed:  # pytest-benchmark then writes no results to report
            print("xpnet bench: no row could run here; skipped because:\n"
                  + "\n".join(f"  {reason}" for reason in progress.skip_reasons) if progress.skip_reasons else
                  "xpnet bench: no row matches these --backends, --devices, --sizes and --dtypes here "
                  "(xpnet backends lists the devices)", file=sys.stderr)
            return 1
        return max(_report(args, [json_path], progress.failed), code)


def _report(args: argparse.Namespace, json_paths: list[str], failed: list[str]) -> int:
    """Print the answer, the machine, the legend, the table and the goals of the run in ``json_paths`` (one run's
    JSON, or several runs' reported as one)."""
    from xpnet.bench import report

    missing = [path for path in json_paths if not Path(path).is_file()]
    if missing:
        print(f"xpnet bench: error: no results in {', '.join(missing)}", file=sys.stderr)
        return 2
    data = report.merge([report.load(path) for path in json_paths])
    found = report.rows(data)
    old = report.rows(report.load(args.compare)) if args.compare else None
    limits = data.get("xpnet", {}).get("limits")
    md = args.markdown
    blocks: list[str] = [report.answer(found, markdown=md), report.summary(data, brief=not args.verbose)]
    noisy = report.noisy(found)
    if noisy:
        blocks.append(f"warning: {len(noisy)} rows ran while other processes used over {NOISY:.0%} of the CPUs "
                      f"(worst {max(r.foreign_load or 0 for r in noisy):.0%}); their times may be inflated")
    if failed:
        blocks.append(f"{len(failed)} rows FAILED (--verbose shows pytest's report):\n"
                      + "\n".join(f"  {line}" for line in failed))
    blocks += [report.legend(old=old is not None), report.table(found, markdown=md, old=old, limits=limits),
               report.targets_text(found, markdown=md, limits=limits)]
    written = [f"json: {args.json}"] if args.json else []
    if args.plot:
        written.append(f"plot: {report.plot(found, args.plot, limits)}")
    print("\n\n".join(blocks + (["\n".join(written)] if written else [])))
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """``xpnet bench ARGS`` (``xpnet.cli`` hands on the arguments after ``bench``), or ``python -m xpnet.bench.cli``.

    ``--help`` and usage errors exit through argparse (status 0 and 2).
    """
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
