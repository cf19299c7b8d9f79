"""The feature registry: every feature declares its kernel, halo, parameters and units.

A feature is computed window by window. Its kernel receives the input's values over
the window grown by the feature's halo (``float64``, NaN where the input is nodata
or outside the raster) and returns the core window only (halo cropped), NaN where
the result is nodata. Because every kernel sees exactly the cells its stencil needs,
a tiled result equals the whole-raster result.

Register a feature with :func:`register`; look one up with :func:`resolve`.
"""

from __future__ import annotations

import math

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from georaster_dl.errors import FeatureError, closest, one_of

if TYPE_CHECKING:
    from georaster_dl.spec import FeatureRef, InputSpec

#: What a feature reads from its input: the raster values, or (vector inputs) distances.


@dataclass(frozen=True)
class Param:
    """One parameter of a feature."""

    name: str
    type: type
    default: Any
    help: str
    choices: tuple | None = None
    minimum: float | None = None

    def check(self, value: Any, feature: str) -> Any:
        """Validate and coerce ``value``; raise :class:`FeatureError` naming the parameter."""
        where = f"{feature}: parameter {self.name}"
        if self.type is bool:
            if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
                value = value.lower() in ("true", "yes", "1")
            if not isinstance(value, bool):
                raise FeatureError(f"{where} must be true or false, got {value!r}")
        elif self.type in (int, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise FeatureError(f"{where} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise FeatureError(f"{where} must be a finite number, got {value!r}")
            if self.type is int and float(value) != int(value):
                raise FeatureError(f"{where} must be a whole number, got {value!r}")
            value = self.type(value)
            if self.minimum is not None and value < self.minimum:
                raise FeatureError(f"{where} must be at least {self.minimum}, got {value!r}")
        else:
            value = str(value)
        if self.choices is not None and value not in self.choices:
            raise FeatureError(f"{where} must be one of {one_of(self.choices)}, got {value!r}"
                               f"{closest(str(value), [str(c) for c in self.choices])}")
        return value


@dataclass(frozen=True)
class KernelContext:
    """What a kernel knows besides the values of its window.

    Attributes
    ----------
    cellsize_x, cellsize_y : numpy.ndarray
        Cell width and height in metres for each row of the padded window (they vary by
        row on geographic grids).
    outside : numpy.ndarray or None
        Boolean mask over the padded window, True where a cell lies outside the raster
        (None when the whole padded window is inside).
    edges : {'nodata', 'extrapolate'}
        Outer-frame rule of the spec (see the README's terrain section).
    input : InputSpec
        The input the feature is computed from (categories, z-factor, ...).
    """

    cellsize_x: np.ndarray
    cellsize_y: np.ndarray
    outside: np.ndarray | None
    edges: str
    input: InputSpec


Kernel = Callable[..., np.ndarray]


@dataclass(frozen=True)
class FeatureDef:
    """A registered feature.

    ``kernel(values, ctx, **params)`` returns an array of shape (rows, cols) or
    (bands, rows, cols) for the core window. ``halo(params)`` gives the cells of context
    the kernel needs on each side. ``band_suffixes(params, input)`` names the bands of
    multi-band features. ``classes`` maps the codes of class-valued features to names
    (such features accept ``onehot=true``), ``colours`` them to RGB map colours.
    ``prepare(stack, ref)`` runs a first pass
    over the raster and returns parameters to pin (global statistics). ``check(stack,
    feature)`` refuses, before any pass, what the feature cannot compute on the stack's
    grid and inputs (a radius wider than the raster, an input without data).
    ``one_hot`` marks a feature whose values are the input's category codes, one band
    per category (``onehot``).
    """

    name: str
    kernel: Kernel
    help: str
    units: str = ""
    params: tuple[Param, ...] = ()
    halo: Callable[[dict], int] = lambda params: 0
    input_kinds: tuple[str, ...] = ("continuous",)
    source: str = "value"
    band_suffixes: Callable[[dict, InputSpec], list[str]] | None = None
    classes: dict[int, str] | None = None
    colours: dict[int, tuple[int, int, int]] | None = None
    prepare: Callable[..., dict] | None = None
    internal_params: tuple[str, ...] = field(default=())
    check: Callable[..., None] | None = None
    one_hot: bool = False


@dataclass(frozen=True)
class ResolvedFeature:
    """A feature reference checked against the registry, with every parameter filled in."""

    ref: FeatureRef
    definition: FeatureDef
    params: dict[str, Any]
    band_names: tuple[str, ...]
    halo: int
    #: For one-hot features, the code each band stands for (the bands are ``codes == code``).
    onehot_codes: tuple | None = None

    def compute(self, values: np.ndarray, ctx: KernelContext) -> np.ndarray:
        """Run the kernel on a padded window; returns (bands, rows, cols) float32."""
        rows, cols = values.shape[0] - 2 * self.halo, values.shape[1] - 2 * self.halo
        out = np.empty((len(self.band_names), rows, cols), np.float32)
        self.compute_into(values, ctx, out)
        return out

    def compute_into(self, values: np.ndarray, ctx: KernelContext, out: np.ndarray, compact: bool = False) -> None:
        """Run the kernel on a padded window, writing its bands into ``out`` (bands, rows, cols).

        One-hot bands are written in place: a categorical input with many classes would
        otherwise hold a second copy of all its bands for a moment. With ``compact`` a
        one-hot feature writes one band instead: each cell's position among
        :attr:`onehot_codes` (see :func:`code_positions` and :func:`compact_onehot`).
        """
        kernel_params = {k: v for k, v in self.params.items() if k != "onehot"}
        result = np.asarray(self.definition.kernel(values, ctx, **kernel_params))
        if self.onehot_codes is None:
            out[...] = result if result.ndim == 3 else result[None]
        elif compact:
            out[0] = code_positions(result if result.ndim == 2 else result[0], self.onehot_codes)
        else:
            onehot(result if result.ndim == 2 else result[0], list(self.onehot_codes), out=out)


_REGISTRY: dict[str, FeatureDef] = {}
_ONEHOT_PARAM = Param("onehot", bool, False, "one band per class (0/1) instead of class codes")


def register(definition: FeatureDef) -> FeatureDef:
    """Add a feature to the registry (its name must be new)."""
    if definition.name in _REGISTRY:
        raise ValueError(f"feature {definition.name!r} registered twice")
    _REGISTRY[definition.name] = definition
    return definition


def registered() -> dict[str, FeatureDef]:
    """All registered features by name (importing :mod:`georaster_dl.features` fills it)."""
    return dict(_REGISTRY)


def public_params(definition: FeatureDef) -> tuple[Param, ...]:
    """Parameters a user may set (``onehot`` added for class-valued features)."""
    params = tuple(p for p in definition.params if p.name not in definition.internal_params)
    return params + ((_ONEHOT_PARAM,) if definition.classes else ())


def resolve(ref: FeatureRef, input_spec: InputSpec) -> ResolvedFeature:
    """Check a feature reference and fill in its defaults.

    A bare input name (``mag``) is the input's own value ("value" feature).
    """
    name = ref.feature or "value"
    if name not in _REGISTRY:
        valid = [n for n, d in _REGISTRY.items() if input_spec.kind in d.input_kinds]
        raise FeatureError(f"feature {str(ref)!r}: unknown feature {name!r}{closest(name, valid)}; "
                           f"features for a {input_spec.kind} input: {one_of(sorted(valid))}")
    definition = _REGISTRY[name]
    if input_spec.kind not in definition.input_kinds:
        raise FeatureError(f"feature {str(ref)!r}: {name} needs a {' or '.join(definition.input_kinds)} input, "
                           f"but {input_spec.name!r} is {input_spec.kind}; pick another feature or fix the input's kind")
    allowed = {p.name: p for p in public_params(definition)}
    allowed.update({p: next(q for q in definition.params if q.name == p) for p in definition.internal_params})
    params: dict[str, Any] = {}
    for key, value in ref.params:
        if key not in allowed:
            raise FeatureError(f"feature {str(ref)!r}: unknown parameter {key!r}{closest(key, allowed)}; "
                               f"{name} takes {one_of(allowed) or 'no parameters'}")
        params[key] = allowed[key].check(value, str(ref))
    for p in allowed.values():
        params.setdefault(p.name, p.default)
    ref = ref.with_params({k: v for k, v in params.items() if v != allowed[k].default or k in dict(ref.params)})
    codes = None
    if definition.one_hot:
        codes = tuple(input_codes(input_spec))
    elif params.get("onehot") and definition.classes:
        codes = tuple(definition.classes)
    return ResolvedFeature(ref, definition, params, _band_names(ref, definition, params, input_spec),
                           int(definition.halo(params)), codes)


def input_codes(input_spec: InputSpec) -> list:
    """Raster codes of a categorical input's categories: the categories themselves, or
    1..k for the text categories of a vector attribute (rasterised as their position)."""
    categories = list(input_spec.categories or ())
    if categories and isinstance(categories[0], str):
        return list(range(1, len(categories) + 1))
    return categories


def _band_names(ref: FeatureRef, definition: FeatureDef, params: dict, input_spec: InputSpec) -> tuple[str, ...]:
    # Pinned internal parameters (global statistics) belong in the spec, not in band names.
    ref = ref.with_params({k: v for k, v in ref.params if k not in definition.internal_params})
    if params.get("onehot") and definition.classes:
        return tuple(f"{ref}:{label}" for label in definition.classes.values())
    if definition.band_suffixes is not None:
        return tuple(f"{ref}:{s}" for s in definition.band_suffixes(params, input_spec))
    return (str(ref),)


def onehot(codes: np.ndarray, categories: list, out: np.ndarray | None = None) -> np.ndarray:
    """One band per category: 1 where ``codes`` equals it, 0 elsewhere, NaN where codes are NaN.

    A code that is not among ``categories`` (a class unseen in training) gives 0 in every
    band: the network sees "none of the known classes" rather than a crash. Written into
    ``out`` (float32, (categories, rows, cols)) when given.
    """
    if out is None:
        out = np.empty((len(categories),) + codes.shape, dtype=np.float32)
    missing = np.isnan(codes)
    for i, c in enumerate(categories):
        np.equal(codes, c, out=out[i], casting="unsafe")
        out[i][missing] = np.nan
    return out


def code_positions(codes: np.ndarray, categories: tuple) -> np.ndarray:
    """Position of each cell's code among ``categories`` as float32: -1 for a code not among
    them, NaN where codes are NaN. Codes are compared as float64, as :func:`onehot` does,
    and positions (small integers) are exact in float32 where codes may not be."""
    values = np.asarray(codes, np.float64)
    out = np.full(values.shape, -1, np.float32)
    if categories:
        known = np.asarray(categories, np.float64)
        order = np.argsort(known, kind="stable")
        ordered = known[order]
        at = np.minimum(np.searchsorted(ordered, values), len(known) - 1)
        hit = ordered[at] == values
        out[hit] = order[at[hit]]
    out[np.isnan(values)] = np.nan
    return out


def compact_layout(features: list[ResolvedFeature]) -> list[tuple | None]:
    """Per column of compact rows (see :meth:`ResolvedFeature.compute_into`): the codes of a
    one-hot feature, whose column holds positions among them, or None for a plain band."""
    layout: list[tuple | None] = []
    for f in features:
        layout += [f.onehot_codes] if f.onehot_codes is not None else [None] * len(f.band_names)
    return layout


def compact_onehot(rows: np.ndarray, layout: list[tuple | None]) -> np.ndarray:
    """Compact feature rows from full ones: the 0/1 columns of each one-hot feature (a
    ``layout`` entry holding codes) become one column of positions, as
    :func:`code_positions` gives them (-1 where every column is 0: a code unseen in
    training); the other columns pass through. ``rows`` is float32 (n, bands) without nodata."""
    out = np.empty((rows.shape[0], len(layout)), np.float32)
    col = 0
    for j, codes in enumerate(layout):
        if codes is None:
            out[:, j] = rows[:, col]
            col += 1
        else:
            block = rows[:, col:col + len(codes)]
            out[:, j] = np.where(block.max(axis=1, initial=0) > 0, block.argmax(axis=1), -1) if len(codes) else -1
            col += len(codes)
    return out
