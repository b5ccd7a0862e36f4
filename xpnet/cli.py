"""The ``xpnet`` command line (also ``python -m xpnet``).

Exit status: 0 success, 1 a check that ran and failed (parity), 2 a usage error (an
unknown backend, a missing file, bad input), reported as one line on stderr; ``--debug``
shows the traceback instead. The frameworks' own start-up messages are kept off the terminal
(``xpnet.quiet``) unless ``--debug`` is given. Every command's ``--help`` ends with an example.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from xpnet.validation import split_names

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    COMMANDS[fn.__name__.removeprefix("cmd_")] = fn
    return fn


def examples(*lines: str) -> dict[str, Any]:
    """``add_parser`` keywords that end a command's ``--help`` with these example command lines."""
    return {"epilog": "example" + "s" * (len(lines) > 1) + ":\n" + "\n".join(f"  {line}" for line in lines),
            "formatter_class": argparse.RawDescriptionHelpFormatter}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xpnet", description=__doc__.splitlines()[0],
                                     **examples("xpnet run", "xpnet backends", "xpnet COMMAND --help"))
    parser.add_argument("--debug", action="store_true",
                        help="show tracebacks, and the frameworks' own log messages and warnings")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("backends", help="list every (backend, device) and whether it runs here",
                       **examples("xpnet backends --json"))
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = sub.add_parser("parity", help="the same weights and inputs on every backend, against float64 NumPy",
                       **examples("xpnet parity --weights xpnet-report/weights.npz --backends numpy,jax"))
    p.add_argument("--backends", type=split_names, default=None, help="comma-separated backend names (default: all)")
    p.add_argument("--devices", type=split_names, default=None, help="comma-separated devices (default: all)")
    p.add_argument("--variants", type=split_names, default=None, help="loop,matmul,jit (default: all three)")
    p.add_argument("--dtypes", type=split_names, default=None, help="float32,float64 (default), bfloat16 on request")
    p.add_argument("--weights", default=None, help="weights .npz (default: seeded Keras-style init)")
    p.add_argument("--seed", type=int, default=0, help="seed of the default weights and inputs")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--workers", type=_counts, default=[1, 2],
                   help="the dask backend's rows run on a local Dask cluster of each of these sizes (default: 1,2; "
                        "'' runs them on Dask's threads in this process)")

    p = sub.add_parser("train", help="train a network (the lab's by default; Adam, batch 32) on one or more backends",
                       **examples("xpnet train --backend numpy,jax --epochs 20 --out w.npz --plot loss.png"))
    _data_arguments(p)
    p.add_argument("--layers", type=_network, default=LAB_LAYERS,
                   help="units:activation per layer, comma-separated (default: the lab's %(default)s; the sequel: "
                        "25:relu,15:relu,10:softmax with --digits 0-9)")
    p.add_argument("--backend", type=split_names, default=["numpy"],
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

    p = sub.add_parser("predict", help="predict digits with saved weights: accuracy, per class, confusion, misses",
                       **examples("xpnet predict --weights w.npz --backend numpy,torch --split test --plot digits.png"))
    _data_arguments(p, recorded=True)
    p.add_argument("--weights", required=True, help="weights .npz written by xpnet train")
    p.add_argument("--backend", type=split_names, default=["numpy"], help="backend(s), comma-separated")
    p.add_argument("--device", default=None)
    p.add_argument("--split", choices=["all", "test", "train"], default="all",
                   help="which digits: all (default), or the part held out in training / trained on, as the "
                        "weights file records it")
    p.add_argument("--plot", default=None, help="draw the 8x8 digit grid (and FILE-misclassified.png)")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("score", help="write the probabilities of every row of a .npy or Zarr file to another, in "
                       "bounded memory; on a Dask cluster with --backend dask",
                       **examples("xpnet score --weights w.npz --input X.npy --output P.npy",
                                  "xpnet score --weights w.npz --input X.npy --output P.zarr --backend dask "
                                  "--workers 2",
                                  "xpnet score --weights w.npz --input X.zarr --output P.npy --backend dask "
                                  "--scheduler tcp://10.0.0.5:8786"))
    _score_arguments(p)

    # The benchmark suite parses its own options (``xpnet bench --help``): it is loaded only when it runs.
    sub.add_parser("bench", add_help=False, help="time every variant on every backend and device beside Keras, "
                   "native code, ONNX Runtime and the measured roofline (pytest-benchmark; xpnet bench --help)")

    p = sub.add_parser("run", help="the whole lab on every backend: train, parity, timings, pictures, "
                       "xpnet-report/index.html", **examples("xpnet run", "xpnet run --backends numpy,jax --out lab"))
    _data_arguments(p, choose_digits=False)  # the lab's network: its zeros and ones
    p.add_argument("--backends", "--backend", type=split_names, default=None,
                   help="backends to train on, comma-separated (default: every one that runs here)")
    p.add_argument("--device", default=None, help="device to train on (default: each backend's first available)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--out", default="xpnet-report", help="report folder (default: ./xpnet-report)")
    p.add_argument("--quiet", action="store_true", help="no progress")
    return parser


#: The lab's network, as --layers writes it.
LAB_LAYERS = "25:sigmoid,15:sigmoid,1:sigmoid"


def _network(text: str) -> Any:
    from xpnet.model import Network

    try:
        return Network.parse(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _digits(text: str) -> tuple[int, ...]:
    from xpnet.data import parse_digits

    try:
        return parse_digits(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _data_arguments(p: argparse.ArgumentParser, recorded: bool = False, choose_digits: bool = True) -> None:
    """--data, --digits, --seed, --test-fraction; ``recorded``: their defaults come from the weights file;
    ``choose_digits``: False for a command that runs the lab's own 0-vs-1 network (no --digits)."""
    p.add_argument("--data", default="builtin",
                   help="builtin (default), a lab folder (X.npy, y.npy), an MNIST folder/IDX file or mnist.npz")
    if recorded:
        p.add_argument("--digits", type=_digits, default=None,
                       help="digits to score, e.g. 0,1 or 0-9 (default: those the weights were trained on)")
        p.add_argument("--seed", type=int, default=None, help="seed of the split (default: the training's)")
        p.add_argument("--test-fraction", type=float, default=None,
                       help="share of digits held out (default: the training's)")
        return
    if choose_digits:
        p.add_argument("--digits", type=_digits, default=(0, 1),
                       help="digits to classify, e.g. 0,1 (default, the lab) or 0-9 (the sequel)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights, the split and the batch order")
    p.add_argument("--test-fraction", type=float, default=0.2, help="share of digits held out (default 0.2)")


def _describe_split(split: Any) -> str:
    d = split.digits
    return (f"data: {d.format} from {d.source}: {len(d)} digits of {', '.join(map(str, d.classes))} "
            f"({len(split.train)} train, {len(split.test)} held out)")


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
    print(f"{'backend':<17}{'device':<8}{'available':<17}{'version':<14}reason")
    for r in rows:
        count = f" ({r.device_count} devices)" if r.available and r.device.endswith(":all") else ""
        print(f"{r.backend:<17}{r.device:<8}{('yes' if r.available else 'no') + count:<17}{r.version or '-':<14}"
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
        workers=args.workers,
    )
    print(report.to_json() if args.json else report.table())
    return 0 if report.ok else 1


@command
def cmd_train(args: argparse.Namespace) -> int:
    from xpnet import model, plots, train, workflow
    from xpnet.progress import FitProgress

    log = (lambda text: None) if args.quiet or args.json else _stderr
    if args.resume and not args.out:
        raise ValueError("--resume needs --out, the weights file whose checkpoint to continue")
    workflow.check_outputs_fit_classes(args.layers, args.digits)
    split = workflow.load_split(args.data, args.digits, args.seed, args.test_fraction)
    log(_describe_split(split))
    runs = []
    for i, name in enumerate(args.backend):
        progress = FitProgress(sys.stderr) if not (args.quiet or args.json) else None
        out = args.out if i == 0 else None
        log(f"training {args.layers} on {name} ({args.device or 'default device'}, {args.dtype}, jit={args.jit})")
        params, history = train.fit(
            model.init_params(args.seed, args.layers).with_record(data=split.record), split.train.X, split.train.y,
            backend=name, device=args.device, dtype=args.dtype, epochs=args.epochs, batch_size=args.batch_size,
            seed=args.seed, jit=args.jit, checkpoint=f"{out}.ckpt.npz" if out else None, resume=args.resume,
            on_batch=progress.on_batch if progress else None, on_epoch=progress.on_epoch if progress else None)
        if out:
            log(f"weights: {model.save(params, out)}")
        record = history.to_dict() | {"test_accuracy": train.accuracy(params, split.test.X, split.test.y)}
        runs.append(record)
        if not args.json:
            print(f"{name}: final loss {history.losses[-1]:.6f}, held-out accuracy {record['test_accuracy']:.2%}, "
                  f"{record['seconds']:.2f}s")
    spread = max((train.max_rel_difference(runs[0]["losses"], r["losses"]) for r in runs[1:]), default=0.0)
    if args.plot:
        log(f"plot: {plots.loss_curves(args.plot, {r['backend']: r['losses'] for r in runs})}")
    if args.json:
        print(json.dumps({"data": split.record, "network": str(args.layers), "runs": runs,
                          "max_rel_loss_difference": spread}, indent=2))
    elif len(runs) > 1:
        print(f"largest relative difference of any epoch's loss from {runs[0]['backend']}'s: {spread:.2e}")
    return 0


@command
def cmd_predict(args: argparse.Namespace) -> int:
    from xpnet import model, plots, workflow
    from xpnet.api import Model
    from xpnet.evaluate import evaluate

    log = (lambda text: None) if args.json else _stderr
    params = model.load(args.weights)
    split = workflow.trained_split(params, args.data, args.split, classes=args.digits, seed=args.seed,
                                   test_fraction=args.test_fraction)
    workflow.check_outputs_fit_classes(params.network, split.digits.classes)
    log(_describe_split(split))
    chosen = split.part(args.split)
    evals = [evaluate(Model(params, name, args.device), chosen.X, chosen.y, chosen.classes) for name in args.backend]
    first = evals[0]
    agree = all(np.array_equal(e.yhat, first.yhat) for e in evals[1:])
    result = first.to_dict() | {"data": split.record | {"part": args.split}, "network": str(params.network),
                                "backends": [e.to_dict() for e in evals], "backends_agree": agree}
    if args.plot:
        result["pictures"] = _predict_pictures(args.plot, chosen, evals, args.seed or 0)
        log(f"pictures: {', '.join(result['pictures'])}")
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for e in evals:
        print(f"{e.backend} ({e.device}): accuracy {e.accuracy:.2%} on {len(e.y)} digits")
    print("accuracy per digit: " + ", ".join(f"{d}: {a:.2%}" if a is not None else f"{d}: -"
                                             for d, a in first.per_class_accuracy.items()))
    print(plots.confusion_text(first.confusion_matrix, first.classes))
    print(f"misclassified indices: {first.misclassified}")
    if len(evals) > 1:
        print(f"backends agree on every prediction: {'yes' if agree else 'NO'}")
    return 0


def _predict_pictures(path: str, chosen: Any, evals: list, seed: int) -> list[str]:
    """The digit grid, the misclassified digits and the confusion matrix, beside ``path``."""
    from xpnet import plots

    first = evals[0]
    stem = Path(path)
    grid = plots.digits_grid(path, chosen.X, chosen.y, {e.backend: e.yhat for e in evals}, seed=seed,
                             classes=chosen.classes)
    missed = plots.misclassified(stem.with_name(stem.stem + "-misclassified.png"), chosen.X, chosen.y,
                                 first.proba, first.misclassified, classes=chosen.classes)
    matrix = plots.confusion_matrix(stem.with_name(stem.stem + "-confusion.png"), first.confusion_matrix,
                                    first.classes)
    return [str(grid), str(missed), str(matrix)]


def _counts(text: str) -> list[int]:
    """argparse type of a comma-separated list of positive whole numbers ("1,2")."""
    try:
        counts = [int(item) for item in split_names(text) or []]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, got {text!r}") from None
    if any(n < 1 for n in counts):
        raise argparse.ArgumentTypeError(f"expected positive whole numbers, got {text!r}")
    return counts


def _score_arguments(p: argparse.ArgumentParser) -> None:
    """``xpnet score``'s options: the files, the backend, and (dask) the cluster to run on."""
    p.add_argument("--weights", required=True, help="weights .npz written by xpnet train")
    p.add_argument("--input", required=True, help="rows to score: an (m, 400) .npy file (memory-mapped) or .zarr array")
    p.add_argument("--output", required=True,
                   help="where to write the (m, outputs) float32 probabilities: a .npy file or a .zarr store, "
                        "which appears only when complete")
    p.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    p.add_argument("--backend", default="numpy", help="backend (default: numpy); dask runs on a cluster")
    p.add_argument("--device", default=None, help="device (default: the backend's first), e.g. cpu:all with jax")
    p.add_argument("--batch-size", type=int, default=None, help="rows per chunk or block (default: 65536)")
    cluster = p.add_argument_group("cluster (--backend dask)")
    cluster.add_argument("--workers", type=int, default=None,
                         help="start a local Dask cluster of this many worker processes (default: one per core)")
    cluster.add_argument("--threads-per-worker", type=int, default=1, help="threads per local worker (default: 1)")
    cluster.add_argument("--worker-memory", default=None,
                         help="memory limit of each local worker, e.g. 2GiB (default: Dask's, memory / workers)")
    cluster.add_argument("--scheduler", default=None,
                         help="use the running Dask scheduler at this address (tcp://HOST:PORT) and its workers")
    cluster.add_argument("--timeout", type=float, default=10.0,
                         help="seconds to wait for --scheduler to answer (default: 10)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print rows, seconds, rows/s, workers and the output path")


@command
def cmd_score(args: argparse.Namespace) -> int:
    from xpnet import model, score
    from xpnet.cluster import ClusterSpec

    asked = {"--workers": args.workers, "--worker-memory": args.worker_memory, "--scheduler": args.scheduler,
             "--threads-per-worker": args.threads_per_worker if args.threads_per_worker != 1 else None}
    spec = None
    if any(value is not None for value in asked.values()):
        spec = ClusterSpec(scheduler=args.scheduler, workers=args.workers, threads_per_worker=args.threads_per_worker,
                           worker_memory=args.worker_memory, timeout=args.timeout)
    result = score.score(model.load(args.weights), args.input, args.output, backend=args.backend, device=args.device,
                         batch_size=args.batch_size, cluster=spec, overwrite=args.overwrite,
                         progress=not (args.quiet or args.json))
    print(json.dumps(result.to_dict(), indent=2) if args.json else score.describe(result))
    return 0


@command
def cmd_bench(args: argparse.Namespace) -> int:
    missing = [name for name in ("pytest", "pytest_benchmark") if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(f"xpnet bench runs pytest-benchmark, and {' and '.join(missing)} is not installed: "
                          'pip install "xpnet[bench]" (or the Quick start\'s "xpnet[cpu]")')
    from xpnet.bench import cli as bench_cli

    return bench_cli.main(args.rest)


@command
def cmd_run(args: argparse.Namespace) -> int:
    from xpnet.report import run_lab

    result = run_lab(args.out, args.data, args.backends, args.device, args.epochs, args.seed, args.test_fraction,
                     progress=None if args.quiet else sys.stderr)
    ev, names = result["evaluation"][0], [t["backend"] for t in result["training"]]
    print(f"trained on {', '.join(names)}: loss curves agree to {result['max_rel_loss_difference']:.1e}; held-out "
          f"accuracy {ev['accuracy']:.2%} ({ev['m']} digits); parity {'ok' if result['parity']['ok'] else 'FAILED'}; "
          f"{result['seconds']:.0f} s")
    print(f"report: {Path(args.out) / 'index.html'} (also report.md, report.json)")
    return 0 if result["parity"]["ok"] else 1


def main(argv: Sequence[str] | None = None) -> int:
    from xpnet.quiet import frameworks_quiet

    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command != "bench" and rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.rest = rest
    try:
        with contextlib.nullcontext() if args.debug else frameworks_quiet():
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
