"""``georaster-dl predict --task``: a front end mapping one kind of model refuses the others."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import write_raster
from georaster_dl.cli.main import main
from predict_support import make_bundle, synthetic_dem


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("task")
    write_raster(d / "dem.tif", synthetic_dem(60, 70), nodata=np.nan)
    spec = {"inputs": {"dem": {"path": str(d / "dem.tif")}}, "features": ["dem", "dem.slope"]}
    return {task: make_bundle(spec, d / f"{task}.gdl", task=task) for task in ("landform", "prospectivity")}


def test_a_model_of_another_task_is_refused_with_one_line_and_nothing_written(models, tmp_path, capsys):
    out = tmp_path / "map.tif"
    assert main(["predict", str(models["landform"]), str(out), "--task", "prospectivity"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: {models['landform']} is a landform model, not a prospectivity model: give a model "
                   "trained for prospectivity")
    assert list(tmp_path.iterdir()) == []


def test_a_model_of_the_expected_task_predicts(models, tmp_path, capsys):
    out = tmp_path / "map.tif"
    assert main(["predict", str(models["prospectivity"]), str(out), "--task", "prospectivity"]) == 0, \
        capsys.readouterr().err
    assert out.is_file()
