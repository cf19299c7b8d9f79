"""Write the sample files: tiled GeoTIFFs resampled from the master grid, GPKG layers, CSVs.

Outputs are bit-identical for a seed: GeoTIFFs carry no timestamps, and GeoPackages
are written with a fixed ``OGR_CURRENT_DATE``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.warp import Resampling, reproject

from georaster_dl.grid import Grid

_FIXED_DATE = "2024-01-01T00:00:00Z"  # GeoPackage last_change stamp, fixed for reproducibility


def resample(master: np.ndarray, master_grid: Grid, grid: Grid, method: Resampling,
             nodata: float) -> np.ndarray:
    """Resample an array on the master grid onto ``grid`` (``nodata`` where nothing maps)."""
    dtype = np.uint8 if master.dtype == np.uint8 else np.float32
    out = np.full(grid.shape, nodata, dtype=dtype)
    reproject(master.astype(dtype), out, src_transform=master_grid.transform, src_crs=master_grid.crs,
              src_nodata=nodata, dst_transform=grid.transform, dst_crs=grid.crs, dst_nodata=nodata,
              resampling=method)
    return out


def write_raster(path: Path, array: np.ndarray, grid: Grid, nodata: float, *, description: str,
                 tags: dict[str, str] | None = None, colormap: dict[int, tuple] | None = None) -> Path:
    """Write one band as a tiled, DEFLATE-compressed GeoTIFF."""
    integer = np.issubdtype(array.dtype, np.integer)
    profile = {"driver": "GTiff", "width": grid.width, "height": grid.height, "count": 1,
               "dtype": array.dtype.name, "crs": grid.crs, "transform": grid.transform, "nodata": nodata,
               "tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate",
               "predictor": 2 if integer else 3}
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(array, 1)
        ds.set_band_description(1, description)
        if tags:
            ds.update_tags(**tags)
        if colormap:
            ds.write_colormap(1, colormap)
    return path


def write_layer(path: Path, frame, layer: str) -> Path:
    """Write a GeoDataFrame as the only layer of a GeoPackage (replacing the file)."""
    import pyogrio

    path.unlink(missing_ok=True)
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": _FIXED_DATE})
    try:
        frame.to_file(path, layer=layer, driver="GPKG", engine="pyogrio")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
    return path
