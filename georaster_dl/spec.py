"""StackSpec: which inputs, which features, on which grid.

A StackSpec is a small YAML or JSON document (or the equivalent dict)::

    grid:
      reference: dem            # or: crs: EPSG:32633, resolution: 30, bounds: [xmin, ymin, xmax, ymax]
    inputs:
      dem:     {path: dem.tif}
      mag:     {path: magnetics.tif, resampling: bilinear}
      geology: {path: geology.tif, kind: categorical}
      faults:  {path: faults.gpkg, kind: vector}
    features:
      - dem
      - dem.slope
      - dem.tpi(radius=10)
      - mag
      - geology.onehot
      - faults.distance
      - dem: curvature,tpi:radius=30   # an input's features in the command-line syntax

It is stored inside every model bundle, so prediction re-derives exactly the
features a network was trained on. Relative paths resolve against the folder of
the spec file. YAML is always loaded with the safe loader, within the bounds of
:mod:`georaster_dl.io.documents`.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from georaster_dl.errors import SpecError, closest, one_of
from georaster_dl.io.documents import load_yaml, read_text
from georaster_dl.io.files import absolute
from georaster_dl.transforms import parse_transform

INPUT_KINDS = ("continuous", "categorical", "vector")
CONTINUOUS_RESAMPLING = ("nearest", "bilinear", "cubic", "cubic_spline", "lanczos", "average")
CATEGORICAL_RESAMPLING = ("nearest", "mode")
VECTOR_SUFFIXES = (".gpkg", ".shp", ".geojson", ".json", ".fgb", ".kml", ".gml")

#: Most features a spec may list.
MAX_FEATURES = 1000
#: Most cells along a grid's side (GDAL's limit).
MAX_GRID_CELLS = 2**31 - 1

_TOP_KEYS = ("grid", "inputs", "features", "transforms", "edges")
_GRID_KEYS = ("reference", "crs", "resolution", "bounds")
_INPUT_KEYS = ("path", "band", "kind", "resampling", "nodata", "crs", "layer", "attribute",
               "categories", "transform", "z_factor")
_EDGE_MODES = ("nodata", "extrapolate")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Commas between features, not inside parentheses: "slope,tpi(radius=5,shape=disk),aspect".
_LIST_SPLIT = re.compile(r",(?![^()]*\))")
_FEATURE_RE = re.compile(r"^(?P<input>[A-Za-z_]\w*)(?:\.(?P<feature>[A-Za-z_]\w*)(?:\((?P<args>[^()]*)\))?)?$")


@dataclass(frozen=True)
class InputSpec:
    """One input of a stack.

    Attributes
    ----------
    name : str
        Name used in feature references (``dem`` in ``dem.slope``).
    path : str
        Absolute path of the raster or vector file (or ESRI grid folder).
    kind : {'continuous', 'categorical', 'vector'}
        Continuous rasters resample bilinearly by default, categorical ones by nearest.
    band : int
        1-based band of a raster input.
    band_given : bool
        Whether the spec named the band; a multi-band file whose band is not named is refused
        rather than read as band 1 (no band is dropped silently).
    resampling : str
        Resampling onto the grid; bilinear-like methods are refused for categorical inputs.
    nodata : float, 'none' or None
        Overrides the file's nodata (``'none'``: the file has no nodata).
    crs : str or None
        CRS for files that lack one.
    layer, attribute : str or None
        Vector layer name, and the attribute to rasterise (otherwise distance grids only).
    categories : list or None
        Category codes of a categorical input, pinned when a model is trained.
    transform : str or None
        Per-input transform applied before standardisation in a model (see :data:`georaster_dl.transforms.TRANSFORMS`).
    z_factor : float
        Multiplier for elevations not in metres (terrain features).
    """

    name: str
    path: str
    kind: str = "continuous"
    band: int = 1
    resampling: str = "bilinear"
    nodata: float | str | None = None
    crs: str | None = None
    layer: str | None = None
    attribute: str | None = None
    categories: tuple | None = None
    transform: str | None = None
    z_factor: float = 1.0
    band_given: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, without defaults (a band the spec named is kept, even band 1)."""
        out: dict[str, Any] = {"path": self.path}
        defaults = InputSpec(self.name, self.path, kind=self.kind)
        for key in _INPUT_KEYS[1:]:
            value = getattr(self, key)
            if key == "resampling" and value == _default_resampling(self.kind):
                continue
            if value != getattr(defaults, key) or key == "kind" or (key == "band" and self.band_given):
                out[key] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True)
class FeatureRef:
    """A reference to a feature: ``input`` alone, or ``input.feature(param=value, ...)``."""

    input: str
    feature: str | None = None
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def parse(cls, text: str) -> FeatureRef:
        """Parse ``dem``, ``dem.slope`` or ``dem.tpi(radius=10, shape=annulus)``.

        Examples
        --------
        >>> FeatureRef.parse("dem.tpi(radius=10)")
        FeatureRef(input='dem', feature='tpi', params=(('radius', 10),))
        """
        if not isinstance(text, str):
            raise SpecError(f"features: each entry must be a string like 'dem.slope', got {text!r}")
        m = _FEATURE_RE.match(text.replace(" ", ""))
        if not m:
            raise SpecError(f"features: cannot parse {text!r}; write 'input', 'input.feature' or "
                            "'input.feature(param=value, ...)'")
        return cls(m["input"], m["feature"], parse_params(m["args"] or "", where=f"feature {text!r}"))

    def with_params(self, params: dict[str, Any]) -> FeatureRef:
        """A copy with ``params`` (sorted by name, so equal references compare equal)."""
        return replace(self, params=tuple(sorted(params.items())))

    def __str__(self) -> str:
        if self.feature is None:
            return self.input
        if not self.params:
            return f"{self.input}.{self.feature}"
        args = ",".join(f"{k}={_format_value(v)}" for k, v in self.params)
        return f"{self.input}.{self.feature}({args})"


@dataclass(frozen=True)
class GridSpec:
    """The target grid: a reference input, or CRS + resolution + bounds."""

    reference: str | None = None
    crs: str | None = None
    resolution: tuple[float, float] | None = None
    bounds: tuple[float, float, float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.reference:
            return {"reference": self.reference}
        return {"crs": self.crs, "resolution": list(self.resolution), "bounds": list(self.bounds)}


@dataclass(frozen=True)
class StackSpec:
    """A validated stack specification (see the module docstring for the format)."""

    grid: GridSpec
    inputs: dict[str, InputSpec]
    features: tuple[FeatureRef, ...]
    transforms: dict[str, str] = field(default_factory=dict)
    edges: str = "nodata"
    base_dir: str = "."

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; paths are absolute."""
        out = {"grid": self.grid.to_dict(),
               "inputs": {n: i.to_dict() for n, i in self.inputs.items()},
               "features": [str(f) for f in self.features]}
        if self.transforms:
            out["transforms"] = dict(self.transforms)
        if self.edges != "nodata":
            out["edges"] = self.edges
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def with_inputs(self, overrides: dict[str, str]) -> StackSpec:
        """A copy whose input paths are replaced by name (``{"dem": "/data/other_dem.tif"}``)."""
        inputs = dict(self.inputs)
        for name, path in overrides.items():
            if name not in inputs:
                raise SpecError(f"--input {name}=...: the spec has no input named {name!r}"
                                f"{closest(name, inputs)}; its inputs are {one_of(inputs)}")
            inputs[name] = replace(inputs[name], path=str(absolute(path)))
        return replace(self, inputs=inputs)

    def replace_input(self, name: str, **changes: Any) -> StackSpec:
        """A copy with one input's fields changed (used to pin categories)."""
        inputs = dict(self.inputs)
        inputs[name] = replace(inputs[name], **changes)
        return replace(self, inputs=inputs)

    def replace_features(self, features: list[FeatureRef]) -> StackSpec:
        return replace(self, features=tuple(features))


def load_spec(source: str | Path | dict | StackSpec) -> StackSpec:
    """Load and validate a StackSpec from a YAML/JSON file, a YAML string or a dict.

    Relative paths resolve against the folder of the spec file (the current folder
    for strings and dicts).

    Examples
    --------
    >>> spec = load_spec({"grid": {"reference": "dem"}, "inputs": {"dem": {"path": "dem.tif"}},
    ...                   "features": ["dem", "dem.slope"]})
    >>> [str(f) for f in spec.features]
    ['dem', 'dem.slope']
    """
    if isinstance(source, StackSpec):
        return source
    base_dir = Path.cwd()
    if isinstance(source, dict):
        doc = source
    else:
        text, where = str(source), "spec"
        path = Path(text).expanduser()
        if "\n" not in text and (path.suffix.lower() in (".yaml", ".yml", ".json") or os.path.lexists(path)):
            if not os.path.lexists(path):
                raise SpecError(f"spec file {text} does not exist: check the path")
            base_dir, where = absolute(path).parent, str(path)
            text = read_text(path, where)
        doc = _parse_text(text, where)
    return _from_dict(doc, base_dir)


def parse_feature_list(text: str, input_name: str) -> list[FeatureRef]:
    """Parse the command-line feature list of one input, e.g. ``slope,tpi:radius=10:shape=annulus,
    geomorphons(search=20)``: parameters follow the name as ``:key=value`` or ``(key=value,...)``.

    Examples
    --------
    >>> [str(r) for r in parse_feature_list("slope,tpi:radius=10,geomorphons(search=20,flat=2)", "dem")]
    ['dem.slope', 'dem.tpi(radius=10)', 'dem.geomorphons(flat=2,search=20)']
    """
    refs = []
    for item in filter(None, (part.strip() for part in _LIST_SPLIT.split(str(text)))):
        if "(" not in item and ":" in item:
            name, *params = item.split(":")
            item = f"{name}({','.join(params)})"
        refs.append(FeatureRef.parse(f"{input_name}.{item}"))
    return refs


def _feature_entry(entry: Any) -> list[FeatureRef]:
    """One entry of a spec's ``features``: a reference, or ``{input: command-line feature list}``."""
    if isinstance(entry, dict):
        return [ref for name, text in entry.items() for ref in parse_feature_list(text, str(name))]
    return [FeatureRef.parse(entry)]


def parse_params(args: str, where: str) -> tuple[tuple[str, Any], ...]:
    """Parse ``k=v, k2=v2`` into sorted (name, value) pairs with YAML scalar typing."""
    params: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in args.split(","))):
        if "=" not in part:
            raise SpecError(f"{where}: parameter {part!r} needs a value, as in name=value")
        key, _, raw = part.partition("=")
        params[key.strip()] = _scalar(raw.strip())
    return tuple(sorted(params.items()))


def _parse_text(text: str, where: str) -> dict:
    doc = load_yaml(text, where)
    if not isinstance(doc, dict):
        raise SpecError(f"{where}: a spec must be a mapping with 'grid', 'inputs' and 'features'")
    return doc


def _check_keys(doc: dict, valid: tuple[str, ...], where: str) -> None:
    for key in doc:
        if key not in valid:
            raise SpecError(f"{where}: unknown key {key!r}{closest(str(key), valid)}; valid keys: {one_of(valid)}")


def _from_dict(doc: dict, base_dir: Path) -> StackSpec:
    _check_keys(doc, _TOP_KEYS, "spec")
    for key in ("inputs", "features"):
        if key not in doc:
            raise SpecError(f"spec: missing required key {key!r}")
    if not isinstance(doc["inputs"], dict) or not doc["inputs"]:
        raise SpecError("spec: 'inputs' must be a mapping of name -> {path: ...} with at least one input")
    inputs = {str(name): _input(str(name), value, base_dir) for name, value in doc["inputs"].items()}
    grid = _grid(doc.get("grid") or {"reference": next(iter(inputs))}, inputs)
    raw_features = doc["features"]
    if not isinstance(raw_features, list) or not raw_features:
        raise SpecError("spec: 'features' must be a non-empty list such as ['dem', 'dem.slope']")
    features = tuple(ref for entry in raw_features for ref in _feature_entry(entry))
    if len(features) > MAX_FEATURES:
        raise SpecError(f"spec: {len(features):,} features listed, more than {MAX_FEATURES:,}; a network takes "
                        "tens of features (one-hot inputs count as one)")
    for f in features:
        if f.input not in inputs:
            raise SpecError(f"features: {str(f)!r} names input {f.input!r}, which is not among the inputs"
                            f"{closest(f.input, inputs)}; inputs are {one_of(inputs)}")
    if len(set(features)) != len(features):
        dup = next(str(f) for f in features if features.count(f) > 1)
        raise SpecError(f"features: {dup!r} is listed twice; list each feature once")
    transforms = doc.get("transforms") or {}
    if not isinstance(transforms, dict):
        raise SpecError("spec: 'transforms' must map band names to a transform such as 'log'")
    for band, t in transforms.items():
        _check_transform(t, f"transforms.{band}")
    edges = doc.get("edges", "nodata")
    if edges not in _EDGE_MODES:
        raise SpecError(f"spec: edges must be one of {one_of(_EDGE_MODES)}, got {edges!r}")
    return StackSpec(grid, inputs, features, {str(k): str(v) for k, v in transforms.items()}, edges, str(base_dir))


def _input(name: str, value: Any, base_dir: Path) -> InputSpec:
    where = f"inputs.{name}"
    if not _NAME_RE.match(name):
        raise SpecError(f"{where}: input names must be identifiers (letters, digits, _), got {name!r}")
    if isinstance(value, str):
        value = {"path": value}
    if not isinstance(value, dict) or "path" not in value:
        raise SpecError(f"{where}: give at least a path, as in {name}: {{path: {name}.tif}}")
    _check_keys(value, _INPUT_KEYS, where)
    path = Path(str(value["path"])).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    kind = value.get("kind") or ("vector" if path.suffix.lower() in VECTOR_SUFFIXES else "continuous")
    if kind not in INPUT_KINDS:
        raise SpecError(f"{where}.kind: unknown kind {kind!r}{closest(str(kind), INPUT_KINDS)}; "
                        f"valid kinds: {one_of(INPUT_KINDS)}")
    resampling = value.get("resampling", _default_resampling(kind))
    if kind == "categorical" and resampling not in CATEGORICAL_RESAMPLING:
        raise SpecError(f"{where}.resampling: {resampling!r} would blend class codes of a categorical input; "
                        f"use one of {one_of(CATEGORICAL_RESAMPLING)}")
    if kind != "categorical" and resampling not in CONTINUOUS_RESAMPLING:
        raise SpecError(f"{where}.resampling: unknown method {resampling!r}"
                        f"{closest(str(resampling), CONTINUOUS_RESAMPLING)}; valid: {one_of(CONTINUOUS_RESAMPLING)}")
    band = value.get("band", 1)
    if not _is_number(band) or not isinstance(band, int) or band < 1:
        raise SpecError(f"{where}.band: must be a 1-based band number, got {band!r}")
    nodata = value.get("nodata")
    if nodata is not None and not (_is_number(nodata) or str(nodata).lower() in ("none", "nan")):
        raise SpecError(f"{where}.nodata: must be a number, 'nan' or 'none', got {nodata!r}")
    if isinstance(nodata, str):
        nodata = nodata.lower()
    categories = value.get("categories")
    if categories is not None and not isinstance(categories, list):
        raise SpecError(f"{where}.categories: must be a list of class codes")
    transform = value.get("transform")
    if transform is not None:
        _check_transform(transform, f"{where}.transform")
    crs = value.get("crs")
    if crs is not None:
        from rasterio.crs import CRS
        from rasterio.errors import CRSError

        try:
            CRS.from_user_input(crs)
        except (CRSError, ValueError, TypeError):
            raise SpecError(f"{where}.crs: {crs!r} is not a CRS; write e.g. 'EPSG:32633'") from None
    for key in ("attribute", "layer"):
        if value.get(key) is not None and not isinstance(value[key], str):
            raise SpecError(f"{where}.{key}: must be a name (text), got {value[key]!r}")
    z_factor = value.get("z_factor", 1.0)
    if not _is_number(z_factor) or z_factor <= 0:
        raise SpecError(f"{where}.z_factor: must be a positive number, got {z_factor!r}")
    return InputSpec(name=name, path=str(absolute(path)), kind=kind, band=band, band_given="band" in value,
                     resampling=resampling,
                     nodata=nodata, crs=value.get("crs"), layer=value.get("layer"),
                     attribute=value.get("attribute"),
                     categories=tuple(categories) if categories is not None else None,
                     transform=transform, z_factor=float(z_factor))


def _grid(value: Any, inputs: dict[str, InputSpec]) -> GridSpec:
    if not isinstance(value, dict):
        raise SpecError("grid: must be {reference: NAME} or {crs: ..., resolution: ..., bounds: [...]}")
    _check_keys(value, _GRID_KEYS, "grid")
    if "reference" in value:
        ref = str(value["reference"])
        if ref not in inputs:
            raise SpecError(f"grid.reference: {ref!r} is not an input{closest(ref, inputs)}; inputs are {one_of(inputs)}")
        if inputs[ref].kind == "vector":
            raise SpecError(f"grid.reference: {ref!r} is a vector input; reference a raster, or give crs, resolution and bounds")
        return GridSpec(reference=ref)
    missing = [k for k in ("crs", "resolution", "bounds") if k not in value]
    if missing:
        raise SpecError(f"grid: missing {one_of(missing)}; give a reference input or all of crs, resolution, bounds")
    res = value["resolution"]
    res = [res, res] if _is_number(res) else res
    if not isinstance(res, (list, tuple)) or len(res) != 2 or not all(_is_number(r) for r in res):
        raise SpecError(f"grid.resolution: must be a cell size or [xres, yres] in CRS units, got {value['resolution']!r}")
    bounds = value["bounds"]
    if not isinstance(bounds, (list, tuple)) or len(bounds) != 4 or not all(_is_number(b) for b in bounds):
        raise SpecError(f"grid.bounds: must be [xmin, ymin, xmax, ymax] in CRS units, got {bounds!r}")
    (xres, yres), (xmin, ymin, xmax, ymax) = (abs(float(r)) for r in res), (float(b) for b in bounds)
    cells = ((xmax - xmin) / xres if xres else math.inf, (ymax - ymin) / yres if yres else math.inf)
    if not all(1 <= n <= MAX_GRID_CELLS for n in cells):
        raise SpecError(f"grid: resolution {value['resolution']!r} over bounds {list(bounds)!r} gives "
                        f"{cells[0]:.3g} x {cells[1]:.3g} cells; give a positive cell size smaller than the extent "
                        f"(xmin < xmax, ymin < ymax) and at most {MAX_GRID_CELLS:,} cells a side")
    return GridSpec(crs=str(value["crs"]), resolution=tuple(float(r) for r in res),
                    bounds=tuple(float(b) for b in bounds))


def _check_transform(value: Any, where: str) -> None:
    parse_transform(str(value), where)  # the name and, for clip(lo, hi), its percentiles


def _is_number(value: Any) -> bool:
    """A finite YAML int or float (YAML's true/false are bools, not numbers here; .nan and .inf
    are not numbers a parameter can take)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _default_resampling(kind: str) -> str:
    return "nearest" if kind == "categorical" else "bilinear"


def _scalar(raw: str) -> Any:
    try:
        value = load_yaml(raw, "parameter")
    except SpecError:
        return raw
    if isinstance(value, str):
        try:
            return float(value)  # YAML 1.1 reads exponents without a dot (1e-3) as text
        except ValueError:
            return value
    return value if isinstance(value, (int, float, bool)) else raw


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, str) and not _NAME_RE.match(value) else str(value)
