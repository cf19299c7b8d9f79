"""Write the aligned feature stack of a spec to a GeoTIFF, window by window."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from georaster_dl.grid import check_window_size
from georaster_dl.io.files import check_output_path
from georaster_dl.io.writer import GeoTIFFWriter
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
        writer = GeoTIFFWriter(out, stack.grid, len(stack.band_names), "float32", float("nan"),
                               descriptions=stack.band_names, compress=compress, overwrite=overwrite,
                               tags={"spec_sha256": spec_hash(stack.spec)}, overviews=overviews)
        with writer, progress("stack", len(windows), message) as bar:
            for w in windows:
                data, _ = stack.read_window(w, nodata_union=nodata_union)
                writer.write(w, data.astype(np.float32, copy=False))
                bar.update()
    info(f"wrote {out} ({len(stack.band_names)} bands, {stack.grid.width} x {stack.grid.height})")
    return Path(out)
