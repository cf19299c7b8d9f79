"""Where the synthetic study area lies and the grid each sample file is written on.

Every field is first made on a *master* grid: the DEM grid grown by a margin, so that
survey grids in other CRSs, with their own cell sizes and origins, can be resampled
from it over the whole area they cover.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from rasterio.warp import transform as transform_points
from rasterio.warp import transform_bounds

from georaster_dl.grid import Grid

DEM_CRS = "EPSG:32633"            # WGS 84 / UTM 33N, near 15 E 47 N
DEM_ORIGIN = (500_000.0, 5_200_000.0)  # top-left corner of the DEM
DEM_CELL = 30.0
MARGIN_M = 6_000.0                # master grid margin round the DEM
MAG_CRS = "EPSG:3035"             # ETRS89 / LAEA Europe: the magnetic survey's CRS
MAG_CELL = 100.0
MAG_MARGIN_M = 2_000.0            # magnetic grid extent beyond the DEM (its corners hold nodata)
SURVEY_MARGIN_M = 1_500.0         # flown area beyond the DEM; cells further out are nodata
RAD_CELL = 60.0
RAD_OFFSET = (17.0, -23.0)        # radiometric grid origin shifted by a fraction of a cell
RAD_MARGIN_M = 1_000.0
GEOLOGY_CELL = 50.0
GEOLOGY_OFFSET = (25.0, -25.0)
GEOLOGY_MARGIN_M = 500.0


@dataclass(frozen=True)
class StudyArea:
    """The grids of one sample data set.

    Attributes
    ----------
    size : int
        DEM width and height in cells.
    dem : Grid
        The DEM grid (the stack's reference grid).
    master : Grid
        The DEM grid grown by :data:`MARGIN_M` on every side.
    offset : int
        Cells of margin: the DEM is ``master[offset:offset+size, offset:offset+size]``.
    """

    size: int
    dem: Grid
    master: Grid
    offset: int

    @classmethod
    def build(cls, size: int) -> StudyArea:
        x0, y0 = DEM_ORIGIN
        extent = size * DEM_CELL
        dem = Grid.from_bounds(DEM_CRS, DEM_CELL, (x0, y0 - extent, x0 + extent, y0))
        offset = int(MARGIN_M / DEM_CELL)
        m = offset * DEM_CELL
        master = Grid.from_bounds(DEM_CRS, DEM_CELL, (x0 - m, y0 - extent - m, x0 + extent + m, y0 + m))
        return cls(size, dem, master, offset)

    @property
    def area_factor(self) -> float:
        """DEM area relative to the default 1024 x 1024 cells (scales point and fault counts)."""
        return (self.size / 1024) ** 2

    def dem_window(self, master_array: np.ndarray) -> np.ndarray:
        """The DEM part of an array on the master grid."""
        o = self.offset
        return master_array[..., o:o + self.size, o:o + self.size]

    def master_xy(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre x (1, cols) and y (rows, 1) of the master grid, broadcastable."""
        t = self.master.transform
        xs = t.c + t.a * (np.arange(self.master.width) + 0.5)
        ys = t.f + t.e * (np.arange(self.master.height) + 0.5)
        return xs[None, :], ys[:, None]

    def magnetic_grid(self) -> Grid:
        """100 m grid in :data:`MAG_CRS` covering the DEM plus :data:`MAG_MARGIN_M`."""
        xmin, ymin, xmax, ymax = transform_bounds(DEM_CRS, MAG_CRS, *self.dem.bounds, densify_pts=21)
        return _snapped(MAG_CRS, MAG_CELL, (xmin - MAG_MARGIN_M, ymin - MAG_MARGIN_M,
                                            xmax + MAG_MARGIN_M, ymax + MAG_MARGIN_M), (0.0, 0.0))

    def radiometric_grid(self) -> Grid:
        """60 m grid in the DEM's CRS, origin shifted by :data:`RAD_OFFSET`."""
        return _snapped(DEM_CRS, RAD_CELL, _grown(self.dem.bounds, RAD_MARGIN_M), RAD_OFFSET)

    def geology_grid(self) -> Grid:
        """50 m grid in the DEM's CRS, origin shifted by :data:`GEOLOGY_OFFSET`."""
        return _snapped(DEM_CRS, GEOLOGY_CELL, _grown(self.dem.bounds, GEOLOGY_MARGIN_M), GEOLOGY_OFFSET)

    def in_survey(self, grid: Grid) -> np.ndarray:
        """Cells of ``grid`` whose centre lies within :data:`SURVEY_MARGIN_M` of the DEM."""
        rows, cols = np.mgrid[0:grid.height, 0:grid.width]
        xs, ys = grid.xy(rows.ravel(), cols.ravel())
        xs, ys = (np.asarray(v) for v in transform_points(grid.crs, DEM_CRS, xs, ys))
        xmin, ymin, xmax, ymax = _grown(self.dem.bounds, SURVEY_MARGIN_M)
        inside = (xs >= xmin) & (xs <= xmax) & (ys >= ymin) & (ys <= ymax)
        return inside.reshape(grid.shape)


def _grown(bounds: tuple[float, float, float, float], margin: float) -> tuple[float, float, float, float]:
    xmin, ymin, xmax, ymax = bounds
    return (xmin - margin, ymin - margin, xmax + margin, ymax + margin)


def _snapped(crs: str, cell: float, bounds: tuple[float, float, float, float],
             offset: tuple[float, float]) -> Grid:
    """A grid of ``cell`` covering ``bounds`` whose lines fall on multiples of ``cell`` plus ``offset``."""
    ox, oy = offset
    xmin = math.floor((bounds[0] - ox) / cell) * cell + ox
    ymax = math.ceil((bounds[3] - oy) / cell) * cell + oy
    return Grid.from_bounds(crs, cell, (xmin, bounds[1], bounds[2], ymax))
