"""Per-window prediction: features from the stack, the network's forward pass, output bands.

:class:`WindowPredictor` is what every scheduler runs. On a dask.distributed worker it
is built once per process by :func:`worker_predictor` (cached), so the model's ONNX graph
is loaded once per worker and never shipped with tasks; TensorFlow is never imported.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
from rasterio.windows import Window

from georaster_dl.engine.outputs import APPLICABILITY_KEY, ClassInfo, OutputFile, applicability_bands, arrange
from georaster_dl.explain import EXPLAIN_KEY, spread
from georaster_dl.grid import TILE_SIZE
from georaster_dl.stack import Stack

#: Most rows handed to the forward pass at once.
STRIP_ROWS = 131_072
#: Most bytes of feature rows handed to the forward pass at once: models with many
#: (one-hot) bands take fewer rows per strip, so the strip and the network's activations
#: stay small.
STRIP_BYTES = 8 * 2**20


def strip_rows(n_bands: int) -> int:
    """Rows per strip: :data:`STRIP_ROWS`, or the largest power of two (at least 1024) whose
    rows of ``n_bands`` float32 values fit :data:`STRIP_BYTES` (whole multiples of the forward
    pass's row block, so strips need no padding)."""
    fit = max(STRIP_BYTES // (4 * max(n_bands, 1)), 1024)
    return min(STRIP_ROWS, 1 << (fit.bit_length() - 1))
#: Bytes of features one window may hold; sets the default window size.
WINDOW_BUDGET = 128 * 2**20


#: Grids with fewer windows of 1024 cells than this get 512-cell windows.
MIN_LARGE_WINDOWS = 8


def auto_window(n_bands: int, height: int, width: int) -> int:
    """Default window: 1024 cells, or 512 when 1024 x 1024 x bands float32 exceeds the budget
    or the grid holds fewer than :data:`MIN_LARGE_WINDOWS` windows of 1024 (on a small
    raster, more and smaller windows keep every worker busy to the end: Cloncurry's 3.1 Mpx
    predicted in 6.6-7.2 s with 512 against 9-11 s with 1024, measured here)."""
    large = 2 * TILE_SIZE
    if n_bands * large * large * 4 > WINDOW_BUDGET:
        return TILE_SIZE
    return large if math.ceil(height / large) * math.ceil(width / large) >= MIN_LARGE_WINDOWS else TILE_SIZE


def windows_in_flight(workers: int, n_bands: int, window: int) -> int:
    """Windows computed or waiting at once: one per worker, plus one so a worker never waits
    for the writer, unless that extra window's features would take the total past twice
    :data:`WINDOW_BUDGET` (models with many one-hot bands)."""
    extra = (workers + 1) * n_bands * window * window * 4 <= 2 * WINDOW_BUDGET
    return workers + int(extra)


class WindowPredictor:
    """Predict one window of a model's grid.

    Parameters
    ----------
    bundle : ModelBundle
        A loaded model bundle.
    overrides : dict
        Input paths replaced by name (``{"dem": "/data/dem_2.tif"}``).
    providers : list of str, optional
        ONNX Runtime execution providers (see :func:`~georaster_dl.engine.device.select_device`).

    Each call runs the network with one thread: windows run in parallel on the workers'
    threads, so a second level of threads would only compete for the same cores.
    """

    def __init__(self, bundle, overrides: dict[str, str], providers: list[str] | None = None,
                 explain: bool = False, applicability: bool = False) -> None:
        from georaster_dl.models.forward import Forward

        self.bundle = bundle
        self.stack = Stack(bundle.spec.with_inputs(overrides), prepare=False)
        try:
            bundle.check_bands(self.stack.band_names, bool(overrides))
            self.forward = Forward(bundle, threads=1, providers=providers)
            self.explainer = explainer(bundle, self.forward) if explain else None
        except BaseException:
            self.stack.close()
            raise
        self.classes = model_classes(bundle)
        self.strip = strip_rows(len(self.stack.compact_layout))
        # cheap (at most 5,000 rows), once per worker; only when asked: importing scipy.spatial
        # and building the trees took 0.25 s of Cloncurry's 1.7 s prediction
        self.dissimilarity = bundle.applicability.scorer(self.stack.compact_layout) if applicability else None

    def __call__(self, window: Window, files: list[OutputFile]) -> dict[str, np.ndarray]:
        """Output bands of every file in ``files`` over ``window``."""
        # One-hot features are read as one band of category positions, which the network's
        # graph takes as they are: a window holds 1 band for a geology map of 87 units, not 87.
        data, valid = self.stack.read_window(window, compact=True)
        flat = data.reshape(data.shape[0], -1)
        cells = np.flatnonzero(valid.ravel())
        mean = np.empty((cells.size, self.forward.n_outputs), np.float32)
        sd = np.empty_like(mean) if self.forward.n_members > 1 else None
        explain = self.explainer if any(f.key == EXPLAIN_KEY for f in files) else None
        attributions = np.empty((cells.size, len(explain.names)), np.float32) if explain else None
        di = np.empty(cells.size, np.float32) if any(f.key == APPLICABILITY_KEY for f in files) else None
        for start in range(0, cells.size, self.strip):
            part = slice(start, start + self.strip)
            rows = np.ascontiguousarray(flat[:, cells[part]].T)
            m, s = self.forward(rows, compact=True)
            mean[part] = m
            if sd is not None:
                sd[part] = s
            if explain:
                attributions[part] = explain(rows, m)
            if di is not None:
                di[part] = self.dissimilarity(rows)
        out = arrange([f for f in files if f.key not in (EXPLAIN_KEY, APPLICABILITY_KEY)], self.bundle.task,
                      self.classes, mean, sd, valid)
        if explain:
            out[EXPLAIN_KEY] = spread(attributions, valid)
        if di is not None:
            out[APPLICABILITY_KEY] = applicability_bands(di, self.bundle.applicability.threshold, valid)
        return out

    def close(self) -> None:
        self.stack.close()


def explainer(bundle, forward):
    """The bundle's :class:`~georaster_dl.explain.Explainer`, checked against its ONNX graph."""
    from georaster_dl.explain import Explainer

    result = Explainer(bundle)
    result.check(forward)
    return result


def model_classes(bundle) -> list[ClassInfo]:
    """Classes of a landform bundle as raster codes 1..k with names and colours."""
    return [ClassInfo(i + 1, c["name"], tuple(c["colour"])) for i, c in enumerate(bundle.classes or [])]


@functools.lru_cache(maxsize=4)
def worker_predictor(model_path: str, model_sha256: str, overrides: tuple, providers: tuple,
                     explain: bool = False, applicability: bool = False) -> WindowPredictor:
    """Load a model's ONNX graph once per worker process (keyed by its checksum) and keep it."""
    from georaster_dl.models.bundle import load_bundle

    return WindowPredictor(load_bundle(model_path, networks=False), dict(overrides), list(providers), explain,
                           applicability)


def predict_window_task(model_path: str, model_sha256: str, overrides: tuple, providers: tuple,
                        files: list[OutputFile], window: tuple[int, int, int, int]) -> dict[str, np.ndarray]:
    """A dask.distributed task: predict one window (col, row, width, height)."""
    keys = {f.key for f in files}
    predictor = worker_predictor(str(Path(model_path)), model_sha256, overrides, providers, EXPLAIN_KEY in keys,
                                 APPLICABILITY_KEY in keys)
    return predictor(Window(*window), files)
