"""``georaster-dl info --capabilities --json``: the backend's vocabulary, read from where it is defined."""

from __future__ import annotations

import json

from click.testing import CliRunner

import georaster_dl
from georaster_dl.cli.main import cli
from georaster_dl.engine.device import DEVICES
from georaster_dl.features import registered
from georaster_dl.models.network import ACTIVATIONS, OPTIMIZERS
from georaster_dl.tasks import TASKS, get_task
from georaster_dl.transforms import TRANSFORMS


def published() -> dict:
    done = CliRunner().invoke(cli, ["info", "--capabilities", "--json"])
    assert done.exit_code == 0, done.output
    return json.loads(done.output)


def test_capabilities_publish_the_backends_choices_and_version():
    doc = published()
    assert doc["version"] == georaster_dl.__version__
    assert {t: d["losses"] for t, d in doc["tasks"].items()} == {t: list(get_task(t).losses) for t in TASKS}
    assert doc["activations"] == list(ACTIVATIONS) and doc["optimizers"] == list(OPTIMIZERS)
    assert doc["devices"] == list(DEVICES) and doc["transforms"] == list(TRANSFORMS)


def test_capabilities_list_every_feature_with_its_parameter_defaults_and_classes():
    doc = published()
    assert set(doc["features"]) == set(registered())
    tpi = {p["name"]: p for p in doc["features"]["tpi"]["params"]}
    assert tpi["radius"]["default"] == 1 and tpi["shape"]["choices"]
    geomorphons = doc["features"]["geomorphons"]
    assert len(geomorphons["classes"]) == 10 and geomorphons["classes"]["3"] == "ridge"
    assert "mean" not in {p["name"] for p in doc["features"]["tpi_std"]["params"]}  # pinned, not offered


def test_capabilities_name_the_files_runs_write():
    files = published()["files"]
    assert files == {"model": ".gdl", "raster": ".tif", "style": ".qml", "probabilities": "_probabilities",
                     "explain": "_explain", "applicability": "_applicability", "targets": ".gpkg",
                     "unfinished": [".partial", ".partial.journal", ".lock"]}


def test_info_needs_a_path_or_capabilities():
    for args in (["info"], ["info", "x.tif", "--capabilities"]):
        done = CliRunner().invoke(cli, args)
        assert done.exit_code == 2 and "give PATH, or --capabilities without PATH" in done.output
