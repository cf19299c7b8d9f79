"""Labels for training and evaluation: points, polygons or CSV rows, placed on a grid.

:func:`read_labels` reads a vector file (GeoPackage, shapefile, GeoJSON, ...) or a CSV
table with coordinate columns, keeps the rows matching an optional filter
(:mod:`georaster_dl.io.where`), reprojects them to the grid's CRS and finds their cells:

- a point labels the cell that holds it (MultiPoints label one cell per point);
- a polygon labels every cell whose centre lies inside it; a polygon too small to hold
  a cell centre labels the cell of its representative point;
- a cell covered by several overlapping polygons is labelled once per polygon.

Features that fall outside the grid are counted (``n_outside``) and reported with a
:class:`LabelWarning`; if none is left, :class:`~georaster_dl.errors.LabelError` says so.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from georaster_dl.errors import InputFileError, LabelError, closest, one_of
from georaster_dl.grid import Grid

#: Column names recognised as coordinates in a CSV (compared case-insensitively).
LON_COLUMNS = ("lon", "long", "longitude", "lng")
LAT_COLUMNS = ("lat", "latitude")
X_COLUMNS = ("x", "easting", "east")
Y_COLUMNS = ("y", "northing", "north")
_POINTS = ("Point", "MultiPoint")
_POLYGONS = ("Polygon", "MultiPolygon")


class LabelWarning(UserWarning):
    """Some labels were skipped or fall outside the grid."""


@dataclass(frozen=True)
class Labels:
    """Labels placed on a grid: one entry per labelled cell.

    Attributes
    ----------
    rows, cols : numpy.ndarray
        int64 cell indices on the grid (all inside it).
    values : numpy.ndarray or None
        The label field's value for each cell (numbers, or text as an object array;
        nulls kept as NaN/None), or None when no field was asked for.
    class_names : tuple of str or None
        Sorted distinct texts of a text field.
    feature_ids : numpy.ndarray
        Row of the source table each cell came from (0-based, after filtering).
    source : str
        The file read.
    field : str or None
        The label field.
    n_total : int
        Features considered: with a geometry, and matching ``where``.
    n_outside : int
        Of those, features with no cell in the grid.
    n_filtered : int
        Features ``where`` left out.
    n_skipped : int
        Features without a usable geometry (null or empty geometry, or empty coordinates).
    """

    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray | None
    class_names: tuple[str, ...] | None
    feature_ids: np.ndarray
    source: str
    field: str | None
    n_total: int
    n_outside: int
    n_filtered: int = 0
    n_skipped: int = 0

    def __len__(self) -> int:
        return int(self.rows.size)

    @property
    def summary(self) -> str:
        """One line: what was read and what was left out."""
        notes = [f"{self.n_filtered} left out by --where"] if self.n_filtered else []
        if self.n_skipped:
            notes.append(f"{self.n_skipped} without a geometry skipped")
        if self.n_outside:
            notes.append(f"{self.n_outside} outside the grid")
        kept = self.n_total - self.n_outside
        text = f"{Path(self.source).name}: {kept} of {self.n_total} labels on the grid ({len(self)} cells)"
        return text + (f"; {', '.join(notes)}" if notes else "")


def read_labels(path: str | Path, grid: Grid, *, field: str | None = None, where: str | None = None,
                layer: str | None = None, x_column: str | None = None, y_column: str | None = None,
                crs: str | None = None) -> Labels:
    """Read labels from a vector file or a CSV and place them on ``grid``.

    Parameters
    ----------
    path : str or Path
        A vector file (GPKG, SHP, GeoJSON, ...) of points or polygons, or a ``.csv`` with
        coordinate columns (``lon``/``lat``, ``x``/``y``, ... or named by ``x_column``/``y_column``).
    grid : Grid
        The grid to place the labels on.
    field : str, optional
        Attribute holding the label (class name or code, or a number).
    where : str, optional
        Filter such as ``"mag >= 4 and status != 'occurrence'"`` (see :mod:`georaster_dl.io.where`).
    layer : str, optional
        Layer of a multi-layer file (required when it has several).
    x_column, y_column : str, optional
        CSV coordinate columns, when their names are not recognised.
    crs : str, optional
        CRS of the CSV coordinates (default EPSG:4326 for lon/lat columns; required for
        x/y columns), or of a vector file that lacks one (it overrides the file's).

    Returns
    -------
    Labels

    Raises
    ------
    InputFileError
        Missing file, not a vector file, shapefile without its .shx/.dbf, no features.
    LabelError
        Unknown layer or field, wrong geometry type, CSV without coordinate columns or
        with text in them, no CRS, a bad ``where``, every label outside the grid.

    Examples
    --------
    >>> labels = read_labels("sample_data/deposits.gpkg", grid)            # doctest: +SKIP
    >>> quakes = read_labels("epicentres.csv", grid, where="mag >= 4")     # doctest: +SKIP
    """
    path = Path(path).expanduser()
    source = str(path)
    if path.suffix.lower() == ".csv":
        frame, n_skipped = _read_csv(path, x_column, y_column, crs)
    else:
        if x_column or y_column:
            raise LabelError(f"x_column/y_column only apply to CSV files; {source} is read as a vector file")
        frame, n_skipped = _read_vector(path, layer, crs)
    n_read = len(frame)
    if where:
        from georaster_dl.io.where import where_mask

        frame = frame[where_mask(frame, where, source)]
        if frame.empty:
            raise LabelError(f"no label in {source} matches --where {where!r} ({n_read} features without the "
                             "filter); loosen the filter")
    values, class_names = _field_values(frame, field, source)
    frame = frame.to_crs(grid.crs) if frame.crs != grid.crs else frame
    rows, cols, feature_ids, n_outside = _cells(frame, grid, source)
    labels = Labels(rows=rows, cols=cols, values=None if values is None else values[feature_ids],
                    class_names=class_names, feature_ids=feature_ids, source=source, field=field,
                    n_total=len(frame), n_outside=n_outside, n_filtered=n_read - len(frame), n_skipped=n_skipped)
    if n_outside == len(frame):
        raise LabelError(f"all {len(frame)} labels in {source} fall outside the grid: the labels span "
                         f"{_bounds_text(frame.total_bounds)}, the grid {_bounds_text(grid.bounds)} "
                         f"({grid.crs.to_string()}); check the labels' CRS")
    if n_outside or n_skipped:
        warnings.warn(labels.summary, LabelWarning, stacklevel=2)
    return labels


def _read_vector(path: Path, layer: str | None, crs: str | None):
    """Read a points/polygons layer; returns (frame, features skipped for lack of geometry)."""
    import pyogrio

    from georaster_dl.io.vectors import read_vector

    if path.exists():
        _check_layer(path, layer)
    frame = read_vector(str(path), layer=layer, where="labels")
    try:
        n_features = pyogrio.read_info(str(path), layer=layer)["features"]
    except pyogrio.errors.DataSourceError:
        n_features = -1
    n_skipped = max(0, n_features - len(frame))
    kinds = set(frame.geom_type)
    if not kinds <= set(_POINTS + _POLYGONS):
        wrong = sorted(kinds - set(_POINTS + _POLYGONS))
        raise LabelError(f"labels must be points or polygons, but {path} holds {one_of(wrong)} geometries; "
                         "convert them (e.g. to points or buffered polygons) first")
    if crs:
        frame = frame.set_crs(crs, allow_override=True)
    elif frame.crs is None:
        raise LabelError(f"{path} has no CRS (a shapefile without its .prj?); "
                         "give the labels' CRS, e.g. crs='EPSG:4326'")
    return frame.reset_index(drop=True), n_skipped


def _check_layer(path: Path, layer: str | None) -> None:
    """Refuse an unknown layer, or no layer in a file with several (naming them)."""
    import pyogrio

    try:
        layers = [str(name) for name in pyogrio.list_layers(str(path))[:, 0]]
    except pyogrio.errors.DataSourceError:
        return  # not a vector file: read_vector says so
    if layer is None and len(layers) > 1:
        raise LabelError(f"{path} has {len(layers)} layers ({one_of(layers)}); choose one with layer=NAME")
    if layer is not None and layer not in layers:
        raise LabelError(f"{path} has no layer {layer!r}{closest(layer, layers)}; its layers are {one_of(layers)}")


def _read_csv(path: Path, x_column: str | None, y_column: str | None, crs: str | None):
    """Read a CSV of points; returns (GeoDataFrame, rows skipped for empty coordinates)."""
    import geopandas as gpd

    if not path.is_file():
        raise InputFileError(f"labels: {path} does not exist; check the path")
    table = _read_table(path)
    if table.empty:
        raise InputFileError(f"labels: {path} has no rows; give a CSV with a header and one row per label")
    xcol, ycol, geographic = _coordinate_columns(table, path, x_column, y_column)
    if crs is None and not geographic:
        raise LabelError(f"{path}: coordinates in columns {xcol!r}/{ycol!r} need their CRS; "
                         "pass crs='EPSG:...' (lon/lat columns are taken as EPSG:4326)")
    xs, ys = (_numbers(table[c], c, path) for c in (xcol, ycol))
    crs = crs or "EPSG:4326"
    from rasterio.crs import CRS

    if CRS.from_user_input(crs).is_geographic:
        _check_degrees(xs, xcol, 360, path)  # 0..360 longitudes are valid too
        _check_degrees(ys, ycol, 90, path)
    ok = xs.notna() & ys.notna()
    table = table[ok].reset_index(drop=True)
    frame = gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(xs[ok], ys[ok]), crs=crs)
    return frame, int((~ok).sum())


def _read_table(path: Path) -> pd.DataFrame:
    """The CSV as text-or-number columns; the delimiter (, ; tab |) is guessed from the header."""
    raw = path.read_bytes()[:65536]
    encoding = "utf-8-sig"
    try:
        head = raw.decode(encoding)
    except UnicodeDecodeError:
        encoding, head = "latin-1", raw.decode("latin-1")
    header = head.splitlines()[0] if head.strip() else ""
    delimiter = max((",", ";", "\t", "|"), key=header.count)
    try:
        return pd.read_csv(path, sep=delimiter, encoding=encoding, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputFileError(f"labels: {path} is not a readable CSV ({str(exc).splitlines()[0]}); "
                             "save it as comma-separated text with a header row") from None


def _coordinate_columns(table: pd.DataFrame, path: Path, x_column: str | None,
                        y_column: str | None) -> tuple[str, str, bool]:
    """(x column, y column, whether they are lon/lat by name)."""
    columns = [str(c) for c in table.columns]
    if x_column or y_column:
        if not (x_column and y_column):
            raise LabelError(f"{path}: give both x_column and y_column (got {x_column!r} and {y_column!r})")
        for name in (x_column, y_column):
            if name not in columns:
                raise LabelError(f"{path} has no column {name!r}{closest(name, columns)}; "
                                 f"its columns are {one_of(columns)}")
        return x_column, y_column, x_column.lower() in LON_COLUMNS and y_column.lower() in LAT_COLUMNS
    lower = {c.strip().lower(): c for c in columns}
    for xs, ys, geographic in ((LON_COLUMNS, LAT_COLUMNS, True), (X_COLUMNS, Y_COLUMNS, False)):
        x = next((lower[n] for n in xs if n in lower), None)
        y = next((lower[n] for n in ys if n in lower), None)
        if x and y:
            return x, y, geographic
    raise LabelError(f"{path} has no coordinate columns (found {one_of(columns)}); name them lon/lat or x/y, "
                     "or pass x_column and y_column")


def _numbers(column: pd.Series, name: str, path: Path) -> pd.Series:
    """A coordinate column as float64 (empty cells NaN); refuses text, naming the first bad line."""
    numbers = pd.to_numeric(column, errors="coerce")
    bad = column.notna() & numbers.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise LabelError(f"{path}: column {name!r} holds text ({column.iloc[i]!r} on line {i + 2}); "
                         "coordinates must be numbers in decimal notation (e.g. 15.123, not 15°7'23\")")
    return numbers.astype(np.float64)


def _check_degrees(values: pd.Series, name: str, limit: float, path: Path) -> None:
    out = values.abs() > limit
    if out.any():
        i = int(np.flatnonzero(out.to_numpy())[0])
        raise LabelError(f"{path}: column {name!r} holds {values.iloc[i]:g} on line {i + 2}, which is not in "
                         f"degrees; for projected coordinates pass x_column, y_column and crs='EPSG:...'")


def _field_values(frame: pd.DataFrame, field: str | None, source: str) -> tuple[np.ndarray | None, tuple | None]:
    """The label field as numbers (float64/int64) or text (object), and the class names of text."""
    if field is None:
        return None, None
    fields = [str(c) for c in frame.columns if c != frame.geometry.name]
    if field not in fields:
        raise LabelError(f"{source} has no field {field!r}{closest(field, fields)}; its fields are {one_of(fields)}")
    column = frame[field]
    if column.notna().sum() == 0:
        raise LabelError(f"field {field!r} of {source} is empty (every value is null); choose another of "
                         f"{one_of(fields)}")
    if column.dtype == object:  # numbers mixed with nulls (shapefiles, GeoJSON) arrive as objects
        numbers = pd.to_numeric(column, errors="coerce")
        if numbers.notna().sum() == column.notna().sum() and numbers.notna().any():
            column = numbers
    if pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype=np.int64), None
    if pd.api.types.is_numeric_dtype(column):
        return column.to_numpy(), None
    if pd.api.types.is_datetime64_any_dtype(column) or not _is_text(column):
        usable = [f for f in fields if pd.api.types.is_numeric_dtype(frame[f]) or _is_text(frame[f])]
        raise LabelError(f"field {field!r} of {source} holds {column.dtype} values, neither numbers nor text; "
                         f"use one of {one_of(usable)}")
    values = np.array([None if pd.isna(v) else str(v) for v in column], dtype=object)
    return values, tuple(sorted({v for v in values if v is not None}))


def _is_text(column: pd.Series) -> bool:
    if pd.api.types.is_string_dtype(column) and column.dtype != object:
        return True
    return column.dtype == object and all(isinstance(v, str) for v in column.dropna())


def _cells(frame, grid: Grid, source: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Cells of every feature on ``grid``: (rows, cols, feature ids, features with no cell)."""
    from shapely import get_coordinates, get_parts

    geoms = frame.geometry.values
    rows, cols, ids = [], [], []
    points = np.isin(frame.geom_type.to_numpy(), _POINTS)
    if points.any():
        parts, index = get_parts(np.asarray(geoms[points]), return_index=True)
        xy = get_coordinates(parts)
        r, c = grid.rowcol(xy[:, 0], xy[:, 1])
        inside = grid.contains(r, c)
        rows.append(r[inside])
        cols.append(c[inside])
        ids.append(np.flatnonzero(points)[index][inside])
    for i in np.flatnonzero(~points):
        r, c = _polygon_cells(geoms[i], grid)
        rows.append(r)
        cols.append(c)
        ids.append(np.full(r.size, i))
    rows, cols, ids = (np.concatenate(a).astype(np.int64) if a else np.empty(0, np.int64) for a in (rows, cols, ids))
    n_outside = len(frame) - np.unique(ids).size
    return rows, cols, ids, int(n_outside)


def _polygon_cells(polygon, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Cells whose centre lies inside ``polygon`` (rasterised over its bounding box only)."""
    from rasterio.features import geometry_mask
    from rasterio.windows import Window

    xmin, ymin, xmax, ymax = polygon.bounds
    (r0, r1), (c0, c1) = grid.rowcol(np.array([xmin, xmax]), np.array([ymax, ymin]))
    r0, c0 = max(r0, 0), max(c0, 0)
    r1, c1 = min(r1, grid.height - 1), min(c1, grid.width - 1)
    if r0 <= r1 and c0 <= c1:
        window = Window(c0, r0, c1 - c0 + 1, r1 - r0 + 1)
        inside = geometry_mask([polygon], out_shape=(r1 - r0 + 1, c1 - c0 + 1),
                               transform=grid.window_transform(window), invert=True)
        r, c = np.nonzero(inside)
        if r.size:
            return r + r0, c + c0
    point = polygon.representative_point()
    r, c = grid.rowcol(np.array([point.x]), np.array([point.y]))
    inside = grid.contains(r, c)
    return r[inside], c[inside]


def _bounds_text(bounds) -> str:
    return "[" + ", ".join(f"{v:.6g}" if math.isfinite(v) else "nan" for v in bounds) + "]"
