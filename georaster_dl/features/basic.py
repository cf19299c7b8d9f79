"""Features that pass an input through: its value, its categories one-hot, its distance grid."""

from __future__ import annotations

import numpy as np

from georaster_dl.features.registry import FeatureDef, KernelContext, register


def _value(values: np.ndarray, ctx: KernelContext) -> np.ndarray:
    return values


def _category_suffixes(params: dict, input_spec) -> list[str]:
    return [str(c) for c in input_spec.categories or ()]


register(FeatureDef(
    name="value", kernel=_value, units="input units",
    help="the input's own values (write just the input name, e.g. 'mag')",
    input_kinds=("continuous", "categorical", "vector")))

register(FeatureDef(
    name="onehot", kernel=_value, units="0/1",
    help="one band per category of a categorical input (or rasterised vector attribute); "
         "a category unseen when the model was trained is 0 in every band",
    input_kinds=("categorical", "vector"), band_suffixes=_category_suffixes, one_hot=True))

register(FeatureDef(
    name="distance", kernel=_value, units="CRS units (metres)",
    help="Euclidean distance from each cell centre to the nearest geometry of a vector input",
    input_kinds=("vector",), source="distance"))
