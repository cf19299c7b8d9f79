"""The target grid every input is aligned to, and the windows that tile it.

A :class:`Grid` is a CRS, an affine transform (north-up, no rotation) and a shape.
Windows are rasterio :class:`~rasterio.windows.Window` objects in grid pixel
coordinates; a window read with a *halo* of ``h`` cells covers ``h`` extra cells on
every side, partly outside the grid at its edges.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

from georaster_dl.errors import GridError

#: Output GeoTIFF tile size; processing windows are whole multiples of it.
TILE_SIZE = 512


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid.

    Parameters
    ----------
    crs : rasterio.crs.CRS
        Coordinate reference system of the grid.
    transform : affine.Affine
        Pixel-to-CRS transform; ``transform.e`` is negative (north-up).
    width, height : int
        Number of columns and rows.
    """

    crs: CRS
    transform: Affine
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.transform.b != 0 or self.transform.d != 0:
            raise GridError("rotated grids are not supported: warp this raster to a north-up grid first "
                            "(gdalwarp)")
        if self.transform.e >= 0:
            raise GridError("the grid must be north-up (negative pixel height): flip this raster first (gdalwarp)")
        if self.width < 1 or self.height < 1:
            raise GridError(f"the grid is empty ({self.width} x {self.height} cells): check the grid bounds and resolution")

    @classmethod
    def from_bounds(cls, crs: CRS | str, resolution: float | tuple[float, float],
                    bounds: tuple[float, float, float, float]) -> Grid:
        """Build a grid covering ``bounds`` (xmin, ymin, xmax, ymax) at ``resolution``.

        The extent is rounded outwards to whole cells from (xmin, ymax).

        Examples
        --------
        >>> g = Grid.from_bounds("EPSG:32633", 30, (0, 0, 300, 150))
        >>> (g.width, g.height)
        (10, 5)
        """
        xres, yres = (resolution, resolution) if np.isscalar(resolution) else resolution
        if xres <= 0 or yres <= 0:
            raise GridError(f"grid resolution must be positive, got {resolution}")
        xmin, ymin, xmax, ymax = bounds
        if xmax <= xmin or ymax <= ymin:
            raise GridError(f"grid bounds must be [xmin, ymin, xmax, ymax] with min < max, got {list(bounds)}")
        width = max(1, math.ceil((xmax - xmin) / xres - 1e-9))
        height = max(1, math.ceil((ymax - ymin) / yres - 1e-9))
        return cls(CRS.from_user_input(crs), Affine(xres, 0, xmin, 0, -yres, ymax), width, height)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns)."""
        return (self.height, self.width)

    @property
    def res(self) -> tuple[float, float]:
        """Cell size (x, y) in CRS units, both positive."""
        return (self.transform.a, -self.transform.e)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) in CRS units."""
        t = self.transform
        return (t.c, t.f + t.e * self.height, t.c + t.a * self.width, t.f)

    @property
    def is_geographic(self) -> bool:
        """True when cells are in degrees."""
        return bool(self.crs and self.crs.is_geographic)

    def window_transform(self, window: Window) -> Affine:
        """Transform of a window (which may extend outside the grid)."""
        return self.transform @ Affine.translation(window.col_off, window.row_off)

    def window_bounds(self, window: Window) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of a window."""
        t = self.window_transform(window)
        return (t.c, t.f + t.e * window.height, t.c + t.a * window.width, t.f)

    def rowcol(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Integer row and column of the cells holding points (x, y); may lie outside."""
        inv = ~self.transform
        cols = np.floor(inv.a * np.asarray(xs, float) + inv.b * np.asarray(ys, float) + inv.c).astype(np.int64)
        rows = np.floor(inv.d * np.asarray(xs, float) + inv.e * np.asarray(ys, float) + inv.f).astype(np.int64)
        return rows, cols

    def xy(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """CRS coordinates of cell centres."""
        t = self.transform
        cols = np.asarray(cols, float) + 0.5
        rows = np.asarray(rows, float) + 0.5
        return t.c + t.a * cols, t.f + t.e * rows

    def contains(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Boolean mask of (row, col) pairs that fall inside the grid."""
        return (rows >= 0) & (rows < self.height) & (cols >= 0) & (cols < self.width)

    def windows(self, size: int = 1024) -> Iterator[Window]:
        """Tile the grid row by row into windows of ``size`` cells (clipped at the edges).

        ``size`` must be a whole multiple of :data:`TILE_SIZE` so that every window
        maps onto whole output tiles.
        """
        check_window_size(size)
        for row in range(0, self.height, size):
            for col in range(0, self.width, size):
                yield Window(col, row, min(size, self.width - col), min(size, self.height - row))

    def to_dict(self) -> dict:
        """JSON-ready description (CRS as WKT, transform as 6 numbers)."""
        return {"crs": self.crs.to_wkt() if self.crs else None,
                "transform": list(self.transform)[:6], "width": self.width, "height": self.height}

    @classmethod
    def from_dict(cls, d: dict) -> Grid:
        """Inverse of :meth:`to_dict`."""
        return cls(CRS.from_user_input(d["crs"]), Affine(*d["transform"]), int(d["width"]), int(d["height"]))


def check_window_size(size: int) -> None:
    """Refuse window sizes that are not positive multiples of the output tile size."""
    if size < TILE_SIZE or size % TILE_SIZE:
        raise GridError(f"--window must be a positive multiple of {TILE_SIZE} (the output tile size), got {size}")


def pad_window(window: Window, halo: int) -> Window:
    """The window grown by ``halo`` cells on every side."""
    return Window(window.col_off - halo, window.row_off - halo, window.width + 2 * halo, window.height + 2 * halo)


def crop(array: np.ndarray, halo: int) -> np.ndarray:
    """Remove ``halo`` cells from every side of the last two axes."""
    if halo == 0:
        return array
    return array[..., halo:-halo, halo:-halo]


# WGS84 ellipsoid, used for metres per degree on geographic grids.
_WGS84_A = 6378137.0
_WGS84_E2 = 6.69437999014e-3


def metres_per_degree(lat_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Metres per degree of longitude and of latitude at latitudes ``lat_deg`` (ellipsoidal).

    Uses the radii of curvature of the WGS84 ellipsoid: the prime vertical radius
    ``N`` for east-west and the meridional radius ``M`` for north-south.
    """
    phi = np.radians(np.asarray(lat_deg, dtype=np.float64))
    s2 = np.sin(phi) ** 2
    n = _WGS84_A / np.sqrt(1 - _WGS84_E2 * s2)
    m = _WGS84_A * (1 - _WGS84_E2) / (1 - _WGS84_E2 * s2) ** 1.5
    return np.radians(1) * n * np.cos(phi), np.radians(1) * m


def cell_sizes_m(grid: Grid, row_off: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell width and height in metres for grid rows ``row_off .. row_off+rows-1``.

    For projected grids both are constant (CRS linear units converted to metres); for
    geographic grids they are computed per row from each row's centre latitude.
    Rows outside the grid are extrapolated the same way, so halos get sizes too.
    """
    xres, yres = grid.res
    if grid.is_geographic:
        _, lat = grid.xy(np.arange(row_off, row_off + rows), np.zeros(rows))
        mx, my = metres_per_degree(lat)
        return xres * mx, yres * my
    unit = grid.crs.linear_units_factor[1] if grid.crs else 1.0
    return np.full(rows, xres * unit), np.full(rows, yres * unit)
