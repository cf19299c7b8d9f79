"""Slope, aspect, hillshade, TRI, TPI and roughness agree with gdaldem (references made here).

Two DEMs: the shared real DEM reprojected to UTM with gdalwarp, and a synthetic DEM with
nodata holes and a flat plateau. Both edge modes: ``nodata`` against gdaldem's default,
``extrapolate`` against ``gdaldem -compute_edges``.
"""

from __future__ import annotations

import numpy as np
import pytest
from terrain_support import SHARED_DEM, compute, gdaldem, read, synthetic_dem, warp_to_utm, write_dem

EDGES = {"nodata": [], "extrapolate": ["-compute_edges"]}


@pytest.fixture(scope="module", params=["real", "synthetic"])
def dem(request, tmp_path_factory):
    """(path, values, grid) of a DEM with square metric cells."""
    tmp = tmp_path_factory.mktemp(request.param)
    if request.param == "real":
        if not SHARED_DEM.exists():
            pytest.skip(f"shared data not found at {SHARED_DEM} (../shared/data is absent)")
        path = warp_to_utm(SHARED_DEM, tmp / "dem_utm.tif")
    else:
        path = write_dem(tmp / "dem.tif", synthetic_dem(180, 210, seed=3))
    values, grid = read(path)
    return path, values, grid


def _same_nodata(ours: np.ndarray, ref: np.ndarray) -> np.ndarray:
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    return ~np.isnan(ref)


def _float32_tolerance(values: np.ndarray) -> float:
    # gdaldem sums the 3x3 window in float32: allow a few units in the last place of the sum.
    return 16 * float(np.finfo(np.float32).eps) * float(np.nanmax(np.abs(values)))


@pytest.mark.parametrize("edges", EDGES)
def test_slope_matches_gdaldem_within_a_thousandth_of_a_degree(dem, edges, tmp_path):
    path, values, grid = dem
    for units, args in (("degrees", []), ("percent", ["-p"])):
        ref = gdaldem("slope", path, tmp_path / f"slope_{units}.tif", *args, *EDGES[edges])
        ours = compute("slope", values, grid, edges, units=units)
        valid = _same_nodata(ours, ref)
        if units == "degrees":
            assert np.abs(ours - ref)[valid].max() <= 1e-3
        else:
            np.testing.assert_allclose(ours[valid], ref[valid], rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("edges", EDGES)
def test_aspect_matches_gdaldem_and_flat_cells_are_minus_one(dem, edges, tmp_path):
    path, values, grid = dem
    ref = gdaldem("aspect", path, tmp_path / "aspect.tif", *EDGES[edges])  # flat (-9999) reads as NaN
    ours = compute("aspect", values, grid, edges)
    slope = compute("slope", values, grid, edges)
    flat = ours == -1
    np.testing.assert_array_equal(flat, np.isnan(ref) & ~np.isnan(slope))
    sloping = ~np.isnan(ref) & (slope > 0.1)
    diff = np.abs(ours - ref)[sloping]
    assert np.minimum(diff, 360 - diff).max() <= 1e-3
    for name, trig in (("northness", np.cos), ("eastness", np.sin)):
        enc = compute(name, values, grid, edges)
        np.testing.assert_allclose(enc[sloping], trig(np.radians(ref[sloping])), atol=2e-5)
        assert (enc[flat] == 0).all()


@pytest.mark.parametrize("edges", EDGES)
def test_hillshade_matches_gdaldem_byte_for_byte_but_rare_rounding_ties(dem, edges, tmp_path):
    path, values, grid = dem
    for az, alt in ((315.0, 45.0), (120.0, 30.0)):
        ref = gdaldem("hillshade", path, tmp_path / "hs.tif", "-az", str(az), "-alt", str(alt), *EDGES[edges])
        ref[ref == 0] = np.nan  # gdaldem's nodata
        ours = compute("hillshade", values, grid, edges, azimuth=az, altitude=alt)
        valid = _same_nodata(ours, ref)
        diff = np.abs(ours - ref)[valid]
        # gdaldem divides by an approximate square root, which can tip a value lying on .5.
        assert diff.max() <= 1 and (diff > 0).mean() < 1e-4


@pytest.mark.parametrize("edges", EDGES)
@pytest.mark.parametrize("name, mode, params, args", [
    ("tri", "TRI", {}, ["-alg", "Riley"]),
    ("tri", "TRI", {"variant": "wilson"}, ["-alg", "Wilson"]),
    ("tpi", "TPI", {}, []),
    ("roughness", "roughness", {}, []),
])
def test_relief_indices_match_gdaldem_within_float32_rounding(dem, edges, name, mode, params, args, tmp_path):
    path, values, grid = dem
    ref = gdaldem(mode, path, tmp_path / f"{mode}.tif", *args, *EDGES[edges])
    ours = compute(name, values, grid, edges, **params)
    valid = _same_nodata(ours, ref)
    assert np.abs(ours - ref)[valid].max() <= _float32_tolerance(values)
