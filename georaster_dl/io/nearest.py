"""Exact distance from grid cell centres to the nearest line segment, for vector distance grids.

Querying a shapely STRtree cell by cell costs tens of microseconds per cell on a fault
network (the tree holds whole polylines with large bounding boxes): ~45 s for a
1024 x 1024 window of 400 faults (measured here). Instead the geometries are split into
straight segments once, and a numba kernel measures each block of cells against only the
segments that can be nearest to some cell of the block: with ``best`` the distance from
the block centre to its nearest segment and ``h`` the block's half-diagonal, every
cell's nearest segment lies within ``best + 2h`` of the centre. Two levels of blocks
(64 and 16 cells) bring that window to ~0.1 s; points, as segments of length 0, take
~0.01 s for 258 deposits (a scipy k-d tree: 0.25 s). Distances are the exact
point-segment formula GEOS uses, so they match shapely to floating-point rounding.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import shapely
from affine import Affine
from rasterio.windows import Window

#: Cells per side of the blocks that share one candidate list.
BLOCK = 16
_POINT, _LINESTRING, _LINEARRING, _POLYGON = 0, 1, 2, 3


def explode(geoms: np.ndarray) -> np.ndarray:
    """Single points, lines and polygons of ``geoms`` (multi-parts and collections split)."""
    parts = shapely.get_parts(geoms)
    while (shapely.get_type_id(parts) > _POLYGON).any():  # multi-parts inside collections
        parts = shapely.get_parts(parts)
    return parts


def segments_of(parts: np.ndarray) -> np.ndarray:
    """Straight segments (n, 4: ax, ay, bx, by) of lines, polygon rings and points (as a == b)."""
    kind = shapely.get_type_id(parts)
    paths = np.concatenate([parts[(kind == _LINESTRING) | (kind == _LINEARRING)],
                            shapely.get_rings(parts[kind == _POLYGON])])
    coords, index = shapely.get_coordinates(paths, return_index=True)
    joined = index[1:] == index[:-1]
    points = shapely.get_coordinates(parts[kind == _POINT])
    starts = np.concatenate([coords[:-1][joined], points])
    ends = np.concatenate([coords[1:][joined], points])
    return np.ascontiguousarray(np.hstack([starts, ends]), dtype=np.float64)


def polygons_of(parts: np.ndarray) -> np.ndarray:
    """The polygons among exploded ``parts`` (cells inside them are at distance 0)."""
    return parts[shapely.get_type_id(parts) == _POLYGON]


def distance_to_segments(transform: Affine, window: Window, segments: np.ndarray) -> np.ndarray:
    """Distance (CRS units) from the centre of every cell of ``window`` to the nearest segment.

    ``transform`` is the grid's north-up transform; the window may extend beyond the grid.
    """
    return _block_distances(float(transform.c), float(transform.a), float(transform.f), float(transform.e),
                            int(window.row_off), int(window.col_off), int(window.height), int(window.width),
                            segments, BLOCK)


@numba.njit(cache=True, nogil=True, inline="always")
def _segment_distance2(px: float, py: float, s: np.ndarray, i: int) -> float:
    ax, ay, bx, by = s[i, 0], s[i, 1], s[i, 2], s[i, 3]
    vx, vy = bx - ax, by - ay
    wx, wy = px - ax, py - ay
    length2 = vx * vx + vy * vy
    t = 0.0 if length2 == 0.0 else min(1.0, max(0.0, (wx * vx + wy * vy) / length2))
    dx, dy = wx - t * vx, wy - t * vy
    return dx * dx + dy * dy


@numba.njit(cache=True, nogil=True)
def _candidates(cx: float, cy: float, half_diagonal: float, segments: np.ndarray, pool: np.ndarray, n: int,
                distance: np.ndarray, out: np.ndarray) -> int:
    """Write into ``out`` the segments of ``pool[:n]`` that can be nearest to a cell within
    ``half_diagonal`` of (cx, cy); return how many."""
    best = np.inf
    for j in range(n):
        distance[j] = math.sqrt(_segment_distance2(cx, cy, segments, pool[j]))
        best = min(best, distance[j])
    limit = (best + 2 * half_diagonal) * (1 + 1e-12) + 1e-9  # margin for rounding only
    k = 0
    for j in range(n):
        if distance[j] <= limit:
            out[k] = pool[j]
            k += 1
    return k


@numba.njit(cache=True, nogil=True)
def _block_distances(c0: float, a: float, f0: float, e: float, row_off: int, col_off: int, rows: int, cols: int,
                     segments: np.ndarray, block: int) -> np.ndarray:
    """Two levels of candidate lists: blocks of ``4 * block`` cells, then of ``block`` cells."""
    out = np.empty((rows, cols))
    n = segments.shape[0]
    everything = np.arange(n)
    distance = np.empty(n)
    coarse = np.empty(n, dtype=np.int64)
    fine = np.empty(n, dtype=np.int64)
    big = 4 * block
    for gr in range(0, rows, big):
        for gc in range(0, cols, big):
            gnr, gnc = min(big, rows - gr), min(big, cols - gc)
            k_coarse = _candidates(c0 + a * (col_off + gc + gnc / 2), f0 + e * (row_off + gr + gnr / 2),
                                   0.5 * math.sqrt((gnc * a) ** 2 + (gnr * e) ** 2), segments, everything, n,
                                   distance, coarse)
            for br in range(gr, gr + gnr, block):
                for bc in range(gc, gc + gnc, block):
                    nr, nc = min(block, gr + gnr - br), min(block, gc + gnc - bc)
                    k = _candidates(c0 + a * (col_off + bc + nc / 2), f0 + e * (row_off + br + nr / 2),
                                    0.5 * math.sqrt((nc * a) ** 2 + (nr * e) ** 2), segments, coarse, k_coarse,
                                    distance, fine)
                    for r in range(nr):
                        py = f0 + e * (row_off + br + r + 0.5)
                        for c in range(nc):
                            px = c0 + a * (col_off + bc + c + 0.5)
                            nearest = np.inf
                            for j in range(k):
                                nearest = min(nearest, _segment_distance2(px, py, segments, fine[j]))
                            out[br + r, bc + c] = math.sqrt(nearest)
    return out
