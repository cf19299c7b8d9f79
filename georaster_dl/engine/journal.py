"""Resume journal and output lock for long runs.

A run writing ``OUT.tif`` holds an exclusive ``flock`` on ``OUT.tif.lock`` (released by
the kernel even on SIGKILL, so no lock goes stale) and keeps ``OUT.tif.partial.journal``
beside its partial files. At each checkpoint the partial files are closed (so they are
consistent on disk), their sizes recorded, and one JSON line appended and fsynced.
``--resume`` truncates the partial files back to the last checkpoint's sizes and goes
on from the next window, so the finished file is byte-identical to an uninterrupted run.

None of these files is opened through a symbolic link (``O_NOFOLLOW``); the journal is
created with ``O_EXCL``, and a lock file holding data is someone else's file and refused.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
from pathlib import Path

from georaster_dl.errors import OutputError
from georaster_dl.io.files import create_new, is_regular_file

_NOFOLLOW = os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class OutputLock:
    """Exclusive lock on an output path; a second run on the same output is refused."""

    def __init__(self, out: Path) -> None:
        self.path = Path(str(out) + ".lock")
        self._fd: int | None = None

    def __enter__(self) -> OutputLock:
        while True:
            fd = self._open()
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

    def _open(self) -> int:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)
        except OSError as exc:
            what = ("is a symbolic link" if exc.errno == errno.ELOOP else "is a folder" if exc.errno == errno.EISDIR
                    else f"cannot be created ({exc.strerror})")
            raise OutputError(f"lock file {self.path} {what}; the output's folder must be writable and "
                              f"{self.path.name} free for georaster-dl's lock") from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size:
            os.close(fd)  # locks are empty regular files: this one is someone else's
            raise OutputError(f"{self.path} exists and is not a georaster-dl lock; move or delete it")
        return fd

    def __exit__(self, *exc) -> None:
        try:
            if os.stat(self.path, follow_symlinks=False).st_ino == os.fstat(self._fd).st_ino:
                self.path.unlink()
        except FileNotFoundError:
            pass
        os.close(self._fd)


def discard_interrupted_run(out: Path, overwrite: bool) -> None:
    """Before a fresh run on ``out``: delete an interrupted run's journal and partial files
    with ``overwrite``, else refuse (they can be resumed). Files without a journal are not
    a run's and are left alone (creating the run's own files then refuses them)."""
    journal = Journal(out, {})
    if not journal.is_ours():
        return
    if not overwrite:
        raise OutputError(f"an interrupted run's files lie beside {out} ({journal.path}); rerun with --resume "
                          "to continue it, or with --overwrite to start afresh")
    for name in journal.files():
        if is_regular_file(out.parent / name):
            (out.parent / name).unlink()
    journal.remove()


def journal_path(out: Path) -> Path:
    """The resume journal of output ``out``."""
    return Path(str(out) + ".partial.journal")


def require_journal(out: Path) -> None:
    """Refuse ``--resume`` for an output with no journal beside it."""
    path = journal_path(out)
    if not is_regular_file(path):
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
        self._owned = False  # only a journal this run made or recognised is ever deleted

    def start(self, files: list[str] | tuple[str, ...] = ()) -> None:
        """Begin a new journal (a fresh run writing the partial ``files``, names in the output's
        folder); the journal file must not exist."""
        os.close(create_new(self.path, "journal"))
        self._owned = True
        self._append({"fingerprint": self.fingerprint, "files": list(files)})

    def files(self) -> list[str]:
        """Names of the partial files the journal's run writes (in the output's folder)."""
        first = json.loads(self._read().partition("\n")[0])
        names = first.get("files") or [Path(str(self.out) + ".partial").name]
        return [n for n in names if isinstance(n, str) and n == Path(n).name and n not in ("", ".", "..")]

    def is_ours(self) -> bool:
        """Whether a journal of a georaster-dl run (any run) lies beside the output."""
        if not is_regular_file(self.path):
            return False
        with open(os.open(self.path, os.O_RDONLY | _NOFOLLOW), encoding="utf-8", errors="replace") as f:
            first = f.readline(1 << 20)
        try:
            doc = json.loads(first)
        except json.JSONDecodeError:
            return False
        self._owned = isinstance(doc, dict) and "fingerprint" in doc
        return self._owned

    def _read(self) -> str:
        fd = os.open(self.path, os.O_RDONLY | _NOFOLLOW)
        with open(fd, encoding="utf-8", errors="replace") as f:
            return f.read()

    def last_checkpoint(self) -> tuple[int, dict[str, int]]:
        """(windows finished, {partial file name: size}) of the last checkpoint; refuses a foreign
        journal. A last line cut short (a crash while it was written) is ignored."""
        require_journal(self.out)
        lines = []
        for line in self._read().splitlines():
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                break  # only the last line can be torn: each line is fsynced before the next
        if not lines or not isinstance(lines[0], dict) or lines[0].get("fingerprint") != self.fingerprint:
            raise OutputError(f"--resume: {self.path} belongs to a run with another model, inputs or options; "
                              "rerun with the same options, or without --resume (add --overwrite) to start afresh")
        self._owned = True
        done, sizes = 0, {}
        for entry in lines[1:]:
            done, sizes = entry["windows_done"], entry["sizes"]
        return done, sizes

    def checkpoint(self, windows_done: int, sizes: dict[str, int]) -> None:
        """Record that ``windows_done`` windows are safely in files of ``sizes``."""
        self._append({"windows_done": windows_done, "sizes": sizes})

    def remove(self) -> None:
        """Delete the journal, if it is this run's."""
        if self._owned:
            self.path.unlink(missing_ok=True)

    def _append(self, entry: dict) -> None:
        with open(os.open(self.path, os.O_WRONLY | os.O_APPEND | _NOFOLLOW), "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())


def truncate_to(sizes: dict[str | os.PathLike, int]) -> None:
    """Cut partial files back to their checkpointed sizes (drops tiles written after it)."""
    for path, size in sizes.items():
        fd = os.open(path, os.O_WRONLY | _NOFOLLOW)
        try:
            os.ftruncate(fd, size)
        finally:
            os.close(fd)
