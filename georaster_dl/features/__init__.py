"""Features computed window by window from stack inputs.

Importing this package registers every built-in feature; see
:mod:`georaster_dl.features.registry` for the kernel contract.
"""

# Importing a feature module registers its features.
from georaster_dl.features import basic  # noqa: F401
from georaster_dl.features import curvature, focal, geomorphons, landform, local_relief, terrain  # noqa: F401
from georaster_dl.features.registry import FeatureDef, KernelContext, Param, register, registered, resolve

__all__ = ["FeatureDef", "KernelContext", "Param", "register", "registered", "resolve"]
