"""Run windows with a bounded number in flight and hand results to one writer, in order.

Results are consumed in window order whatever order they finish in, so the output
file's layout (and bytes) do not depend on the number of workers or the scheduler.
At most ``in_flight`` windows are computed or waiting at any time, so memory does
not grow with the raster.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from rasterio.windows import Window

Consume = Callable[[int, Window, Any], None]


def run_local(windows: Sequence[Window], compute: Callable[[Window], Any], consume: Consume,
              workers: int, in_flight: int, start: int = 0) -> None:
    """Compute ``windows[start:]`` on a thread pool; ``consume`` each result in order.

    On an error or Ctrl-C the pool is left without waiting for the windows being
    computed: their results are not needed, and waiting would delay the stop.
    """
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gdl-window")
    try:
        _drive(windows, lambda w: pool.submit(compute, w), consume, in_flight, start)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def run_distributed(client, windows: Sequence[Window], task: Callable, args: tuple, consume: Consume,
                    in_flight: int, start: int = 0) -> None:
    """Compute windows on a dask.distributed cluster; results come back to this process's writer.

    ``task(*args, window_tuple)`` runs on a worker (see :mod:`georaster_dl.engine.worker`),
    which loads the model once and keeps it, so nothing heavy is shipped per task.
    """
    def submit(w: Window):
        return client.submit(task, *args, (int(w.col_off), int(w.row_off), int(w.width), int(w.height)),
                             pure=False)

    _drive(windows, submit, consume, in_flight, start)


def _drive(windows: Sequence[Window], submit: Callable[[Window], Future], consume: Consume,
           in_flight: int, start: int) -> None:
    pending: dict[int, Any] = {}
    next_submit = next_write = start
    try:
        while next_write < len(windows):
            while next_submit < len(windows) and next_submit - next_write < in_flight:
                pending[next_submit] = submit(windows[next_submit])
                next_submit += 1
            future = pending[next_write]
            if not future.done():
                # Wait for the window to write next only: waiting for any window returned at
                # once, over and over, whenever a later one had already finished (a busy loop).
                wait_for(future)
                continue
            consume(next_write, windows[next_write], future.result())
            del pending[next_write]
            next_write += 1
    finally:
        for future in pending.values():
            future.cancel()


def wait_for(future) -> None:
    """Block until ``future`` (concurrent or dask) finishes, or half a second passes, so that
    the caller wakes up for Ctrl-C."""
    if isinstance(future, Future):
        wait([future], timeout=0.5)
    else:
        from distributed import wait as dask_wait

        try:
            dask_wait([future], timeout=0.5)
        except TimeoutError:
            pass
