"""GA's Cloncurry data (../shared/data/cloncurry) in real headless QGIS, as a geologist meets it.

The prospectivity dialog's parameters alone (evidence rasters, StratNo as categorical, the
deposits shapefile) must train a model; FaultDensity.tif declares nodata -1 in a Byte band,
which is read as GDAL reads it, with one warning. Skips when the shared data are absent.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from qgis_support import BACKEND, REPO, make_profile, qgis_process, requires_qgis

CLONCURRY = REPO.parent / "shared" / "data" / "cloncurry"
pytestmark = [pytest.mark.qgis, pytest.mark.slow, requires_qgis,
              pytest.mark.skipif(not CLONCURRY.is_dir(), reason=f"{CLONCURRY} (shared real data) is absent")]


def test_cloncurry_trains_from_the_prospectivity_dialogs_parameters_with_the_nodata_warning(tmp_path):
    env = make_profile(tmp_path / "home", backend=str(BACKEND))
    model = tmp_path / "cloncurry.gdl"
    done = qgis_process(env, "--json", "run", "georaster_dl:train_prospectivity",
                        f"--EVIDENCE={CLONCURRY / 'Dist2Breccia.tif'}", f"--EVIDENCE={CLONCURRY / 'FaultDensity.tif'}",
                        f"--CATEGORICAL={CLONCURRY / 'StratNo.tif'}", f"--LABELS={CLONCURRY / 'IOCG_Deposits.shp'}",
                        "--HIDDEN=16", "--EPOCHS=3", "--SEED=1", "--CV_FOLDS=0", f"--OUTPUT={model}",
                        f"--REPORT={tmp_path / 'cloncurry.html'}", timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    log = done.stdout + done.stderr
    assert log.count("FaultDensity.tif declares nodata -1, which its uint8 band cannot hold") == 1
    assert "Nodata overrides" in log  # the warning says where to set a nodata in this dialog
    described = subprocess.run([str(BACKEND), "info", str(model), "--json"], capture_output=True, text=True)
    bands = json.loads(described.stdout)["band_names"]
    assert bands[:2] == ["Dist2Breccia", "FaultDensity"]
    assert sum(b.startswith("StratNo.onehot") for b in bands) > 50  # one band per stratigraphic unit
