"""Ranked targets from prospectivity maps: coverage, ranking, attributes, bad input."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from conftest import write_raster
from model_support import FAST, sample_area
from scipy import ndimage

from georaster_dl import targets
from georaster_dl.cli.main import main
from georaster_dl.prediction import predict
from georaster_dl.targets import find_targets
from georaster_dl.training import train


@pytest.fixture(scope="module")
def sample_map(tmp_path_factory):
    """The sample data's prospectivity map from a two-member ensemble (band 2: the SD)."""
    d = tmp_path_factory.mktemp("targets")
    paths = sample_area()
    train(paths["spec"], paths["deposits"], "prospectivity", seed=0, ensemble=2, out=d / "p.gdl",
          **{**FAST, "epochs": 20})
    return predict(d / "p.gdl", d / "prospectivity.tif")[0]


def score_map(path, array: np.ndarray, descriptions=("probability",)) -> str:
    write_raster(path, array.astype(np.float32), nodata=float("nan"))
    with rasterio.open(path, "r+") as ds:
        for i, d in enumerate(descriptions):
            ds.set_band_description(i + 1, d)
    return str(path)


def smooth(rows: int = 120, cols: int = 160, seed: int = 0) -> np.ndarray:
    return ndimage.gaussian_filter(np.random.default_rng(seed).random((rows, cols)), 3)


def test_sample_targets_cover_five_percent_and_rank_one_scores_highest(sample_map, tmp_path):
    result = find_targets(sample_map, tmp_path / "t.gpkg", top_area=5)
    frame = gpd.read_file(tmp_path / "t.gpkg", layer="targets")
    with rasterio.open(sample_map) as ds:
        prob = ds.read(1)
        assert frame.crs == ds.crs and ds.descriptions[1] == "probability sd"
        cell = abs(ds.res[0] * ds.res[1])
    n_valid = np.isfinite(prob).sum()
    assert 4.5 <= 100 * frame["cells"].sum() / n_valid <= 5.5
    assert result["n_target_cells"] == frame["cells"].sum() and result["n_targets"] == len(frame)
    assert list(frame["rank"]) == list(range(1, len(frame) + 1))
    assert frame["mean_probability"].iloc[0] == frame["mean_probability"].max()
    assert (np.diff(frame["mean_probability"]) <= 0).all()
    assert frame["area"].to_numpy() == pytest.approx(frame.geometry.area.to_numpy())
    assert frame["area"].to_numpy() == pytest.approx(frame["cells"].to_numpy() * cell)
    assert (frame["max_probability"] >= frame["mean_probability"]).all()
    assert ((frame["mean_sd"] > 0) & (frame["mean_sd"] < 0.5)).all()
    assert (tmp_path / "t.qml").read_text().count("<range ") == min(5, len(frame))


def test_the_threshold_is_the_exact_quantile_read_in_windows(tmp_path, monkeypatch):
    a = smooth()
    a[:7] = np.nan
    path = score_map(tmp_path / "m.tif", a)
    monkeypatch.setattr(targets, "WINDOW_CELLS", 1000)  # 6 rows a window: many windows
    result = find_targets(path, tmp_path / "t.gpkg", top_area=2.5)
    valid = np.sort(a[np.isfinite(a)].astype(np.float32))[::-1]
    k = int(np.ceil(valid.size * 0.025))
    assert result["threshold"] == valid[k - 1] and result["n_target_cells"] == k


def test_ties_at_the_threshold_are_all_kept_or_all_left_out_whichever_comes_closer(tmp_path, capsys):
    a = np.full((100, 100), 0.1, dtype=np.float32)  # a map of three scores, like weights of evidence
    a[:6] = 0.5
    a[50:53] = 0.9
    path = score_map(tmp_path / "m.tif", a)
    result = find_targets(path, tmp_path / "t.gpkg", top_area=5)
    assert result["n_target_cells"] == 300  # the 0.9 rows (3%): nearer 5% than 9% with the 0.5 rows
    assert "targets cover 3.00% of the valid area, not 5%" in capsys.readouterr().err
    result = find_targets(path, tmp_path / "t8.gpkg", top_area=8)
    assert result["n_target_cells"] == 900 and result["n_targets"] == 2
    result = find_targets(path, tmp_path / "t1.gpkg", top_area=1)  # the top score tied: never nothing
    assert result["n_target_cells"] == 300


def test_regions_are_eight_connected_and_statistics_exact(tmp_path):
    a = np.zeros((20, 20), dtype=np.float32)
    a[2, 2] = a[3, 3] = 0.9        # diagonal neighbours: one region
    a[10:12, 10:12] = [[0.5, 0.6], [0.7, 0.8]]
    a[18, 1] = 0.95                 # one cell alone, the best mean
    path = score_map(tmp_path / "m.tif", a)
    find_targets(path, tmp_path / "t.gpkg", top_area=100 * 7 / 400)
    frame = gpd.read_file(tmp_path / "t.gpkg")
    assert frame["cells"].tolist() == [1, 2, 4]
    assert frame["mean_probability"].tolist() == pytest.approx([0.95, 0.9, 0.65])
    assert frame["max_probability"].tolist() == pytest.approx([0.95, 0.9, 0.8])
    assert "mean_sd" not in frame and "input_1" not in frame
    find_targets(path, tmp_path / "big.gpkg", top_area=100 * 7 / 400, min_cells=2)
    assert gpd.read_file(tmp_path / "big.gpkg")["cells"].tolist() == [2, 4]


def test_explain_names_the_three_inputs_with_the_highest_mean_attribution(tmp_path):
    a = np.zeros((20, 20), dtype=np.float32)
    a[2:4, 2:4] = 0.9
    a[12:14, 12:14] = 0.8
    path = score_map(tmp_path / "m.tif", a)
    attribution = np.zeros((4, 20, 20), dtype=np.float32)
    attribution[0, 2:4, 2:4], attribution[1, 2:4, 2:4], attribution[2, 2:4, 2:4] = 0.3, 0.1, 0.2
    attribution[3, 12:14, 12:14], attribution[1, 12:14, 12:14] = 0.4, -0.2
    explain = score_map(tmp_path / "m_explain.tif", attribution, ("magnetics", "geology", "faults", "dem"))
    find_targets(path, tmp_path / "t.gpkg", top_area=2, explain=explain)
    frame = gpd.read_file(tmp_path / "t.gpkg")
    assert frame[["input_1", "input_2", "input_3"]].values.tolist() == [["magnetics", "faults", "geology"],
                                                                       ["dem", "magnetics", "faults"]]
    assert frame["attribution_1"].tolist() == pytest.approx([0.3, 0.4])


@pytest.mark.parametrize("case, message", [
    ("top0", "--top-area must be above 0 and at most 100"),
    ("top101", "--top-area must be above 0 and at most 100"),
    ("class", "is a class map"),
    ("missing", "does not exist"),
    ("explain_grid", "is on another grid"),
    ("suffix", "must be a GeoPackage (.gpkg)"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, case, message):
    path = score_map(tmp_path / "m.tif", smooth(40, 40))
    args = [path, str(tmp_path / "t.gpkg")]
    if case in ("top0", "top101"):
        args += ["--top-area", "0" if case == "top0" else "101"]
    elif case == "class":
        args[0] = str(write_raster(tmp_path / "classes.tif", np.ones((40, 40), dtype=np.uint8)))
    elif case == "missing":
        args[0] = str(tmp_path / "none.tif")
    elif case == "explain_grid":
        other = write_raster(tmp_path / "e.tif", np.zeros((40, 40), np.float32),
                             transform=Affine(30, 0, 500001, 0, -30, 4000000))
        args += ["--explain", str(other)]
    elif case == "suffix":
        args[1] = str(tmp_path / "t.shp")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["targets", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_failed_write_leaves_no_output(tmp_path, monkeypatch):
    path = score_map(tmp_path / "m.tif", smooth(40, 40))

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(targets, "publish", fail)
    with pytest.raises(OSError):
        find_targets(path, tmp_path / "t.gpkg")
    assert not (tmp_path / "t.gpkg").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".t.gpkg")]


def test_cli_writes_and_refuses_to_overwrite(tmp_path, capsys):
    path = score_map(tmp_path / "m.tif", smooth(40, 40))
    assert main(["targets", path, str(tmp_path / "t.gpkg"), "--top-area", "10"]) == 0
    assert "covering 10.00% of the valid area" in capsys.readouterr().err
    assert main(["targets", path, str(tmp_path / "t.gpkg")]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert main(["targets", path, str(tmp_path / "t.gpkg"), "--overwrite"]) == 0
