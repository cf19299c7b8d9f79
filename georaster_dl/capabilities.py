"""The backend's published vocabulary: what front ends may offer and which files runs write.

``georaster-dl info --capabilities --json`` prints :func:`capabilities`. The QGIS plugin
builds its choice lists, feature lists and output names from it, so every value here is
read from the module that defines it, never restated.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

#: Version of this document's layout (bumped when a key changes meaning or disappears).
SCHEMA = 1


def capabilities() -> dict[str, Any]:
    """The backend's vocabulary as a JSON-ready dict.

    Returns
    -------
    dict
        ``schema``, ``version``, ``tasks`` (each with its losses, first the default, and
        output bands), ``activations``, ``optimizers``, ``class_weights``, ``devices``,
        ``transforms`` (and ``default_transform``), ``input_kinds``, ``train_defaults`` (every
        training option's default), ``features`` (each
        with its help, units, input kinds, parameters with defaults, and class names
        for class-valued features) and ``files`` (suffixes of what runs write).

    Examples
    --------
    >>> doc = capabilities()
    >>> doc["tasks"]["landform"]["losses"][0], "slope" in doc["features"]
    ('categorical_crossentropy', True)
    """
    from georaster_dl import __version__
    from georaster_dl.engine.device import DEVICES
    from georaster_dl.models.network import ACTIVATIONS, CLASS_WEIGHTS, OPTIMIZERS, NetworkOptions
    from georaster_dl.models.preprocess import DEFAULT_TRANSFORM
    from georaster_dl.models.settings import TrainSettings
    from georaster_dl.spec import INPUT_KINDS
    from georaster_dl.tasks import TASKS, get_task
    from georaster_dl.transforms import TRANSFORMS

    return {
        "schema": SCHEMA,
        "version": __version__,
        "tasks": {t: {"losses": list(get_task(t).losses), "bands": list(get_task(t).output_bands)} for t in TASKS},
        "activations": list(ACTIVATIONS),
        "optimizers": list(OPTIMIZERS),
        "class_weights": list(CLASS_WEIGHTS),
        "devices": list(DEVICES),
        "transforms": list(TRANSFORMS),
        "default_transform": DEFAULT_TRANSFORM,
        "input_kinds": list(INPUT_KINDS),
        "train_defaults": json.loads(json.dumps({**asdict(NetworkOptions()), **asdict(TrainSettings())})),
        "features": _features(),
        "files": _files(),
    }


def _features() -> dict[str, dict[str, Any]]:
    from georaster_dl.features import registered
    from georaster_dl.features.registry import public_params

    return {name: {"help": d.help, "units": d.units, "inputs": list(d.input_kinds),
                   "params": [{"name": p.name, "type": p.type.__name__, "default": p.default,
                               "choices": list(p.choices) if p.choices else None, "minimum": p.minimum,
                               "help": p.help} for p in public_params(d)],
                   "classes": {str(code): label for code, label in d.classes.items()} if d.classes else None}
            for name, d in registered().items()}


def _files() -> dict[str, Any]:
    """Suffixes of the files runs write, taken from the helpers that name them."""
    from georaster_dl.engine.journal import OutputLock, journal_path
    from georaster_dl.engine.outputs import APPLICABILITY_SUFFIX, PROBABILITIES_SUFFIX
    from georaster_dl.explain import EXPLAIN_SUFFIX
    from georaster_dl.io.qml import qml_path
    from georaster_dl.io.writer import PARTIAL_SUFFIX
    from georaster_dl.models.bundle import SUFFIX
    from georaster_dl.targets import SUFFIX as TARGETS_SUFFIX

    out = Path("out.tif")
    return {"model": SUFFIX, "raster": out.suffix, "style": qml_path(out).suffix,
            "probabilities": PROBABILITIES_SUFFIX, "explain": EXPLAIN_SUFFIX, "applicability": APPLICABILITY_SUFFIX,
            "targets": TARGETS_SUFFIX,
            "unfinished": [PARTIAL_SUFFIX, journal_path(out).name[len(out.name):],
                           OutputLock(out).path.name[len(out.name):]]}
