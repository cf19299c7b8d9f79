"""georaster_dl: deep-learning mapping for geoscience rasters.

Align a stack of rasters and vectors on one grid, derive terrain features window by
window, train dense networks for landform classes, prospectivity and continuous
targets, evaluate them with spatial cross-validation, and predict over rasters of
any size into styled GeoTIFFs.
"""

__version__ = "0.1.0"
