"""Paths as the loaders take them: a str or os.PathLike, refused early when missing."""

from __future__ import annotations

import os
from pathlib import Path

PathLike = str | os.PathLike


def existing(path: PathLike) -> Path:
    """``path`` (``~`` expanded) as a Path; FileNotFoundError naming it when nothing is there."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    return path
