"""The grammar of per-input transforms in a StackSpec: ``log``, ``clip(1, 99)``, ...

Only the names and their arguments live here, at the spec's level, so that the spec can
check a transform without importing the model code that fits and applies it
(:mod:`georaster_dl.models.preprocess`, where each transform is described).
"""

from __future__ import annotations

from georaster_dl.errors import SpecError, closest, one_of

TRANSFORMS = ("none", "log", "log1p", "quantile", "normal", "clip", "robust", "auto")


def parse_transform(text: str, where: str) -> tuple[str, tuple[float, ...]]:
    """Split ``'clip(1, 99)'`` into ``('clip', (1.0, 99.0))``; check the name and arguments.

    Raises
    ------
    SpecError
        An unknown name, or arguments anywhere but two percentiles of ``clip``.

    Examples
    --------
    >>> parse_transform("clip(1, 99)", "inputs.mag.transform")
    ('clip', (1.0, 99.0))
    """
    name, _, rest = str(text).partition("(")
    name = name.strip()
    if name not in TRANSFORMS:
        raise SpecError(f"{where}: unknown transform {text!r}{closest(name, TRANSFORMS)}; valid: {one_of(TRANSFORMS)}")
    args: tuple[float, ...] = ()
    if rest:
        try:
            args = tuple(float(a) for a in rest.rstrip(")").split(",") if a.strip())
        except ValueError:
            args = (-1.0,)
        if name != "clip" or len(args) != 2 or not 0 <= args[0] < args[1] <= 100:
            raise SpecError(f"{where}: {text!r} is not valid; only clip takes arguments, two percentiles "
                            "such as clip(1, 99)")
    return name, args
