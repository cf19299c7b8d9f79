"""Safe files: inputs opened only when they cannot block, outputs never written through a link.

Inputs: :func:`check_input_file` refuses what is not a regular file or a folder (a FIFO
blocks its reader forever, a device never ends) and symbolic-link loops, before GDAL or a
parser opens it; GDAL paths such as ``/vsizip/...`` or ``https://...`` pass.

Outputs: every file a run creates is made with ``O_CREAT | O_EXCL | O_NOFOLLOW``
(:func:`create_new`) or under a fresh name from :mod:`tempfile` in the output's folder
(:func:`atomic_output`), so a symlink planted where a temporary file goes is never
written through. A finished file is published by a rename that replaces only a regular
file the run may replace (:func:`publish`). :func:`check_output_path` refuses an output
that is a folder, a link or a special file, that exists (without ``overwrite``), or that
is one of the run's inputs or its model (same resolved path, or same device and inode).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from georaster_dl.errors import InputFileError, OutputError

#: Flags of every file a run creates: never through a link, never an existing file.
CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def absolute(path: str | os.PathLike) -> Path:
    """``path`` with ``~`` expanded and links resolved; a symlink loop is left as is (it is
    refused, with a message, when opened) instead of raising ``RuntimeError``."""
    return Path(os.path.realpath(os.path.expanduser(os.fspath(path))))


def is_gdal_path(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a GDAL virtual path or URL rather than a local file."""
    text = os.fspath(path)
    return text.startswith("/vsi") or "://" in text


def check_input_file(path: str | os.PathLike, where: str) -> None:
    """Refuse an input that is missing, a symlink loop, or not a regular file or folder.

    Parameters
    ----------
    path : path
        The input.
    where : str
        How messages name it (``inputs.dem: /data/dem.tif``).

    Raises
    ------
    InputFileError
    """
    if is_gdal_path(path):
        return
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputFileError(f"{where} does not exist; check the path") from None
    except OSError as exc:  # ELOOP (a symlink loop), EACCES, ENAMETOOLONG, ...
        raise InputFileError(f"{where} cannot be opened ({exc.strerror}); give a readable file") from None
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise InputFileError(f"{where} is not a regular file (a FIFO, device or socket would block or never end); "
                             "give a file")


def is_regular_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a regular file itself (not a link to one)."""
    st = _lstat(Path(path))
    return st is not None and stat.S_ISREG(st.st_mode)


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _kind(mode: int) -> str:
    return ("a symbolic link" if stat.S_ISLNK(mode) else "a folder" if stat.S_ISDIR(mode)
            else "a special file (FIFO, device or socket)")


def check_output_path(path: str | os.PathLike, overwrite: bool = False, what: str = "output",
                      inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """Refuse an output that cannot or may not be written; returns it as a Path.

    Parameters
    ----------
    path : path
        The output file.
    overwrite : bool
        Whether an existing regular file may be replaced.
    what : str
        How messages name it ("output", "model file", ...).
    inputs : iterable of path
        The run's inputs and model: the output may be none of them, even with ``overwrite``.

    Raises
    ------
    OutputError
        When the output is a folder, a link or a special file, lies in a missing folder,
        exists (unless ``overwrite``), or is one of ``inputs``.
    """
    p = Path(path).expanduser()
    st = _lstat(p)
    if st is not None and stat.S_ISDIR(st.st_mode):
        example = p / f"result{p.suffix or '.tif'}"  # keep the kind the user meant: .gdl, .json, .html, .tif
        raise OutputError(f"{what} {p} is a folder; give a file name such as {example}")
    if not p.parent.is_dir():
        raise OutputError(f"{what} {p}: folder {p.parent} does not exist; create it first")
    check_not_an_input(p, inputs, what)
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise OutputError(f"{what} {p} is {_kind(st.st_mode)}; it is never replaced: give another file name")
    if st is not None and not overwrite:
        raise OutputError(f"{what} {p} already exists; pass --overwrite (overwrite=True) to replace it")
    return p


def check_not_an_input(out: str | os.PathLike, inputs: Iterable[str | os.PathLike], what: str = "output") -> None:
    """Refuse ``out`` when it is one of ``inputs`` (same resolved path, or same file through
    another name: a hard link or a bind mount)."""
    out_abs = absolute(out)
    out_id = _file_id(out_abs)
    for item in inputs:
        if is_gdal_path(item):
            continue
        if absolute(item) == out_abs or (out_id is not None and _file_id(absolute(item)) == out_id):
            raise OutputError(f"{what} {out} is also an input of this run ({item}); it is never overwritten: "
                              "give another output name")


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def check_free(path: str | os.PathLike) -> None:
    """Refuse when anything (a file, a link, a folder) already has the name ``path`` that a
    run is about to create: it is the user's (the message of :func:`create_new`)."""
    if os.path.lexists(path):
        raise OutputError(_not_ours(path))


def _not_ours(path: str | os.PathLike) -> str:
    return (f"{path} exists and was not made by this run; move or delete it (a run never writes through "
            "or deletes a file it did not create)")


def create_new(path: str | os.PathLike, what: str = "temporary file") -> int:
    """Create ``path`` for writing (mode 0644 less the umask) and return its descriptor;
    never follows a link and never opens an existing file.

    Raises
    ------
    OutputError
        When ``path`` exists (naming it: the file is the user's, not this run's) or cannot
        be created (read-only file system, permissions).
    """
    try:
        return os.open(path, CREATE_FLAGS, 0o666 & ~_UMASK)
    except FileExistsError:
        raise OutputError(_not_ours(path)) from None
    except OSError as exc:
        if exc.errno == getattr(os, "ELOOP", -1):  # O_NOFOLLOW on a dangling link
            raise OutputError(f"{path} is a symbolic link; remove it (a run never writes through a link)") from None
        raise OutputError(f"cannot create {what} {path} ({exc.strerror}); check the folder is writable "
                          "and has free space") from None


def publish(tmp: str | os.PathLike, path: str | os.PathLike, overwrite: bool) -> Path:
    """Rename the finished ``tmp`` to ``path``, replacing only a regular file and only when
    ``overwrite`` (checked again here: something may have appeared while the run went on)."""
    p = Path(path)
    st = _lstat(p)
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise OutputError(f"{p} became {_kind(st.st_mode)} while the run went on; it is not replaced")
    if st is not None and not overwrite:
        raise OutputError(f"{p} appeared while the run went on; pass --overwrite to replace it")
    os.replace(tmp, p)
    return p


def temporary_path(path: str | os.PathLike, suffix: str = ".partial") -> Path:
    """Create an empty file under a fresh hidden name beside ``path`` (``.NAME.XXXX<suffix>``)
    and return its path: the output's folder (same file system, so the rename is atomic)."""
    fd, tmp = _fresh(Path(path), suffix)
    os.close(fd)
    return tmp


def _fresh(path: Path, suffix: str) -> tuple[int, Path]:
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    except OSError as exc:
        raise OutputError(f"cannot create a temporary file beside {path} ({exc.strerror}); check the folder is "
                          "writable and has free space") from None
    os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs get the usual permissions
    return fd, Path(name)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, overwrite: bool = False) -> Iterator[IO[bytes]]:
    """Write ``path`` atomically: yields a binary file under a fresh temporary name beside it,
    published to ``path`` (:func:`publish`) when the block ends without error, deleted otherwise.

    Examples
    --------
    >>> with atomic_output("metrics.json") as f:  # doctest: +SKIP
    ...     f.write(b"{}")
    """
    fd, tmp = _fresh(Path(path), ".partial")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        publish(tmp, path, overwrite)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike, data: bytes | str, overwrite: bool = False) -> Path:
    """Write ``data`` (text is UTF-8) to ``path`` atomically; see :func:`atomic_output`."""
    with atomic_output(path, overwrite) as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(path)
