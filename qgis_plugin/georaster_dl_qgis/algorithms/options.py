"""Parameter groups shared by several algorithms, each with the CLI arguments it maps to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (QgsProcessing, QgsProcessingContext, QgsProcessingFeedback, QgsProcessingOutputRasterLayer,
                       QgsProcessingParameterBoolean, QgsProcessingParameterEnum, QgsProcessingParameterFile,
                       QgsProcessingParameterFileDestination, QgsProcessingParameterMultipleLayers,
                       QgsProcessingParameterNumber, QgsProcessingParameterRasterLayer,
                       QgsProcessingParameterString, QgsProcessingUtils)

from georaster_dl_qgis import capabilities, layers, spec_builder
from georaster_dl_qgis.loader import band_labels

Number = QgsProcessingParameterNumber
#: Folds offered by default: the help asks for spatial cross-validation, so the dialog does it.
DEFAULT_CV_FOLDS = 5
#: Default block side: this fraction of the grid's longer side (about 100 blocks for 5 folds).
BLOCK_FRACTION = 0.1


def enum(name: str, label: str, options: list[str], default: Any, multiple: bool = False,
         optional: bool = False) -> QgsProcessingParameterEnum:
    """An enum parameter whose values are the option strings (readable in qgis_process and models).

    The options come from the backend's capabilities; defaults it does not offer are dropped.
    """
    default = ([d for d in default if d in options] or None) if multiple else (default if default in options else None)
    return QgsProcessingParameterEnum(name, label, options, multiple, default, optional, True)


def name_value_pairs(text: str | None) -> dict[str, str]:
    """``'a=1; b = 2'`` (or one pair per line) -> ``{'a': '1', 'b': '2'}``.

    Examples
    --------
    >>> name_value_pairs("dem=/d/dem.tif; mag = /d/mag.tif")
    {'dem': '/d/dem.tif', 'mag': '/d/mag.tif'}
    """
    pairs = (p.split("=", 1) for p in (text or "").replace("\n", ";").split(";") if "=" in p)
    return {name.strip(): value.strip() for name, value in pairs}


def optional_args(parameters: dict, flags: dict[str, str]) -> list[str]:
    """``['--flag', 'value']`` for every parameter in ``flags`` that has a non-empty value."""
    args: list[str] = []
    for name, flag in flags.items():
        value = parameters.get(name)
        if value is not None and str(value).strip() != "":
            args += [flag, str(value).strip()]
    return args


def model_filter(doc: dict) -> str:
    """File filter of model files, e.g. ``GeoRaster DL model (*.gdl)``."""
    return f"GeoRaster DL model (*{capabilities.file_suffix(doc, 'model')})"


def add_model(alg, label: str, help_text: str, task: str = "") -> None:
    """The MODEL parameter: a model file the backend wrote (in the model designer, the training
    steps' model files are listed first, those of ``task`` before others: see :mod:`.model_widget`)."""
    parameter = QgsProcessingParameterFile("MODEL", label, fileFilter=model_filter(capabilities.available()))
    parameter.setMetadata({"widget_wrapper": {"class": "georaster_dl_qgis.algorithms.model_widget.ModelFileWidget",
                                              "task": task}})
    alg.add(parameter, help_text)


def feature_list(alg, parameters: dict, context, chosen: str = "FEATURES", more: str = "MORE") -> str:
    """The ticked features and the typed ones as one command-line feature list, for the backend
    to parse (the plugin has no feature grammar of its own)."""
    typed = (alg.parameterAsString(parameters, more, context) or "").strip().strip(",")
    return ",".join([*alg.parameterAsEnumStrings(parameters, chosen, context), *([typed] if typed else [])])


# --- evidence layers -> StackSpec -----------------------------------------------------------
def add_evidence(alg) -> None:
    """Reference grid, evidence/categorical rasters, vector layers, or an existing spec file."""
    alg.add(QgsProcessingParameterRasterLayer("GRID", "Reference grid raster (also used as evidence)",
                                              optional=True),
            "Raster whose CRS, cells and extent the stack uses (default: the first evidence raster); "
            "its values are a feature too.")
    alg.add(QgsProcessingParameterMultipleLayers("EVIDENCE", "Evidence rasters (continuous)",
                                                 QgsProcessing.TypeRaster, optional=True),
            "Continuous rasters (geophysics, geochemistry, distances...), resampled bilinearly.")
    alg.add(QgsProcessingParameterMultipleLayers("CATEGORICAL", "Categorical rasters",
                                                 QgsProcessing.TypeRaster, optional=True),
            "Class rasters (geology units...), resampled by nearest neighbour and one-hot encoded.")
    alg.add(QgsProcessingParameterString("NODATA", "Nodata overrides (layer=value; ...)", optional=True),
            "For rasters above whose nodata is missing or wrong: the layer's name, '=', and the value that marks "
            "missing cells (or none: every cell valid), e.g. 'FaultDensity=0; Magnetics=-99999'. A file declaring "
            "a nodata its cells cannot hold (a Byte band with -1) is read with none, with a warning.")
    alg.add(QgsProcessingParameterMultipleLayers("VECTORS", "Vector layers (distance grids)",
                                                 QgsProcessing.TypeVectorAnyGeometry, optional=True),
            "Faults, contacts, intrusions...: each becomes a grid of distance to its nearest feature.")
    alg.add(QgsProcessingParameterFile("SPEC", "Existing stack spec (YAML/JSON)", optional=True,
                                       fileFilter="Stack spec (*.yaml *.yml *.json)"),
            "A georaster-dl StackSpec file; when given, the layer choices above are ignored.")


def evidence_spec(alg, parameters: dict, context: QgsProcessingContext, feedback: QgsProcessingFeedback,
                  onehot: bool = True) -> str:
    """Path of the spec: the SPEC file, or one written from the chosen layers."""
    given = alg.parameterAsFile(parameters, "SPEC", context)
    if given:
        return given
    grid = alg.parameterAsRasterLayer(parameters, "GRID", context)
    nodata = name_value_pairs(alg.parameterAsString(parameters, "NODATA", context))
    grid_bands = rasters([grid], context, feedback, nodata) if grid else [None]
    spec = spec_builder.build_spec(
        reference=grid_bands[0],
        terrain="",
        continuous=grid_bands[1:] + rasters(alg.parameterAsLayerList(parameters, "EVIDENCE", context), context,
                                            feedback, nodata),
        categorical=rasters(alg.parameterAsLayerList(parameters, "CATEGORICAL", context), context, feedback,
                            nodata),
        vectors=vectors(alg.parameterAsLayerList(parameters, "VECTORS", context), context, feedback),
        onehot=onehot)
    return alg.write_spec(spec, feedback)


def evidence_problem(alg, parameters: dict, context: QgsProcessingContext) -> str:
    """Refuse a run with neither a spec file nor any raster layer, or a nodata override naming no layer."""
    if alg.parameterAsFile(parameters, "SPEC", context):
        return ""
    chosen = [layer for name in ("EVIDENCE", "CATEGORICAL")
              for layer in alg.parameterAsLayerList(parameters, name, context)]
    grid = alg.parameterAsRasterLayer(parameters, "GRID", context)
    chosen += [grid] if grid else []
    if not chosen:
        return "Choose evidence or categorical rasters (or a reference grid), or an existing stack spec file."
    names = sorted({layer.name() for layer in chosen})
    unknown = [n for n in name_value_pairs(alg.parameterAsString(parameters, "NODATA", context)) if n not in names]
    if unknown:
        return (f"Nodata overrides: no chosen raster layer is named '{unknown[0]}'; the rasters are "
                f"{', '.join(names)}.")
    return ""


def rasters(chosen: list, context, feedback, nodata: dict[str, str] | None = None) -> list[spec_builder.Source]:
    """Sources of raster layers, one per band (a multi-band layer gives every band, named by its
    description or ``<layer>_b<n>``), with the nodata override given for each layer's name."""
    sources = []
    for lyr in chosen:
        path, override = layers.raster_path(lyr, context, feedback), (nodata or {}).get(lyr.name(), "")
        if lyr.bandCount() == 1:
            sources.append(spec_builder.Source(lyr.name(), path, nodata=override))
            continue
        sources += [spec_builder.Source(label, path, nodata=override, band=band)
                    for band, label in enumerate(band_labels(path, lyr.name(), lyr.bandCount()), 1)]
    return sources


def vectors(chosen: list, context, feedback) -> list[spec_builder.Source]:
    return [spec_builder.Source(lyr.name(), *layers.vector_path_and_layer(lyr, context, feedback))
            for lyr in chosen]


# --- training -----------------------------------------------------------------------------
def add_training(alg) -> None:
    """Network, optimisation, cross-validation and output parameters of ``georaster-dl train``
    (choices and defaults from the backend's capabilities)."""
    doc = capabilities.available()
    default = doc.get("train_defaults") or {}
    alg.add(QgsProcessingParameterString("HIDDEN", "Hidden layer sizes",
                                         ",".join(map(str, default.get("hidden", [])))),
            "Units per dense hidden layer, comma-separated.")
    alg.add(enum("ACTIVATION", "Activation", capabilities.choices(doc, "activations"), default.get("activation")),
            "Activation of the hidden layers.", advanced=True)
    alg.add(Number("DROPOUT", "Dropout", Number.Double, default.get("dropout"), minValue=0.0, maxValue=0.9),
            "Fraction of units dropped at each training step (regularisation).", advanced=True)
    alg.add(Number("EPOCHS", "Epochs", Number.Integer, default.get("epochs"), minValue=1),
            "Passes over the training samples (with early-stopping patience above 0, the most).")
    alg.add(Number("PATIENCE", "Early-stopping patience (epochs)", Number.Integer, default.get("patience"),
                   minValue=0),
            "Stop after this many epochs without a better validation loss and keep the best weights "
            "(0: train all epochs).", advanced=True)
    alg.add(Number("BATCH_SIZE", "Batch size", Number.Integer, default.get("batch_size"), optional=True,
                   minValue=1),
            "Samples per step. Empty: sized to the samples (about 16 steps an epoch, 16-256 rows).", advanced=True)
    alg.add(enum("OPTIMIZER", "Optimizer", capabilities.choices(doc, "optimizers"), default.get("optimizer")),
            "Keras optimizer.", advanced=True)
    alg.add(Number("LEARNING_RATE", "Learning rate", Number.Double, default.get("learning_rate"), minValue=0.0),
            "Optimizer step size.", advanced=True)
    alg.add(Number("CV_FOLDS", "Spatial cross-validation folds", Number.Integer, DEFAULT_CV_FOLDS, minValue=0),
            "Number of spatial-block folds (2 or more) for honest metrics in the report (0: none).")
    alg.add(Number("CV_BLOCK_SIZE", "Cross-validation block size (map units)", Number.Double, optional=True,
                   minValue=0.0),
            "Side of the square blocks dealt to folds, in the grid's units, e.g. 3000 m: larger than "
            "the range over which neighbouring cells look alike. Empty: a tenth of the grid's longer side.")
    alg.add(Number("CV_BUFFER", "Cross-validation buffer (map units)", Number.Double, default.get("cv_buffer"),
                   minValue=0.0),
            "Training samples closer than this to a test fold are dropped, against leakage.", advanced=True)
    alg.add(Number("SEED", "Random seed", Number.Integer, optional=True), "Seed for reproducible training.",
            advanced=True)
    alg.add(Number("ENSEMBLE", "Ensemble members", Number.Integer, default.get("ensemble"), minValue=1),
            "Networks trained with different seeds; predictions give their mean and standard deviation.",
            advanced=True)
    alg.add(QgsProcessingParameterFileDestination("OUTPUT", "Model file", model_filter(doc)),
            "The trained model bundle (.gdl): network, stack spec and metadata. Choose where to keep it: "
            "a temporary file would be deleted when QGIS closes.")
    alg.add(QgsProcessingParameterFileDestination("METRICS", "Metrics (JSON)", "JSON files (*.json)",
                                                  optional=True, createByDefault=False),
            "Training and cross-validation metrics as JSON.")
    alg.add(QgsProcessingParameterFileDestination("REPORT", "Report (HTML)", "HTML files (*.html)",
                                                  optional=True),
            "HTML report with learning curves and (cross-validated) skill.")


def training_problem(alg, parameters: dict, context) -> str:
    """Refuse a temporary model file and cross-validation settings the backend would refuse."""
    model = alg.parameterAsFileOutput(parameters, "OUTPUT", context)
    if not model or Path(model).resolve().is_relative_to(Path(QgsProcessingUtils.tempFolder()).resolve()):
        return ("Model file: choose where to save the model (.gdl); a temporary file is deleted when QGIS "
                "closes, and the model with it.")
    folds = alg.parameterAsInt(parameters, "CV_FOLDS", context)
    if folds == 1:
        return "Spatial cross-validation needs at least 2 folds (or 0 for none)."
    if folds and not block_size(alg, parameters, context):
        return ("Set the cross-validation block size (map units) to use spatial cross-validation folds "
                "(it cannot be derived from a stack spec file).")
    return ""


def block_size(alg, parameters: dict, context) -> float:
    """CV_BLOCK_SIZE, else a tenth of the grid layer's longer side (2 significant digits); 0 without either."""
    given = parameters.get("CV_BLOCK_SIZE")
    if given not in (None, ""):
        return alg.parameterAsDouble(parameters, "CV_BLOCK_SIZE", context)
    layer = grid_layer(alg, parameters, context)
    if layer is None:
        return 0.0
    side = max(layer.extent().width(), layer.extent().height()) * BLOCK_FRACTION
    return float(f"{side:.2g}")


def grid_layer(alg, parameters: dict, context):
    """The raster layer whose grid a built spec uses (reference grid, DEM, else the first raster), or None."""
    if alg.parameterAsFile(parameters, "SPEC", context):
        return None
    for name in ("GRID", "DEM"):
        if alg.parameterDefinition(name) is not None and alg.parameterAsRasterLayer(parameters, name, context):
            return alg.parameterAsRasterLayer(parameters, name, context)
    chosen = [layer for name in ("EVIDENCE", "CATEGORICAL") if alg.parameterDefinition(name) is not None
              for layer in alg.parameterAsLayerList(parameters, name, context)]
    return chosen[0] if chosen else None


def training_args(alg, parameters: dict, context) -> tuple[list[str], dict[str, str]]:
    """CLI arguments of :func:`add_training` and the outputs they write."""
    outputs = {"OUTPUT": alg.parameterAsFileOutput(parameters, "OUTPUT", context)}
    for name in ("METRICS", "REPORT"):
        path = alg.parameterAsFileOutput(parameters, name, context)
        if path:
            outputs[name] = path
    args = ["--hidden", alg.parameterAsString(parameters, "HIDDEN", context).replace(" ", ""),
            "--activation", alg.parameterAsEnumString(parameters, "ACTIVATION", context),
            "--dropout", str(alg.parameterAsDouble(parameters, "DROPOUT", context)),
            "--epochs", str(alg.parameterAsInt(parameters, "EPOCHS", context)),
            "--patience", str(alg.parameterAsInt(parameters, "PATIENCE", context)),
            "--optimizer", alg.parameterAsEnumString(parameters, "OPTIMIZER", context),
            "--learning-rate", str(alg.parameterAsDouble(parameters, "LEARNING_RATE", context)),
            "--ensemble", str(alg.parameterAsInt(parameters, "ENSEMBLE", context))]
    folds = alg.parameterAsInt(parameters, "CV_FOLDS", context)
    if folds:
        args += ["--cv-folds", str(folds), "--cv-buffer", str(alg.parameterAsDouble(parameters, "CV_BUFFER", context))]
        args += ["--cv-block-size", str(block_size(alg, parameters, context))]
    args += optional_args(parameters, {"SEED": "--seed", "BATCH_SIZE": "--batch-size"})
    args += ["--out", outputs["OUTPUT"], "--overwrite"]
    args += [a for name, flag in (("METRICS", "--metrics"), ("REPORT", "--report")) if name in outputs
             for a in (flag, outputs[name])]
    return args, outputs


# --- prediction ---------------------------------------------------------------------------
def add_prediction(alg) -> None:
    """Engine parameters of ``georaster-dl predict``."""
    alg.add(QgsProcessingParameterString("INPUTS", "Replace model inputs (name=path; ...)", optional=True),
            "Predict on other rasters than the model was trained on, by input name, e.g. "
            "'dem=/data/dem_2024.tif; mag=/data/mag.tif'.", advanced=True)
    alg.add(Number("WINDOW", "Window size (cells)", Number.Integer, 1024, minValue=512),
            "Cells per side of the windows processed at once, a multiple of 512 (memory vs. overhead).",
            advanced=True)
    alg.add(Number("WORKERS", "Workers (0: automatic)", Number.Integer, 0, minValue=0),
            "Parallel windows; 0 lets the backend choose.", advanced=True)
    alg.add(enum("DEVICE", "Device", capabilities.choices(capabilities.available(), "devices"), "auto"),
            "Run the network on a GPU when one is available (auto).", advanced=True)
    alg.add(QgsProcessingParameterBoolean("EXPLAIN", "Explain (attribution per input)", False),
            "Also write <output>_explain.tif: per input feature, its Integrated Gradients attribution to the "
            "output (baseline output + sum of the bands = the prediction; baseline in the GDL_BASELINE tag), "
            "loaded with a diverging ramp. Costs several plain predictions.")
    alg.addOutput(QgsProcessingOutputRasterLayer("EXPLAIN", "Explanation (attribution per input)"))
    alg.add(QgsProcessingParameterBoolean("APPLICABILITY", "Area of applicability", False),
            "Also write <output>_applicability.tif: the dissimilarity index of each cell to the training rows "
            "and a mask of where the model can be trusted (1 inside, 0 outside; Meyer & Pebesma 2021). Needs a "
            "model trained by this version (with cross-validation for the CV-derived threshold).")
    alg.addOutput(QgsProcessingOutputRasterLayer("APPLICABILITY", "Area of applicability"))


def prediction_args(alg, parameters: dict, context, replacements: dict[str, str] | None = None) -> list[str]:
    """CLI arguments of :func:`add_prediction`, plus ``--input`` for each replaced input."""
    pairs = {**name_value_pairs(alg.parameterAsString(parameters, "INPUTS", context)), **(replacements or {})}
    args = [a for name, path in pairs.items() for a in ("--input", f"{name}={path}")]
    args += ["--window", str(alg.parameterAsInt(parameters, "WINDOW", context)),
             "--device", alg.parameterAsEnumString(parameters, "DEVICE", context)]
    workers = alg.parameterAsInt(parameters, "WORKERS", context)
    args += ["--explain"] if alg.parameterAsBool(parameters, "EXPLAIN", context) else []
    args += ["--applicability"] if alg.parameterAsBool(parameters, "APPLICABILITY", context) else []
    return args + (["--workers", str(workers)] if workers else [])
