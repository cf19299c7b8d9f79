"""The backend's vocabulary (``georaster-dl info --capabilities --json``), read once per backend.

Choice lists, feature names and defaults, and the names of the files a run writes all
come from here, so the plugin never restates what the backend defines. The document is
cached in memory and in the QGIS profile, keyed by the backend's path and the time its
command was installed; the version it reports is kept beside it.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from qgis.core import QgsApplication, QgsProcessingException

from georaster_dl_qgis import backend
from georaster_dl_qgis.runner import backend_json

CACHE_FILE = "georaster_dl_capabilities.json"
TIMEOUT_S = 120
_memory: dict[str, dict] = {}


def capabilities() -> dict[str, Any]:
    """The configured backend's capabilities document.

    Raises
    ------
    QgsProcessingException
        When no backend is configured or found, or it cannot describe itself.
    """
    command = backend.backend_command()[0]
    key = _key(command)
    if key not in _memory:
        cached = _read_cache().get(key)
        _memory[key] = cached if cached else _ask(command)
        if not cached:
            _write_cache(key, _memory[key])
    return _memory[key]


def available() -> dict[str, Any]:
    """:func:`capabilities`, or an empty document when the backend is missing (the plugin
    still loads and lists its algorithms; running one says how to install the backend)."""
    try:
        return capabilities()
    except QgsProcessingException:
        return {}


def choices(doc: dict, key: str) -> list[str]:
    """A choice list of the document (``activations``, ``optimizers``, ``devices``, ...)."""
    return list(doc.get(key) or [])


def terrain_features(doc: dict) -> list[str]:
    """Features computed from a raster of values alone (slope, tpi, geomorphons, ...)."""
    return [name for name, f in (doc.get("features") or {}).items() if f["inputs"] == ["continuous"]]


def feature_default(doc: dict, feature: str, param: str, fallback: Any = None) -> Any:
    """Default of a feature's parameter as the backend defines it."""
    for p in ((doc.get("features") or {}).get(feature) or {}).get("params", []):
        if p["name"] == param:
            return p["default"]
    return fallback


def file_suffix(doc: dict, key: str) -> str:
    """Suffix of a file kind the backend writes (``model``, ``probabilities``, ...)."""
    return str((doc.get("files") or {}).get(key) or "")


def _key(command: str) -> str:
    status = os.stat(command)
    return f"{os.path.realpath(command)}|{status.st_mtime_ns}|{status.st_size}"


def _ask(command: str) -> dict[str, Any]:
    try:
        doc = backend_json([command, "info", "--capabilities", "--json"], TIMEOUT_S)
    except (QgsProcessingException, OSError, subprocess.TimeoutExpired, ValueError):
        doc = None
    if not isinstance(doc, dict) or "version" not in doc:
        raise QgsProcessingException(
            f"The GeoRaster DL backend {command} cannot describe itself ('georaster-dl info --capabilities "
            f"--json' failed): it is older than this plugin or broken. {backend.INSTALL_HELP}")
    return doc


def _cache_path() -> Path:
    return Path(QgsApplication.qgisSettingsDirPath()) / CACHE_FILE


def _read_cache() -> dict[str, dict]:
    try:
        cache = json.loads(_cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return cache if isinstance(cache, dict) else {}


def _write_cache(key: str, doc: dict) -> None:
    """Keep the entries of backends still installed, plus this one (a failed write only costs a re-ask)."""
    cache = {k: v for k, v in _read_cache().items() if os.path.exists(k.split("|")[0])}
    cache[key] = doc
    try:
        _cache_path().parent.mkdir(parents=True, exist_ok=True)
        _cache_path().write_text(json.dumps(cache), encoding="utf-8")
    except OSError:
        pass
