"""The ``xpnet`` command line (also ``python -m xpnet``).

Exit status: 0 success, 1 a check that ran and failed (parity), 2 a usage error (an
unknown backend, a missing file, bad input), reported as one line on stderr; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    COMMANDS[fn.__name__.removeprefix("cmd_")] = fn
    return fn


def _csv(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xpnet", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("backends", help="list every (backend, device) and whether it runs here")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = sub.add_parser("parity", help="the same weights and inputs on every backend, against float64 NumPy")
    p.add_argument("--backends", type=_csv, default=None, help="comma-separated backend names (default: all)")
    p.add_argument("--devices", type=_csv, default=None, help="comma-separated devices (default: all)")
    p.add_argument("--variants", type=_csv, default=None, help="loop,matmul,jit (default: all three)")
    p.add_argument("--dtypes", type=_csv, default=None, help="float32,float64 (default), bfloat16 on request")
    p.add_argument("--weights", default=None, help="weights .npz (default: seeded Keras-style init)")
    p.add_argument("--seed", type=int, default=0, help="seed of the default weights and inputs")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


@command
def cmd_backends(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from xpnet import backends

    rows = [backends.status(name, device) for name, device in backends.pairs()]
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
        return 0
    print(f"{'backend':<17}{'device':<8}{'available':<11}{'version':<14}reason")
    for r in rows:
        print(f"{r.backend:<17}{r.device:<8}{'yes' if r.available else 'no':<11}{r.version or '-':<14}"
              f"{r.reason or ''}")
    return 0


@command
def cmd_parity(args: argparse.Namespace) -> int:
    from xpnet import model, parity

    params = model.load(args.weights) if args.weights else model.init_params(seed=args.seed)
    report = parity.check(
        backend_names=args.backends,
        params=params,
        X=parity.sample_inputs(64, params.network.input_dim, seed=args.seed),
        variants=args.variants or model.VARIANTS,
        dtypes=args.dtypes or parity.DEFAULT_DTYPES,
        devices=args.devices,
    )
    print(report.to_json() if args.json else report.table())
    return 0 if report.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter, not errors
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("xpnet: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, ImportError, RuntimeError) as err:
        if args.debug:
            raise
        print(f"xpnet {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
