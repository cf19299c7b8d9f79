"""The fused 3x3 pass gives, bit for bit, what each feature's own kernel gives."""

from __future__ import annotations

import numpy as np
import pytest
from rasterio.windows import Window
from terrain_support import synthetic_dem, write_dem

from georaster_dl.features.fused import FAMILY
from georaster_dl.stack import Stack

#: Every feature of the 3x3 family (some twice, with other parameters), mixed with features
#: the fused pass does not compute (TPI of radius 3, one-hot geomorphons, the value).
FEATURES = ["dem.slope", "dem", "dem.aspect", "dem.hillshade(azimuth=200, altitude=30)", "dem.northness",
            "dem.tpi(radius=3)", "dem.eastness", "dem.profile_curvature", "dem.plan_curvature",
            "dem.geomorphons(search=3, onehot=true)", "dem.curvature", "dem.tri", "dem.tri(variant=wilson)",
            "dem.roughness", "dem.tpi", "dem.slope(units=percent)", "dem.hillshade"]


@pytest.fixture(scope="module")
def dem_path(tmp_path_factory):
    return write_dem(tmp_path_factory.mktemp("dem") / "dem.tif", synthetic_dem(140, 170, seed=3))


@pytest.mark.parametrize("edges", ["nodata", "extrapolate"])
@pytest.mark.parametrize("compact", [False, True])
def test_fused_pass_equals_each_feature_alone(dem_path, edges, compact):
    spec = {"grid": {"reference": "dem"}, "inputs": {"dem": {"path": str(dem_path)}}, "features": FEATURES,
            "edges": edges}
    window = Window(20, 10, 128, 100)  # inside the raster, and over its edges below
    with Stack(spec) as stack:
        fused = stack._fused_groups()
        assert [stack.features[i].definition.name for i in fused[("dem", "value")]] == [
            "slope", "aspect", "hillshade", "northness", "eastness", "profile_curvature", "plan_curvature",
            "curvature", "tri", "tri", "roughness", "tpi", "slope", "hillshade"]
        assert {stack.features[i].definition.name for i in fused[("dem", "value")]} == set(FAMILY)
        for w in (window, Window(0, 0, 170, 140)):
            together, valid = stack.read_window(w, nodata_union=False, compact=compact)
            alone = []
            for ref in FEATURES:
                with Stack({**spec, "features": [ref]}) as single:
                    assert not single._fused_groups()
                    alone.append(single.read_window(w, nodata_union=False, compact=compact)[0])
            alone = np.concatenate(alone)
            assert together.shape == alone.shape
            assert np.array_equal(together, alone, equal_nan=True)
            assert np.isnan(together).any() and np.isfinite(together).any()
