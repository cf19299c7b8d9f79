"""Same inputs, seed and options: the same bytes, through the CLI.

What tests/test_predict.py already holds (pixels equal for any window size, bytes equal
for any worker count or a LocalCluster) and tests/test_train.py (library ``train`` with
the same seed) is not repeated; here the CLI gives byte-identical model files, and
byte-identical maps and stacks whatever the window size and worker count.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import write_raster
from model_support import sample_area
from predict_support import make_bundle, synthetic_dem

from georaster_dl import progress
from georaster_dl.cli.main import main

#: Network options that train in a second or two on the sample area.
TINY = ["--epochs", "3", "--hidden", "8", "--patience", "0", "--batch-size", "64"]


def _run(*args: str) -> None:
    try:
        code = main(list(args))
    finally:
        progress.configure(False)
    assert code == 0, args


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _train(out: Path, seed: int) -> Path:
    paths = sample_area()
    out.mkdir()
    _run("train", "--task", "prospectivity", "--spec", str(paths["spec"]), "--labels", str(paths["deposits"]),
         "--ensemble", "2", "--cv-folds", "2", "--cv-block-size", "2500", "--seed", str(seed), *TINY,
         "--out", str(out / "model.gdl"), "--metrics", str(out / "metrics.json"))
    return out


def test_train_twice_gives_byte_identical_model_files(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # the creation time is the only clock in a model file
    a, b = _train(tmp_path / "a", seed=11), _train(tmp_path / "b", seed=11)
    assert _sha(a / "model.gdl") == _sha(b / "model.gdl")
    assert (a / "metrics.json").read_bytes() == (b / "metrics.json").read_bytes()
    other = _train(tmp_path / "c", seed=12)
    assert _sha(other / "model.gdl") != _sha(a / "model.gdl")  # the seed matters: the check is not vacuous


@pytest.fixture(scope="module")
def big_dem(tmp_path_factory) -> tuple[Path, Path]:
    """A spec on a grid of 3 x 3 windows of 512 (2 x 2 of 1024), and a landform ensemble on it."""
    d = tmp_path_factory.mktemp("determinism")
    write_raster(d / "dem.tif", synthetic_dem(1100, 1300, seed=2), nodata=np.nan)
    spec = {"inputs": {"dem": {"path": str(d / "dem.tif")}},
            "features": ["dem", "dem.slope", "dem.tpi(radius=3)"]}
    (d / "spec.yaml").write_text(yaml.safe_dump(spec))
    return d / "spec.yaml", make_bundle(spec, d / "landform.gdl", task="landform", members=2, n_classes=4)


def test_predicted_files_are_byte_identical_whatever_the_window_and_workers(big_dem, tmp_path):
    runs = []
    for window, workers in (("512", "1"), ("1024", "2"), ("1536", "1")):
        out = tmp_path / f"w{window}_{workers}"
        out.mkdir()
        _run("predict", str(big_dem[1]), str(out / "map.tif"), "--window", window, "--workers", workers)
        runs.append({p.name: _sha(p) for p in sorted(out.iterdir())})
    assert set(runs[0]) == {"map.tif", "map.qml", "map_probabilities.tif", "map_probabilities.qml"}
    assert runs[1] == runs[0] and runs[2] == runs[0]


def test_stack_files_are_byte_identical_whatever_the_window(big_dem, tmp_path):
    for window in ("512", "1024"):
        _run("stack", str(big_dem[0]), str(tmp_path / f"stack{window}.tif"), "--window", window)
    assert _sha(tmp_path / "stack512.tif") == _sha(tmp_path / "stack1024.tif")
