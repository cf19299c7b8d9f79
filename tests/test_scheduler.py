"""The window scheduler hands results to the writer in window order, with bounded memory."""

import threading
import time

import pytest
from rasterio.windows import Window

from georaster_dl.engine.scheduler import run_local


def _windows(n):
    return [Window(i * 512, 0, 512, 512) for i in range(n)]


def test_results_are_consumed_in_window_order_whatever_finishes_first():
    windows = _windows(12)
    order = []

    def compute(w):
        time.sleep(0.02 * ((int(w.col_off) // 512 * 7) % 5))  # finish out of order
        return int(w.col_off) // 512

    run_local(windows, compute, lambda i, w, r: order.append((i, r)), workers=4, in_flight=6)
    assert order == [(i, i) for i in range(12)]


def test_no_more_windows_in_flight_than_allowed():
    live, peak, lock = [0], [0], threading.Lock()

    def compute(w):
        with lock:
            live[0] += 1
            peak[0] = max(peak[0], live[0])
        time.sleep(0.01)
        return w

    def consume(i, w, r):
        with lock:
            live[0] -= 1

    run_local(_windows(30), compute, consume, workers=8, in_flight=3)
    assert peak[0] <= 3


def test_start_skips_finished_windows():
    seen = []
    run_local(_windows(5), lambda w: w, lambda i, w, r: seen.append(i), workers=2, in_flight=2, start=3)
    assert seen == [3, 4]


def test_an_error_in_one_window_stops_the_run():
    def compute(w):
        if w.col_off == 1024:
            raise ValueError("boom")
        return w

    with pytest.raises(ValueError, match="boom"):
        run_local(_windows(8), compute, lambda i, w, r: None, workers=2, in_flight=3)


def test_waiting_for_a_slow_window_does_not_spin():
    # The first window is slow and the others finish at once: the writer waits for the first
    # without burning a core (a busy wait used nearly a full CPU here).
    def compute(w):
        time.sleep(1.0 if w.col_off == 0 else 0.01)
        return w

    start_cpu = time.process_time()
    run_local(_windows(4), compute, lambda i, w, r: None, workers=4, in_flight=4)
    assert time.process_time() - start_cpu < 0.3
