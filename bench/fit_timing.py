"""Wall time of the lab's training (20 epochs, Adam 0.001, batch 32, float32) on every backend
against Keras' own ``model.fit`` on the same data, in one process.

    python -m xpnet.bench.fit_timing [--data PATH] [--epochs 20] [--json FILE]

Each run starts from the same seeded weights; xpnet's runs are timed with and without a
compiled training step (compilation included: that is what a user waits for). Keras runs
``model.fit`` with ``verbose=0``.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from xpnet import backends, data, model, train
from xpnet.keras_interop import from_keras, to_keras


def keras_fit(params: model.Params, tr: data.Digits, te: data.Digits, epochs: int) -> dict[str, Any]:
    """The lab's own cell: ``model.compile(loss=BinaryCrossentropy(), optimizer=Adam(0.001)); model.fit(...)``."""
    import keras

    km = to_keras(params)
    km.compile(loss=keras.losses.BinaryCrossentropy(), optimizer=keras.optimizers.Adam(learning_rate=0.001))
    t0 = time.perf_counter()
    hist = km.fit(tr.X, tr.y.astype("float32"), epochs=epochs, batch_size=32, verbose=0)
    seconds = time.perf_counter() - t0
    acc = train.accuracy(from_keras(km), te.X, te.y)
    return {"run": f"keras {keras.__version__} fit ({keras.backend.backend()})", "seconds": seconds,
            "final_loss": float(hist.history["loss"][-1]), "test_accuracy": acc}


def xpnet_fit(name: str, device: str, jit: bool, params: model.Params, tr: data.Digits, te: data.Digits,
              epochs: int) -> dict[str, Any]:
    """``xpnet.train.fit`` on ``name``'s ``device``; the run is named "xpnet NAME[ DEVICE][ jit]" (no device: cpu)."""
    t0 = time.perf_counter()
    trained, history = train.fit(params, tr.X, tr.y, backend=name, device=device, epochs=epochs, jit=jit)
    seconds = time.perf_counter() - t0
    where = "" if device == "cpu" else f" {device}"
    return {"run": f"xpnet {name}{where}{' jit' if jit else ''}", "seconds": seconds,
            "final_loss": history.losses[-1], "test_accuracy": train.accuracy(trained, te.X, te.y)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="builtin")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--json", default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    digits = data.load(args.data)
    tr, te = data.train_test_split(digits, test_fraction=0.2, seed=0)
    params = model.init_params(0)
    print(f"data: {digits.format} from {digits.source}; {len(tr)} train, {len(te)} held out; "
          f"{args.epochs} epochs, batch 32, float32")
    rows = []
    for name, device in backends.available():
        for jit in (False, True) if backends.get(name, device).compiler else (False,):
            rows.append(xpnet_fit(name, device, jit, params, tr, te, args.epochs))
            print(_line(rows[-1]), flush=True)
    if backends.status("tensorflow", "cpu").available:
        rows.append(keras_fit(params, tr, te, args.epochs))
        print(_line(rows[-1]), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


def _line(row: dict[str, Any]) -> str:
    return (f"| {row['run']} | {row['seconds']:.2f} s | {row['final_loss']:.4f} | "
            f"{row['test_accuracy']:.2%} |")


if __name__ == "__main__":
    raise SystemExit(main())
