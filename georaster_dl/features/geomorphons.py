"""Geomorphons (Jasiewicz & Stepinski 2013), as GRASS ``r.geomorphon`` (8.2, anglev1).

Along each of the 8 compass directions, the cells at ``skip + 1 .. search - 1`` steps
(diagonal steps count sqrt(2)) are scanned; the zenith angle is the steepest upward
line of sight, the nadir angle the steepest downward one. A direction is ``+`` when
``|zenith| > |nadir|`` and ``-`` when ``|nadir| > |zenith|``, provided either exceeds the
flatness threshold ``flat`` (lowered to ``atan(tan(flat) * dist / d)`` beyond the
flatness distance ``dist``), ``0`` otherwise. The counts of ``+`` and ``-`` pick one of
ten forms, coded as GRASS: 1 flat, 2 summit, 3 ridge, 4 shoulder, 5 spur, 6 slope,
7 hollow, 8 footslope, 9 valley, 10 depression.

``search``, ``skip`` and ``dist`` are in cells (GRASS's default); distances for the
angles are in metres (per-row cell sizes, so geographic DEMs work). On grids with
square cells this is exactly r.geomorphon's scan.

Nodata and edges: with ``edges: nodata`` a cell is nodata when any cell it scans is
nodata or outside the raster (so a frame of ``search - 1`` cells is nodata). With
``edges: extrapolate`` lines of sight stop at the raster's edge and step over nodata
cells, and a direction whose first neighbour is nodata counts as ``0``, as GRASS does
(GRASS also blanks a frame of ``skip + 1`` cells, which we compute).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from georaster_dl.errors import FeatureError
from georaster_dl.features.registry import FeatureDef, KernelContext, Param, ResolvedFeature, register
from georaster_dl.features.stencil import TERRAIN_INPUTS, check_terrain, elevations

CLASSES = {1: "flat", 2: "summit", 3: "ridge", 4: "shoulder", 5: "spur", 6: "slope", 7: "hollow",
           8: "footslope", 9: "valley", 10: "depression"}
#: GRASS r.geomorphon's colours, so maps look as users of GRASS and SAGA know them.
COLOURS = {1: (220, 220, 220), 2: (56, 0, 0), 3: (200, 0, 0), 4: (255, 80, 20), 5: (250, 210, 60),
           6: (255, 255, 60), 7: (180, 230, 20), 8: (60, 250, 150), 9: (0, 0, 255), 10: (0, 0, 56)}

# Form by [number of '-'][number of '+'] (0 = impossible: the counts sum to at most 8).
_FORMS = np.array([
    [1, 1, 1, 8, 8, 9, 9, 9, 10],
    [1, 1, 8, 8, 8, 9, 9, 9, 0],
    [1, 4, 6, 6, 7, 7, 9, 0, 0],
    [4, 4, 6, 6, 6, 7, 0, 0, 0],
    [4, 4, 5, 6, 6, 0, 0, 0, 0],
    [3, 3, 5, 5, 0, 0, 0, 0, 0],
    [3, 3, 3, 0, 0, 0, 0, 0, 0],
    [3, 3, 0, 0, 0, 0, 0, 0, 0],
    [2, 0, 0, 0, 0, 0, 0, 0, 0],
], dtype=np.float32)

# Directions as GRASS numbers them: NE, N, NW, W, SW, S, SE, E (row offset, column offset).
_DR = np.array([-1, -1, -1, 0, 1, 1, 1, 0], dtype=np.int64)
_DC = np.array([1, 0, -1, -1, -1, 0, 1, 1], dtype=np.int64)


@njit(cache=True, nogil=True, parallel=True)
def _geomorphons(v, csx, csy, search, skip, tan_flat, flat_cells, extrapolate, forms, dr, dc):
    # Row by row, direction by direction, step by step, with the inner loop along the row
    # (contiguous, vectorised). Lines of sight are compared as tangents (monotonic in the
    # angle). Cells outside the raster are NaN: skipping NaN cells stops a line at the edge.
    halo = max(search - 1, 1)
    rows, cols = v.shape[0] - 2 * halo, v.shape[1] - 2 * halo
    out = np.empty((rows, cols), dtype=np.float32)
    orthogonal_steps, diagonal_steps = search - 1, math.ceil(search / math.sqrt(2.0)) - 1
    for i in prange(rows):
        r = i + halo
        centre = v[r, halo:halo + cols]
        flat_dist = flat_cells * csy[r]  # metres, as GRASS (dist * ns resolution)
        flat_height = tan_flat * flat_dist
        n_plus = np.zeros(cols, dtype=np.int64)
        n_minus = np.zeros(cols, dtype=np.int64)
        seen = np.zeros(cols)  # sum of every value read: NaN when one is nodata
        zen, nad = np.empty(cols), np.empty(cols)
        zen_d, nad_d = np.empty(cols), np.empty(cols)
        for d in range(8):
            diagonal = dr[d] != 0 and dc[d] != 0
            length = math.hypot(csx[r], csy[r]) if diagonal else (csy[r] if dc[d] == 0 else csx[r])
            zen[:], nad[:] = -np.inf, np.inf
            zen_d[:], nad_d[:] = 0.0, 0.0
            for j in range(skip + 1, (diagonal_steps if diagonal else orthogonal_steps) + 1):
                dist = j * length
                inv = 1.0 / dist
                line = v[r + j * dr[d], halo + j * dc[d]: halo + j * dc[d] + cols]
                for c in range(cols):
                    z = line[c]
                    seen[c] += z
                    ratio = (z - centre[c]) * inv
                    higher, lower = ratio > zen[c], ratio < nad[c]
                    zen[c] = ratio if higher else zen[c]
                    zen_d[c] = dist if higher else zen_d[c]
                    nad[c] = ratio if lower else nad[c]
                    nad_d[c] = dist if lower else nad_d[c]
            first = v[r + dr[d], halo + dc[d]: halo + dc[d] + cols]
            for c in range(cols):
                if np.isnan(first[c]):  # no line of sight: the direction counts as flat (GRASS)
                    seen[c] += first[c]
                    continue
                # Thresholds as tangents: tan(flat), or flat_height / d beyond the flatness distance.
                zen_t = flat_height / zen_d[c] if 0.0 < flat_dist < zen_d[c] else tan_flat
                nad_t = flat_height / nad_d[c] if 0.0 < flat_dist < nad_d[c] else tan_flat
                up, down = abs(zen[c]), abs(nad[c])
                if up > zen_t or down > nad_t:
                    if down < up:
                        n_plus[c] += 1
                    elif down > up:
                        n_minus[c] += 1
        for c in range(cols):
            missing = np.isnan(centre[c]) or (not extrapolate and np.isnan(seen[c]))
            out[i, c] = np.nan if missing else forms[n_minus[c], n_plus[c]]
    return out


def _kernel(values: np.ndarray, ctx: KernelContext, search: int, skip: int, flat: float, dist: float) -> np.ndarray:
    return _geomorphons(elevations(values, ctx), np.asarray(ctx.cellsize_x, np.float64),
                        np.asarray(ctx.cellsize_y, np.float64), search, skip, math.tan(math.radians(flat)), dist,
                        ctx.edges == "extrapolate", _FORMS, _DR, _DC)


def _halo(params: dict) -> int:
    """search - 1 cells"""
    return max(int(params["search"]) - 1, 1)


def _check(stack, feature: ResolvedFeature) -> None:
    p, where = feature.params, f"feature {str(feature.ref)!r}"
    if p["skip"] >= p["search"]:
        raise FeatureError(f"{where}: skip ({p['skip']}) must be smaller than search ({p['search']})")
    if p["dist"] and not p["skip"] < p["dist"] < p["search"]:
        raise FeatureError(f"{where}: dist ({p['dist']:g}) must lie between skip ({p['skip']}) and search "
                           f"({p['search']}), or be 0 for no flatness distance")
    check_terrain(stack, feature)


register(FeatureDef(
    name="geomorphons", kernel=_kernel, units="class 1..10",
    help="geomorphon landform classes as GRASS r.geomorphon: 1 flat, 2 summit, 3 ridge, 4 shoulder, 5 spur, "
         "6 slope, 7 hollow, 8 footslope, 9 valley, 10 depression",
    params=(Param("search", int, 3, "outer search radius in cells", minimum=1),
            Param("skip", int, 0, "inner radius in cells whose cells are not scanned", minimum=0),
            Param("flat", float, 1.0, "flatness threshold in degrees", minimum=1e-9),
            Param("dist", float, 0.0, "flatness distance in cells beyond which the threshold shrinks (0: none)",
                  minimum=0.0)),
    halo=_halo, input_kinds=TERRAIN_INPUTS, check=_check, classes=CLASSES, colours=COLOURS))
