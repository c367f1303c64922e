"""NetMob files parsed on a Dask distributed cluster (a LocalCluster, or a running scheduler).

The workers parse files (the costly part: text to numbers, reduced to the layout's steps);
the results come back in file order and are summed by the caller exactly as the threaded
reader sums them, so the profiles are the same. At most ``2 x workers`` files are in
flight, so memory stays bounded on both sides. Leaving the generator (done, failed or
cancelled) cancels the outstanding tasks and, for a LocalCluster, stops its processes.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from urbansig.protocol import BadInput

LOCAL = "local"
POLL_SECONDS = 0.25  # how often a wait for a result looks at cancellation
CONNECT_SECONDS = 30


def parse_on_dask(
    files: list[tuple[Path, int, int, dt.date]],
    parse: Callable[[Path, dt.date, int], dict[str, Any]],
    per_day: int,
    scheduler: str,
    workers: int,
    events: Any,
    notes: list[str],
) -> Iterator[tuple[tuple, dict[str, Any]]]:
    """Yield ``(job, parse(path, day, per_day))`` in file order, parsed on Dask workers.

    ``scheduler`` is ``local`` (a LocalCluster of ``workers`` single-threaded processes on
    this machine) or a scheduler address (``tcp://host:8786``) whose workers see the files
    at the same paths and have this backend installed.
    """
    client, cluster = _connect(scheduler, workers)
    try:
        n_workers = max(1, len(client.scheduler_info().get("workers", {})))
        notes.append(
            f"parsed on a Dask LocalCluster of {n_workers} processes"
            if cluster is not None
            else f"parsed on the Dask cluster at {scheduler} ({n_workers} workers)"
        )
        pending: deque[tuple[tuple, Any]] = deque()
        todo = iter(files)

        def submit(job: tuple) -> None:
            path, _, _, day = job
            pending.append((job, client.submit(parse, path, day, per_day, pure=False)))

        for job in todo:
            submit(job)
            if len(pending) >= 2 * n_workers:
                break
        while pending:
            job, future = pending.popleft()
            result = _wait(future, events)
            nxt = next(todo, None)
            if nxt is not None:
                submit(nxt)
            yield job, result
    finally:
        try:
            if pending:
                client.cancel([f for _, f in pending], force=True)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def _connect(scheduler: str, workers: int) -> tuple[Any, Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - pinned in the backend's requirements
        raise BadInput(
            "DASK_SCHEDULER needs the 'distributed' package in the backend environment; "
            "leave DASK_SCHEDULER empty to read with threads."
        ) from exc
    if scheduler.strip().lower() == LOCAL:
        cluster = LocalCluster(
            n_workers=max(1, workers),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        return Client(cluster), cluster
    address = scheduler.strip()
    try:
        return Client(address, timeout=CONNECT_SECONDS), None
    except (OSError, TimeoutError, ValueError) as exc:
        raise BadInput(
            f"DASK_SCHEDULER: no Dask scheduler answers at {address!r} ({exc}). Start one "
            "('dask scheduler', then 'dask worker <address>' on each machine), use 'local' "
            "for worker processes on this machine, or leave it empty to read with threads."
        ) from exc


def _wait(future: Any, events: Any) -> dict[str, Any]:
    """The future's result, checking for cancellation while it runs."""
    from distributed import TimeoutError as DaskTimeout

    while True:
        if events is not None:
            events.check_cancelled()
        try:
            return future.result(timeout=POLL_SECONDS)
        except (DaskTimeout, TimeoutError):
            continue
