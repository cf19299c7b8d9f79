"""Resume journal and output lock for long runs.

A run writing ``OUT.tif`` holds an exclusive ``flock`` on ``OUT.tif.lock`` (released by
the kernel even on SIGKILL, so no lock goes stale) and keeps ``OUT.tif.partial.journal``
beside its partial files. At each checkpoint the partial files are closed (so they are
consistent on disk), their sizes recorded, and one JSON line appended and fsynced.
``--resume`` truncates the partial files back to the last checkpoint's sizes and goes
on from the next window, so the finished file is byte-identical to an uninterrupted run.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from georaster_dl.errors import OutputError


class OutputLock:
    """Exclusive lock on an output path; a second run on the same output is refused."""

    def __init__(self, out: Path) -> None:
        self.path = Path(str(out) + ".lock")
        self._fd: int | None = None

    def __enter__(self) -> OutputLock:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise OutputError(f"another georaster-dl run is writing {self.path.with_suffix('')}; "
                                  "wait for it to finish or choose another output") from None
            try:
                current = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                current = False
            if current:
                self._fd = fd
                return self
            # The run that held the lock deleted the file between our open and our flock:
            # this lock is on a file nobody else will open; take the lock on the path again.
            os.close(fd)

    def __exit__(self, *exc) -> None:
        self.path.unlink(missing_ok=True)
        os.close(self._fd)


def journal_path(out: Path) -> Path:
    """The resume journal of output ``out``."""
    return Path(str(out) + ".partial.journal")


def require_journal(out: Path) -> None:
    """Refuse ``--resume`` for an output with no journal beside it."""
    path = journal_path(out)
    if not path.exists():
        raise OutputError(f"--resume: there is no journal {path}; run without --resume to start afresh")


class Journal:
    """Checkpoints of a run: how many windows are finished and the partial files' sizes.

    Parameters
    ----------
    out : Path
        The final output path.
    fingerprint : dict
        Everything that determines the output bytes (model checksum, options, grid);
        a resume with a different fingerprint is refused.
    """

    def __init__(self, out: Path, fingerprint: dict) -> None:
        self.out, self.path = out, journal_path(out)
        self.fingerprint = fingerprint

    def start(self) -> None:
        """Begin a new journal (a fresh run)."""
        self._append({"fingerprint": self.fingerprint}, mode="w")

    def last_checkpoint(self) -> tuple[int, dict[str, int]]:
        """(windows finished, {partial file name: size}) of the last checkpoint; refuses a foreign
        journal. A last line cut short (a crash while it was written) is ignored."""
        require_journal(self.out)
        lines = []
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                break  # only the last line can be torn: each line is fsynced before the next
        if not lines or not isinstance(lines[0], dict) or lines[0].get("fingerprint") != self.fingerprint:
            raise OutputError(f"--resume: {self.path} belongs to a run with another model, inputs or options; "
                              "rerun with the same options, or without --resume (add --overwrite) to start afresh")
        done, sizes = 0, {}
        for entry in lines[1:]:
            done, sizes = entry["windows_done"], entry["sizes"]
        return done, sizes

    def checkpoint(self, windows_done: int, sizes: dict[str, int]) -> None:
        """Record that ``windows_done`` windows are safely in files of ``sizes``."""
        self._append({"windows_done": windows_done, "sizes": sizes})

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    def _append(self, entry: dict, mode: str = "a") -> None:
        with open(self.path, mode, encoding="utf-8") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())


def truncate_to(sizes: dict[str | os.PathLike, int]) -> None:
    """Cut partial files back to their checkpointed sizes (drops tiles written after it)."""
    for path, size in sizes.items():
        with open(path, "r+b") as f:
            f.truncate(size)
