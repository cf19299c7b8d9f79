"""Helpers for the terrain tests: DEMs as GeoTIFFs, feature kernels run on padded windows
exactly as the Stack pads them (whole raster or window by window), and reference outputs
made with gdaldem and GRASS."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from conftest import SHARED_DATA, write_raster
from rasterio.windows import Window

import georaster_dl.features  # noqa: F401  (registers features)
from georaster_dl.features.registry import KernelContext, resolve
from georaster_dl.grid import Grid, cell_sizes_m, pad_window
from georaster_dl.spec import FeatureRef, InputSpec

SHARED_DEM = SHARED_DATA / "dem" / "hydrosheds_dfw_3arcsec.tif"
NODATA = -9999.0


def synthetic_dem(rows: int, cols: int, seed: int = 0, holes: int = 3) -> np.ndarray:
    """Hills, valleys, a ramp, a flat plateau and a pit, in metres (float64, NaN holes)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols].astype(float)
    z = 300 + 0.4 * x - 0.25 * y + 25 * np.sin(x / 17.0) * np.cos(y / 23.0)
    for _ in range(8):
        cy, cx, s, h = rng.uniform(0, rows), rng.uniform(0, cols), rng.uniform(5, 25), rng.uniform(-40, 60)
        z += h * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * s * s))
    z += rng.normal(0, 0.3, z.shape)
    plateau = (slice(rows // 5, rows // 5 + 12), slice(cols // 2, cols // 2 + 15))
    z[plateau] = 400.0
    for _ in range(holes):
        r, c = rng.integers(0, rows - 6), rng.integers(0, cols - 6)
        z[r:r + rng.integers(1, 6), c:c + rng.integers(1, 6)] = np.nan
    return np.round(z, 3).astype(np.float32).astype(np.float64)


def write_dem(path: Path, dem: np.ndarray, res: float = 30.0, crs: str = "EPSG:32633",
              origin: tuple[float, float] = (500000.0, 4100000.0)) -> Path:
    """Write a float32 GeoTIFF with nodata -9999 where ``dem`` is NaN."""
    data = np.where(np.isnan(dem), NODATA, dem).astype(np.float32)
    return write_raster(path, data, crs=crs, transform=Affine(res, 0, origin[0], 0, -res, origin[1]), nodata=NODATA)


def read(path: Path) -> tuple[np.ndarray, Grid]:
    """Band 1 as float64 with NaN for nodata, and its grid."""
    with rasterio.open(path) as ds:
        data = ds.read(1, masked=True).astype(np.float64).filled(np.nan)
        return data, Grid(ds.crs, ds.transform, ds.width, ds.height)


def feature(name: str, **params) -> object:
    """The resolved feature ``dem.<name>(params)`` on a continuous input."""
    return resolve(FeatureRef("dem", name, tuple(sorted(params.items()))), InputSpec("dem", "/dem.tif"))


def compute(name: str, dem: np.ndarray, grid: Grid, edges: str = "nodata", window: int | None = None,
            offset: tuple[int, int] = (0, 0), z_factor: float = 1.0, **params) -> np.ndarray:
    """A feature over the whole raster, computed in one piece or window by window.

    Windows of ``window`` cells start at ``-offset`` (so the first row and column of
    windows are partial); each is padded by the halo with NaN outside the raster and
    given the context the Stack gives, then its core is written to the result.
    """
    f = feature(name, **params)
    spec = InputSpec("dem", "/dem.tif", z_factor=z_factor)
    h = f.halo
    rows, cols = dem.shape
    padded = np.full((rows + 2 * h, cols + 2 * h), np.nan)
    padded[h:h + rows, h:h + cols] = dem
    out = np.full((len(f.band_names), rows, cols), np.nan, dtype=np.float32)
    size = window or max(rows, cols)
    for r0 in range(-offset[0], rows, size):
        for c0 in range(-offset[1], cols, size):
            win = Window(max(c0, 0), max(r0, 0), min(c0 + size, cols) - max(c0, 0), min(r0 + size, rows) - max(r0, 0))
            p = pad_window(win, h)
            r, c = int(p.row_off), int(p.col_off)
            values = padded[r + h: r + h + int(p.height), c + h: c + h + int(p.width)].copy()
            rr, cc = np.arange(r, r + int(p.height)), np.arange(c, c + int(p.width))
            outside = ((rr < 0) | (rr >= rows))[:, None] | ((cc < 0) | (cc >= cols))[None, :]
            csx, csy = cell_sizes_m(grid, r, int(p.height))
            ctx = KernelContext(csx, csy, outside if outside.any() else None, edges, spec)
            out[:, win.row_off:win.row_off + win.height, win.col_off:win.col_off + win.width] = f.compute(values, ctx)
    return out[0] if out.shape[0] == 1 else out


def scratch_env(tmp: Path) -> dict[str, str]:
    """Environment for GRASS and GDAL with HOME and TMPDIR in a scratch folder."""
    return {**os.environ, "HOME": str(tmp), "TMPDIR": str(tmp), "GRASS_VERBOSE": "0"}


def gdaldem(mode: str, src: Path, dst: Path, *args: str) -> np.ndarray:
    """Run ``gdaldem MODE src dst args`` and read the result (nodata as NaN)."""
    subprocess.run(["gdaldem", mode, str(src), str(dst), "-q", *args], check=True, capture_output=True)
    return read(dst)[0]


def grass(dem: Path, tmp: Path, commands: list[list[str]], outputs: list[str]) -> dict[str, np.ndarray]:
    """Import ``dem`` into a temporary GRASS location as ``dem``, run ``commands`` and
    return the rasters named in ``outputs`` (float64, NaN for null)."""
    lines = [["r.in.gdal", f"input={dem}", "output=dem"], ["g.region", "raster=dem"], *commands]
    lines += [["r.out.gdal", "-c", "-f", f"input={m}", f"output={tmp / (m + '.tif')}", "type=Float64"]
              for m in outputs]
    script = tmp / "grass_job.sh"
    script.write_text("set -e\n" + "\n".join(shlex.join(line) for line in lines) + "\n")
    subprocess.run(["grass", "--tmp-location", str(dem), "--exec", "sh", str(script)],
                   check=True, capture_output=True, env=scratch_env(tmp), cwd=tmp)
    return {m: read(tmp / (m + ".tif"))[0] for m in outputs}


def warp_to_utm(src: Path, dst: Path, resolution: tuple[float, float] = (90.0, 90.0),
                resampling: str = "bilinear") -> Path:
    """Reproject the shared geographic DEM to UTM 14N as float32."""
    subprocess.run(["gdalwarp", "-q", "-overwrite", "-t_srs", "EPSG:32614", "-tr", *map(str, resolution),
                    "-r", resampling, "-ot", "Float32", "-dstnodata", str(NODATA), str(src), str(dst)],
                   check=True, capture_output=True)
    return dst
