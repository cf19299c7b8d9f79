"""processing.run checks in QGIS's Python with the real backend; prints one JSON object.

Usage: /usr/bin/python3 processing_checks.py CONFIG.json  (PYTHONPATH must hold qgis_plugin/)
CONFIG keys (each optional):
  "layers": {"dem": PATH, "faults": PATH, "out": PATH}
      stack_rasters on a virtual (non-file) raster and a memory copy of a vector layer
  "cancel": {"algorithm": ID, "params": {...}, "out": PATH}
      processing.run with a feedback that cancels at the first progress report
  "loader": [PATH, ...]
      style each raster through the plugin's loader and describe its renderer
  "load": {"algorithm": ID, "params": {...}}
      processing.runAndLoadResults, as the toolbox runs it: describe the layers it added
  "run": {"algorithm": ID, "params": {...}}
      processing.run: its results, or the error it raised
  "choices": true
      every enum parameter's options, MODEL file filters and number defaults of the algorithms
      once the backend is set, and the keys of the capabilities cache in the profile
"""
import json
import sys
import time
from pathlib import Path

sys.path.append("/usr/share/qgis/python/plugins")
from qgis.core import (QgsApplication, QgsFeatureRequest, QgsProcessingException,  # noqa: E402
                       QgsProcessingFeedback, QgsProject, QgsRasterLayer, QgsVectorLayer)

app = QgsApplication([], False)
app.initQgis()
import processing  # noqa: E402
from processing.core.Processing import Processing  # noqa: E402
from processing.core.ProcessingConfig import ProcessingConfig  # noqa: E402

Processing.initialize()
import georaster_dl_qgis  # noqa: E402
from georaster_dl_qgis.loader import load_styled  # noqa: E402

plugin = georaster_dl_qgis.classFactory(None)
plugin.initProcessing()


class Recorder(QgsProcessingFeedback):
    """Keeps the log; with ``cancel_on_progress`` cancels at the first progress report,
    after noting which processes run the backend for ``marker`` (the output path)."""

    def __init__(self, marker=None):
        super().__init__()
        self.log, self.marker, self.pids, self.cancelled_at = [], marker, [], None

    def pushInfo(self, text):
        self.log.append(text)

    def pushCommandInfo(self, text):
        self.log.append(text)

    def setProgress(self, value):
        super().setProgress(value)
        if self.marker and self.cancelled_at is None:
            self.pids = processes_with(self.marker)
            self.cancelled_at = time.monotonic()
            self.cancel()


def processes_with(marker):
    """Live (non-zombie) processes whose command line contains ``marker``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode() \
                    and (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def check_layers(cfg):
    dem = QgsRasterLayer(cfg["dem"], "dem")
    e = dem.extent()
    uri = (f"?crs={dem.crs().authid()}&extent={e.xMinimum()},{e.yMinimum()},{e.xMaximum()},{e.yMaximum()}"
           f"&width={dem.width()}&height={dem.height()}&formula=%22dem@1%22&dem:uri={cfg['dem']}&dem:provider=gdal")
    virtual = QgsRasterLayer(uri, "virtual dem", "virtualraster")
    source = QgsVectorLayer(cfg["faults"], "faults")
    memory = source.materialize(QgsFeatureRequest())
    memory.setName("faults in memory")
    feedback = Recorder()
    result = processing.run("georaster_dl:stack_rasters", {"GRID": virtual, "VECTORS": [memory],
                                                          "OUTPUT": cfg["out"]}, feedback=feedback)
    return {"virtual_valid": virtual.isValid(), "memory_provider": memory.providerType(),
            "memory_features": memory.featureCount(), "output": result["OUTPUT"], "log": feedback.log}


def check_cancel(cfg):
    feedback = Recorder(marker=cfg["out"])
    try:
        processing.run(cfg["algorithm"], cfg["params"], feedback=feedback)
        error = None
    except QgsProcessingException as exc:
        error = str(exc)
    seconds = time.monotonic() - feedback.cancelled_at if feedback.cancelled_at else None
    time.sleep(0.3)  # SIGKILL reaches orphaned workers asynchronously
    left = sorted(p.name for p in Path(cfg["out"]).parent.iterdir() if p.name.startswith(Path(cfg["out"]).stem))
    return {"error": error, "seconds": seconds, "pids_at_cancel": feedback.pids,
            "alive_after": [p for p in feedback.pids if p in processes_with(cfg["out"])], "left": left}


def check_run(cfg):
    try:
        return processing.run(cfg["algorithm"], cfg["params"], feedback=Recorder())
    except QgsProcessingException as exc:
        return {"error": str(exc)}


def check_choices(_):
    from qgis.core import QgsProcessingParameterEnum, QgsProcessingParameterFile, QgsProcessingParameterNumber

    from georaster_dl_qgis import capabilities

    provider = QgsApplication.processingRegistry().providerById("georaster_dl")
    provider.refreshAlgorithms()  # as Processing's options dialog does once the backend is set
    found, described = {}, {}
    for alg in provider.algorithms():
        for p in alg.parameterDefinitions():
            described[f"{alg.name()}.{p.name()}"] = [p.description(), p.defaultValue(),
                                                    bool(p.flags() & p.FlagOptional)]
            if isinstance(p, QgsProcessingParameterEnum):
                found[f"{alg.name()}.{p.name()}"] = p.options()
            elif isinstance(p, QgsProcessingParameterFile) and p.name() == "MODEL":
                found[f"{alg.name()}.{p.name()}"] = p.fileFilter()
            elif isinstance(p, QgsProcessingParameterNumber):
                found[f"{alg.name()}.{p.name()}"] = p.defaultValue()
    cache = json.loads((Path(QgsApplication.qgisSettingsDirPath()) / capabilities.CACHE_FILE).read_text())
    return {"parameters": found, "described": described, "cache_keys": list(cache)}


def describe(layer):
    renderer = layer.renderer()
    if isinstance(layer, QgsVectorLayer):
        ranges = [r.label() for r in renderer.ranges()] if renderer.type() == "graduatedSymbol" else []
        return {"type": renderer.type(), "features": layer.featureCount(), "ranges": ranges,
                "attribute": renderer.classAttribute() if ranges else None}
    info = {"type": renderer.type(), "band_count": layer.bandCount()}
    if renderer.type() == "paletted":
        info["classes"] = {int(c.value): c.label for c in renderer.classes()}
    elif renderer.type() == "singlebandpseudocolor":
        info["range"] = [renderer.classificationMin(), renderer.classificationMax()]
    return info


def check_loader(paths):
    return {path: describe(load_styled(path)) for path in paths}


def check_load(cfg):
    processing.runAndLoadResults(cfg["algorithm"], cfg["params"])
    return {layer.source(): describe(layer) for layer in QgsProject.instance().mapLayers().values()}


config = json.loads(Path(sys.argv[1]).read_text())
ProcessingConfig.setSettingValue("GEORASTER_DL_COMMAND", config["backend"])
checks = {"layers": check_layers, "cancel": check_cancel, "loader": check_loader, "load": check_load,
          "choices": check_choices, "run": check_run}
print(json.dumps({name: check(config[name]) for name, check in checks.items() if name in config}))
