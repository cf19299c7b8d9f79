"""Train a landform classifier from a DEM's terrain features and labelled points or polygons."""

from __future__ import annotations

from qgis.core import (QgsProcessing, QgsProcessingParameterBoolean, QgsProcessingParameterFeatureSource,
                       QgsProcessingParameterField,
                       QgsProcessingParameterFile, QgsProcessingParameterRasterLayer,
                       QgsProcessingParameterString)

from georaster_dl_qgis import capabilities
from georaster_dl_qgis.algorithms.base import GeoRasterDLAlgorithm
from georaster_dl_qgis.algorithms.options import (add_training, enum, feature_list, rasters, training_args,
                                                  training_problem)
from georaster_dl_qgis.spec_builder import build_spec

DEFAULT_FEATURES = "slope,northness,eastness,profile_curvature,plan_curvature,tpi,tri,tpi:radius=10"


class TrainLandforms(GeoRasterDLAlgorithm):
    NAME = "train_landforms"
    DISPLAY_NAME = "Train landform classifier"
    GROUP, GROUP_ID = "Landforms", "landforms"
    HELP_SECTION = "training-and-evaluation"
    COMMAND = "train"
    TASK = "landform"
    HELP = ("Trains a dense neural network that maps terrain features of a DEM to landform classes "
            "(ridge, valley, plain, ...) given by labelled points or polygons. The model file keeps "
            "the feature recipe, so 'Classify landforms' can apply it to any DEM.")

    def define(self) -> None:
        self.add(QgsProcessingParameterRasterLayer("DEM", "DEM"),
                 "Elevation raster; the model names it 'dem'. Elevation itself is not a feature, only shape.")
        # Nothing ticked by default (QGIS reads an empty selection as the default): the defaults are typed.
        self.add(enum("FEATURES", "Terrain features", capabilities.terrain_features(capabilities.available()), [],
                      multiple=True, optional=True),
                 "Terrain features fed to the network, with their default parameters.")
        self.add(QgsProcessingParameterString("MORE", "More terrain features, with parameters", DEFAULT_FEATURES,
                                              optional=True),
                 "Comma-separated name:param=value entries, used with the ticked features or alone, e.g. "
                 "multi-scale TPI 'tpi:radius=10,tpi:radius=30'.")
        self.add(QgsProcessingParameterFeatureSource("LABELS", "Training labels",
                                                     [QgsProcessing.TypeVectorPoint, QgsProcessing.TypeVectorPolygon]),
                 "Points or polygons with a class attribute (selected features only, if so chosen).")
        # Optional only so that no field (such as fid) is pre-selected: problem() requires one.
        self.add(QgsProcessingParameterField("LABEL_FIELD", "Class field", parentLayerParameterName="LABELS",
                                             optional=True),
                 "Attribute holding the landform class (names or codes); required.")
        self.add(QgsProcessingParameterFile("SPEC", "Existing stack spec (instead of the DEM features)",
                                            optional=True, fileFilter="Stack spec (*.yaml *.yml *.json)"),
                 "Use this StackSpec instead of building one from the DEM and features above.", advanced=True)
        add_training(self)
        self.add(QgsProcessingParameterBoolean("CALIBRATE", "Calibrate probabilities (temperature scaling)", False),
                 "Fit a temperature on the cross-validation's out-of-fold probabilities and build it into the "
                 "model, so a class probability of 0.8 is right about 80% of the time; the report shows the "
                 "reliability diagram before and after. Needs cross-validation folds.", advanced=True)

    def problem(self, parameters, context):
        if not (self.parameterAsFile(parameters, "SPEC", context) or feature_list(self, parameters, context)):
            return "Choose at least one terrain feature, or type one under 'More terrain features'."
        if not self.parameterAsString(parameters, "LABEL_FIELD", context):
            return "Class field: choose the attribute holding the landform classes."
        if (self.parameterAsBool(parameters, "CALIBRATE", context)
                and not self.parameterAsInt(parameters, "CV_FOLDS", context)):
            return "Calibrate probabilities needs cross-validation folds (at least 2)."
        return training_problem(self, parameters, context)

    def arguments(self, parameters, context, feedback):
        spec = self.parameterAsFile(parameters, "SPEC", context)
        if not spec:
            dem = rasters([self.parameterAsRasterLayer(parameters, "DEM", context)], context, feedback)[0]
            spec = self.write_spec(build_spec(dem, feature_list(self, parameters, context), [], [], [],
                                              reference_name="dem", reference_as_feature=False), feedback)
        args, outputs = training_args(self, parameters, context)
        labels = self.labels_args(parameters, "LABELS", context, feedback)
        field = self.parameterAsString(parameters, "LABEL_FIELD", context)
        calibrate = ["--calibrate"] if self.parameterAsBool(parameters, "CALIBRATE", context) else []
        return ["--task", self.TASK, "--spec", spec, *labels, "--label-field", field, *args, *calibrate], outputs
