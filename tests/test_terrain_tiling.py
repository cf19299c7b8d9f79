"""Every terrain feature (and the focal statistics) gives identical results whether computed over the whole raster or
window by window (any window size from 64, any offset), edges and nodata holes included,
in both edge modes. Windows are padded exactly as the Stack pads them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from terrain_support import compute, synthetic_dem

from georaster_dl.grid import Grid

FEATURES = [
    ("slope", {}), ("slope", {"units": "percent"}), ("aspect", {}), ("northness", {}), ("eastness", {}),
    ("hillshade", {"azimuth": 200.0, "altitude": 30.0}),
    ("profile_curvature", {}), ("plan_curvature", {}), ("curvature", {}),
    ("tri", {}), ("tri", {"variant": "wilson"}), ("roughness", {}),
    ("tpi", {}), ("tpi", {"radius": 7}), ("tpi", {"radius": 9, "shape": "annulus", "inner": 4}),
    ("tpi_std", {"radius": 5, "mean": 0.1, "sd": 3.0}),
    ("geomorphons", {}), ("geomorphons", {"search": 12, "skip": 2, "dist": 6, "flat": 1.5}),
    ("landform_weiss", {"radius": 6, "mean": 0.0, "sd": 4.0}),
    ("focal_mean", {}), ("focal_mean", {"radius": 8}), ("focal_sd", {"radius": 6}),
]

# Geographic grid: cell sizes vary by row, so windows must get the right rows' sizes.
GRIDS = {"utm": Grid.from_bounds("EPSG:32633", 30, (0, 0, 30 * 190, 30 * 170)),
         "geographic": Grid.from_bounds("EPSG:4326", 1 / 1200, (10, 45, 10 + 190 / 1200, 45 + 170 / 1200))}


@pytest.mark.parametrize("edges", ["nodata", "extrapolate"])
@pytest.mark.parametrize("name, params", FEATURES, ids=[f"{n}{p or ''}" for n, p in FEATURES])
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_feature_computed_window_by_window_equals_whole_raster(name, params, edges, data):
    seed = data.draw(st.integers(0, 2**16), label="dem seed")
    grid_name = data.draw(st.sampled_from(sorted(GRIDS)), label="grid")
    size = data.draw(st.integers(64, 150), label="window size")
    offset = (data.draw(st.integers(0, size - 1), label="row offset"),
              data.draw(st.integers(0, size - 1), label="column offset"))
    dem = synthetic_dem(170, 190, seed=seed, holes=data.draw(st.integers(0, 8), label="holes"))
    grid = GRIDS[grid_name]
    whole = compute(name, dem, grid, edges, **params)
    tiled = compute(name, dem, grid, edges, window=size, offset=offset, **params)
    np.testing.assert_array_equal(tiled, whole)
    assert np.isfinite(whole).any()
