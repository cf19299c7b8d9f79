"""Fixtures shared by the test files: small real GeoTIFFs and the optional ../shared data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.windows import Window

#: ../shared/data beside the repository (real datasets; tests that need it skip without it).
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

#: A 30 m UTM 33N origin used by the small synthetic rasters.
UTM33 = "EPSG:32633"
ORIGIN = Affine(30, 0, 500000, 0, -30, 4000000)


def write_raster(path: Path, array: np.ndarray, *, crs: str | None = UTM33, transform: Affine = ORIGIN,
                 nodata: float | None = None, driver: str = "GTiff") -> Path:
    """Write ``array`` ((rows, cols) or (bands, rows, cols)) as a real raster file."""
    data = array if array.ndim == 3 else array[None]
    with rasterio.open(path, "w", driver=driver, width=data.shape[2], height=data.shape[1], count=data.shape[0],
                       dtype=data.dtype, crs=crs, transform=transform, nodata=nodata) as ds:
        ds.write(data)
    return Path(path)


def read_tiled(read, shape: tuple[int, ...], tile: tuple[int, int]) -> np.ndarray:
    """Assemble an array of ``shape`` (..., rows, cols) from ``read(window)`` over windows of
    ``tile`` (rows, cols) cells, the last ones cut at the edges."""
    out = np.full(shape, np.nan)
    rows, cols = shape[-2:]
    for r in range(0, rows, tile[0]):
        for c in range(0, cols, tile[1]):
            w = Window(c, r, min(tile[1], cols - c), min(tile[0], rows - r))
            out[..., r:r + w.height, c:c + w.width] = read(w)
    return out


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or skip the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent (real datasets are optional)")
    return SHARED_DATA


@pytest.fixture
def cloncurry(shared_data: Path) -> Path:
    """The Cloncurry IOCG test data (GA's WofE TESTDATA), or skip."""
    folder = shared_data / "cloncurry"
    if not (folder / "FaultDensity.tif").exists():
        pytest.skip(f"{folder} is absent")
    return folder
