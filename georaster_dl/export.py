"""Write the aligned feature stack of a spec to a GeoTIFF, window by window."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from georaster_dl.grid import check_window_size
from georaster_dl.io import qml
from georaster_dl.io.files import check_output_path
from georaster_dl.io.writer import CLASS_NODATA, GeoTIFFWriter
from georaster_dl.progress import info, progress
from georaster_dl.spec import StackSpec, load_spec
from georaster_dl.stack import Stack


def spec_hash(spec: StackSpec) -> str:
    """SHA-256 of a spec's canonical YAML, recorded in output tags."""
    return hashlib.sha256(spec.to_yaml().encode()).hexdigest()


def write_stack(spec: StackSpec | dict | str, out: str | os.PathLike, *, window: int = 1024,
                compress: str = "zstd", overviews: bool = False, overwrite: bool = False,
                nodata_union: bool = True, message: str = "aligning inputs") -> Path:
    """Write every band of ``spec`` on its grid to ``out`` (float32, NaN nodata).

    A stack of one class feature (geomorphons, landform_weiss) is written as class codes
    instead: Byte, nodata 0, a colour table, class names and a paletted ``.qml`` style.
    Memory stays bounded by one window of all bands, whatever the raster size.
    ``nodata_union=False`` keeps each band's own nodata (see :meth:`Stack.read_window`).

    Examples
    --------
    >>> write_stack("sample_data/spec.yaml", "stack.tif")  # doctest: +SKIP
    """
    check_window_size(window)
    spec = load_spec(spec)
    check_output_path(out, overwrite, inputs=[i.path for i in spec.inputs.values()])
    with Stack(spec) as stack:
        windows = list(stack.windows(window))
        legend = class_legend(stack)
        classes = {} if legend is None else {
            "colormap": {CLASS_NODATA: (0, 0, 0, 0), **{c: (*colour, 255) for c, (_, colour) in legend.items()}},
            "category_names": {c: name for c, (name, _) in legend.items()}}
        writer = GeoTIFFWriter(out, stack.grid, len(stack.band_names), "uint8" if legend else "float32",
                               CLASS_NODATA if legend else float("nan"), descriptions=stack.band_names,
                               compress=compress, overwrite=overwrite, tags={"spec_sha256": spec_hash(stack.spec)},
                               overviews=overviews, **classes)
        with writer, progress("stack", len(windows), message) as bar:
            for w in windows:
                data, _ = stack.read_window(w, nodata_union=nodata_union)
                writer.write(w, _codes(data) if legend else data.astype(np.float32, copy=False))
                bar.update()
    if legend:
        qml.write_qml(out, qml.paletted_qml(legend))
    info(f"wrote {out} ({len(stack.band_names)} bands, {stack.grid.width} x {stack.grid.height})")
    return Path(out)


def class_legend(stack: Stack) -> dict[int, tuple[str, tuple[int, int, int]]] | None:
    """``{code: (name, colour)}`` when the stack is one class feature's codes, else None."""
    if len(stack.features) != 1 or len(stack.band_names) != 1:
        return None
    feature = stack.features[0]
    definition = feature.definition
    if not definition.classes or feature.onehot_codes is not None:
        return None
    colours = definition.colours or {}
    return {code: (name, colours.get(code, (128, 128, 128))) for code, name in definition.classes.items()}


def _codes(data: np.ndarray) -> np.ndarray:
    """Class codes as Byte, :data:`CLASS_NODATA` where nodata (codes start at 1)."""
    return np.where(np.isnan(data), CLASS_NODATA, data).astype(np.uint8)
