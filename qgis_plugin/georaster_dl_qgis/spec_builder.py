"""Build a georaster-dl StackSpec from chosen layers (pure Python, no QGIS imports).

The spec is written as JSON, which the backend's YAML loader reads as YAML.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

_NOT_NAME = re.compile(r"[^A-Za-z0-9_]+")


@dataclass(frozen=True)
class Source:
    """One input file: a display name (made into a spec name), a path, a vector layer name, a
    nodata override (a number, ``nan`` or ``none``; empty: the file's own) and the band of a
    multi-band raster (None for a one-band file: the backend refuses a multi-band file without one)."""

    label: str
    path: str
    layer: str = ""
    nodata: str = ""
    band: int | None = None


def input_name(label: str, taken: set[str]) -> str:
    """A spec input name (identifier) for ``label`` that is not in ``taken``.

    Examples
    --------
    >>> input_name("Dist to faults (m)", {"Dist_to_faults_m"})
    'Dist_to_faults_m_2'
    """
    base = _NOT_NAME.sub("_", label).strip("_") or "layer"
    if base[0].isdigit():
        base = f"l_{base}"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    return name


def build_spec(reference: Source | None, terrain: str, continuous: list[Source],
               categorical: list[Source], vectors: list[Source], onehot: bool = True,
               reference_name: str = "", reference_as_feature: bool = True) -> dict:
    """A spec dict: grid on ``reference`` (else the first raster), one feature per layer.

    Parameters
    ----------
    reference : Source or None
        Raster whose grid the stack uses; its terrain features are ``terrain``.
    terrain : str
        Terrain features of the reference in the command-line syntax, e.g. ``'slope,tpi:radius=10'``,
        written as they are for the backend to parse.
    continuous, categorical, vectors : list of Source
        Evidence rasters (values), class rasters (one-hot or codes) and vectors (distance grids).
    onehot : bool
        One-hot encode categorical rasters (else their class codes are one band each).
    reference_name : str
        Spec name for the reference (``'dem'`` for landform models); derived from its label if empty.
    reference_as_feature : bool
        Whether the reference's own values are a feature.

    Returns
    -------
    dict
        ``{'grid': ..., 'inputs': ..., 'features': [...]}``; the terrain features are one entry
        ``{reference name: terrain}``.
    """
    rasters = [r for r in [reference, *continuous, *categorical] if r is not None]
    if not rasters:
        raise ValueError("choose at least one raster layer (a reference grid or evidence layer)")
    inputs: dict[str, dict] = {}
    features: list = []
    names: dict[str, str] = {}  # path -> input name, so a layer chosen twice is read once

    def add(source: Source, kind: str, wanted_name: str = "") -> str:
        key = f"{source.path}|{source.layer}|{source.band}"
        if key not in names:
            name = wanted_name or input_name(source.label, set(inputs))
            entry = {"path": source.path, "kind": kind}
            if source.layer:
                entry["layer"] = source.layer
            if source.nodata:
                entry["nodata"] = _number_or_text(source.nodata)
            if source.band is not None:
                entry["band"] = source.band
            inputs[name] = entry
            names[key] = name
        return names[key]

    grid = add(reference or rasters[0], "continuous" if reference or continuous else "categorical",
               reference_name)
    if reference is not None:
        if reference_as_feature:
            features.append(grid)
        if terrain.strip():
            features.append({grid: terrain.strip()})
    for source in continuous:
        features.append(add(source, "continuous"))
    for source in categorical:
        name = add(source, "categorical")
        inputs[name]["kind"] = "categorical"
        features.append(f"{name}.onehot" if onehot else name)
    for source in vectors:
        features.append(f"{add(source, 'vector')}.distance")
    return {"grid": {"reference": grid}, "inputs": inputs, "features": _unique(features)}


def write_spec(spec: dict, path: str) -> str:
    """Write ``spec`` to ``path`` (JSON, a subset of YAML) and return the path."""
    Path(path).write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    return path


def _number_or_text(text: str) -> float | str:
    """``'-1'`` -> -1.0; ``'none'`` stays text (the backend checks the value)."""
    try:
        return float(text)
    except ValueError:
        return text.strip().lower()


def _unique(items: list) -> list:
    """``items`` without repeated references (a layer chosen twice)."""
    return [item for i, item in enumerate(items) if not isinstance(item, str) or item not in items[:i]]
