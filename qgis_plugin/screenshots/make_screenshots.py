"""Regenerate docs/qgis_toolbox.png and docs/qgis_prospectivity.png with real QGIS.

Run with the project's venv (it has the backend):  .venv/bin/python qgis_plugin/screenshots/make_screenshots.py
Needs Debian's qgis, python3-qgis and xvfb. Steps: sample data (512 x 512) -> the plugin's
"Train prospectivity model" and "Map prospectivity" through qgis_process -> the styled map
rendered offscreen (render_map.py) -> the QGIS desktop under Xvfb grabbing its Processing
toolbox (grab_toolbox.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DOCS = REPO / "docs"
BACKEND = Path(sys.executable).with_name("georaster-dl")
QGIS_PROCESS = "/usr/bin/qgis_process.bin"
SETTING = "Processing/Configuration/GEORASTER_DL_COMMAND"


def qgis_env(home: Path) -> dict[str, str]:
    runtime = home / "runtime"
    runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
    return {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "XDG_RUNTIME_DIR": str(runtime),
            "QGIS_PLUGINPATH": str(HERE.parent), "PYTHONPATH": str(HERE.parent), "QT_QPA_PLATFORM": "offscreen"}


def run(command: list, env: dict[str, str]) -> None:
    print("+", " ".join(map(str, command)), flush=True)
    subprocess.run([str(c) for c in command], env=env, check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    from georaster_dl.sampledata import write_sample_data

    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = work / "data"
        write_sample_data(data, size=512)
        env = qgis_env(work / "home")
        run([QGIS_PROCESS, "plugins", "enable", "georaster_dl_qgis"], env)
        ini = work / "home/.local/share/QGIS/QGIS3/profiles/default/QGIS/QGIS3.ini"
        code = "import sys; from qgis.PyQt.QtCore import QSettings as S; s = S(sys.argv[1], S.IniFormat); " \
               "s.setValue(sys.argv[2], sys.argv[3]); s.sync()"
        run(["/usr/bin/python3", "-c", code, ini, SETTING, BACKEND], env)
        run([QGIS_PROCESS, "run", "georaster_dl:train_prospectivity", f"--GRID={data / 'dem.tif'}",
             f"--EVIDENCE={data / 'magnetics.tif'}", f"--EVIDENCE={data / 'radiometrics.tif'}",
             f"--CATEGORICAL={data / 'geology.tif'}", f"--VECTORS={data / 'faults.gpkg'}",
             f"--LABELS={data / 'deposits.gpkg'}", "--EPOCHS=30", "--SEED=1", f"--OUTPUT={work / 'model.gdl'}",
             f"--REPORT={work / 'report.html'}"], env)
        run([QGIS_PROCESS, "run", "georaster_dl:map_prospectivity", f"--MODEL={work / 'model.gdl'}",
             f"--OUTPUT={work / 'prospectivity.tif'}"], env)
        run(["/usr/bin/python3", HERE / "render_map.py", work / "prospectivity.tif", data / "dem.tif",
             data / "deposits.gpkg", data / "faults.gpkg", DOCS / "qgis_prospectivity.png"], env)
        desktop = {k: v for k, v in env.items() if k != "QT_QPA_PLATFORM"}
        desktop["GEORASTER_DL_SCREENSHOT"] = str(DOCS / "qgis_toolbox.png")
        run(["xvfb-run", "-a", "-s", "-screen 0 1400x900x24", "qgis", "--nologo", "--noversioncheck",
             "--code", HERE / "grab_toolbox.py"], desktop)
    print(f"wrote {DOCS / 'qgis_toolbox.png'} and {DOCS / 'qgis_prospectivity.png'}")


if __name__ == "__main__":
    os.chdir(REPO)
    main()
