"""Outputs are written only where the user said: planted links are never followed, an output is
never an input or the model, and files a run did not make are the user's.

Every case runs the real CLI on real GeoTIFFs and a real model file, with a "victim" file
that a planted link points at; the victim must keep its bytes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import yaml
from conftest import ORIGIN, UTM33, write_raster
from predict_support import make_bundle
from shapely.geometry import Point

from georaster_dl import progress
from georaster_dl.cli.main import main
from georaster_dl.errors import OutputError
from georaster_dl.io.files import atomic_output, check_output_path, create_new, publish, write_atomic

SIZE = 40
TINY = ["--epochs", "1", "--hidden", "4", "--patience", "0", "--batch-size", "16"]
VICTIM = b"the user's precious file\n"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("safe")
    y, x = np.mgrid[0:SIZE, 0:SIZE] / 6.0
    write_raster(d / "dem.tif", (300 + 20 * np.sin(x) * np.cos(y)).astype(np.float32), nodata=-9999)
    (d / "spec.yaml").write_text(yaml.safe_dump({"grid": {"reference": "dem"}, "inputs": {"dem": "dem.tif"},
                                                 "features": ["dem", "dem.slope"]}))
    make_bundle(str(d / "spec.yaml"), d / "model.gdl", hidden=(4,))
    cells = [(r, c) for r in range(5, 35, 6) for c in range(5, 35, 6)]
    gpd.GeoDataFrame(geometry=[Point(ORIGIN.c + (c + 0.5) * ORIGIN.a, ORIGIN.f + (r + 0.5) * ORIGIN.e)
                               for r, c in cells], crs=UTM33).to_file(d / "labels.gpkg")
    return d


@pytest.fixture
def work(project, tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "work"
    shutil.copytree(project, folder)
    (folder / "victim.txt").write_bytes(VICTIM)
    monkeypatch.chdir(folder)
    return folder


def _run(args: list[str], capsys) -> tuple[int, str]:
    capsys.readouterr()
    try:
        code = main(args)
    finally:
        progress.configure(False)
    return code, capsys.readouterr().err


@pytest.mark.parametrize("planted", ["map.tif.partial", "map.tif.partial.journal", "map.tif.lock",
                                     "map.tif.partial.final"])
def test_predict_never_writes_through_a_planted_symlink(work, capsys, planted):
    (work / planted).symlink_to(work / "victim.txt")
    code, err = _run(["predict", str(work / "model.gdl"), str(work / "map.tif")], capsys)
    assert (work / "victim.txt").read_bytes() == VICTIM
    assert (work / planted).is_symlink()
    if planted.endswith(".final"):  # a name the run no longer uses: the run succeeds beside it
        assert code == 0, err
        assert not (work / "map.tif").is_symlink() and (work / "map.tif").is_file()
        return
    assert code == 2, err
    assert err.startswith("error: ") and planted in err and len(err.strip().splitlines()) == 1
    assert not (work / "map.tif").exists()
    assert sorted(p.name for p in work.iterdir()) == sorted(["dem.tif", "spec.yaml", "model.gdl", "labels.gpkg",
                                                            "victim.txt", planted])


def test_train_never_writes_through_a_planted_partial_symlink(work, capsys):
    (work / "m.gdl.partial").symlink_to(work / "victim.txt")
    code, err = _run(["train", "--task", "prospectivity", "--spec", "spec.yaml", "--labels", "labels.gpkg",
                      "--out", "m.gdl", "--metrics", "m.json", *TINY], capsys)
    assert code == 0, err
    assert (work / "victim.txt").read_bytes() == VICTIM
    assert (work / "m.gdl").is_file() and not (work / "m.gdl").is_symlink()
    assert (work / "m.gdl.partial").is_symlink()
    assert not [p.name for p in work.iterdir() if p.name.startswith(".")]  # no temporary file left


@pytest.mark.parametrize("case", ["override", "model", "hard_link", "pinned_input"])
def test_overwrite_never_replaces_an_input_or_the_model(work, project, capsys, case):
    before = {p: p.read_bytes() for folder in (work, project) for p in folder.iterdir() if p.is_file()}
    args = {"override": ["predict", "model.gdl", "dem.tif", "--input", "dem=dem.tif", "--overwrite"],
            "model": ["predict", "model.gdl", "model.gdl", "--overwrite"],
            "hard_link": ["predict", "model.gdl", "alias.tif", "--input", "dem=dem.tif", "--overwrite"],
            "pinned_input": ["predict", "model.gdl", str(project / "dem.tif"), "--overwrite"]}[case]
    if case == "hard_link":  # another name of the same file: caught by device and inode
        os.link(work / "dem.tif", work / "alias.tif")
        before[work / "alias.tif"] = before[work / "dem.tif"]
    code, err = _run(args, capsys)
    assert code == 2, err
    assert "is also an input of this run" in err and len(err.strip().splitlines()) == 1
    assert {p: p.read_bytes() for folder in (work, project) for p in folder.iterdir() if p.is_file()} == before


def test_stack_and_metrics_never_replace_an_input(work, capsys):
    code, err = _run(["stack", "spec.yaml", "dem.tif", "--overwrite"], capsys)
    assert code == 2 and "is also an input of this run (" in err, err
    with rasterio.open(work / "dem.tif") as ds:
        assert ds.count == 1


def test_an_unrelated_partial_file_is_the_users(work, capsys):
    (work / "map.tif.partial").write_bytes(VICTIM)
    for extra in ([], ["--overwrite"]):
        code, err = _run(["predict", "model.gdl", "map.tif", *extra], capsys)
        assert code == 2, err
        assert "map.tif.partial exists and was not made by this run; move or delete it" in err
    assert (work / "map.tif.partial").read_bytes() == VICTIM and not (work / "map.tif").exists()


def test_the_atomic_writer_refuses_links_and_publishes_only_over_regular_files(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_bytes(VICTIM)
    (tmp_path / "link.json").symlink_to(victim)
    with pytest.raises(OutputError, match="is a symbolic link; it is never replaced"):
        check_output_path(tmp_path / "link.json", overwrite=True)
    with pytest.raises(OutputError, match="became a symbolic link"):
        write_atomic(tmp_path / "link.json", "{}", overwrite=True)
    with pytest.raises(OutputError, match="exists and was not made by this run"):
        create_new(tmp_path / "link.json")
    assert victim.read_bytes() == VICTIM and (tmp_path / "link.json").is_symlink()
    with pytest.raises(ValueError), atomic_output(tmp_path / "out.json") as f:
        f.write(b"half")
        raise ValueError("stopped")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "victim.txt"]
    assert write_atomic(tmp_path / "out.json", "{}").read_text() == "{}"
    assert oct((tmp_path / "out.json").stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    tmp = tmp_path / "tmp"
    tmp.write_text("x")
    with pytest.raises(OutputError, match="appeared while the run went on"):
        publish(tmp, tmp_path / "out.json", overwrite=False)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
