"""Where the georaster-dl backend is: the provider's setting, else PATH.

The pipeline (TensorFlow, rasterio, ...) lives in its own Python environment and
never inside QGIS's process, so the plugin only needs the path of its command.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from qgis.core import QgsProcessingException
from qgis.PyQt.QtGui import QIcon
from processing.core.ProcessingConfig import ProcessingConfig, Setting

SETTING = "GEORASTER_DL_COMMAND"
EXECUTABLE = "georaster-dl"
SETTINGS_PATH = "Processing > Options > Providers > GeoRaster DL > georaster-dl command"
#: The one install command (also in metadata.txt's about and the README); georaster_dl is not on PyPI.
INSTALL_COMMAND = "python3 -m venv ~/georaster-dl && ~/georaster-dl/bin/pip install /path/to/georaster_dl"
INSTALL_HELP = (
    f"Install the backend in its own Python environment (never into QGIS's Python): {INSTALL_COMMAND} "
    "(the folder of a georaster_dl source checkout, or a wheel built from it with 'python3 -m build'; "
    "on Windows: py -m venv %USERPROFILE%\\georaster-dl, then %USERPROFILE%\\georaster-dl\\Scripts\\pip "
    f"install ...). Then set {SETTINGS_PATH} to ~/georaster-dl/bin/georaster-dl "
    "(Windows: %USERPROFILE%\\georaster-dl\\Scripts\\georaster-dl.exe) or to the environment's "
    "folder, and run the algorithm again. Never put the environment's bin folder first on QGIS's PATH: "
    "QGIS then fails to load its SIP module."
)


def add_settings(group: str, icon: QIcon) -> None:
    """Add the backend command setting to Processing > Options > Providers."""
    ProcessingConfig.settingIcons[group] = icon
    ProcessingConfig.addSetting(Setting(
        group, SETTING,
        "georaster-dl command (its path, or its virtual environment's folder; empty: search PATH)",
        "", valuetype=Setting.FILE, validator=check_setting))
    ProcessingConfig.readSettings()


def check_setting(value: str) -> None:
    """The setting's check in Processing's options: an existing path, ``~`` standing for the home folder.

    Raises
    ------
    ValueError
        Naming the path, when it does not exist.
    """
    if value and not Path(str(value).strip()).expanduser().exists():
        raise ValueError(f"{value} does not exist: give the path of georaster-dl or of its environment's folder")


def remove_settings() -> None:
    ProcessingConfig.removeSetting(SETTING)


def backend_command() -> list[str]:
    """The backend's argument-list prefix, e.g. ``['/home/me/georaster-dl/bin/georaster-dl']``.

    Raises
    ------
    QgsProcessingException
        When neither the setting nor PATH gives a runnable georaster-dl.
    """
    configured = str(ProcessingConfig.getSetting(SETTING) or "").strip()
    found = find_backend(configured, os.environ.get("PATH", ""))
    if found:
        return [found]
    if configured:
        raise QgsProcessingException(
            f"GeoRaster DL backend not found: {SETTINGS_PATH} is set to '{configured}', which is "
            f"neither an executable georaster-dl nor a virtual environment containing one. {INSTALL_HELP}")
    raise QgsProcessingException(
        f"GeoRaster DL backend not found: the '{EXECUTABLE}' command is not on PATH and "
        f"{SETTINGS_PATH} is empty. {INSTALL_HELP}")


def find_backend(configured: str, search_path: str) -> str | None:
    """Resolve the configured command (file or venv folder), or search ``search_path``.

    Examples
    --------
    >>> find_backend("", "/nonexistent") is None
    True
    """
    if not configured:
        return shutil.which(EXECUTABLE, path=search_path)
    path = Path(configured).expanduser()
    if path.is_dir():
        candidates = [path / "bin" / EXECUTABLE, path / "Scripts" / f"{EXECUTABLE}.exe", path / EXECUTABLE]
        path = next((c for c in candidates if c.is_file()), path)
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None
