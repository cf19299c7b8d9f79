"""Drive georaster_dl_qgis.runner against tests/qgis_scripts/fake_backend.py in QGIS's Python.

Prints one JSON object of observations for tests/test_qgis_runner.py to check.
Usage: /usr/bin/python3 runner_checks.py WORKDIR  (PYTHONPATH must hold qgis_plugin/)
"""
import json
import os
import sys
import time
from pathlib import Path

from qgis.core import QgsProcessingException, QgsProcessingFeedback

from georaster_dl_qgis.runner import run_backend

FAKE = [sys.executable, str(Path(__file__).with_name("fake_backend.py")), "--json-progress"]
# The sidecar files the real backend publishes (tests/test_capabilities.py pins them).
FILES = {"unfinished": [".partial", ".partial.journal", ".lock"], "style": ".qml"}


class Recorder(QgsProcessingFeedback):
    """Records every call the runner makes; optionally cancels at the first progress report."""

    def __init__(self, cancel_on_progress=False):
        super().__init__()
        self.calls, self.cancel_on_progress, self.cancelled_at = [], cancel_on_progress, None

    def setProgress(self, value):
        self.calls.append(["progress", value])
        super().setProgress(value)
        if self.cancel_on_progress and self.cancelled_at is None:
            self.cancelled_at = time.monotonic()
            self.cancel()

    def setProgressText(self, text):
        self.calls.append(["text", text])

    def pushInfo(self, text):
        self.calls.append(["info", text])

    def pushWarning(self, text):
        self.calls.append(["warning", text])

    def pushConsoleInfo(self, text):
        self.calls.append(["console", text])

    def pushCommandInfo(self, text):
        self.calls.append(["command", text])

    def reportError(self, text, fatal=False):
        self.calls.append(["error", text])


def attempt(command, feedback, outputs=()):
    try:
        run_backend(command, feedback, outputs, FILES)
        return None
    except QgsProcessingException as exc:
        return str(exc)


def alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; only its exit status is left


def main(work):
    work = Path(work)
    result = {}
    fb = Recorder()
    out = work / "progress.out"
    result["progress"] = {"exception": attempt([*FAKE, "progress", out], fb, [str(out)]), "calls": fb.calls,
                          "output": out.read_text() if out.exists() else None}

    fb = Recorder()
    out = work / "fail.tif"
    Path(f"{out}.partial").write_text("half")  # as if another run, holding the output's lock, were writing it
    result["fail"] = {"exception": attempt([*FAKE, "fail", out], fb, [str(out)]), "calls": fb.calls,
                      "left": sorted(p.name for p in work.iterdir() if p.name.startswith("fail"))}

    out = work / "env.json"
    os.environ.update({"PYTHONHOME": "/qgis/apps/Python39", "PYTHONPATH": "/qgis/python", "GDAL_DATA": "/qgis/gdal",
                       "PROJ_LIB": "/qgis/proj", "QGIS_PREFIX_PATH": "/qgis", "OSGEO4W_ROOT": "/opt/osgeo4w",
                       "PATH": os.pathsep.join(["/opt/osgeo4w/bin", os.environ["PATH"]])})
    result["env"] = {"exception": attempt([*FAKE, "env", out], Recorder()),
                     "child_env": json.loads(out.read_text()) if out.exists() else None}

    fb = Recorder(cancel_on_progress=True)
    out, pidfile = work / "hang.tif", work / "pids"
    result["cancel"] = {"exception": attempt([*FAKE, "hang", out, pidfile], fb, [str(out)])}
    result["cancel"]["seconds"] = time.monotonic() - fb.cancelled_at
    pids = [int(p) for p in pidfile.read_text().split()]
    deadline = time.monotonic() + 0.5  # SIGKILL is delivered asynchronously to the orphaned worker
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    result["cancel"]["alive"] = [pid for pid in pids if alive(pid)]
    result["cancel"]["left"] = sorted(p.name for p in work.iterdir() if p.name.startswith("hang"))
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
