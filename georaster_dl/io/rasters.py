"""Raster inputs read window by window onto the target grid.

Each input is checked once when opened (exists, is a raster, has a CRS, has a usable
nodata) and then read per window. An input already on the target grid (same CRS and
cell size, origin offset by whole cells) is read directly; any other input goes
through a :class:`rasterio.vrt.WarpedVRT` onto the grid with the input's resampling,
an exact transformer and a resampling scale fixed for the whole grid, so every window
agrees with a whole-raster ``gdalwarp -et 0``. Dataset handles are kept one per thread.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioError, RasterioIOError
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from georaster_dl.errors import GridError, InputFileError, SpecError
from georaster_dl.grid import Grid
from georaster_dl.io.files import absolute, check_input_file
from georaster_dl.progress import warn
from georaster_dl.spec import InputSpec

_GDAL_NODATA_TAG = 42113
#: WarpedVRT error tolerance in source pixels. rasterio (1.4) leaves the warper without a
#: transformer when tolerance is exactly 0, so the smallest positive value stands in: GDAL's
#: approximate transformer then falls back to the exact one wherever a line is not affine.
_EXACT = 1e-30


class RasterSource:
    """One raster input of a stack, validated, readable onto a grid.

    Parameters
    ----------
    spec : InputSpec
        The input's entry in the StackSpec.
    """

    def __init__(self, spec: InputSpec) -> None:
        self.spec = spec
        self._local = threading.local()
        ds = _open(spec)
        with ds:
            if spec.band > ds.count:
                raise SpecError(f"inputs.{spec.name}.band: {spec.path} has {ds.count} band(s), "
                                f"band {spec.band} does not exist")
            if ds.count > 1 and not spec.band_given:
                raise SpecError(f"inputs.{spec.name}: {spec.path} has {ds.count} bands and the spec names none; "
                                f"choose one with band: N (1-{ds.count}) in the spec's input (one input per band "
                                "to use several; features: --band N), or give a one-band raster")
            self.crs = _crs(spec, ds)
            self.transform = ds.transform
            self.width, self.height = ds.width, ds.height
            self.nodata = _nodata(spec, ds)
            self.bounds = tuple(ds.bounds)
        self._grid: Grid | None = None
        self._offset: tuple[int, int] | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def grid(self) -> Grid:
        """The input's own grid (a rotated or south-up file is refused naming this input)."""
        try:
            return Grid(self.crs, self.transform, self.width, self.height)
        except GridError as exc:
            raise GridError(f"inputs.{self.name}: {self.spec.path}: {exc}") from None

    def attach(self, grid: Grid) -> None:
        """Prepare reads onto ``grid`` and refuse inputs that do not overlap it."""
        self._grid = grid
        self._offset = _whole_cell_offset(self.grid(), grid)
        if not _overlaps(self.grid(), grid):
            raise GridError(f"inputs.{self.name}: {self.spec.path} does not overlap the grid "
                            f"(input bounds {_fmt(self.bounds)} in {self.crs.to_string()}, grid bounds "
                            f"{_fmt(grid.bounds)}); check the file or the grid")
        self._scales = None if self._offset is not None else _warp_scales(self.grid(), grid)

    def read(self, window: Window) -> np.ndarray:
        """Values over ``window`` of the attached grid as float64, NaN where nodata, not finite
        (+-Inf) or outside.

        ``window`` may extend beyond the grid (halos); cells outside are NaN.
        """
        grid = self._grid
        out = np.full((int(window.height), int(window.width)), np.nan)
        inner = _intersect(window, grid.width, grid.height)
        if inner is None:
            return out
        rows = slice(inner.row_off - window.row_off, inner.row_off - window.row_off + inner.height)
        cols = slice(inner.col_off - window.col_off, inner.col_off - window.col_off + inner.width)
        try:
            if self._offset is not None:
                out[rows, cols] = self._read_direct(inner)
            else:
                out[rows, cols] = self._handle("vrt").read(self.spec.band, window=inner, out_dtype="float64")
        except RasterioIOError as exc:
            # A file that opens but whose blocks cannot be decoded (truncated copy, bad disk).
            reason = str(exc.__cause__ or exc).splitlines()[0]
            raise InputFileError(f"inputs.{self.name}: reading {self.spec.path} failed ({reason}); the file "
                                 "is probably truncated or corrupt: copy it again") from None
        out[np.isinf(out)] = np.nan  # +-Inf cells are not values: nodata, like NaN
        return out

    def _read_direct(self, inner: Window) -> np.ndarray:
        dr, dc = self._offset
        src_window = Window(inner.col_off + dc, inner.row_off + dr, inner.width, inner.height)
        block = np.full((int(inner.height), int(inner.width)), np.nan)
        part = _intersect(src_window, self.width, self.height)
        if part is None:
            return block
        data = self._handle("ds").read(self.spec.band, window=part).astype(np.float64)
        if self.nodata is not None:
            data[data == self.nodata] = np.nan
        block[part.row_off - src_window.row_off: part.row_off - src_window.row_off + part.height,
              part.col_off - src_window.col_off: part.col_off - src_window.col_off + part.width] = data
        return block

    def _handle(self, kind: str):
        """This thread's dataset (``ds``) or warped view (``vrt``), opened on first use."""
        handles = self._local.__dict__.setdefault("handles", {})
        if kind not in handles:
            ds = handles.get("ds") or rasterio.open(self.spec.path)
            handles["ds"] = ds
            if kind == "vrt":
                grid = self._grid
                handles["vrt"] = WarpedVRT(
                    ds, src_crs=self.crs, src_nodata=self.nodata, nodata=np.nan, dtype="float64",
                    crs=grid.crs, transform=grid.transform, width=grid.width, height=grid.height,
                    resampling=Resampling[self.spec.resampling], tolerance=_EXACT,
                    xscale=self._scales[0], yscale=self._scales[1])
        return handles[kind]

    def unique_values(self, limit: int = 1000) -> list:
        """Sorted distinct values of the band (nodata excluded), read block by block.

        Used to pin the categories of a categorical input. Refuses more than ``limit``
        distinct values, which means the input is not categorical.
        """
        values: set = set()
        with rasterio.open(self.spec.path) as ds:
            for _, win in ds.block_windows(self.spec.band):
                data = ds.read(self.spec.band, window=win)
                if self.nodata is not None:
                    data = data[data != self.nodata]
                values.update(np.unique(data[np.isfinite(data)] if data.dtype.kind == "f" else data).tolist())
                if len(values) > limit:
                    raise SpecError(f"inputs.{self.name}: {self.spec.path} has more than {limit} distinct values; "
                                    "a categorical input needs class codes, so set kind: continuous")
        return sorted(int(v) if float(v).is_integer() else v for v in values)

    def close(self) -> None:
        """Close this thread's handles (other threads' close when garbage-collected)."""
        for h in reversed(list(self._local.__dict__.pop("handles", {}).values())):
            h.close()


def describe_raster(path: str) -> dict:
    """Grid, CRS, bands, nodata and statistics of a raster file, for ``georaster-dl info``."""
    spec = InputSpec(name="", path=str(absolute(path)))
    # GDAL keeps computed statistics in a PAM sidecar (dem.tif.aux.xml) it writes on close:
    # describing a file must not write beside it.
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), _open(spec) as ds:
        bands = []
        for b in range(1, ds.count + 1):
            stats = ds.stats(indexes=[b], approx=True)[0] if ds.count <= 16 else None
            bands.append({"band": b, "dtype": ds.dtypes[b - 1], "nodata": ds.nodatavals[b - 1],
                          "description": ds.descriptions[b - 1],
                          "min": stats.min if stats else None, "max": stats.max if stats else None,
                          "mean": stats.mean if stats else None, "std": stats.std if stats else None,
                          "colour_table": _has_colormap(ds, b)})
        return {"path": str(path), "driver": ds.driver, "width": ds.width, "height": ds.height,
                "crs": ds.crs.to_string() if ds.crs else None, "resolution": list(ds.res),
                "bounds": list(ds.bounds), "block_shape": list(ds.block_shapes[0]),
                "compression": ds.compression.value if ds.compression else None,
                "tags": ds.tags(), "bands": bands}


def _has_colormap(ds, band: int) -> bool:
    try:
        ds.colormap(band)
        return True
    except ValueError:
        return False


def _open(spec: InputSpec):
    path = Path(spec.path)
    where = f"inputs.{spec.name}: {spec.path}" if spec.name else spec.path
    if not path.exists() and not path.is_symlink():
        raise InputFileError(f"{where} does not exist; check the path (relative paths are relative to the spec's folder)")
    check_input_file(path, where)  # before GDAL opens it: a FIFO would block forever
    if path.is_file() and path.stat().st_size == 0:
        raise InputFileError(f"{where} is an empty (0-byte) file; replace it with the real raster")
    try:
        ds = rasterio.open(path)
    except RasterioIOError as exc:
        reason = str(exc).split(":")[-1].strip() or "unreadable"
        raise InputFileError(f"{where} is not a raster GDAL can read ({reason}); "
                             "give a GeoTIFF, ESRI grid, ASCII grid or another GDAL raster") from None
    except (RasterioError, OSError) as exc:
        raise InputFileError(f"{where} cannot be read ({exc}); check that the file is complete") from None
    if ds.count == 0 or ds.width == 0 or ds.height == 0:
        ds.close()
        raise InputFileError(f"{where} has no raster bands; give a raster file")
    return ds


def _crs(spec: InputSpec, ds) -> CRS:
    if spec.crs:
        return CRS.from_user_input(spec.crs)  # checked when the spec was loaded
    if not ds.crs:
        raise GridError(f"inputs.{spec.name}: {spec.path} has no CRS; add crs: EPSG:XXXX to this input in the spec "
                        "(georaster-dl features: --crs EPSG:XXXX)")
    return ds.crs


def _nodata(spec: InputSpec, ds) -> float | None:
    """The nodata value reads must honour: the spec's override, else the file's own.

    A file may declare a nodata its data type cannot hold (a Byte band with nodata -1);
    GDAL then reports none. It is read as GDAL reads it (every cell valid), with one
    warning naming the file and how to set a nodata if one was meant. An override the
    band cannot hold would never match a cell, so it is refused.
    """
    dtype = np.dtype(ds.dtypes[spec.band - 1])
    if spec.nodata is not None:
        if spec.nodata == "none":
            return None
        value = float("nan") if spec.nodata == "nan" else float(spec.nodata)
        if not _holds(dtype, value):
            raise SpecError(f"inputs.{spec.name}.nodata: {value:g} cannot occur in the {dtype.name} band of "
                            f"{spec.path}; give a value the band can hold, or nodata: none if every cell is valid")
        return value
    declared = _declared_gdal_nodata(spec.path)
    nodata = ds.nodatavals[spec.band - 1]
    value = declared if declared is not None else nodata
    if value is not None and np.isfinite(value) and not _holds(dtype, value):
        warn(f"{spec.path} declares nodata {value:g}, which its {dtype.name} band cannot hold: read as GDAL "
             f"reads it, every cell valid. If a value marks missing cells, set it as input "
             f"{spec.name!r}'s nodata (nodata: VALUE in the spec, --nodata with georaster-dl features, "
             f"'Nodata overrides' in QGIS)")
    return nodata


def _holds(dtype: np.dtype, value: float) -> bool:
    """Whether a band of ``dtype`` can contain ``value``."""
    if dtype.kind not in "iu":
        return True
    info = np.iinfo(dtype)
    return bool(np.isfinite(value) and info.min <= value <= info.max and float(value) == int(value))


def _declared_gdal_nodata(path: str) -> float | None:
    """The GDAL_NODATA TIFF tag as written, even when GDAL ignores it."""
    if Path(path).suffix.lower() not in (".tif", ".tiff"):
        return None
    import logging

    import tifffile

    # tifffile logs a warning for exactly the case we look for (a value the dtype cannot hold).
    logging.getLogger("tifffile").setLevel(logging.ERROR)
    try:
        with tifffile.TiffFile(path) as tif:
            tag = tif.pages[0].tags.get(_GDAL_NODATA_TAG)
            return float(str(tag.value).strip("\x00 ")) if tag is not None else None
    except Exception:
        # Not a TIFF tifffile understands (GDAL read it anyway): no declared value to check.
        return None


def _whole_cell_offset(src: Grid, dst: Grid) -> tuple[int, int] | None:
    """(row, col) offset of ``dst`` in ``src`` cells when the grids share CRS and cell size
    and differ by whole cells; None when a warp is needed."""
    if src.crs != dst.crs:
        return None
    (sx, sy), (dx, dy) = src.res, dst.res
    if abs(sx - dx) > 1e-9 * dx or abs(sy - dy) > 1e-9 * dy:
        return None
    col = (dst.transform.c - src.transform.c) / dx
    row = (src.transform.f - dst.transform.f) / dy
    if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
        return None
    return int(round(row)), int(round(col))


def _warp_scales(src: Grid, dst: Grid) -> tuple[float, float]:
    """Destination cells per source cell along x and y, over the whole grid.

    GDAL's warper otherwise estimates this ratio for every chunk it warps (and widens the
    resampling kernel when it is below 1), so values would depend on which window is read.
    Fixing it to the whole grid's ratio, with GDAL's own rounding to 1/n, makes every
    window equal the matching part of a whole-grid ``gdalwarp``.
    """
    from rasterio.warp import transform as transform_points

    t = np.linspace(0.0, 1.0, 21)
    (x0, y0, x1, y1) = dst.bounds
    xs = np.concatenate([x0 + (x1 - x0) * t, np.full(21, x1), x1 - (x1 - x0) * t, np.full(21, x0)])
    ys = np.concatenate([np.full(21, y1), y1 - (y1 - y0) * t, np.full(21, y0), y0 + (y1 - y0) * t])
    sx, sy = transform_points(dst.crs, src.crs, xs, ys) if dst.crs != src.crs else (xs, ys)
    inv = ~src.transform
    cols = inv.a * np.asarray(sx) + inv.b * np.asarray(sy) + inv.c
    rows = inv.d * np.asarray(sx) + inv.e * np.asarray(sy) + inv.f
    ok = np.isfinite(cols) & np.isfinite(rows)
    span_x, span_y = (np.ptp(cols[ok]), np.ptp(rows[ok])) if ok.any() else (0.0, 0.0)
    return (_snap_scale(dst.width / span_x if span_x else 1.0),
            _snap_scale(dst.height / span_y if span_y else 1.0))


def _snap_scale(scale: float) -> float:
    """GDAL's rounding of a downsampling ratio close to 1/n to exactly 1/n."""
    if scale < 1:
        n = max(1, round(1 / scale))
        if abs(1 / scale - n) < 0.05:
            return 1 / n
    return float(scale)


def _overlaps(src: Grid, dst: Grid) -> bool:
    from rasterio.warp import transform_bounds

    try:
        b = transform_bounds(src.crs, dst.crs, *src.bounds, densify_pts=21)
    except Exception:
        return True  # cannot tell (e.g. bounds outside the projection's area): let the warp decide
    g = dst.bounds
    return b[0] < g[2] and b[2] > g[0] and b[1] < g[3] and b[3] > g[1]


def _intersect(window: Window, width: int, height: int) -> Window | None:
    c0, r0 = max(int(window.col_off), 0), max(int(window.row_off), 0)
    c1 = min(int(window.col_off + window.width), width)
    r1 = min(int(window.row_off + window.height), height)
    if c1 <= c0 or r1 <= r0:
        return None
    return Window(c0, r0, c1 - c0, r1 - r0)


def _fmt(bounds) -> str:
    return "[" + ", ".join(f"{b:.6g}" for b in bounds) + "]"
