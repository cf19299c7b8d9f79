"""A StackSpec opened for reading: inputs aligned on one grid, features computed per window.

:class:`Stack` is the one way every front end reads features: training samples,
prediction windows and the ``stack`` command all go through :meth:`Stack.read_window`.
Opening a stack *pins* the spec: categories of categorical inputs and global statistics
of features that need a first pass are written into ``stack.spec``, which is what a
model bundle stores so prediction re-derives exactly the same bands.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Iterator

import numpy as np
from rasterio.crs import CRS
from rasterio.errors import CRSError
from rasterio.windows import Window

from georaster_dl import features as _features  # noqa: F401  (registers built-in features)
from georaster_dl.errors import GridError, InputFileError, SpecError, closest, one_of
from georaster_dl.features.fused import compute_fused, fusable
from georaster_dl.features.registry import KernelContext, Moments, ResolvedFeature, compact_layout, resolve
from georaster_dl.grid import TILE_SIZE, Grid, cell_sizes_m, pad_window
from georaster_dl.io.rasters import RasterSource
from georaster_dl.io.vectors import VectorSource
from georaster_dl.progress import info, progress
from georaster_dl.spec import FeatureRef, StackSpec, load_spec

#: Band kinds: standardised by models ('continuous'), 0/1 indicators ('onehot'), class codes ('class').
BAND_KINDS = ("continuous", "onehot", "class")


class Stack:
    """Inputs of a spec aligned on its grid, with features readable window by window.

    Parameters
    ----------
    spec : StackSpec, dict, str or Path
        The stack specification (see :mod:`georaster_dl.spec`).
    prepare : bool
        Run the first passes some features need (global statistics) when their
        parameters are not pinned yet.

    Examples
    --------
    >>> stack = Stack("sample_data/spec.yaml")                  # doctest: +SKIP
    >>> data, valid = stack.read_window(Window(0, 0, 512, 512))  # doctest: +SKIP
    >>> data.shape == (len(stack.band_names), 512, 512)          # doctest: +SKIP
    True
    """

    def __init__(self, spec: StackSpec | dict | str, *, prepare: bool = True) -> None:
        spec = load_spec(spec)
        used = {f.input for f in spec.features} | ({spec.grid.reference} if spec.grid.reference else set())
        self.sources: dict[str, RasterSource | VectorSource] = {}
        try:
            for name in spec.inputs:
                if name in used:
                    i = spec.inputs[name]
                    self.sources[name] = VectorSource(i) if i.kind == "vector" else RasterSource(i)
            self.grid = _build_grid(spec, self.sources)
            for source in self.sources.values():
                source.attach(self.grid)
            for name in dict.fromkeys(f.input for f in spec.features):  # a grid-only reference may be empty
                if isinstance(self.sources[name], RasterSource):
                    _check_has_data(self.sources[name], self.grid)
            self.spec = _pin_categories(spec, self.sources)
            self.features: list[ResolvedFeature] = [resolve(f, self.spec.inputs[f.input]) for f in self.spec.features]
            self._check_transform_keys()
            for f in self.features:
                if f.definition.check is not None:
                    f.definition.check(self, f)
            if prepare:
                self._prepare()
        except BaseException:
            self.close()
            raise

    # -- description ---------------------------------------------------------------
    @property
    def band_names(self) -> list[str]:
        """One name per output band, in order (``dem.slope``, ``geology.onehot:20``, ...)."""
        return [name for f in self.features for name in f.band_names]

    @property
    def band_kinds(self) -> list[str]:
        """Kind of each band (see :data:`BAND_KINDS`)."""
        kinds = []
        for f in self.features:
            name = f.definition.name
            if f.onehot_codes is not None:
                kind = "onehot"
            elif f.definition.classes or (name == "value" and self.spec.inputs[f.ref.input].kind == "categorical"):
                kind = "class"
            else:
                kind = "continuous"
            kinds += [kind] * len(f.band_names)
        return kinds

    @property
    def band_transforms(self) -> list[str | None]:
        """Transform named for each band (spec ``transforms`` first, then the input's), None if none."""
        out = []
        for f, kind in zip(self._band_features(), self.band_kinds):
            out.append(None if kind != "continuous" else
                       self.spec.transforms.get(f[1], self.spec.inputs[f[0].ref.input].transform))
        return out

    @property
    def compact_layout(self) -> list[tuple | None]:
        """Bands of :meth:`read_window` with ``compact=True``: the codes a one-hot feature's
        single band of codes expands to, or None for a band that stays as it is."""
        return compact_layout(self.features)

    def _check_transform_keys(self) -> None:
        """Refuse ``transforms`` entries that name no continuous band (a typo would be ignored)."""
        continuous = [name for name, kind in zip(self.band_names, self.band_kinds) if kind == "continuous"]
        for band in self.spec.transforms:
            if band not in continuous:
                raise SpecError(f"transforms.{band}: no continuous band of this stack is called {band!r}"
                                f"{closest(band, continuous)}; transforms apply to {one_of(continuous) or 'none'}")

    def _band_features(self) -> list[tuple[ResolvedFeature, str]]:
        return [(f, name) for f in self.features for name in f.band_names]

    def windows(self, size: int = 2 * TILE_SIZE) -> Iterator[Window]:
        """Windows tiling the grid (see :meth:`Grid.windows`)."""
        return self.grid.windows(size)

    # -- reading --------------------------------------------------------------------
    def read_window(self, window: Window, *, nodata_union: bool = True,
                    compact: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Every band over ``window``.

        Parameters
        ----------
        window : Window
            Cells to read.
        nodata_union : bool
            Make every band NaN wherever any band is (what a model needs). False keeps
            each band's own nodata (a feature raster, like one gdaldem output per band).
        compact : bool
            One band of codes per one-hot feature instead of one band per category (see
            :attr:`compact_layout` and :func:`~georaster_dl.features.registry.compact_onehot`):
            a geology map of 87 units takes 1 band instead of 87.

        Returns
        -------
        data : numpy.ndarray
            float32 array (bands, rows, cols); NaN wherever any band is nodata (with
            ``nodata_union``), else where that band is.
        valid : numpy.ndarray
            bool (rows, cols), True where every band has a value.
        """
        halos: dict[tuple[str, str], int] = {}
        for f in self.features:
            key = (f.ref.input, f.definition.source)
            halos[key] = max(halos.get(key, 0), f.halo)
        padded = {key: self._read_source(key, pad_window(window, h)) for key, h in halos.items()}
        n_bands = len(self.compact_layout) if compact else len(self.band_names)
        data = np.empty((n_bands, int(window.height), int(window.width)), np.float32)
        widths = [1 if compact and f.onehot_codes is not None else len(f.band_names) for f in self.features]
        starts = np.cumsum([0] + widths[:-1]).tolist()

        def padded_values(key: tuple[str, str], h: int) -> np.ndarray:
            big = halos[key]
            return padded[key][big - h: big - h + int(window.height) + 2 * h,
                               big - h: big - h + int(window.width) + 2 * h]

        fused = self._fused_groups()
        for key, group in fused.items():  # the 3x3 family of one input in one pass
            first = self.features[group[0]]
            compute_fused([self.features[i] for i in group], padded_values(key, 1), self._context(first, window, 1),
                          data, [starts[i] for i in group])
        done = {i for group in fused.values() for i in group}
        for i, f in enumerate(self.features):
            if i not in done:
                key = (f.ref.input, f.definition.source)
                f.compute_into(padded_values(key, f.halo), self._context(f, window, f.halo),
                               data[starts[i]:starts[i] + widths[i]], compact)  # no per-feature copies
        valid = np.ones(data.shape[1:], bool)
        for plane in data:
            valid &= np.isfinite(plane)
        if nodata_union and not valid.all():
            data *= np.where(valid, np.float32(1), np.float32(np.nan))  # nodata union, without fancy indexing
        return data, valid

    def _fused_groups(self) -> dict[tuple[str, str], list[int]]:
        """Indices of the features computed by one fused pass, by (input, source): only
        where an input has two or more features of the 3x3 family."""
        groups: dict[tuple[str, str], list[int]] = {}
        for i, f in enumerate(self.features):
            if fusable(f):
                groups.setdefault((f.ref.input, f.definition.source), []).append(i)
        return {key: group for key, group in groups.items() if len(group) > 1}

    def sample_cells(self, rows: np.ndarray, cols: np.ndarray, block: int = TILE_SIZE) -> np.ndarray:
        """Band values at grid cells (rows, cols), read one ``block``-sized window at a time.

        Returns float32 (n, bands), NaN where a cell is nodata. Cells must lie inside the grid.
        """
        rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
        if not self.grid.contains(rows, cols).all():
            raise GridError("sample_cells: some cells lie outside the grid; filter them with grid.contains first")
        out = np.full((rows.size, len(self.band_names)), np.nan, dtype=np.float32)
        block_ids = (rows // block) * (self.grid.width // block + 1) + cols // block
        for bid in np.unique(block_ids):
            sel = np.flatnonzero(block_ids == bid)
            r0, c0 = int(rows[sel[0]] // block * block), int(cols[sel[0]] // block * block)
            win = Window(c0, r0, min(block, self.grid.width - c0), min(block, self.grid.height - r0))
            data, _ = self.read_window(win)
            out[sel] = data[:, rows[sel] - r0, cols[sel] - c0].T
        return out

    def close(self) -> None:
        """Close every input."""
        for source in getattr(self, "sources", {}).values():
            source.close()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------
    def _read_source(self, key: tuple[str, str], window: Window) -> np.ndarray:
        name, source = key
        src = self.sources[name]
        return src.read(window, source) if isinstance(src, VectorSource) else src.read(window)

    def _context(self, feature: ResolvedFeature, window: Window, halo: int) -> KernelContext:
        padded = pad_window(window, halo)
        csx, csy = cell_sizes_m(self.grid, int(padded.row_off), int(padded.height))
        outside = None
        if (padded.row_off < 0 or padded.col_off < 0 or padded.row_off + padded.height > self.grid.height
                or padded.col_off + padded.width > self.grid.width):
            r = np.arange(padded.row_off, padded.row_off + padded.height)
            c = np.arange(padded.col_off, padded.col_off + padded.width)
            outside = ((r < 0) | (r >= self.grid.height))[:, None] | ((c < 0) | (c >= self.grid.width))[None, :]
        return KernelContext(csx, csy, outside, self.spec.edges, self.spec.inputs[feature.ref.input])

    def _prepare(self) -> None:
        """Run first passes (global statistics) and pin their results into the spec."""
        changed = False
        for i, f in enumerate(self.features):
            first_pass = f.definition.first_pass
            if first_pass is None or all(k in dict(f.ref.params) for k in f.definition.internal_params):
                continue
            moments = self._moments(first_pass.source(f), f"{first_pass.label} for {f.ref}")
            ref = f.ref.with_params({**dict(f.ref.params), **first_pass.pin(moments, f)})
            self.features[i] = resolve(ref, self.spec.inputs[ref.input])
            changed = True
        if changed:
            self.spec = self.spec.replace_features([f.ref for f in self.features])

    def _moments(self, ref: FeatureRef, message: str) -> Moments:
        """Moments of one band over every valid cell, one window in memory at a time.

        Windows are merged with Chan's parallel variance formula in a fixed order, so the
        result does not depend on the window size or on memory.
        """
        count, mean, m2 = 0, 0.0, 0.0
        with Stack(self.spec.replace_features([ref])) as first_pass:
            windows = list(first_pass.windows())
            with progress("prepare", len(windows), message) as bar:
                for window in windows:
                    data, valid = first_pass.read_window(window)
                    t = data[0][valid].astype(np.float64)
                    if t.size:
                        n, m = t.size, float(t.mean())
                        delta = m - mean
                        mean += delta * n / (count + n)
                        m2 += float(((t - m) ** 2).sum()) + delta * delta * count * n / (count + n)
                        count += n
                    bar.update()
        return Moments(count, mean, math.sqrt(m2 / count) if count else 0.0)


def open_stack(spec: StackSpec | dict | str, chunks: int = 2 * TILE_SIZE):
    """Open a spec as a lazy, dask-backed :class:`xarray.Dataset`, one variable per band.

    Windows of ``chunks`` cells are computed on demand (each window computes every band
    once), by any dask scheduler: the graph pickles, so it also runs on a
    dask.distributed cluster whose workers see the same input paths. The dataset carries the grid's CRS (``crs`` attribute, WKT, and a CF
    ``spatial_ref`` coordinate) and affine ``transform``.

    Examples
    --------
    >>> ds = open_stack("sample_data/spec.yaml")   # doctest: +SKIP
    >>> float(ds["dem.slope"].mean())               # doctest: +SKIP
    """
    import dask
    import dask.array as da
    import xarray as xr

    with Stack(spec) as stack:
        grid, names, kinds = stack.grid, stack.band_names, stack.band_kinds
        pinned = stack.spec.to_yaml()  # absolute paths, pinned categories and statistics
    nb = len(names)
    _process_stack.cache_clear()  # the files behind a spec may have changed since it was last opened
    read = dask.delayed(_read_window, pure=True)
    rows = []
    for r in range(0, grid.height, chunks):
        row = []
        for c in range(0, grid.width, chunks):
            w = (c, r, min(chunks, grid.width - c), min(chunks, grid.height - r))
            row.append(da.from_delayed(read(pinned, w), shape=(nb, w[3], w[2]), dtype=np.float32))
        rows.append(row)
    array = da.concatenate([da.concatenate(row, axis=2) for row in rows], axis=1)
    xs, _ = grid.xy(np.zeros(grid.width), np.arange(grid.width))
    _, ys = grid.xy(np.arange(grid.height), np.zeros(grid.height))
    wkt = grid.crs.to_wkt()
    coords = {"y": ys, "x": xs, "spatial_ref": ((), 0, {"crs_wkt": wkt, "spatial_ref": wkt})}
    variables = {name: (("y", "x"), array[i], {"grid_mapping": "spatial_ref", "kind": kind})
                 for i, (name, kind) in enumerate(zip(names, kinds))}
    return xr.Dataset(variables, coords=coords,
                      attrs={"crs": wkt, "transform": tuple(grid.transform)[:6], "spec": pinned})


def _read_window(pinned_spec: str, window: tuple[int, int, int, int]) -> np.ndarray:
    """One chunk of :func:`open_stack`: a module-level function of plain arguments, so the
    graph pickles and runs on dask.distributed workers, each opening the stack once."""
    return _process_stack(pinned_spec).read_window(Window(*window))[0]


@functools.lru_cache(maxsize=8)
def _process_stack(pinned_spec: str) -> Stack:
    """The stack of a pinned spec, opened once per process (its reads are thread-safe)."""
    return Stack(load_spec(pinned_spec), prepare=False)


def _build_grid(spec: StackSpec, sources: dict) -> Grid:
    if spec.grid.reference:
        return sources[spec.grid.reference].grid()
    g = spec.grid
    try:
        crs = CRS.from_user_input(g.crs)
    except CRSError:
        raise GridError(f"grid.crs: {g.crs!r} is not a CRS; write e.g. 'EPSG:32633'") from None
    return Grid.from_bounds(crs, g.resolution, g.bounds)


def _check_has_data(source: RasterSource, grid: Grid) -> None:
    """Refuse an input without any valid cell on the grid (all nodata, NaN only): every band
    of the stack would be nodata everywhere. Stops at the first window holding a value, so a
    usable input costs one read."""
    for window in grid.windows(2 * TILE_SIZE):
        if not np.isnan(source.read(window)).all():
            return
    raise InputFileError(f"inputs.{source.name}: {source.spec.path} has no valid cell on the grid (every cell is "
                         "nodata); check the file's nodata value, or the grid's extent")


def _pin_categories(spec: StackSpec, sources: dict) -> StackSpec:
    """Write the category list of every categorical input (and vector attribute) into the spec."""
    for name, source in sources.items():
        i = spec.inputs[name]
        if i.categories is not None:
            continue
        if i.kind == "categorical":
            spec = spec.replace_input(name, categories=tuple(source.unique_values()))
        elif i.kind == "vector" and i.attribute is not None and any(
                f.input == name and f.feature == "onehot" for f in spec.features):
            spec = spec.replace_input(name, categories=tuple(source.category_values()))
    return spec



def check_override_categories(stack: Stack, names: Iterable[str]) -> None:
    """Refuse an input override that does not hold the categories the model was trained on.

    The file replacing a categorical input must be a class map sharing categories with the
    pinned ones (a category the model never saw is allowed, and reported: it gives 0 in every
    one-hot band); anything else (a continuous raster, another classification) is refused
    before any window runs, as the bands would silently mean something else.
    """
    for name in names:
        spec, source = stack.spec.inputs[name], stack.sources.get(name)
        if spec.categories is None or source is None:
            continue
        where = f"--input {name}={spec.path}"
        try:
            found = source.unique_values() if spec.kind == "categorical" else source.category_values()
        except SpecError:
            raise SpecError(f"{where}: more than 1000 distinct values, but the model's input {name!r} is a class "
                            f"map of {len(spec.categories)} categories; give the file holding those classes") from None
        pinned = set(spec.categories)
        if not pinned & set(found):
            raise SpecError(f"{where}: its categories ({_preview(found)}) are none of the {len(pinned)} the model "
                            f"was trained on ({_preview(spec.categories)}); give the file holding those classes")
        unseen = [v for v in found if v not in pinned]
        if unseen:
            info(f"{where}: {len(unseen)} categories the model never saw ({_preview(unseen)}) give 0 in every "
                 "one-hot band")


def _preview(values, n: int = 6) -> str:
    values = list(values)
    return ", ".join(map(str, values[:n])) + (f", ... ({len(values)} in all)" if len(values) > n else "")
