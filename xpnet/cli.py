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
from pathlib import Path
from typing import Any

import numpy as np

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

    p = sub.add_parser("train", help="train the lab's network (Adam, batch 32) on one or more backends")
    _data_arguments(p)
    p.add_argument("--backend", type=_csv, default=["numpy"],
                   help="backend, or several comma-separated to compare their training (default: numpy)")
    p.add_argument("--device", default=None, help="device (default: the backend's first)")
    p.add_argument("--dtype", default="float32", help="float32 (default) or float64")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--jit", action="store_true", help="compile the training step (jax, tensorflow, torch)")
    p.add_argument("--out", default=None, help="save the weights here (.npz), checkpointed every epoch")
    p.add_argument("--resume", action="store_true", help="continue from --out's checkpoint")
    p.add_argument("--plot", default=None, help="draw the loss curve of each backend to this PNG")
    p.add_argument("--quiet", action="store_true", help="no progress")
    p.add_argument("--json", action="store_true", help="print the losses and accuracies as JSON")

    p = sub.add_parser("predict", help="predict digits with saved weights: accuracy, confusion, misses")
    _data_arguments(p)
    p.add_argument("--weights", required=True, help="weights .npz written by xpnet train")
    p.add_argument("--backend", type=_csv, default=["numpy"], help="backend(s), comma-separated")
    p.add_argument("--device", default=None)
    p.add_argument("--split", choices=["all", "test", "train"], default="all",
                   help="which digits: all (default), or the held-out/training part of --seed's split")
    p.add_argument("--plot", default=None, help="draw the 8x8 digit grid (and FILE-misclassified.png)")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("bench", help="time every variant on every backend and device beside Keras, native code, "
                                     "ONNX Runtime and the measured roofline (pytest-benchmark)")
    from xpnet.bench import cli as bench_cli

    bench_cli.add_arguments(p)

    p = sub.add_parser("run", help="the whole lab: train, save, parity, timings, pictures, report folder")
    _data_arguments(p)
    p.add_argument("--backend", default="numpy", help="backend to train on (default: numpy)")
    p.add_argument("--device", default=None)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--out", default="xpnet-report", help="report folder (default: ./xpnet-report)")
    p.add_argument("--quiet", action="store_true", help="no progress")
    return parser


def _data_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default="builtin",
                   help="builtin (default), a lab folder (X.npy, y.npy), an MNIST folder/IDX file or mnist.npz")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights, the split and the batch order")
    p.add_argument("--test-fraction", type=float, default=0.2, help="share of digits held out (default 0.2)")


def _load_split(args: argparse.Namespace, log: Callable[[str], None]) -> tuple:
    from xpnet import data

    digits = data.load(args.data)
    train_set, test_set = data.train_test_split(digits, test_fraction=args.test_fraction, seed=args.seed)
    log(f"data: {digits.format} from {digits.source}: {len(digits)} digits "
        f"({len(train_set)} train, {len(test_set)} held out)")
    return digits, train_set, test_set


def _data_record(digits: Any, train_set: Any, test_set: Any) -> dict[str, Any]:
    return {"format": digits.format, "source": digits.source, "digits": len(digits), "train": len(train_set),
            "test": len(test_set)}


def _stderr(text: str) -> None:
    print(text, file=sys.stderr)


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


@command
def cmd_train(args: argparse.Namespace) -> int:
    from xpnet import model, plots, train
    from xpnet.progress import FitProgress

    log = (lambda text: None) if args.quiet or args.json else _stderr
    digits, train_set, test_set = _load_split(args, log)
    if args.resume and not args.out:
        raise ValueError("--resume needs --out, the weights file whose checkpoint to continue")
    runs = []
    for i, name in enumerate(args.backend):
        progress = FitProgress(sys.stderr) if not (args.quiet or args.json) else None
        out = args.out if i == 0 else None
        log(f"training on {name} ({args.device or 'default device'}, {args.dtype}, jit={args.jit})")
        params, history = train.fit(
            model.init_params(args.seed), train_set.X, train_set.y, backend=name, device=args.device,
            dtype=args.dtype, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, jit=args.jit,
            checkpoint=f"{out}.ckpt.npz" if out else None, resume=args.resume,
            on_batch=progress.on_batch if progress else None, on_epoch=progress.on_epoch if progress else None)
        if out:
            log(f"weights: {model.save(params, out)}")
        record = history.to_dict() | {"test_accuracy": train.accuracy(params, test_set.X, test_set.y)}
        runs.append(record)
        if not args.json:
            print(f"{name}: final loss {history.losses[-1]:.6f}, held-out accuracy {record['test_accuracy']:.2%}, "
                  f"{record['seconds']:.2f}s")
    spread = _loss_spread(runs)
    if args.plot:
        log(f"plot: {plots.loss_curves(args.plot, {r['backend']: r['losses'] for r in runs})}")
    if args.json:
        print(json.dumps({"data": _data_record(digits, train_set, test_set), "runs": runs,
                          "max_rel_loss_difference": spread}, indent=2))
    elif len(runs) > 1:
        print(f"largest relative difference of any epoch's loss from {runs[0]['backend']}'s: {spread:.2e}")
    return 0


def _loss_spread(runs: list[dict]) -> float:
    first = np.asarray(runs[0]["losses"])
    return max((float(np.max(np.abs(np.asarray(r["losses"]) - first) / first)) for r in runs[1:]), default=0.0)


@command
def cmd_predict(args: argparse.Namespace) -> int:
    from xpnet import model, plots
    from xpnet.api import Model
    from xpnet.evaluate import evaluate

    log = (lambda text: None) if args.json else _stderr
    params = model.load(args.weights)
    digits, train_set, test_set = _load_split(args, log)
    chosen = {"all": digits, "train": train_set, "test": test_set}[args.split]
    evals = [evaluate(Model(params, name, args.device), chosen.X, chosen.y) for name in args.backend]
    first = evals[0]
    agree = all(np.array_equal(e.yhat, first.yhat) for e in evals[1:])
    result = first.to_dict() | {"data": _data_record(digits, train_set, test_set) | {"split": args.split},
                                "backends": [e.to_dict() for e in evals], "backends_agree": agree}
    if args.plot:
        grid = plots.digits_grid(args.plot, chosen.X, chosen.y, {e.backend: e.yhat for e in evals}, seed=args.seed)
        missed_path = Path(args.plot).with_name(Path(args.plot).stem + "-misclassified.png")
        missed = plots.misclassified(missed_path, chosen.X, chosen.y, first.proba, first.misclassified)
        result["pictures"] = [str(grid), str(missed)]
        log(f"pictures: {grid}, {missed}")
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    c = first.confusion
    for e in evals:
        print(f"{e.backend} ({e.device}): accuracy {e.accuracy:.2%} on {len(e.y)} digits")
    print(f"confusion: true 0 as 0: {c['tn']}, 0 as 1: {c['fp']}, 1 as 0: {c['fn']}, 1 as 1: {c['tp']}")
    print(f"misclassified indices: {first.misclassified}")
    if len(evals) > 1:
        print(f"backends agree on every prediction: {'yes' if agree else 'NO'}")
    return 0


@command
def cmd_bench(args: argparse.Namespace) -> int:
    from xpnet.bench import cli as bench_cli

    return bench_cli.run(args)


@command
def cmd_run(args: argparse.Namespace) -> int:
    from xpnet.progress import FitProgress
    from xpnet.report import run_lab

    progress = None if args.quiet else FitProgress(sys.stderr)
    result = run_lab(args.out, args.data, args.backend, args.device, args.epochs, args.seed, args.test_fraction,
                     log=(lambda text: None) if args.quiet else _stderr,
                     progress=progress)
    ev = result["evaluation"][0]
    print(f"held-out accuracy {ev['accuracy']:.2%} ({ev['m']} digits); parity "
          f"{'ok' if result['parity']['ok'] else 'FAILED'}; {result['seconds']:.1f}s")
    print(f"report: {Path(args.out) / 'report.md'}")
    return 0 if result["parity"]["ok"] else 1


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter, not errors
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except BrokenPipeError:  # the output went into a pipe that closed early (``| head``): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
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
