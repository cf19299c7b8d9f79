"""Import TensorFlow without its C++ start-up chatter on stderr.

TensorFlow 2.21 logs INFO lines (the oneDNN notice, CPU features) through absl before
its logging is initialised, so ``TF_CPP_MIN_LOG_LEVEL`` does not hold them back; they
would break the CLI's promise of one ``error:`` line on stderr. The import runs with
file descriptor 2 pointed at an anonymous temporary file; afterwards every captured line
is written back except those ``TF_CPP_MIN_LOG_LEVEL`` (default 2 in the CLI; unset, it
hides nothing) asks to hide. The training commands call it first; loading the networks of a
model file calls it (prediction does not load them, see :mod:`georaster_dl.models.bundle`).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

_NOTICE = re.compile(rb"^(WARNING: All log messages before absl::InitializeLog\(\)|To enable the following instructions)")
_INFO = re.compile(rb"^I\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] ")  # absl: I0000 00:00:1795.5  25128 port.cc:153] ...


def import_tensorflow() -> None:
    """Import TensorFlow (once per process), keeping its INFO start-up lines off stderr."""
    if "tensorflow" in sys.modules:
        return
    hide_info = os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") not in ("", "0")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = capture.read().splitlines(keepends=True)
            kept = [line for line in lines if not (hide_info and (_INFO.match(line) or _NOTICE.match(line)))]
            if kept:
                os.write(2, b"".join(kept))
