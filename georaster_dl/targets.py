"""Ranked exploration targets: connected regions of the top cells of a prospectivity map.

The cells in the top ``top_area`` percent of the map's valid cells by score (band 1) are
grouped into 8-connected regions (cells touching at an edge or a corner belong to one
region), ranked by their mean score (rank 1 = highest) and written as polygons to a
GeoPackage in the map's CRS, styled for QGIS by a ``.qml`` beside it.

Memory: the threshold is found from windows of the map (an exact two-pass radix selection
on the float32 bit patterns, 65,536 counters), and the statistics are accumulated window by
window; the top-cell mask (bool), the region labels (int32) and polygonising's mask are held
for the whole grid: about 10 bytes a cell (measured: 16.8 M cells 329 MiB peak, 67 M cells
825 MiB, of which about 220 MiB is the process itself; ``benchmarks/bench_targets.py``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import RasterioError
from rasterio.windows import Window

from georaster_dl.errors import InputFileError, OutputError, UserInputError
from georaster_dl.io.files import check_input_file, check_output_path, publish, write_atomic
from georaster_dl.progress import warn

#: Suffix of the output (a GeoPackage).
SUFFIX = ".gpkg"
#: Layer name of the targets in the GeoPackage.
LAYER = "targets"
#: Cells read per window (rows of the map's full width).
WINDOW_CELLS = 1 << 22
#: Coverage off --top-area by more than this share of it (ties at the threshold) is warned of.
TIES_TOLERANCE = 0.05
#: Number of contributing inputs named per target when an explain raster is given.
TOP_INPUTS = 3
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def find_targets(map_path: str | os.PathLike, out: str | os.PathLike, *, top_area: float = 5.0,
                 min_cells: int = 1, explain: str | os.PathLike | None = None, overwrite: bool = False) -> dict:
    """Write ranked target polygons of the top ``top_area`` percent of ``map_path``'s valid area.

    Parameters
    ----------
    map_path : path
        A prospectivity map from ``predict``: band 1 the probability, an optional band
        described ``... sd`` the ensemble's standard deviation.
    out : path
        The GeoPackage to write (``.gpkg``; layer ``targets``), with ``OUT.qml`` beside it.
    top_area : float
        Percent of the valid cells (0 < top_area <= 100) to keep, by score.
    min_cells : int
        Regions of fewer cells are dropped (after the threshold; they then cover less).
    explain : path, optional
        An attribution raster on the map's grid (one band per input, described by the
        input's name; ``predict --explain``): each target gets its three inputs with the
        highest mean attribution, ``input_1..3`` and ``attribution_1..3``.
    overwrite : bool
        Replace an existing output.

    Returns
    -------
    dict
        ``threshold`` (targets score at least it, or above it when ``strict``), ``strict``, ``n_valid``, ``n_target_cells``, ``area_fraction``, ``n_targets``, ``path``.

    Raises
    ------
    UserInputError
        For a missing or unsuitable map or explain file, a bad parameter or output.

    Examples
    --------
    >>> find_targets("prospectivity.tif", "targets.gpkg", top_area=5)  # doctest: +SKIP
    """
    if not 0 < top_area <= 100:
        raise UserInputError(f"--top-area must be above 0 and at most 100 (percent of the valid area); got {top_area}")
    if min_cells < 1:
        raise UserInputError(f"--min-cells must be at least 1; got {min_cells}")
    out = Path(out)
    if out.suffix.lower() != SUFFIX:
        raise OutputError(f"output {out} must be a GeoPackage ({SUFFIX}); give a name ending in {SUFFIX}")
    inputs = [map_path] + ([explain] if explain is not None else [])
    check_output_path(out, overwrite, inputs=inputs)
    with _open(map_path, "map") as ds:
        _check_score_map(ds, map_path)
        sd_band = _sd_band(ds)
        explain_names = _check_explain(explain, ds) if explain is not None else []
        n_valid, threshold, strict = _threshold(ds, top_area)
        labels, n = _regions(ds, threshold, strict, min_cells)
        if n == 0:
            raise UserInputError(f"--min-cells {min_cells}: no region of the top {top_area}% has that many cells; "
                                 "give a smaller --min-cells")
        stats = _statistics(ds, labels, n, sd_band, explain)
        frame = _frame(labels, n, ds.transform, ds.crs, stats, explain_names, abs(ds.res[0] * ds.res[1]))
    _write(frame, out, overwrite)
    cells = int(frame["cells"].sum())
    if abs(100 * cells / n_valid - top_area) > TIES_TOLERANCE * top_area and min_cells == 1:
        warn(f"targets cover {100 * cells / n_valid:.2f}% of the valid area, not {top_area:g}%: many cells of map "
             f"{map_path} share the score {threshold:.6g} at the threshold (a map of few distinct values)")
    return {"threshold": threshold, "strict": strict, "n_valid": n_valid, "n_target_cells": cells,
            "area_fraction": cells / n_valid, "n_targets": len(frame), "path": out}


def _open(path, what: str):
    check_input_file(path, f"{what} {path}")
    try:
        return rasterio.open(path)
    except RasterioError as exc:
        raise InputFileError(f"{what} {path} is not a raster GDAL can read ({exc}); give a GeoTIFF") from None


def _check_score_map(ds, path) -> None:
    kind = np.dtype(ds.dtypes[0]).kind
    if kind != "f" or (ds.descriptions[0] or "").endswith("class"):
        raise UserInputError(f"map {path} is a class map (band 1 {ds.dtypes[0]}, '{ds.descriptions[0] or ''}'); "
                             "targets needs a score map: give a prospectivity map written by predict")


def _sd_band(ds) -> int | None:
    """The band holding the ensemble SD of band 1 (``probability sd``), if any."""
    for band in range(2, ds.count + 1):
        if (ds.descriptions[band - 1] or "").endswith(" sd"):
            return band
    return None


def _check_explain(path, ds) -> list[str]:
    with _open(path, "explain file") as ex:
        if (ex.crs, ex.transform, ex.width, ex.height) != (ds.crs, ds.transform, ds.width, ds.height):
            raise UserInputError(f"explain file {path} is on another grid ({ex.width} x {ex.height} cells, "
                                 f"{ex.crs}) than map {ds.name} ({ds.width} x {ds.height}, {ds.crs}); "
                                 "give the _explain.tif written with the map")
        return [d or f"band {i + 1}" for i, d in enumerate(ex.descriptions)]


def _windows(ds) -> Iterator[Window]:
    rows = max(1, WINDOW_CELLS // ds.width)
    for r in range(0, ds.height, rows):
        yield Window(0, r, ds.width, min(rows, ds.height - r))


def _scores(ds, window: Window) -> tuple[np.ndarray, np.ndarray]:
    """(float32 scores, valid mask) of a window: valid = not nodata and finite."""
    band = ds.read(1, window=window, masked=True)
    values = band.filled(np.nan).astype(np.float32)
    return values, np.isfinite(values)


def _sortable(values: np.ndarray) -> np.ndarray:
    """float32 -> uint32 keys in the same order (negative floats: all bits flipped)."""
    bits = values.view(np.uint32)
    return np.where(bits >> 31 == 1, ~bits, bits | np.uint32(1 << 31))


def _threshold(ds, top_area: float) -> tuple[int, float, bool]:
    """(valid cells, score of the k-th highest valid cell, strict), k = ceil(top_area % of them).

    Exact in two passes over windows: counts of the high 16 bits of the sortable key find
    the bucket holding the k-th highest, counts of the low 16 bits within it the key. Cells
    tied with it are all kept, or all left out (``strict``: keep scores above it) when that
    comes closer to k (a weights-of-evidence map has a few distinct values).
    """
    size = 1 << 16
    high = np.zeros(size, dtype=np.int64)
    for w in _windows(ds):
        values, valid = _scores(ds, w)
        high += np.bincount(_sortable(values[valid]) >> 16, minlength=size)
    n_valid = int(high.sum())
    if n_valid == 0:
        raise UserInputError(f"map {ds.name} has no valid cells; give a map with scores")
    k = int(np.ceil(n_valid * top_area / 100))
    bucket, above_bucket = _kth_from_top(high, k)
    low = np.zeros(size, dtype=np.int64)
    for w in _windows(ds):
        values, valid = _scores(ds, w)
        keys = _sortable(values[valid])
        low += np.bincount(keys[keys >> 16 == bucket] & 0xFFFF, minlength=size)
    index, above_key = _kth_from_top(low, k - above_bucket)
    key = np.uint32((bucket << 16) | index)
    bits = key & np.uint32(0x7FFFFFFF) if key >> 31 == 1 else ~key
    above, tied = above_bucket + above_key, int(low[index])
    strict = 0 < above and k - above < above + tied - k
    return n_valid, float(np.array([bits], dtype=np.uint32).view(np.float32)[0]), strict


def _kth_from_top(counts: np.ndarray, k: int) -> tuple[int, int]:
    """(bin holding the k-th highest item, items in the bins above it) of a histogram."""
    from_top = np.cumsum(counts[::-1])
    i = int(np.searchsorted(from_top, k))
    return counts.size - 1 - i, int(from_top[i - 1]) if i else 0


def _regions(ds, threshold: float, strict: bool, min_cells: int) -> tuple[np.ndarray, int]:
    """int32 labels 1..n of the 8-connected regions of cells scoring >= threshold (> when
    ``strict``), by window."""
    from scipy import ndimage

    mask = np.zeros((ds.height, ds.width), dtype=bool)
    for w in _windows(ds):
        values, valid = _scores(ds, w)
        top = values > np.float32(threshold) if strict else values >= np.float32(threshold)
        mask[w.row_off:w.row_off + w.height] = valid & top
    labels, n = ndimage.label(mask, structure=_EIGHT_CONNECTED, output=np.int32)
    del mask
    if min_cells > 1 and n:
        small = np.bincount(labels.ravel(), minlength=n + 1) < min_cells
        small[0] = True
        keep = np.cumsum(~small).astype(np.int32)  # renumber the kept regions 1..m
        keep[small] = 0
        labels = keep[labels]
        n = int(keep.max())
    return labels, n


def _statistics(ds, labels: np.ndarray, n: int, sd_band: int | None, explain) -> dict[str, np.ndarray]:
    """Per region (index 1..n): cells, score sum and max, SD sum, attribution sums per input."""
    sums = {"cells": np.zeros(n + 1), "score": np.zeros(n + 1), "max": np.full(n + 1, -np.inf)}
    if sd_band is not None:
        sums["sd"], sums["sd_cells"] = np.zeros(n + 1), np.zeros(n + 1)
    ex = rasterio.open(explain) if explain is not None else None
    try:
        if ex is not None:
            sums["explain"], sums["explain_cells"] = np.zeros((ex.count, n + 1)), np.zeros((ex.count, n + 1))
        for w in _windows(ds):
            lab = labels[w.row_off:w.row_off + w.height]
            inside = lab > 0
            if not inside.any():
                continue
            ids = lab[inside]
            values = _scores(ds, w)[0][inside]
            sums["cells"] += np.bincount(ids, minlength=n + 1)
            sums["score"] += np.bincount(ids, weights=values, minlength=n + 1)
            np.maximum.at(sums["max"], ids, values)
            if sd_band is not None:
                _accumulate(sums["sd"], sums["sd_cells"], ids, ds.read(sd_band, window=w, masked=True), inside)
            if ex is not None:
                for b in range(ex.count):
                    _accumulate(sums["explain"][b], sums["explain_cells"][b], ids,
                                ex.read(b + 1, window=w, masked=True), inside)
    finally:
        if ex is not None:
            ex.close()
    return sums


def _accumulate(total: np.ndarray, count: np.ndarray, ids: np.ndarray, band: np.ma.MaskedArray,
                inside: np.ndarray) -> None:
    """Add a band's finite values inside the regions to per-region sums and counts."""
    values = band.filled(np.nan)[inside].astype(np.float64)
    ok = np.isfinite(values)
    total += np.bincount(ids[ok], weights=values[ok], minlength=total.size)
    count += np.bincount(ids[ok], minlength=count.size)


def _frame(labels: np.ndarray, n: int, transform, crs, stats: dict, explain_names: list[str], cell_area: float):
    """A GeoDataFrame of the regions, one (multi)polygon each, sorted by rank."""
    import geopandas as gpd
    from rasterio.features import shapes
    from shapely.geometry import shape
    from shapely.ops import unary_union

    parts: dict[int, list] = {}
    for geom, value in shapes(labels, mask=labels > 0, connectivity=8, transform=transform):
        parts.setdefault(int(value), []).append(shape(geom))
    ids = np.arange(1, n + 1)
    cells = stats["cells"][1:]
    columns = {"rank": np.zeros(n, dtype=np.int32), "area": cells * cell_area, "cells": cells.astype(np.int64),
               "mean_probability": stats["score"][1:] / np.maximum(cells, 1), "max_probability": stats["max"][1:]}
    if "sd" in stats:
        columns["mean_sd"] = _mean(stats["sd"][1:], stats["sd_cells"][1:])
    if explain_names:
        means = _mean(stats["explain"][:, 1:], stats["explain_cells"][:, 1:])
        order = np.argsort(-np.nan_to_num(means, nan=-np.inf), axis=0, kind="stable")
        for i in range(min(TOP_INPUTS, len(explain_names))):
            columns[f"input_{i + 1}"] = [explain_names[j] for j in order[i]]
            columns[f"attribution_{i + 1}"] = means[order[i], np.arange(n)]
    frame = gpd.GeoDataFrame(columns, geometry=[unary_union(parts.get(i, [])) for i in ids], crs=crs)
    frame = frame.sort_values("mean_probability", ascending=False, kind="stable").reset_index(drop=True)
    frame["rank"] = np.arange(1, n + 1, dtype=np.int32)
    return frame


def _mean(total: np.ndarray, count: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _write(frame, out: Path, overwrite: bool) -> None:
    """Write the GeoPackage under a private temporary folder beside ``out``, then publish it by
    a rename (a failed run leaves nothing that looks finished); the style goes first."""
    folder = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        tmp = folder / out.name
        frame.to_file(tmp, layer=LAYER, driver="GPKG")
        write_atomic(out.with_suffix(".qml"), targets_qml(len(frame)), overwrite=True)
        publish(tmp, out, overwrite)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


#: Fill colours of the rank classes, best first (ColorBrewer YlOrRd, reversed).
RANK_COLOURS = ("189,0,38", "240,59,32", "253,141,60", "254,204,92", "255,255,178")


def targets_qml(n: int) -> str:
    """A graduated QGIS style on ``rank``: up to five classes, rank 1 darkest red, labelled."""
    edges = np.unique(np.ceil(np.linspace(0, max(n, 1), len(RANK_COLOURS) + 1)).astype(int))
    ranges, symbols = [], []
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        label = f"rank {lo + 1}" if hi == lo + 1 else f"ranks {lo + 1}-{hi}"
        ranges.append(f'      <range lower="{lo + 0.5}" upper="{hi + 0.5}" symbol="{i}" label="{label}" render="true"/>')
        symbols.append(
            f'      <symbol type="fill" name="{i}" alpha="0.8" clip_to_extent="1" force_rhr="0">\n'
            '        <layer class="SimpleFill" enabled="1" locked="0" pass="0">\n'
            f'          <Option type="Map"><Option type="QString" name="color" value="{RANK_COLOURS[i]},255"/>\n'
            '            <Option type="QString" name="outline_color" value="35,35,35,255"/>\n'
            '            <Option type="QString" name="outline_width" value="0.3"/>\n'
            '            <Option type="QString" name="style" value="solid"/></Option>\n'
            '        </layer>\n      </symbol>')
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            '<qgis version="3.22.0" styleCategories="AllStyleCategories">\n'
            '  <renderer-v2 type="graduatedSymbol" attr="rank" graduatedMethod="GraduatedColor" '
            'symbollevels="0" enableorderby="0" forceraster="0">\n'
            '    <ranges>\n' + "\n".join(ranges) + '\n    </ranges>\n    <symbols>\n' + "\n".join(symbols) +
            '\n    </symbols>\n  </renderer-v2>\n'
            '  <labeling type="simple"><settings calloutType="simple"><text-style fieldName="rank" fontSize="9" '
            'textColor="0,0,0,255"/><text-buffer bufferDraw="1" bufferSize="0.8" bufferColor="255,255,255,255"/>'
            '<placement placement="1"/></settings></labeling>\n'
            '</qgis>\n')
