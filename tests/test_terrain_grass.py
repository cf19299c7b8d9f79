"""Curvatures and geomorphons agree with GRASS r.slope.aspect and r.geomorphon (references
made here in a temporary GRASS location), on the real DEM reprojected to UTM and on a
synthetic DEM with nodata holes."""

from __future__ import annotations

import numpy as np
import pytest
from terrain_support import SHARED_DEM, compute, grass, read, synthetic_dem, warp_to_utm, write_dem

GEOMORPHON_RUNS = {"gm3": {"search": 3}, "gm10": {"search": 10}, "gm10s": {"search": 10, "skip": 2, "dist": 5}}


@pytest.fixture(scope="module", params=["real", "synthetic"])
def references(request, tmp_path_factory):
    """(values, grid, GRASS outputs) for one DEM."""
    tmp = tmp_path_factory.mktemp(f"grass_{request.param}")
    if request.param == "real":
        if not SHARED_DEM.exists():
            pytest.skip(f"shared data not found at {SHARED_DEM} (../shared/data is absent)")
        path = warp_to_utm(SHARED_DEM, tmp / "dem_utm.tif")
    else:
        path = write_dem(tmp / "dem.tif", synthetic_dem(160, 190, seed=5))
    commands = [["r.slope.aspect", "elevation=dem", "pcurvature=pc", "tcurvature=tc", "dxx=dxx", "dyy=dyy"]]
    commands += [["r.geomorphon", "elevation=dem", f"forms={name}", *(f"{k}={v}" for k, v in p.items())]
                 for name, p in GEOMORPHON_RUNS.items()]
    values, grid = read(path)
    return values, grid, grass(path, tmp, commands, ["pc", "tc", "dxx", "dyy", *GEOMORPHON_RUNS])


@pytest.mark.parametrize("name, grass_name", [("profile_curvature", "pc"), ("plan_curvature", "tc"),
                                              ("curvature", "laplacian")])
def test_curvatures_agree_with_grass_in_sign_and_within_one_percent(references, name, grass_name):
    values, grid, ref = references
    # GRASS's dxx and dyy are second derivatives of -z (it differentiates towards west and south).
    expected = ref["dxx"] + ref["dyy"] if grass_name == "laplacian" else ref[grass_name]
    ours = compute(name, values, grid, "nodata")
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(expected))
    valid = ~np.isnan(expected)
    signal = valid & (np.abs(expected) > 1e-9)
    assert (np.sign(ours[signal]) == np.sign(expected[signal])).all()
    assert (np.abs(ours - expected)[valid] <= 0.01 * np.abs(expected[valid]) + 1e-9).all()
    assert (ours[valid] != 0).mean() > 0.5


@pytest.mark.parametrize("edges", ["nodata", "extrapolate"])
@pytest.mark.parametrize("run", GEOMORPHON_RUNS)
def test_geomorphons_match_r_geomorphon_on_995_per_mille_of_cells(references, run, edges):
    values, grid, ref = references
    ours = compute("geomorphons", values, grid, edges, **GEOMORPHON_RUNS[run])
    expected = ref[run]
    both = ~np.isnan(ours) & ~np.isnan(expected)
    if edges == "nodata":
        assert not (~np.isnan(ours) & np.isnan(expected)).any()  # ours is nodata wherever GRASS is
    else:
        assert (~np.isnan(ours) | np.isnan(values)).all()  # every valid DEM cell gets a form
    assert both.sum() > 0.5 * (~np.isnan(values)).sum()
    assert (ours[both] == expected[both]).mean() >= 0.995
    assert len(np.unique(ours[both])) >= 8
