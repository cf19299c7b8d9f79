"""The CLI's private temporary folder.

Whatever a run puts in the temporary folder (TensorFlow's ``__autograph_generated_file*.py``
sources of compiled functions, model members being loaded) goes into
``$TMPDIR/georaster_dl-<pid>-XXXX``, deleted when the run ends. TensorFlow deletes its
sources only at a normal exit, so a killed run (SIGKILL, a cancel from QGIS) used to leave
them behind; the folders of runs that are no longer alive are deleted by the next run.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

PREFIX = "georaster_dl-"
_NAME = re.compile(rf"^{PREFIX}(\d+)-")


@contextlib.contextmanager
def private_tempdir() -> Iterator[Path]:
    """Point :mod:`tempfile` at a fresh folder for the duration of a run, then delete it."""
    base = Path(tempfile.gettempdir())
    _remove_stale(base)
    folder = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=base)
    previous, tempfile.tempdir = tempfile.tempdir, folder
    try:
        yield Path(folder)
    finally:
        tempfile.tempdir = previous
        shutil.rmtree(folder, ignore_errors=True)


def _remove_stale(base: Path) -> None:
    """Delete this user's run folders whose process has ended."""
    for folder in base.glob(f"{PREFIX}*"):
        match = _NAME.match(folder.name)
        try:
            st = folder.lstat()
        except OSError:
            continue
        if match and folder.is_dir() and not folder.is_symlink() and st.st_uid == os.getuid() \
                and not _alive(int(match.group(1))):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
