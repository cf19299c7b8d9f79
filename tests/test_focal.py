"""Focal mean and SD over a disk: values against scipy, nodata in both edge modes, the spec
grammar through the Stack, the feature list, and what is refused. (Tiling: test_terrain_tiling.)"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from rasterio.windows import Window
from scipy import ndimage
from terrain_support import compute, write_dem

from georaster_dl.cli.main import main
from georaster_dl.errors import FeatureError
from georaster_dl.grid import Grid
from georaster_dl.stack import Stack

GRID = Grid.from_bounds("EPSG:32633", 30, (0, 0, 30 * 130, 30 * 120))


def _survey(seed: int = 3) -> np.ndarray:
    """A skewed survey-like grid with a large offset (gravity-like) and nodata holes."""
    rng = np.random.default_rng(seed)
    field = 980_000 + rng.lognormal(0, 1.5, (120, 130))
    for r, c, h, w in ((10, 20, 4, 7), (60, 0, 3, 5), (100, 90, 9, 2)):
        field[r:r + h, c:c + w] = np.nan
    return field.astype(np.float32).astype(np.float64)


def _reference(field: np.ndarray, radius: int, statistic, edges: str) -> np.ndarray:
    """The statistic over cells whose centres lie within radius + 0.5 cells, by scipy."""
    dy, dx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    disk = dy ** 2 + dx ** 2 <= (radius + 0.5) ** 2
    if edges == "extrapolate":  # the disk's valid cells
        func = getattr(np, "nan" + statistic)
    else:  # any nodata or outside cell in the disk makes the cell nodata
        func = getattr(np, statistic)
    with warnings.catch_warnings():  # disks with no valid cell (inside holes) warn "mean of empty slice"
        warnings.simplefilter("ignore", RuntimeWarning)
        out = ndimage.generic_filter(field, func, footprint=disk, mode="constant", cval=np.nan)
    out[np.isnan(field)] = np.nan
    return out


@pytest.mark.parametrize("edges", ["nodata", "extrapolate"])
@pytest.mark.parametrize("name, statistic", [("focal_mean", "mean"), ("focal_sd", "std")])
@pytest.mark.parametrize("radius", [1, 4])
def test_focal_statistics_equal_a_direct_scipy_computation(name, statistic, radius, edges):
    field = _survey()
    ours = compute(name, field, GRID, edges, radius=radius)
    expected = _reference(field, radius, statistic, edges)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(expected))
    ok = np.isfinite(expected)
    # float32 output; the SD is taken around the mean, so the 980,000 offset costs no precision
    np.testing.assert_allclose(ours[ok], expected[ok], rtol=2e-7 if statistic == "mean" else 1e-6)
    if edges == "nodata":
        assert np.isnan(ours[:radius]).all() and np.isfinite(ours[radius:-radius, radius:-radius]).mean() > 0.8
    else:
        assert np.array_equal(np.isnan(ours), np.isnan(field))  # only the input's own nodata stays nodata


def test_focal_features_through_the_spec_grammar(tmp_path):
    field = _survey(5)
    path = write_dem(tmp_path / "grav.tif", field)
    spec = {"grid": {"reference": "grav"}, "inputs": {"grav": {"path": str(path)}},
            "features": ["grav", "grav.focal_mean(radius=3)", "grav.focal_sd(radius=5)"], "edges": "extrapolate"}
    with Stack(spec) as stack:
        assert list(stack.band_names) == ["grav", "grav.focal_mean(radius=3)", "grav.focal_sd(radius=5)"]
        data, valid = stack.read_window(Window(0, 0, stack.grid.width, stack.grid.height))
    grid = Grid.from_bounds("EPSG:32633", 30, (0, 0, 30 * field.shape[1], 30 * field.shape[0]))
    for band, (name, radius) in zip(data[1:], (("focal_mean", 3), ("focal_sd", 5))):
        expected = compute(name, field, grid, "extrapolate", radius=radius)
        np.testing.assert_array_equal(band[valid], expected[valid])
    assert valid.sum() == np.isfinite(field).sum()


def test_features_list_shows_the_focal_family(capsys):
    assert main(["features", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("focal_mean", "focal_sd"):
        assert name in out
    assert "halo: radius cells" in out.split("focal_mean", 1)[1].split("\n\n")[0]


@pytest.mark.parametrize("feature, message", [
    ("grav.focal_mean(radius=0)", "parameter radius must be at least 1"),
    ("grav.focal_sd(radius=40)", "neighbourhood does not fit"),
    ("units.focal_mean(radius=2)", "focal_mean needs a continuous input"),
])
def test_bad_focal_references_are_refused(feature, message, tmp_path):
    path = write_dem(tmp_path / "grav.tif", _survey()[:60, :60])
    spec = {"grid": {"reference": "grav"}, "features": [feature],
            "inputs": {"grav": {"path": str(path)}, "units": {"path": str(path), "kind": "categorical"}}}
    with pytest.raises(FeatureError, match=message):
        Stack(spec)
