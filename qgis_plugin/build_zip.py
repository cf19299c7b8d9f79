"""Build the installable plugin ZIP: ``python qgis_plugin/build_zip.py dist/georaster_dl_qgis.zip``.

The archive holds one top-level folder, ``georaster_dl_qgis/``, as QGIS's
"Install from ZIP" expects; caches and editor files are left out. The plugin's
version in metadata.txt must equal the package's ``__version__``.
"""

from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLUGIN = HERE / "georaster_dl_qgis"
PACKAGE_INIT = HERE.parent / "georaster_dl" / "__init__.py"
SKIP_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache"}
SKIP_SUFFIXES = {".pyc", ".pyo", ".orig", ".rej", ".swp"}


def versions() -> tuple[str, str]:
    """(plugin version from metadata.txt, package version from georaster_dl/__init__.py)."""
    plugin = re.search(r"^version=(.+)$", (PLUGIN / "metadata.txt").read_text(), re.M)
    package = re.search(r'^__version__ = "(.+)"$', PACKAGE_INIT.read_text(), re.M)
    return plugin.group(1).strip(), package.group(1)


def build(target: Path) -> list[str]:
    """Write the ZIP to ``target``; returns the archived names."""
    plugin_version, package_version = versions()
    if plugin_version != package_version:
        raise SystemExit(f"error: metadata.txt says version={plugin_version} but georaster_dl is "
                         f"{package_version}; make them equal before building")
    files = sorted(p for p in PLUGIN.rglob("*") if p.is_file() and not SKIP_PARTS & set(p.parts)
                   and p.suffix not in SKIP_SUFFIXES and not p.name.startswith("."))
    target.parent.mkdir(parents=True, exist_ok=True)
    names = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            name = str(path.relative_to(HERE))
            archive.write(path, name)
            names.append(name)
    return names


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "dist/georaster_dl_qgis.zip")
    print(f"wrote {out} ({len(build(out))} files)")
