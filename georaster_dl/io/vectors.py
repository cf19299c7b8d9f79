"""Vector inputs turned into grids window by window: distance grids or rasterised attributes.

A vector input is read once (geopandas + pyogrio), reprojected to the grid CRS and
split into straight segments (lines, polygon rings, points as segments of length 0;
see :mod:`georaster_dl.io.nearest`). Distances are exact Euclidean distances from cell
centres to the nearest geometry (0 inside polygons), so any window equals the
whole-raster result.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely
from rasterio import features as rio_features
from rasterio.windows import Window

from georaster_dl.errors import InputFileError, SpecError, closest, one_of
from georaster_dl.grid import Grid
from georaster_dl.io.nearest import distance_to_segments, explode, polygons_of, segments_of
from georaster_dl.spec import InputSpec


class VectorSource:
    """One vector input of a stack.

    Parameters
    ----------
    spec : InputSpec
        The input's entry (``path``, optional ``layer``, optional ``attribute`` to rasterise).
    """

    def __init__(self, spec: InputSpec) -> None:
        self.spec = spec
        self.frame = read_vector(spec.path, layer=spec.layer, where=f"inputs.{spec.name}")
        if self.frame.crs is None and not spec.crs:
            raise SpecError(f"inputs.{spec.name}: {spec.path} has no CRS; add crs: EPSG:XXXX to this input in the spec")
        if spec.crs:
            self.frame = self.frame.set_crs(spec.crs, allow_override=True)
        if spec.attribute is not None and spec.attribute not in self.frame.columns:
            fields = [c for c in self.frame.columns if c != "geometry"]
            raise SpecError(f"inputs.{spec.name}.attribute: {spec.path} has no field {spec.attribute!r}"
                            f"{closest(spec.attribute, fields)}; fields: {one_of(fields)}")
        self._grid: Grid | None = None
        self._values: np.ndarray | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def attach(self, grid: Grid) -> None:
        """Reproject the geometries to ``grid`` and index them."""
        self._grid = grid
        frame = self.frame.to_crs(grid.crs) if self.frame.crs != grid.crs else self.frame
        geoms = frame.geometry.values
        self._geoms = np.asarray(geoms, dtype=object)
        parts = explode(self._geoms)
        self._segments = segments_of(parts)  # points are segments of length 0
        self._polygons = polygons_of(parts)
        if self.spec.attribute is not None:
            values = frame[self.spec.attribute]
            if values.dtype.kind in "iuf":
                self._values = values.to_numpy(dtype=np.float64)
            else:
                self._values = _text_codes(values, self.spec.categories or self.category_values())

    def read(self, window: Window, source: str = "value") -> np.ndarray:
        """Distance grid (``source='distance'``) or rasterised attribute over ``window`` (float64, NaN = none)."""
        if source == "distance":
            return self._distance(window)
        if self._values is None:
            raise SpecError(f"inputs.{self.name}: a vector input's value needs `attribute: FIELD` in the spec; "
                            f"or use {self.name}.distance")
        out = np.full((int(window.height), int(window.width)), np.nan)
        shapes = [(g, v) for g, v in zip(self._geoms, self._values) if g is not None and np.isfinite(v)]
        if shapes:
            rio_features.rasterize(shapes, out=out, transform=self._grid.window_transform(window),
                                   fill=np.nan, dtype="float64")
        return out

    def _distance(self, window: Window) -> np.ndarray:
        dist = distance_to_segments(self._grid.transform, window, self._segments)
        for polygon in self._polygons:
            self._zero_inside(dist, window, polygon)
        return dist

    def _zero_inside(self, dist: np.ndarray, window: Window, polygon) -> None:
        """Set cells of ``window`` whose centre lies inside ``polygon`` to distance 0."""
        xmin, ymin, xmax, ymax = polygon.bounds
        r0, c0 = self._grid.rowcol(np.array([xmin]), np.array([ymax]))
        r1, c1 = self._grid.rowcol(np.array([xmax]), np.array([ymin]))
        rows = np.arange(max(r0[0], window.row_off), min(r1[0] + 1, window.row_off + window.height))
        cols = np.arange(max(c0[0], window.col_off), min(c1[0] + 1, window.col_off + window.width))
        if rows.size and cols.size:
            rr, cc = np.meshgrid(rows, cols, indexing="ij")
            xs, ys = self._grid.xy(rr, cc)
            inside = shapely.contains_xy(polygon, xs, ys)
            dist[rr[inside] - window.row_off, cc[inside] - window.col_off] = 0.0

    def category_values(self) -> list:
        """Distinct values of the rasterised attribute: numbers, or text labels.

        Text labels are rasterised as their 1-based position in this list.
        """
        values = self.frame[self.spec.attribute].dropna()
        if values.dtype.kind in "iuf":
            return sorted(int(v) if float(v).is_integer() else float(v) for v in values.unique())
        return sorted(values.astype(str).unique())

    def close(self) -> None:
        """Nothing to close: geometries live in memory."""


def read_vector(path: str, *, layer: str | None = None, where: str = "vector"):
    """Read a vector file with geopandas/pyogrio; one clear error for each way it can fail."""
    import geopandas as gpd
    import pyogrio

    p = Path(path)
    if not p.exists():
        raise InputFileError(f"{where}: {path} does not exist; check the path")
    if p.suffix.lower() == ".shp":
        for ext in (".shx", ".dbf"):
            if not p.with_suffix(ext).exists() and not p.with_suffix(ext.upper()).exists():
                raise InputFileError(f"{where}: {path} is missing its {ext} file; copy every part of the "
                                     f"shapefile (.shp, .shx, .dbf, .prj) together")
    try:
        frame = gpd.read_file(path, layer=layer, engine="pyogrio")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InputFileError(f"{where}: {path} is not a vector file GDAL can read "
                             f"({str(exc).splitlines()[0]}); give a GeoPackage, shapefile or GeoJSON") from None
    if len(frame) == 0:
        raise InputFileError(f"{where}: {path} has no features; give a file with at least one geometry")
    if not isinstance(frame, gpd.GeoDataFrame):  # a table without geometries, e.g. a CSV
        raise InputFileError(f"{where}: {path} has no geometries; give a GeoPackage, shapefile or GeoJSON "
                             "(CSV points are read as labels only)")
    geoms = np.asarray(frame.geometry.values, dtype=object)
    valid = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    if not valid.any():
        raise InputFileError(f"{where}: every geometry in {path} is null or empty; fix the file")
    return frame[valid]


def _text_codes(values, labels: list) -> np.ndarray:
    """1-based position of each text value in ``labels`` (NaN when absent)."""
    lookup = {str(v): i + 1 for i, v in enumerate(labels)}
    return np.array([lookup.get(str(v), np.nan) if v is not None else np.nan for v in values], dtype=np.float64)
