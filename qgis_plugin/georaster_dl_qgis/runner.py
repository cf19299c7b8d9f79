"""Run the backend as a child process wired to a QgsProcessingFeedback.

The child gets an argument list (never a shell string) and an environment
stripped of what QGIS sets for its own Python and GDAL. Its ``--json-progress``
lines drive the progress bar, its ``error: ...`` line becomes the exception, and
Cancel stops it within two seconds and deletes what it was writing.
"""

from __future__ import annotations

import json
import os
import queue
import shlex
import signal
import subprocess
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from qgis.core import QgsProcessingException, QgsProcessingFeedback

POLL_S = 0.1
#: Shown at once: Python, TensorFlow and the model take seconds to load before the first progress line.
STARTING = "Starting the georaster-dl backend (loading Python, TensorFlow and the model)"
TERMINATE_GRACE_S = 1.0  # SIGTERM first so the backend can clean up, SIGKILL after this
# Variables QGIS (Debian, OSGeo4W, macOS bundle) sets for its own Python, GDAL, PROJ and Qt;
# inherited, they make the backend's Python or its wheels' GDAL/PROJ load the wrong files.
QGIS_ONLY_VARIABLES = (
    "PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONUSERBASE", "PYTHONEXECUTABLE",
    "GDAL_DATA", "GDAL_DRIVER_PATH", "GDAL_FILENAME_IS_UTF8", "GDAL_SKIP", "GEOTIFF_CSV",
    "PROJ_LIB", "PROJ_DATA", "QGIS_PREFIX_PATH", "QGIS_PLUGINPATH", "QT_PLUGIN_PATH",
    "QT_QPA_PLATFORM_PLUGIN_PATH", "OSGEO4W_ROOT", "O4W_QT_PREFIX", "O4W_QT_BINARIES",
    "O4W_QT_PLUGINS", "O4W_QT_LIBRARIES", "O4W_QT_TRANSLATIONS", "O4W_QT_HEADERS", "O4W_QT_DOC",
    "DYLD_LIBRARY_PATH", "DYLD_FRAMEWORK_PATH", "DYLD_FALLBACK_LIBRARY_PATH",
)


def clean_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Copy of ``environ`` without QGIS's variables and without OSGeo4W folders on PATH.

    Examples
    --------
    >>> clean_environment({"PATH": "/usr/bin", "PYTHONHOME": "/qgis", "HOME": "/h"})
    {'PATH': '/usr/bin', 'HOME': '/h'}
    """
    env = {k: v for k, v in environ.items() if k.upper() not in QGIS_ONLY_VARIABLES}
    root = environ.get("OSGEO4W_ROOT")
    if root and "PATH" in env:  # OSGeo4W puts its own Python and GDAL DLLs first on PATH
        prefix = os.path.normcase(os.path.normpath(root))
        parts = env["PATH"].split(os.pathsep)
        env["PATH"] = os.pathsep.join(
            p for p in parts if not os.path.normcase(os.path.normpath(p)).startswith(prefix))
    return env


def output_files(path: str, files: Mapping | None = None) -> list[Path]:
    """Files a backend run may leave for output ``path``: itself, GDAL's ``.aux.xml``, and the
    sidecars the backend names in its capabilities' ``files`` (unfinished files, style)."""
    p, files = Path(path), files or {}
    sidecars = [Path(f"{p}{suffix}") for suffix in (*files.get("unfinished", ()), ".aux.xml")]
    return [p, *sidecars, *([p.with_suffix(files["style"])] if files.get("style") else [])]


def backend_json(command: Sequence[str], timeout: float = 120) -> Any:
    """Run a short backend command that prints one JSON document and return it parsed.

    Raises
    ------
    QgsProcessingException
        With the backend's ``error:`` line when it fails.
    OSError, subprocess.TimeoutExpired, ValueError
        When the command cannot start, hangs, or prints no JSON.
    """
    done = subprocess.run([str(a) for a in command], capture_output=True, text=True, encoding="utf-8",
                          errors="replace", timeout=timeout, env=clean_environment(os.environ),
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        errors = [line[len("error: "):] for line in done.stderr.splitlines() if line.lower().startswith("error: ")]
        raise QgsProcessingException(errors[-1] if errors else f"{command[0]} failed with exit code {done.returncode}")
    return json.loads(done.stdout)


def run_backend(command: Sequence[str], feedback: QgsProcessingFeedback,
                outputs: Iterable[str] = (), files: Mapping | None = None) -> None:
    """Run ``command`` to completion, reporting progress to ``feedback``.

    Parameters
    ----------
    command : sequence of str
        Full argument list, e.g. ``[backend, '--json-progress', 'features', ...]``.
    feedback : QgsProcessingFeedback
        Receives progress, messages and errors; its cancel request stops the child.
    outputs : iterable of str
        Files this run writes. When the run is cancelled or fails, the files among them
        and their sidecars that this run created are removed; files that existed before it
        started (a previous result, or the partial files of another run holding the
        output's lock) are left alone.
    files : mapping, optional
        The ``files`` entry of the backend's capabilities: suffixes of its sidecar files.

    Raises
    ------
    QgsProcessingException
        When the backend fails (its ``error:`` line is the message) or the run is cancelled.
    """
    outputs = list(outputs)
    before = {path for output in outputs for path in output_files(output, files) if path.exists()}
    feedback.pushCommandInfo(" ".join(shlex.quote(str(a)) for a in command))
    feedback.setProgressText(STARTING)
    process = subprocess.Popen(
        [str(a) for a in command], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=clean_environment(os.environ), text=True, encoding="utf-8",
        errors="replace", **_own_process_group())
    lines: queue.Queue = queue.Queue()
    pumps = [threading.Thread(target=_pump, args=(stream, name, lines), daemon=True)
             for stream, name in ((process.stdout, "out"), (process.stderr, "err"))]
    for pump in pumps:
        pump.start()
    reporter = _Reporter(feedback)
    open_streams = len(pumps)
    while open_streams:
        if feedback.isCanceled():
            _stop(process)
            _close(process, pumps)
            _remove_new(outputs, before, files)
            raise QgsProcessingException("Cancelled: the georaster-dl backend was stopped and its "
                                         "unfinished outputs were removed.")
        try:
            stream, line = lines.get(timeout=POLL_S)
        except queue.Empty:
            continue
        if line is None:
            open_streams -= 1
        else:
            reporter.handle(stream, line.rstrip("\r\n"))
    code = process.wait()
    _close(process, pumps)
    if code != 0:
        _remove_new(outputs, before, files)
        raise QgsProcessingException(reporter.failure(code))


class _Reporter:
    """Turns the backend's stdout/stderr lines into feedback calls."""

    def __init__(self, feedback: QgsProcessingFeedback) -> None:
        self.feedback = feedback
        self.stage: str | None = None
        self.text = ""
        self.error: str | None = None
        self.stderr_tail: list[str] = []

    def handle(self, stream: str, line: str) -> None:
        if not line.strip():
            return
        if stream == "out":
            event = _json_event(line)
            if event is None:
                self.feedback.pushInfo(line)
            else:
                self._progress(event)
        elif line.lower().startswith("error: "):  # ours ("error: ...") or click's usage error ("Error: ...")
            self.error = line[len("error: "):]  # raised as the run's exception, which QGIS reports
        elif line.startswith("warning: "):
            self.feedback.pushWarning(line[len("warning: "):])
        else:
            self.stderr_tail = (self.stderr_tail + [line])[-10:]
            self.feedback.pushConsoleInfo(line)

    def _progress(self, event: dict) -> None:
        stage, message = str(event.get("stage") or ""), str(event.get("message") or "")
        done, total = event.get("done") or 0, event.get("total") or 0
        if not total:  # an information line ({"stage": "info", "total": 0, ...}): also what happens now
            self.feedback.pushInfo(message or stage)
            self.feedback.setProgressText(message or stage)
            return
        if stage != self.stage:
            self.stage = stage
            self.feedback.pushInfo(f"{stage}: {message}" if message else stage)
        self.feedback.setProgress(min(100.0, 100.0 * float(done) / float(total)))
        eta = event.get("eta_s")
        text = f"{message or stage} (about {eta:.0f} s left)" if isinstance(eta, (int, float)) else message or stage
        if text != self.text:
            self.text = text
            self.feedback.setProgressText(text)

    def failure(self, code: int) -> str:
        if self.error:
            return self.error
        tail = " | ".join(self.stderr_tail[-3:]) or "no message"
        return f"georaster-dl failed with exit code {code}: {tail}"


def _json_event(line: str) -> dict | None:
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and "stage" in event else None


def _pump(stream, name: str, lines: queue.Queue) -> None:
    for line in stream:
        lines.put((name, line))
    lines.put((name, None))


def _own_process_group() -> dict:
    """Start the child in its own process group so Cancel also stops its workers."""
    if os.name == "nt":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.CREATE_NO_WINDOW}
    return {"start_new_session": True}


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the child's group, SIGKILL it after TERMINATE_GRACE_S, and reap the child."""
    if os.name == "nt":
        process.terminate()  # TerminateProcess: immediate
    else:
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(TERMINATE_GRACE_S)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(process.pid, signal.SIGKILL)  # also any worker that outlived the leader
    process.wait()


def _close(process: subprocess.Popen, pumps: list[threading.Thread]) -> None:
    """Let the readers reach end of file, then close the pipes."""
    for pump in pumps:
        pump.join(TERMINATE_GRACE_S)
    process.stdout.close()
    process.stderr.close()


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass  # the whole group is already gone


def _remove_new(outputs: Iterable[str], before: set[Path], files: Mapping | None) -> None:
    """Delete the outputs' files and sidecars that did not exist in ``before``."""
    for output in outputs:
        for path in output_files(output, files):
            if path.is_file() and path not in before:
                path.unlink(missing_ok=True)
