"""Progress reporting: a tqdm bar for people, or JSON lines for the QGIS plugin and scripts.

The CLI's ``--json-progress`` switches every :func:`progress` and :func:`info` call to
one JSON object per line on stdout: ``{"stage", "done", "total", "message", "eta_s"}``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

_settings = {"json": False}
#: Seconds between two JSON lines of one stage (the last one is always printed).
_JSON_INTERVAL = 0.25


def configure(json_lines: bool) -> None:
    """Select JSON-line progress (True) or progress bars (False) for this process."""
    _settings["json"] = json_lines


def info(message: str) -> None:
    """Tell the user something worth knowing (a count, a device, a file written)."""
    if _settings["json"]:
        _emit({"stage": "info", "done": 0, "total": 0, "message": message, "eta_s": None})
    else:
        print(message, file=sys.stderr, flush=True)


_warned: set[str] = set()


def warn(message: str) -> None:
    """Warn once per process: ``warning: message`` on stderr (the QGIS plugin shows it as a warning)."""
    if message not in _warned:
        _warned.add(message)
        print(f"warning: {message}", file=sys.stderr, flush=True)


class Progress:
    """Counts work done in one stage; use :func:`progress` to create one."""

    def __init__(self, stage: str, total: int, message: str) -> None:
        self.stage, self.total, self.message, self.done = stage, total, message, 0
        self._start = self._last = time.monotonic()
        self._bar = None
        if _settings["json"]:
            self._json(force=True)
        else:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=message or stage, unit="win" if stage == "predict" else "it",
                             file=sys.stderr, disable=None, mininterval=0.5, dynamic_ncols=True)

    def update(self, n: int = 1, message: str | None = None) -> None:
        """Record ``n`` more units of work done."""
        self.done += n
        if message is not None:
            self.message = message
        if self._bar is not None:
            self._bar.update(n)
        else:
            self._json(force=self.done >= self.total)

    def eta(self) -> float | None:
        """Seconds left at the current rate, or None before any progress."""
        if not self.done:
            return None
        elapsed = time.monotonic() - self._start
        return max(0.0, elapsed / self.done * (self.total - self.done))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def _json(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= _JSON_INTERVAL:
            self._last = now
            eta = self.eta()
            _emit({"stage": self.stage, "done": self.done, "total": self.total, "message": self.message,
                   "eta_s": None if eta is None else round(eta, 1)})


@contextmanager
def progress(stage: str, total: int, message: str = "") -> Iterator[Progress]:
    """Report progress of ``total`` units of work in ``stage``.

    Examples
    --------
    >>> with progress("predict", total=4, message="windows") as p:  # doctest: +SKIP
    ...     for _ in range(4):
    ...         p.update()
    """
    p = Progress(stage, total, message)
    try:
        yield p
    finally:
        p.close()


def _emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()
