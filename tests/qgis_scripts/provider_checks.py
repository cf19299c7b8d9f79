"""Load the plugin the way QGIS does and report on its provider, help texts and backend setting.

Usage: /usr/bin/python3 provider_checks.py BACKEND  (PYTHONPATH must hold qgis_plugin/)
Prints one JSON object.
"""
import json
import sys
from pathlib import Path

sys.path.append("/usr/share/qgis/python/plugins")
from qgis.core import QgsApplication  # noqa: E402

app = QgsApplication([], False)
app.initQgis()
from processing.core.Processing import Processing  # noqa: E402
from processing.core.ProcessingConfig import ProcessingConfig  # noqa: E402

Processing.initialize()
import georaster_dl_qgis  # noqa: E402
from georaster_dl_qgis import backend  # noqa: E402


def can_execute(setting):
    ProcessingConfig.setSettingValue(backend.SETTING, setting)
    return list(registry.algorithmById("georaster_dl:terrain_features").canExecute())


plugin = georaster_dl_qgis.classFactory(None)
plugin.initProcessing()
registry = QgsApplication.processingRegistry()
provider = registry.providerById("georaster_dl")
algorithms = {a.name(): {"display": a.displayName(), "group": a.group(), "help": a.shortHelpString(),
                         "help_url": a.helpUrl(), "svg_icon": a.svgIconPath(),
                         "undocumented": [p.name() for p in a.parameterDefinitions() if not p.help()]}
              for a in provider.algorithms()}
result = {
    "provider": [provider.id(), provider.name(), not provider.icon().isNull()],
    "algorithms": algorithms,
    "setting_group": ProcessingConfig.settings[backend.SETTING].group if backend.SETTING in ProcessingConfig.settings else None,
    "unset": can_execute(""),
    "executable": can_execute(sys.argv[1]),
    "venv_folder": can_execute(str(Path(sys.argv[1]).parent.parent)),
    "bad_path": can_execute(str(Path(__file__).parent)),  # a folder without georaster-dl
}
setting = ProcessingConfig.settings[backend.SETTING]


def validate(value):
    try:
        setting.validator(value)
        return ""
    except ValueError as exc:
        return str(exc)


home_venv = Path.home() / "georaster-dl"  # the help's ~/georaster-dl, here the backend's environment
if not home_venv.exists():
    home_venv.symlink_to(Path(sys.argv[1]).parent.parent)
result["tilde"] = [validate("~/georaster-dl"), can_execute("~/georaster-dl")]
result["tilde_missing"] = validate("~/no-such-georaster-dl")
plugin.unload()
result["after_unload"] = registry.providerById("georaster_dl") is None
print(json.dumps(result))
