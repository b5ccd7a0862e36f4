"""A ``dask.distributed`` cluster for the dask backend: one xpnet starts itself, or one that is already running.

Dask users start clusters in two ways, and xpnet takes both as they are. A ``LocalCluster``
on this machine (``workers`` processes of ``threads_per_worker`` threads, each held to
``worker_memory``), started on the loopback interface with no dashboard and closed afterwards;
or any running scheduler given by its address (``dask scheduler`` and ``dask worker ADDRESS``
started by hand, or by a deployment tool: Kubernetes, SLURM, dask-cloudprovider...), which
xpnet only connects to and leaves running. Device ``gpu:all`` starts dask-cuda's
``LocalCUDACluster`` instead: one worker per GPU, each seeing only its own.

The ``Client`` made here is Dask's default scheduler while it is open, so every Dask array
the dask backend computes (``to_numpy``, ``sync``, ``da.store``) runs on that cluster.
Workers must be able to import xpnet (the blocks' forward is xpnet's code), and to read the
input and write the output paths (the same machine, or a shared file system).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from xpnet.validation import InputError, check_batch_size

#: Seconds to wait for a scheduler given by address before giving up.
CONNECT_TIMEOUT = 10.0


class ClusterUnreachable(ConnectionError):
    """No Dask scheduler answers at the address given; the message says how to start one."""


@dataclass(frozen=True)
class ClusterSpec:
    """Which cluster to run on: a running ``scheduler`` address, or a LocalCluster of this shape (the default)."""

    scheduler: str | None = None
    workers: int | None = None
    threads_per_worker: int = 1
    worker_memory: str | None = None
    timeout: float = CONNECT_TIMEOUT

    def __post_init__(self) -> None:
        if self.scheduler is not None and (self.workers is not None or self.worker_memory is not None):
            raise InputError("--scheduler uses the workers of a running cluster; --workers and --worker-memory "
                             "shape a local one: give one or the other")
        check_batch_size(self.workers, name="workers")
        check_batch_size(self.threads_per_worker, name="threads per worker", allow_none=False)


@contextmanager
def connect(spec: ClusterSpec | None = None, device: str = "cpu") -> Iterator[Any]:
    """A ``distributed.Client`` on the cluster ``spec`` describes, Dask's default scheduler until the block ends.

    ``device``: the canonical device of the backend that will run there ("gpu:all" starts a dask-cuda cluster).

    A LocalCluster started here is closed at the end; a scheduler given by address is left
    running. ClusterUnreachable when that scheduler does not answer within ``spec.timeout``
    seconds; ImportError naming the extra when distributed (or dask-cuda) is missing.
    """
    spec = spec or ClusterSpec()
    try:
        from distributed import Client
    except ImportError as err:
        raise ImportError(f'a Dask cluster needs distributed ({err}); install it with: pip install "xpnet[dask]"') \
            from err
    if spec.scheduler is not None:
        with _client_at(Client, spec.scheduler, spec.timeout) as client:
            yield client
        return
    with _local_cluster(spec, device) as cluster, Client(cluster) as client:
        yield client


@contextmanager
def _client_at(client_class: Any, address: str, timeout: float) -> Iterator[Any]:
    """A Client on the scheduler at ``address``, or ClusterUnreachable within ``timeout`` seconds."""
    try:
        client = client_class(address, timeout=f"{timeout}s")
    except (OSError, TimeoutError, ValueError) as err:
        raise ClusterUnreachable(
            f"no Dask scheduler answers at {address} within {timeout:g} s ({type(err).__name__}: {err}); start one "
            f"with 'dask scheduler' and workers with 'dask worker {address}', or leave out --scheduler to start a "
            "local cluster"
        ) from err
    try:
        yield client
    finally:
        client.close()


@contextmanager
def _local_cluster(spec: ClusterSpec, device: str) -> Iterator[Any]:
    """A LocalCluster (a LocalCUDACluster for "gpu:all") on 127.0.0.1, any free port, no dashboard; closed after."""
    options: dict[str, Any] = {"host": "127.0.0.1", "scheduler_port": 0, "dashboard_address": ":0",
                               "silence_logs": logging.ERROR, "threads_per_worker": spec.threads_per_worker}
    if spec.worker_memory is not None:
        options["memory_limit"] = spec.worker_memory
    if device == "gpu:all":
        try:
            from dask_cuda import LocalCUDACluster
        except ImportError as err:
            raise ImportError(f"device gpu:all runs on a dask-cuda cluster ({err}); install dask-cuda") from err
        cluster = LocalCUDACluster(n_workers=spec.workers, **options)
    else:
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=spec.workers, processes=True, **options)
    try:
        yield cluster
    finally:
        cluster.close()


def worker_count(client: Any) -> int:
    """How many workers the client's cluster has now."""
    return len(client.scheduler_info(n_workers=-1)["workers"])
