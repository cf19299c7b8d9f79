"""The plugin's StackSpec builder writes specs the backend's loader accepts (pure Python, no QGIS)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from conftest import write_raster

from georaster_dl.io.rasters import RasterSource
from georaster_dl.spec import load_spec
from qgis_support import PLUGIN_PARENT

sys.path.insert(0, str(PLUGIN_PARENT))
from georaster_dl_qgis.spec_builder import Source, build_spec, input_name, write_spec  # noqa: E402


def test_spec_from_layers_loads_with_the_backend_loader(tmp_path):
    spec = build_spec(
        reference=Source("Elevation 30m", str(tmp_path / "dem.tif")),
        terrain="slope, tpi:radius=10,tpi(radius=10,shape=annulus,inner=3)",
        continuous=[Source("magnetics", str(tmp_path / "mag.tif")), Source("2nd vd", str(tmp_path / "vd.tif"))],
        categorical=[Source("geology", str(tmp_path / "geology.tif"))],
        vectors=[Source("faults", str(tmp_path / "layers.gpkg"), "faults")])
    loaded = load_spec(write_spec(spec, str(tmp_path / "spec.json")))
    assert loaded.grid.reference == "Elevation_30m"
    assert [str(f) for f in loaded.features] == [
        "Elevation_30m", "Elevation_30m.slope", "Elevation_30m.tpi(radius=10)",
        "Elevation_30m.tpi(inner=3,radius=10,shape=annulus)", "magnetics", "l_2nd_vd", "geology.onehot",
        "faults.distance"]
    assert loaded.inputs["geology"].kind == "categorical" and loaded.inputs["geology"].resampling == "nearest"
    assert loaded.inputs["faults"].kind == "vector" and loaded.inputs["faults"].layer == "faults"


def test_landform_spec_names_the_dem_and_leaves_out_elevation(tmp_path):
    spec = build_spec(Source("my dem", str(tmp_path / "x.tif")), "slope", [], [], [],
                      reference_name="dem", reference_as_feature=False)
    assert spec["features"] == [{"dem": "slope"}] and spec["grid"] == {"reference": "dem"}


def test_layer_chosen_twice_is_one_input_and_one_feature(tmp_path):
    mag = Source("mag", str(tmp_path / "mag.tif"))
    spec = build_spec(None, "", [mag, mag], [], [])
    assert list(spec["inputs"]) == ["mag"] and spec["features"] == ["mag"]


def test_codes_of_categorical_rasters_can_stay_one_band(tmp_path):
    spec = build_spec(None, "", [], [Source("geology", str(tmp_path / "g.tif"))], [], onehot=False)
    assert spec["features"] == ["geology"] and spec["inputs"]["geology"]["kind"] == "categorical"


def test_build_spec_needs_a_raster():
    with pytest.raises(ValueError, match="at least one raster"):
        build_spec(None, "", [], [], [Source("faults", "/f.gpkg")])


@pytest.mark.parametrize("label, taken, expected", [
    ("Dist2Breccia", set(), "Dist2Breccia"), ("K (%) grid", set(), "K_grid"), ("3d", set(), "l_3d"),
    ("é", set(), "layer"), ("mag", {"mag", "mag_2"}, "mag_3")])
def test_input_names_are_unique_identifiers(label, taken, expected):
    assert input_name(label, taken) == expected


def test_each_band_of_a_multi_band_file_is_its_own_input(tmp_path):
    path = str(write_raster(tmp_path / "terrain.tif", np.stack([np.ones((4, 4), "float32")] * 2)))
    spec = build_spec(None, "", [Source("dem.slope", path, band=1), Source("terrain_b2", path, band=2)], [], [])
    assert spec["inputs"] == {"dem_slope": {"path": path, "kind": "continuous", "band": 1},
                              "terrain_b2": {"path": path, "kind": "continuous", "band": 2}}
    assert spec["features"] == ["dem_slope", "terrain_b2"]
    loaded = load_spec(write_spec(spec, str(tmp_path / "spec.json")))
    assert [RasterSource(i).spec.band for i in loaded.inputs.values()] == [1, 2]  # the backend reads both
