"""Helpers for the QGIS plugin tests: run real, headless QGIS as subprocesses.

PyQGIS cannot be imported in the project's venv (QGIS is built for Debian's
/usr/bin/python3), so the tests drive ``qgis_process.bin`` and system-Python scripts.
Each QGIS start costs about 1.3-1.9 s on the 2-core test machine.
"""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

QGIS_PROCESS = Path("/usr/bin/qgis_process.bin")  # not the qgis_process wrapper: see GUIDE 5
SYSTEM_PYTHON = Path("/usr/bin/python3")
REPO = Path(__file__).resolve().parents[1]
PLUGIN_PARENT = REPO / "qgis_plugin"
PLUGIN = "georaster_dl_qgis"
SCRIPTS = Path(__file__).with_name("qgis_scripts")



def _checkout_backend() -> Path:
    """A ``bin/georaster-dl`` running this checkout's package with the venv's Python.

    The venv's own console script imports whichever checkout the venv was installed from;
    the plugin strips PYTHONPATH from the backend's environment, so the tests point it at
    this wrapper (inside a folder laid out like a virtual environment).
    """
    folder = Path(tempfile.gettempdir()) / f"georaster_dl_backend_{hashlib.sha1(str(REPO).encode()).hexdigest()[:8]}"
    script = folder / "bin" / "georaster-dl"
    text = (f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(REPO)!r})\n"
            "from georaster_dl.cli.main import run\nrun()\n")
    if not script.is_file() or script.read_text() != text:
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(text)
        script.chmod(0o755)
    return script


BACKEND = _checkout_backend()
SETTING_KEY = "Processing/Configuration/GEORASTER_DL_COMMAND"
ALGORITHMS = ("terrain_features", "geomorphons", "stack_rasters", "train_landforms", "classify_landforms",
              "train_prospectivity", "map_prospectivity", "train_regression", "predict", "evaluate",
              "describe_model", "ranked_targets")


def _qgis_importable() -> bool:
    if not (QGIS_PROCESS.exists() and SYSTEM_PYTHON.exists()):
        return False
    return subprocess.run([str(SYSTEM_PYTHON), "-c", "import qgis.core"], capture_output=True).returncode == 0


requires_qgis = pytest.mark.skipif(not _qgis_importable(),
                                   reason="QGIS (apt: qgis python3-qgis) is not installed")


def qgis_env(home: Path) -> dict[str, str]:
    """A minimal environment for headless QGIS with the plugin folder on QGIS_PLUGINPATH.

    PATH holds only system folders, so the backend is found only where a test says so.
    """
    runtime = home / "runtime"
    runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
    return {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
            "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(runtime),
            "QGIS_PLUGINPATH": str(PLUGIN_PARENT), "PYTHONPATH": str(PLUGIN_PARENT)}


def make_profile(home: Path, backend: str | None) -> dict[str, str]:
    """A fresh QGIS profile under ``home`` with the plugin enabled and the backend setting set."""
    env = qgis_env(home)
    done = subprocess.run([str(QGIS_PROCESS), "plugins", "enable", PLUGIN], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    if backend is not None:
        ini = home / ".local/share/QGIS/QGIS3/profiles/default/QGIS/QGIS3.ini"
        code = ("import sys; from qgis.PyQt.QtCore import QSettings; "
                "s = QSettings(sys.argv[1], QSettings.IniFormat); s.setValue(sys.argv[2], sys.argv[3]); s.sync()")
        subprocess.run([str(SYSTEM_PYTHON), "-c", code, str(ini), SETTING_KEY, backend], env=env, check=True)
    return env


def qgis_process(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``qgis_process.bin ARGS`` (text output)."""
    return subprocess.run([str(QGIS_PROCESS), *args], env=env, capture_output=True, text=True, timeout=timeout)


def run_algorithm(env: dict[str, str], algorithm: str, params: dict, timeout: float = 300) -> dict:
    """Run ``georaster_dl:<algorithm>`` through qgis_process and return its results.

    List values become repeated ``--NAME=value`` arguments, as qgis_process expects.
    """
    args = [f"--{name}={item}" for name, value in params.items()
            for item in (value if isinstance(value, (list, tuple)) else [value])]
    done = qgis_process(env, "--json", "run", f"georaster_dl:{algorithm}", *args, timeout=timeout)
    assert done.returncode == 0, f"{algorithm} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return json.loads(done.stdout)["results"]


def run_script(env: dict[str, str], script: str, *args: str, timeout: float = 300) -> dict:
    """Run ``tests/qgis_scripts/<script>`` with QGIS's Python; it prints one JSON object."""
    done = subprocess.run([str(SYSTEM_PYTHON), str(SCRIPTS / script), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{script} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def missing_commands(*commands: str) -> list[str]:
    """Which of ``commands`` the venv's georaster-dl lacks (empty: all present)."""
    return [c for c in commands if c not in _backend_commands()]


@functools.lru_cache(maxsize=1)
def _backend_commands() -> frozenset[str]:
    if not BACKEND.exists():
        return frozenset()
    done = subprocess.run([str(BACKEND), "--help"], capture_output=True, text=True)
    return frozenset(line.split()[0] for line in done.stdout.split("Commands:")[-1].splitlines() if line.strip())
