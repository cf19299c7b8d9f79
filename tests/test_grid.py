"""Grid: construction from bounds, windows that tile it exactly, cell sizes in metres."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from pyproj import Geod
from rasterio.crs import CRS
from rasterio.windows import Window

from georaster_dl.errors import GridError
from georaster_dl.grid import TILE_SIZE, Grid, cell_sizes_m, crop, pad_window


def test_from_bounds_rounds_outwards_from_top_left():
    g = Grid.from_bounds("EPSG:32633", 30, (1000, 2000, 1000 + 30 * 10 + 1, 2000 + 30 * 5))
    assert (g.width, g.height) == (11, 5)
    assert g.transform == Affine(30, 0, 1000, 0, -30, 2150)
    assert g.bounds[0] == 1000 and g.bounds[3] == 2150
    assert g.res == (30, 30)


def test_from_bounds_exact_multiple_is_not_padded_by_rounding_noise():
    g = Grid.from_bounds("EPSG:4326", 0.1, (10.0, 40.0, 10.3, 40.2))
    assert (g.width, g.height) == (3, 2)


def test_from_bounds_with_separate_x_and_y_resolution():
    g = Grid.from_bounds("EPSG:32633", (10, 20), (0, 0, 100, 100))
    assert (g.width, g.height, g.res) == (10, 5, (10, 20))


@pytest.mark.parametrize("resolution, bounds, message", [
    (0, (0, 0, 10, 10), "resolution must be positive"),
    (1, (10, 0, 0, 10), "min < max"),
])
def test_from_bounds_refuses_bad_input(resolution, bounds, message):
    with pytest.raises(GridError, match=message):
        Grid.from_bounds("EPSG:32633", resolution, bounds)


def test_rotated_and_south_up_grids_are_refused():
    with pytest.raises(GridError, match="rotated"):
        Grid(CRS.from_epsg(32633), Affine(30, 1, 0, 0, -30, 0), 5, 5)
    with pytest.raises(GridError, match="north-up"):
        Grid(CRS.from_epsg(32633), Affine(30, 0, 0, 0, 30, 0), 5, 5)


@pytest.mark.parametrize("width, height, size", [(1100, 700, 512), (1024, 1024, 1024), (1, 1, 512), (1537, 3, 1024)])
def test_windows_tile_the_grid_exactly_once(width, height, size):
    g = Grid(CRS.from_epsg(32633), Affine(30, 0, 0, 0, -30, 0), width, height)
    hits = np.zeros((height, width), dtype=np.int32)
    for w in g.windows(size):
        assert w.width <= size and w.height <= size
        assert w.col_off % TILE_SIZE == 0 and w.row_off % TILE_SIZE == 0
        hits[w.row_off:w.row_off + w.height, w.col_off:w.col_off + w.width] += 1
    assert (hits == 1).all()


@pytest.mark.parametrize("size", [0, 100, 513, 768])
def test_window_sizes_that_are_not_tile_multiples_are_refused(size):
    g = Grid(CRS.from_epsg(32633), Affine(30, 0, 0, 0, -30, 0), 10, 10)
    with pytest.raises(GridError, match="multiple of 512"):
        list(g.windows(size))


def test_pad_window_and_crop_are_inverse():
    w = pad_window(Window(0, 512, 512, 100), 3)
    assert (w.col_off, w.row_off, w.width, w.height) == (-3, 509, 518, 106)
    a = np.arange(2 * 106 * 518).reshape(2, 106, 518)
    assert crop(a, 3).shape == (2, 100, 512)
    assert crop(a, 0) is a


def test_rowcol_and_xy_are_consistent_at_cell_centres():
    g = Grid.from_bounds("EPSG:32633", 30, (500000, 4000000, 503000, 4003000))
    rows, cols = np.array([0, 5, 99]), np.array([0, 17, 99])
    xs, ys = g.xy(rows, cols)
    assert xs[0] == 500015 and ys[0] == 4002985
    r, c = g.rowcol(xs, ys)
    assert (r == rows).all() and (c == cols).all()
    assert list(g.contains(np.array([-1, 0, 100]), np.array([0, 0, 0]))) == [False, True, False]


def test_window_transform_and_bounds_follow_the_window():
    g = Grid.from_bounds("EPSG:32633", 30, (0, 0, 3000, 3000))
    assert g.window_transform(Window(2, 3, 4, 5)) == Affine(30, 0, 60, 0, -30, 2910)
    assert g.window_bounds(Window(2, 3, 4, 5)) == (60, 2760, 180, 2910)


def test_grid_dict_round_trip():
    g = Grid.from_bounds("EPSG:7845", 100, (600261.77, -2509191.02, 726161.77, -2260491.02))
    assert Grid.from_dict(g.to_dict()) == g


def test_projected_cell_sizes_are_constant_and_in_metres():
    g = Grid.from_bounds("EPSG:32633", 30, (0, 0, 300, 300))
    csx, csy = cell_sizes_m(g, -2, 14)
    assert csx.shape == (14,) and (csx == 30).all() and (csy == 30).all()


def test_feet_grid_cell_sizes_are_converted_to_metres():
    g = Grid.from_bounds("EPSG:2263", 100, (900000, 100000, 901000, 101000))  # NY Long Island, US survey feet
    csx, _ = cell_sizes_m(g, 0, 1)
    assert csx[0] == pytest.approx(30.48, rel=1e-5)


@pytest.mark.parametrize("lat0", [-60.0, -20.0, 0.0, 32.7, 70.0])
def test_geographic_cell_sizes_match_ellipsoidal_distances(lat0):
    res = 3 / 3600  # 3 arc-seconds, like the HydroSHEDS DEM
    g = Grid(CRS.from_epsg(4326), Affine(res, 0, 10.0, 0, -res, lat0), 20, 400)
    csx, csy = cell_sizes_m(g, -3, 406)  # rows of a halo outside the grid too
    geod = Geod(ellps="WGS84")
    rows = np.arange(-3, 403)
    lat = lat0 - (rows + 0.5) * res
    _, _, dx = geod.inv(np.full(rows.size, 10.0), lat, np.full(rows.size, 10.0 + res), lat)
    _, _, dy = geod.inv(np.full(rows.size, 10.0), lat + res / 2, np.full(rows.size, 10.0), lat - res / 2)
    np.testing.assert_allclose(csx, dx, rtol=1e-6)
    np.testing.assert_allclose(csy, dy, rtol=1e-6)
