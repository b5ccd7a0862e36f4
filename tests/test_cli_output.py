"""What the command line shows: no framework chatter unless --debug, progress bars only on a terminal, an example
in every command's --help, and report documents whose Markdown and HTML say the same."""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import textwrap

import pytest

from xpnet import cli, quiet
from xpnet.document import Document, Section, Table
from xpnet.progress import Bar

#: A child process that writes as C++ code does (to file descriptor 2), as Python does, and warns as a framework.
_CHILD = textwrap.dedent("""
    import os, sys, warnings
    from xpnet.quiet import frameworks_quiet
    with frameworks_quiet():
        os.write(2, b"I0000 oneDNN custom operations are on (native chatter)\\n")
        warnings.warn_explicit("a framework's warning", UserWarning, "torch/_dynamo.py", 1, module="torch._dynamo")
        warnings.warn_explicit("xpnet's own warning", UserWarning, "xpnet/api.py", 1, module="xpnet.api")
        print("xpnet's own line", file=sys.stderr)
    os.write(2, b"native output after the block\\n")
""")


def test_frameworks_quiet_drops_native_and_framework_output_but_keeps_xpnets():
    err = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=60,
                         check=True).stderr
    assert "oneDNN" not in err and "a framework's warning" not in err
    assert "xpnet's own line" in err and "xpnet's own warning" in err
    assert "native output after the block" in err  # the descriptor is restored


def test_frameworks_quiet_leaves_a_captured_stderr_alone(capsys):
    before = sys.stderr
    with quiet.frameworks_quiet():
        assert sys.stderr is before  # pytest's capture has no fd 2 of its own: nothing to swap
        print("through the capture", file=sys.stderr)
    assert sys.stderr is before and "through the capture" in capsys.readouterr().err


def test_debug_skips_the_quieting(monkeypatch, capsys):
    entered = []

    def recorder():
        entered.append(True)
        return quiet.native_stderr_to_null()

    monkeypatch.setattr(quiet, "frameworks_quiet", recorder)
    monkeypatch.setitem(cli.COMMANDS, "backends", lambda args: 0)
    assert cli.main(["--debug", "backends"]) == 0 and not entered
    assert cli.main(["backends"]) == 0 and entered


def _commands() -> list[str]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(sub.choices)


@pytest.mark.parametrize("command", _commands())
def test_every_commands_help_ends_with_an_example(command, capsys):
    with pytest.raises(SystemExit) as done:
        cli.main([command, "--help"])
    assert done.value.code == 0
    usage = capsys.readouterr().out
    assert "example" in usage and f"xpnet {command}" in usage.split("example", 1)[1]


def test_a_bar_redraws_on_a_terminal_and_leaves_one_summary_line_elsewhere():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    log, tty = io.StringIO(), Terminal()
    for stream in (log, tty):
        bar = Bar("training on numpy", 4, "epochs", stream)
        for i in range(5):
            bar.update(i, f"loss {1 / (i + 1):.2f}")
        bar.close("trained on numpy")
    assert log.getvalue() == "trained on numpy\n"
    assert "\r" in tty.getvalue() and "4/4 epochs" in tty.getvalue() and tty.getvalue().endswith("trained on numpy\n")
    Bar("silent", 3).close("nothing")  # no stream: no output, no error


def test_markdown_and_html_of_a_document_escape_their_cells():
    table = Table("t", "A <title>", ("a|b", "c"), (("1 < 2", "x|y"),), notes=("skipped: <none>",))
    doc = Document("Report & more", ["intro <p>"], [Section("S", ["text"], [table])])
    md, page = doc.markdown(), doc.html()
    assert "| a\\|b | c |" in md and "| 1 < 2 | x\\|y |" in md and "- skipped: <none>" in md
    assert "<td>1 &lt; 2</td>" in page and "<title>Report &amp; more</title>" in page and "<script" not in page
    with pytest.raises(ValueError, match="a row of 1 cells under 2 columns"):
        Table("bad", "bad", ("a", "b"), (("1",),))


def test_bench_without_pytest_benchmark_says_what_to_install(monkeypatch, capsys):
    """``xpnet bench`` after an install without the bench extra: one line naming the extra, exit status 2."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pytest_benchmark" else
                        real(name, *a))
    assert cli.main(["bench", "--quick"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pytest_benchmark is not installed" in err and 'pip install "xpnet[bench]"' in err
