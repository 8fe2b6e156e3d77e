"""One LocalCluster for the whole test session (starting one takes ~10 s here)."""

from __future__ import annotations

import psutil
import pytest


@pytest.fixture(scope="session")
def dask_client():
    """A 2-worker, 1-thread-each process cluster; closed with no worker left."""
    from dask.distributed import Client, LocalCluster

    before = {p.pid for p in psutil.Process().children(recursive=True)}
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        memory_limit="1GB",
    )
    client = Client(cluster)
    workers = [
        p
        for p in psutil.Process().children(recursive=True)
        if p.pid not in before and "resource_tracker" not in " ".join(p.cmdline())
    ]  # the workers' processes (multiprocessing's tracker lives with pytest)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
        _gone, alive = psutil.wait_procs(workers, timeout=30)
        alive = [p for p in alive if _running(p)]
        for p in alive:  # only the processes this fixture started
            p.kill()
        assert not alive, f"worker processes still running: {[p.pid for p in alive]}"


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
