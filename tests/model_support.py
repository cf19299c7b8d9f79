"""Shared helpers of the model tests: a small sample study area, generated once per process."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

#: Side of the sample study area used by the model tests (cells of 30 m).
SAMPLE_SIZE = 256
#: Network options that train in a second or two on the small sample area.
FAST = {"epochs": 60, "patience": 15, "learning_rate": 0.01, "batch_size": 64}


@functools.lru_cache(maxsize=None)
def sample_area(size: int = SAMPLE_SIZE, seed: int = 0) -> dict[str, Path]:
    """The sample data of :func:`georaster_dl.sampledata.write_sample_data` in a temporary folder."""
    from georaster_dl.sampledata import write_sample_data

    folder = Path(tempfile.mkdtemp(prefix="georaster_dl_models_"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return write_sample_data(folder, size=size, seed=seed)
