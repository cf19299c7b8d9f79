"""What prediction writes for each task: files, bands, data types, styles.

- landform: ``OUT.tif`` class codes (Byte, colour table, class names, paletted ``.qml``)
  and ``OUT_probabilities.tif`` (one float32 band per class, plus SD bands for ensembles);
- prospectivity: ``OUT.tif`` probability (float32; band 2 the ensemble SD), ramp ``.qml``;
- regression: ``OUT.tif`` value (float32; band 2 the ensemble SD), ramp ``.qml``.
With ``--applicability`` also ``OUT_applicability.tif``: the dissimilarity index and the
mask of the area of applicability (float32; see :mod:`georaster_dl.applicability`).
Nodata: 0 for class codes (codes start at 1), NaN for float bands.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from georaster_dl.errors import UserInputError, one_of
from georaster_dl.io import qml
from georaster_dl.io.writer import CLASS_NODATA
from georaster_dl.tasks import get_task

#: Added to the output's stem for a landform model's probabilities beside its classes.
PROBABILITIES_SUFFIX = "_probabilities"
#: Added to the output's stem for the area of applicability.
APPLICABILITY_SUFFIX = "_applicability"
#: The area of applicability's :attr:`OutputFile.key`.
APPLICABILITY_KEY = "applicability"
#: Mask classes of the area of applicability's band 2: code -> (name, colour).
APPLICABILITY_CLASSES = {0: ("outside the area of applicability", (215, 25, 28)),
                         1: ("inside the area of applicability", (26, 150, 65))}


@dataclass(frozen=True)
class ClassInfo:
    """A class of a landform model: raster code (1..k), name and RGB colour."""

    code: int
    name: str
    colour: tuple[int, int, int]


@dataclass
class OutputFile:
    """One GeoTIFF that prediction writes."""

    key: str
    path: Path
    descriptions: list[str]
    dtype: str
    nodata: float
    style: str | None = None
    colormap: dict | None = None
    category_names: dict | None = None
    tags: dict | None = None


def plan_outputs(out: Path, task: str, classes: list[ClassInfo], ensemble: bool,
                 bands: tuple[str, ...] | None, value_range: tuple[float, float] | None = None) -> list[OutputFile]:
    """The files and bands to write for ``task``; ``bands`` selects among the task's
    :attr:`~georaster_dl.tasks.Task.output_bands`."""
    kind = get_task(task)
    bands = tuple(bands or kind.output_bands)
    for b in bands:
        if b not in kind.output_bands:
            raise UserInputError(f"--bands: {b!r} is not an output of a {task} model; "
                                 f"choose from {one_of(kind.output_bands)}")
    if "class" in kind.output_bands:  # class codes and their probabilities
        files = []
        if "class" in bands:
            files.append(OutputFile(
                "class", out, ["landform class"], "uint8", CLASS_NODATA,
                style=qml.paletted_qml({c.code: (c.name, c.colour) for c in classes}),
                colormap={CLASS_NODATA: (0, 0, 0, 0), **{c.code: (*c.colour, 255) for c in classes}},
                category_names={c.code: c.name for c in classes}))
        if "probabilities" in bands:
            names = [f"probability {c.name}" for c in classes]
            names += [f"probability sd {c.name}" for c in classes] if ensemble else []
            path = out if "class" not in bands else out.with_name(f"{out.stem}{PROBABILITIES_SUFFIX}{out.suffix}")
            files.append(OutputFile("probabilities", path, names, "float32", float("nan"),
                                    style=qml.ramp_qml(0.0, 1.0)))
        return files
    label = kind.map_label
    names = ([label] if "mean" in bands else []) + ([f"{label} sd"] if ensemble and "sd" in bands else [])
    if not names:
        raise UserInputError("--bands sd needs an ensemble model (trained with --ensemble N > 1)")
    lo, hi = kind.fixed_range or value_range or (0.0, 1.0)
    return [OutputFile("main", out, names, "float32", float("nan"), style=qml.ramp_qml(lo, hi, kind.map_ramp))]


def arrange(files: list[OutputFile], task: str, classes: list[ClassInfo], mean: np.ndarray,
            sd: np.ndarray | None, valid: np.ndarray) -> dict[str, np.ndarray]:
    """Spread per-row network outputs of one window into the bands of each file.

    ``mean``/``sd`` are (n_valid, k) rows for the cells where ``valid`` is True.
    """
    shape = valid.shape
    out: dict[str, np.ndarray] = {}
    for f in files:
        if f.key == "class":
            codes = np.array([c.code for c in classes], dtype=np.uint8)
            grid = np.full(shape, CLASS_NODATA, dtype=np.uint8)
            grid[valid] = codes[np.argmax(mean, axis=1)]
            out[f.key] = grid[None]
            continue
        columns = []
        if f.key == "probabilities":
            columns = [mean[:, i] for i in range(mean.shape[1])]
            columns += [sd[:, i] for i in range(sd.shape[1])] if len(f.descriptions) > len(classes) else []
        else:
            if not f.descriptions[0].endswith(" sd"):
                columns.append(mean[:, 0])
            if f.descriptions[-1].endswith(" sd"):
                columns.append(sd[:, 0])
        grid = np.full((len(columns),) + shape, np.nan, dtype=np.float32)
        for i, col in enumerate(columns):
            grid[i][valid] = col
        out[f.key] = grid
    return out


def applicability_output(out: Path, threshold: float, method: str) -> OutputFile:
    """``OUT_applicability.tif``: band 1 the dissimilarity index, band 2 the mask (1 inside,
    0 outside) at ``threshold``; styled by the mask."""
    return OutputFile(APPLICABILITY_KEY, out.with_name(f"{out.stem}{APPLICABILITY_SUFFIX}{out.suffix}"),
                      ["dissimilarity index", "area of applicability"], "float32", float("nan"),
                      style=qml.paletted_qml(APPLICABILITY_CLASSES, band=2),
                      tags={"GDL_AOA_THRESHOLD": repr(float(threshold)), "GDL_AOA_METHOD": method})


def applicability_bands(di: np.ndarray, threshold: float, valid: np.ndarray) -> np.ndarray:
    """The two bands of :func:`applicability_output` over a window from the DI of its valid cells."""
    grid = np.full((2,) + valid.shape, np.nan, dtype=np.float32)
    grid[0][valid] = di
    grid[1][valid] = di <= threshold
    return grid
