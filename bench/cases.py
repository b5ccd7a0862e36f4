"""The benchmark matrix: every (implementation, backend, device, variant, batch size, dtype) to time.

Built from the backend registry (``xpnet.backends.pairs()``), so a new backend or device
gets rows without an edit here; rows that cannot run on this machine are kept and
skipped at run time with their reason. Which rows exist, and why some combinations
are left out, is decided here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from xpnet import backends
from xpnet.bench import native
from xpnet.model import VARIANTS

#: Batch sizes of a default run (the test suite's), and of a full run.
DEFAULT_SIZES = (1, 64, 1000)
ALL_SIZES = (1, 64, 1000, 100_000, 1_000_000)
#: The loop variant (the lab's ``my_dense``, ~500 dispatched operations per example) is timed
#: on one example and on 64 looped in Python, as the lab does; beyond that it only measures patience.
LOOP_SIZES = (1, 64)
#: Sizes at which dtypes other than float32 run unless asked for explicitly: at m = 1 and 64 a call is
#: dispatch-bound and the dtype changes nothing; at 1000 the input sits in cache, at 100_000 (64 MB in
#: float32, twice the L3) it streams from memory. 1e6 would add minutes to a run and nothing new.
DTYPE_SIZES = (1000, 100_000)
DTYPES = ("float32", "float64", "bfloat16")
#: Implementations: xpnet itself, the hand-written native code, and what a user would run instead.
IMPLS = ("xpnet", "user", "native", "keras", "onnxruntime")
#: The user path (``Model.predict_proba``: NumPy in, checked, NumPy out) is timed beside the device-resident
#: forward from this batch size on, in float32: below it a call is dispatch, not data.
USER_MIN_M = 1000
#: ... and up to this one: beyond it (the GPU run's 10^7 rows, 16 GB) a call is the host-to-device copy of X,
#: which the user rows at smaller sizes already report apart (``to_device_s``), and each call would take seconds.
USER_MAX_M = 1_000_000
PEERS = ("native", "keras", "onnxruntime")
#: Keras ``predict`` walks the batch 32 examples at a time (~2 s per call at m = 100_000 here);
#: above this size one row would cost minutes, so it is timed up to here only.
KERAS_PREDICT_MAX_M = 100_000

#: The xpnet forward recorded as a CUDA graph and replayed (``Backend.capture``), on a GPU whose backend records
#: them: one launch for the whole network instead of one per kernel. Timed up to the size where a forward's
#: own work (33 us for 10^5 rows at an H200's bandwidth) still compares with the launches it saves.
GRAPH = "graph"
GRAPH_MAX_M = 100_000

#: The xpnet variant each implementation's rows are compared with (and grouped under).
_COLUMN = {
    ("xpnet", GRAPH): "jit",
    ("native", "eager"): "matmul", ("native", "builtin"): "matmul", ("native", "jit"): "jit",
    ("keras", "call"): "matmul", ("keras", "predict"): "jit", ("onnxruntime", "session"): "jit",
}


@dataclass(frozen=True, order=True)
class Case:
    """One benchmark row. ``backend`` is a registry name for xpnet and native rows, the peer's name otherwise."""

    impl: str
    backend: str
    device: str
    variant: str
    m: int
    dtype: str

    @property
    def column(self) -> str:
        """The xpnet variant this row is compared with: "loop", "matmul" (eager) or "jit" (compiled)."""
        return _COLUMN.get((self.impl, self.variant), self.variant)

    @property
    def group(self) -> str:
        """pytest-benchmark group: one table per (variant, dtype, batch size), all backends and peers in it."""
        return f"{self.column} {self.dtype} m={self.m}"

    @property
    def id(self) -> str:
        return f"{self.backend}-{self.device}-{self.variant}-{self.dtype}-m{self.m}"


def parse_sizes(text: str) -> tuple[int, ...]:
    """"1,64,1e6" -> (1, 64, 1000000); "default" and "all" name the two standard sets."""
    if text in ("default", ""):
        return DEFAULT_SIZES
    if text == "all":
        return ALL_SIZES
    sizes = []
    for item in text.split(","):
        value = float(item.strip().replace("_", ""))
        if value < 1 or value != int(value):
            raise ValueError(f"batch sizes must be positive whole numbers, got {item!r}")
        sizes.append(int(value))
    return tuple(sorted(set(sizes)))


def _dtypes_at(m: int, dtypes: Sequence[str], explicit: bool) -> list[str]:
    return [d for d in dtypes if d == "float32" or explicit or m in DTYPE_SIZES]


def matrix(
    sizes: Iterable[int] = DEFAULT_SIZES,
    dtypes: Sequence[str] = DTYPES,
    backend_names: Sequence[str] | None = None,
    devices: Sequence[str] | None = None,
    peers: Sequence[str] = PEERS,
    explicit_dtypes: bool = False,
) -> list[Case]:
    """Every case for these sizes and dtypes, over the registry's (backend, device) pairs.

    ``backend_names`` and ``devices`` filter registry backends (native rows follow their
    backend); ``devices`` filters peers too, and may use any alias a user types ("cuda" is "gpu",
    see :func:`xpnet.backends.canonical_device`). Non-float32 dtypes run at :data:`DTYPE_SIZES`
    only, unless ``explicit_dtypes`` (the user named them).
    """
    for d in dtypes:
        if d not in DTYPES:
            raise ValueError(f"unknown dtype {d!r}; known dtypes: {', '.join(DTYPES)}")
    for p in peers:
        if p not in PEERS:
            raise ValueError(f"unknown peer {p!r}; known peers: {', '.join(PEERS)}")
    for name in backend_names or ():
        backends.backend_class(name)  # unknown names raise ValueError here
    if devices is not None:
        devices = [backends.canonical_device(d) for d in devices]  # rows carry canonical names only
    sizes = sorted(sizes)
    return sorted(_cases(sizes, list(dtypes), backend_names, devices, peers, explicit_dtypes), key=order)


def _cases(
    sizes: list[int], dtypes: list[str], names: Sequence[str] | None, devices: Sequence[str] | None,
    peers: Sequence[str], explicit: bool,
) -> Iterator[Case]:
    for name, device in backends.pairs():
        if (names is not None and name not in names) or (devices is not None and device not in devices):
            continue
        cls = backends.backend_class(name)
        compiled = cls.compiler is not None
        for m in sizes:
            for dtype in _dtypes_at(m, dtypes, explicit):
                for variant in VARIANTS:
                    if variant == "loop" and (m not in LOOP_SIZES or dtype != "float32" or (cls.chunked and m > 1)):
                        continue  # on a lazy backend the loop is a graph of ~500 tasks per example: one is plenty
                    if variant == "jit" and not compiled:
                        continue  # no compiler: the jit row would be the matmul row again
                    yield Case("xpnet", name, device, variant, m, dtype)
                    if variant != "loop" and USER_MIN_M <= m <= USER_MAX_M and dtype == "float32" and not cls.chunked:
                        yield Case("user", name, device, variant, m, dtype)
                if cls.graph_capture and backends.device_kind(device) == "gpu" and m <= GRAPH_MAX_M:
                    yield Case("xpnet", name, device, GRAPH, m, dtype)
                if "native" in peers:
                    for kind in native.KINDS:
                        if (kind == "jit" and not compiled) or (kind == "builtin" and dtype != "float32"):
                            continue
                        yield Case("native", name, device, kind, m, dtype)
    for m in sizes:
        for dtype in _dtypes_at(m, dtypes, explicit):
            if devices is not None and "cpu" not in devices:
                continue
            if "keras" in peers and dtype == "float32":
                yield Case("keras", "keras", "cpu", "call", m, dtype)
                if m <= KERAS_PREDICT_MAX_M:
                    yield Case("keras", "keras", "cpu", "predict", m, dtype)
            if "onnxruntime" in peers and dtype in ("float32", "float64"):
                yield Case("onnxruntime", "onnxruntime", "cpu", "session", m, dtype)


def order(case: Case) -> tuple:
    """Run order: by batch size and dtype, then variant, so that each table's rows run close in time."""
    return (case.m, DTYPES.index(case.dtype), VARIANTS.index(case.column), IMPLS.index(case.impl), case.backend,
            case.device, case.variant)


def group_order(group: str | None) -> tuple[int, int, int, str]:
    """Sort key of a group name made by :attr:`Case.group`; other names sort last, alphabetically."""
    try:
        column, dtype, m = str(group).split()
        return (VARIANTS.index(column), DTYPES.index(dtype), int(m.removeprefix("m=")), "")
    except ValueError:
        return (len(VARIANTS), 0, 0, str(group))
