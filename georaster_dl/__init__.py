"""georaster_dl: deep-learning mapping for geoscience rasters.

Align a stack of rasters and vectors on one grid, derive terrain features window by
window, train dense networks for landform classes, prospectivity and continuous
targets, evaluate them with spatial cross-validation, and predict over rasters of
any size into styled GeoTIFFs.

The public API is imported lazily, so ``import georaster_dl`` stays light (TensorFlow
loads only when a model is used)::

    import georaster_dl as gdl
    ds = gdl.open_stack("sample_data/spec.yaml")
    gdl.predict("model.gdl", "map.tif")
"""

from __future__ import annotations

import importlib
import os

# ONNX Runtime 1.32's Linux wheels start a telemetry uploader when first imported, which also
# writes a ``.ses`` file into TMPDIR: a mapping tool writes only where it is told to and sends
# nothing anywhere. Set before any of our modules can import onnxruntime (workers included).
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"

_API = {
    "load_spec": "georaster_dl.spec",
    "StackSpec": "georaster_dl.spec",
    "Stack": "georaster_dl.stack",
    "open_stack": "georaster_dl.stack",
    "Grid": "georaster_dl.grid",
    "write_geotiff": "georaster_dl.io.writer",
    "GeoTIFFWriter": "georaster_dl.io.writer",
    "write_stack": "georaster_dl.export",
    "predict": "georaster_dl.prediction",
    "train": "georaster_dl.training",
    "evaluate": "georaster_dl.evaluation",
    "find_targets": "georaster_dl.targets",
    "load_bundle": "georaster_dl.models.bundle",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'georaster_dl' has no attribute {name!r}")
