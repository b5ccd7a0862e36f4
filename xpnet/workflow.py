"""The lab's steps as the commands run them: load and split the digits, train, and find the held-out part again.

Training writes into the weights file what it was trained on (data source and fingerprint,
classes, split seed and fraction), so that ``predict --split test`` scores exactly the
digits held out in training, or refuses when the data are not the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from xpnet import data
from xpnet.model import Network, Params
from xpnet.validation import InputError


@dataclass(frozen=True)
class Split:
    """A data set and its seeded split, with the record that lets it be found again."""

    digits: data.Digits
    train: data.Digits
    test: data.Digits
    seed: int
    test_fraction: float

    def part(self, name: str) -> data.Digits:
        """"all", "train" or "test"."""
        return {"all": self.digits, "train": self.train, "test": self.test}[name]

    @property
    def record(self) -> dict[str, Any]:
        d = self.digits
        return {"format": d.format, "source": d.source, "fingerprint": d.fingerprint, "classes": list(d.classes),
                "digits": len(d), "train": len(self.train), "test": len(self.test),
                "split": {"seed": self.seed, "test_fraction": self.test_fraction}}


def load_split(spec: str | None, classes: Sequence[int], seed: int, test_fraction: float) -> Split:
    """Digits of ``classes`` from ``spec`` (see ``xpnet.data.load``) and their seeded, stratified split."""
    digits = data.load(spec, digits=tuple(classes))
    train, test = data.train_test_split(digits, test_fraction=test_fraction, seed=seed)
    return Split(digits, train, test, seed, test_fraction)


def check_outputs_fit_classes(network: Network, classes: Sequence[int]) -> None:
    """One sigmoid output for two classes, or one output per class; InputError naming both otherwise."""
    k, outputs = len(classes), network.outputs
    if (outputs == 1 and k == 2) or outputs == k:
        return
    raise InputError(f"the network has {outputs} output unit{'s' * (outputs != 1)} but the data have {k} classes "
                     f"({', '.join(map(str, classes))}); the last layer needs {1 if k == 2 else k} units "
                     f"(e.g. --layers 25:relu,15:relu,{k}:softmax)")


def trained_split(params: Params, spec: str | None, part: str, *, classes: Sequence[int] | None = None,
                  seed: int | None = None, test_fraction: float | None = None) -> Split:
    """The data and split that ``params`` were trained on, as their record says, loaded from ``spec``.

    Arguments given explicitly win over the record where the part is "all"; for "train" and
    "test" they must agree with it, and the data at ``spec`` must be the very digits trained
    on (same fingerprint), or the "held-out" digits would be other ones: InputError then.
    Weights without a record (made in code, or by an older xpnet) use the arguments, or the
    defaults (digits 0 and 1, seed 0, fraction 0.2).
    """
    trained = params.record.get("data")
    if trained is None:
        return load_split(spec, classes or (0, 1), 0 if seed is None else seed,
                          0.2 if test_fraction is None else test_fraction)
    split = trained["split"]
    if part != "all":
        given = {"--digits": None if classes is None else list(classes), "--seed": seed,
                 "--test-fraction": test_fraction}
        recorded = {"--digits": trained["classes"], "--seed": split["seed"], "--test-fraction": split["test_fraction"]}
        for name, value in given.items():
            if value is not None and value != recorded[name]:
                raise InputError(f"{name} {value} differs from the {recorded[name]} these weights were trained with, "
                                 f"so the {part!r} split would hold other digits; leave it out, or use --split all")
    chosen = load_split(spec, classes or trained["classes"], split["seed"] if seed is None else seed,
                        split["test_fraction"] if test_fraction is None else test_fraction)
    if part != "all" and chosen.digits.fingerprint != trained["fingerprint"]:
        raise InputError(f"these weights were trained on other data ({trained['source']}, {trained['digits']} "
                         f"digits) than {chosen.digits.source} ({len(chosen.digits)} digits), so its {part!r} split "
                         "is not the one held out in training; pass the same --data, or use --split all")
    return chosen
