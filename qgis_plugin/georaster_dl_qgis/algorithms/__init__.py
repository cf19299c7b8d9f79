"""The provider's algorithms, one per module, in toolbox order."""

from georaster_dl_qgis.algorithms.classify_landforms import ClassifyLandforms
from georaster_dl_qgis.algorithms.describe_model import DescribeModel
from georaster_dl_qgis.algorithms.evaluate import Evaluate
from georaster_dl_qgis.algorithms.geomorphons import Geomorphons
from georaster_dl_qgis.algorithms.map_prospectivity import MapProspectivity
from georaster_dl_qgis.algorithms.predict import Predict
from georaster_dl_qgis.algorithms.ranked_targets import RankedTargets
from georaster_dl_qgis.algorithms.stack_rasters import StackRasters
from georaster_dl_qgis.algorithms.terrain_features import TerrainFeatures
from georaster_dl_qgis.algorithms.train_landforms import TrainLandforms
from georaster_dl_qgis.algorithms.train_prospectivity import TrainProspectivity
from georaster_dl_qgis.algorithms.train_regression import TrainRegression

ALGORITHMS = (TerrainFeatures, Geomorphons, StackRasters, TrainLandforms, ClassifyLandforms,
              TrainProspectivity, MapProspectivity, RankedTargets, TrainRegression, Predict, Evaluate, DescribeModel)
