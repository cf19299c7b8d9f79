"""GeoRasterDLAlgorithm: parameters in, georaster-dl arguments out, backend run, outputs styled.

Subclasses declare their parameters with :meth:`add` (help text beside each one)
and turn parameter values into CLI arguments in :meth:`arguments`; this class
finds the backend, runs it with progress and cancel, and styles raster outputs.
"""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

from qgis.core import (QgsProcessingAlgorithm, QgsProcessingContext, QgsProcessingException,
                       QgsProcessingFeedback, QgsProcessingParameterDefinition,
                       QgsProcessingParameterRasterDestination, QgsProcessingUtils)
from qgis.PyQt.QtGui import QIcon

from georaster_dl_qgis import backend, capabilities, layers, spec_builder
from georaster_dl_qgis.loader import StyleOnLoad
from georaster_dl_qgis.messages import in_dialog_words
from georaster_dl_qgis.runner import run_backend

ICON = Path(__file__).parent.parent / "icons" / "georaster_dl.svg"
METADATA = Path(__file__).parent.parent / "metadata.txt"


class GeoRasterDLAlgorithm(QgsProcessingAlgorithm):
    """Base of every GeoRaster DL algorithm (see the module docstring)."""

    NAME = ""
    DISPLAY_NAME = ""
    GROUP = ""
    GROUP_ID = ""
    HELP = ""
    COMMAND = ""  # georaster-dl sub-command
    HELP_SECTION = "qgis-plugin"  # anchor of the README section that explains the algorithm
    # Files the backend writes beside OUTPUT (output name -> key of the suffix added to OUTPUT's stem
    # in the capabilities' files), e.g. predict's OUT_probabilities.tif: removed on cancel,
    # returned and loaded when they exist.
    SIDE_OUTPUTS: dict[str, str] = {}

    def __init__(self) -> None:
        super().__init__()
        self._help: list[tuple[str, str]] = []

    # --- identity and help -------------------------------------------------------------
    def name(self) -> str:
        return self.NAME

    def displayName(self) -> str:  # noqa: N802 - QGIS API
        return self.DISPLAY_NAME

    def group(self) -> str:
        return self.GROUP

    def groupId(self) -> str:  # noqa: N802 - QGIS API
        return self.GROUP_ID

    def icon(self) -> QIcon:
        return QIcon(str(ICON))

    def svgIconPath(self) -> str:  # noqa: N802 - QGIS API (the model designer draws this one)
        return str(ICON)

    def helpUrl(self) -> str:  # noqa: N802 - QGIS API
        return f"{_homepage()}#{self.HELP_SECTION}"

    def createInstance(self) -> GeoRasterDLAlgorithm:  # noqa: N802 - QGIS API
        return type(self)()

    def shortHelpString(self) -> str:  # noqa: N802 - QGIS API
        items = "".join(f"<li><b>{label}</b>: {text}</li>" for label, text in self._help)
        return f"<p>{self.HELP}</p><ul>{items}</ul><p>Runs <code>georaster-dl {self.COMMAND}</code>.</p>"

    # --- parameters ----------------------------------------------------------------------
    def initAlgorithm(self, config: dict | None = None) -> None:  # noqa: N802 - QGIS API
        self.define()

    def define(self) -> None:
        """Declare parameters with :meth:`add`."""
        raise NotImplementedError

    def add(self, parameter: QgsProcessingParameterDefinition, help_text: str,
            advanced: bool = False) -> None:
        """Add ``parameter`` with its help text (tooltip and help panel)."""
        parameter.setHelp(help_text)
        if advanced:
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        self._help.append((parameter.description(), help_text))
        self.addParameter(parameter)

    def problem(self, parameters: dict[str, Any], context: QgsProcessingContext) -> str:
        """What is wrong with the parameter values beyond each one's own checks ('' if nothing)."""
        return ""

    def single_band_problem(self, parameters: dict[str, Any], context: QgsProcessingContext) -> str:
        """Refuse a multi-band DEM: terrain features read one band, and none is dropped silently."""
        for name in ("INPUT", "DEM"):
            definition = self.parameterDefinition(name)
            layer = self.parameterAsRasterLayer(parameters, name, context) if definition else None
            if layer is not None and layer.bandCount() > 1:
                return (f"{definition.description()}: {layer.name()} has {layer.bandCount()} bands; terrain "
                        "features need a one-band elevation raster (save the elevation band alone).")
        return ""

    def output_problem(self, parameters: dict[str, Any], context: QgsProcessingContext) -> str:
        """Refuse a raster output named for a format the backend does not write (x.gpkg)."""
        suffix = capabilities.file_suffix(capabilities.capabilities(), "raster")
        for p in self.destinationParameterDefinitions():
            if isinstance(p, QgsProcessingParameterRasterDestination):
                path = Path(self.parameterAsOutputLayer(parameters, p.name(), context) or "")
                if path.name and path.suffix.lower() != suffix:
                    return (f"{p.description()}: {path.name} is not a GeoTIFF, the only format the backend "
                            f"writes; name it {path.stem}{suffix}.")
        return ""

    def checkParameterValues(self, parameters: dict[str, Any],  # noqa: N802 - QGIS API
                             context: QgsProcessingContext) -> tuple[bool, str]:
        ready, message = self.canExecute()  # without a backend, its choice lists are empty: say why first
        if ready:
            message = (self.single_band_problem(parameters, context) or self.output_problem(parameters, context)
                       or self.problem(parameters, context))
        return (False, message) if message else super().checkParameterValues(parameters, context)

    def arguments(self, parameters: dict[str, Any], context: QgsProcessingContext,
                  feedback: QgsProcessingFeedback) -> tuple[list[str], dict[str, str]]:
        """Return (CLI arguments after ``georaster-dl``, {output parameter: path})."""
        raise NotImplementedError

    # --- running ---------------------------------------------------------------------------
    def canExecute(self) -> tuple[bool, str]:  # noqa: N802 - QGIS API (the toolbox asks first)
        try:
            capabilities.capabilities()  # finds the backend and checks it can describe itself
        except QgsProcessingException as exc:
            return False, str(exc)
        return True, ""

    def processAlgorithm(self, parameters: dict[str, Any], context: QgsProcessingContext,  # noqa: N802
                         feedback: QgsProcessingFeedback) -> dict[str, str]:
        command = backend.backend_command()
        files = capabilities.capabilities()["files"]
        try:
            args, outputs = self.arguments(parameters, context, feedback)
            side = {name: _sibling(outputs["OUTPUT"], files[key]) for name, key in self.SIDE_OUTPUTS.items()
                    if key in files}  # an older backend does not name (or write) every side file
            run_backend([*command, "--json-progress", self.COMMAND, *args], feedback,
                        [*outputs.values(), *side.values()], files)
        except QgsProcessingException as exc:  # the backend's message names its options: say the dialog's
            raise QgsProcessingException(in_dialog_words(str(exc), self)) from None
        except (ValueError, OSError) as exc:  # a backend that cannot start
            raise QgsProcessingException(f"{self.displayName()}: {exc}") from None
        for name, path in side.items():
            if Path(path).is_file():
                outputs[name] = path
                if context.willLoadLayerOnCompletion(outputs["OUTPUT"]):
                    context.addLayerToLoadOnCompletion(path, QgsProcessingContext.LayerDetails(
                        Path(path).stem, context.project(), name))
        for name, path in outputs.items():
            if path.lower().endswith((".tif", ".gpkg")) and context.willLoadLayerOnCompletion(path):
                context.layerToLoadOnCompletionDetails(path).setPostProcessor(StyleOnLoad.create())
        return outputs

    # --- helpers for subclasses -------------------------------------------------------------
    def raster_arg(self, parameters: dict, name: str, context: QgsProcessingContext,
                   feedback: QgsProcessingFeedback) -> str:
        """Path of the raster layer parameter ``name`` (exported first if not a file)."""
        return layers.raster_path(self.parameterAsRasterLayer(parameters, name, context), context, feedback)

    def labels_args(self, parameters: dict, name: str, context: QgsProcessingContext,
                    feedback: QgsProcessingFeedback) -> list[str]:
        """``--labels PATH [--layer NAME]`` for the features of source parameter ``name``.

        A GeoPackage layer passes its file and layer name; selections, filters and memory or
        other non-file layers are written to a temporary GeoPackage first.
        """
        path, layer = self.parameterAsCompatibleSourceLayerPathAndLayerName(
            parameters, name, context, layers.VECTOR_FORMATS, "gpkg", feedback)
        return ["--labels", path, *(["--layer", layer] if layer else [])]

    @staticmethod
    def write_spec(spec: dict, feedback: QgsProcessingFeedback) -> str:
        path = spec_builder.write_spec(spec, QgsProcessingUtils.generateTempFilename("spec.json"))
        feedback.pushInfo(f"Stack spec written to {path}")
        return path


def _sibling(path: str, suffix: str) -> str:
    """``/a/out.tif`` + ``_probabilities`` -> ``/a/out_probabilities.tif``."""
    p = Path(path)
    return str(p.with_name(f"{p.stem}{suffix}{p.suffix}"))


def _homepage() -> str:
    """The plugin's homepage as metadata.txt gives it."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(METADATA, encoding="utf-8")
    return parser.get("general", "homepage", fallback="")
