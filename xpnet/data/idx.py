"""MNIST as IDX files: ``train-``/``t10k-images-idx3-ubyte[.gz]`` with their ``-labels-idx1-ubyte[.gz]``.

Why a loader apart from the file reader (``idxfile``): this module knows MNIST's file names (which
images file goes with which labels file, which split is which); ``idxfile`` knows the format and
reads it safely. All ten digits are in MNIST; the requested ones are kept and brought to the lab's
20x20 layout.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from xpnet.data.classes import BINARY, check_classes, check_present, select_classes
from xpnet.data.digits import Digits, checked
from xpnet.data.errors import DataError
from xpnet.data.idxfile import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from xpnet.data.layout import to_lab_layout
from xpnet.data.paths import PathLike, existing

IMAGES_NAME = re.compile(r"^(?P<prefix>.+)-images(?P<sep>[-.])idx3-ubyte(?P<gz>\.gz)?$")
"""An IDX images file's name; a "." instead of the "-" before "idx" is accepted."""
SPLIT_PREFIXES = {"train": ("train",), "test": ("t10k",), "all": ("train", "t10k")}


def load_mnist_idx(path: PathLike, split: str = "all", *, digits: str | Sequence[int] = BINARY) -> Digits:
    """Load the ``digits`` of MNIST from IDX files, in the lab's layout, labelled with class indices.

    ``path`` is either a folder holding ``train-images-idx3-ubyte[.gz]`` and/or
    ``t10k-images-idx3-ubyte[.gz]`` with the matching ``*-labels-idx1-ubyte[.gz]`` (``split``:
    "train", "test" or "all"; "all" reads whichever are present, train first), or the path of one
    images file, whose labels file is found beside it by name (``split`` must then be "all" or agree
    with the file's train-/t10k- prefix). gzip is recognised by content. A bad, truncated or
    oversized file raises DataError naming it (see ``idxfile.read_idx``); so does a digit with no
    example. Digits keep their file order.
    """
    classes = check_classes(digits)
    check_split(split, SPLIT_PREFIXES)
    target = existing(path)
    pairs = _pairs_in_folder(target, split) if target.is_dir() else [_pair_for_file(target, split)]
    images, labels = zip(*(_read_pair(i, t, classes) for i, t in pairs), strict=True)
    source = "; ".join(f"{i} + {t.name}" for i, t in pairs)
    labels = np.concatenate(labels)
    check_present(labels, classes, source)
    return checked(to_lab_layout(np.concatenate(images)), labels, "mnist-idx", source, classes)


def check_split(split: str, choices: dict) -> None:
    """``split`` is one of the keys of ``choices``."""
    if split not in choices:
        raise DataError(f"split must be one of {tuple(choices)}; got {split!r}")


def images_in(folder: Path, split: str) -> list[Path]:
    """IDX images files in ``folder`` for ``split``, train first; a plain file is preferred over its .gz twin."""
    chosen: dict[str, Path] = {}
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        match = IMAGES_NAME.match(entry.name)
        if match and entry.is_file() and match["prefix"] in SPLIT_PREFIXES[split]:
            key = match["prefix"] + match["sep"]
            if key not in chosen or not match["gz"]:
                chosen[key] = entry
    order = SPLIT_PREFIXES["all"]
    return sorted(chosen.values(), key=lambda p: order.index(IMAGES_NAME.match(p.name)["prefix"]))


def _pairs_in_folder(folder: Path, split: str) -> list[tuple[Path, Path]]:
    images = images_in(folder, split)
    if not images:
        wanted = " and/or ".join(f"{p}-images-idx3-ubyte[.gz]" for p in SPLIT_PREFIXES[split])
        raise DataError(f"no MNIST IDX images for split {split!r} in {folder}: looked for {wanted}")
    return [(path, _labels_beside(path)) for path in images]


def _pair_for_file(path: Path, split: str) -> tuple[Path, Path]:
    match = IMAGES_NAME.match(path.name)
    if not match:
        raise DataError(
            f"{path} is not named like an MNIST IDX images file (*-images-idx3-ubyte[.gz]); "
            "its labels file is found by that name"
        )
    prefix = match["prefix"]
    if split != "all" and prefix in SPLIT_PREFIXES["all"] and prefix not in SPLIT_PREFIXES[split]:
        raise DataError(f"{path} is not a {split!r} file; pass split='all' or the folder")
    return path, _labels_beside(path)


def _labels_beside(images_path: Path) -> Path:
    match = IMAGES_NAME.match(images_path.name)
    stem = f"{match['prefix']}-labels{match['sep']}idx1-ubyte"
    suffixes = ("", ".gz") if not match["gz"] else (".gz", "")
    candidates = [images_path.with_name(stem + suffix) for suffix in suffixes]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    names = " or ".join(c.name for c in candidates)
    raise FileNotFoundError(f"no labels file beside {images_path}: looked for {names}")


def _read_pair(images_path: Path, labels_path: Path, classes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The examples of ``classes`` in one images/labels pair: (k, rows, cols) uint8 and (k, 1) class indices."""
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = read_idx(labels_path, LABELS_MAGIC)
    if len(images) != len(labels):
        raise DataError(f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels")
    return select_classes(images, labels, classes)
