"""Area of applicability (Meyer & Pebesma 2021): the threshold rule, the rows kept in the
model file, and ``predict --applicability`` on the sample data."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from model_support import sample_area
from predict_support import make_bundle, rewrite_bundle
from rasterio.windows import Window

from georaster_dl import progress
from georaster_dl.applicability import MAX_ROWS, ROWS_MEMBER, fit_applicability
from georaster_dl.cli.main import main
from georaster_dl.engine.outputs import applicability_output
from georaster_dl.errors import ModelFileError
from georaster_dl.models.bundle import load_bundle
from georaster_dl.models.describe import describe_bundle

#: Enough training for the sample model to rely on the magnetics (positive permutation importance).
TRAINING = ["--epochs", "20", "--hidden", "16", "--patience", "0", "--batch-size", "64"]


def _run(*args: str) -> int:
    try:
        return main(list(args))
    finally:
        progress.configure(False)


def _inside_share(path: Path) -> float:
    with rasterio.open(path) as ds:
        di, mask = ds.read(1), ds.read(2)
    valid = np.isfinite(mask)
    assert np.array_equal(valid, np.isfinite(di))
    assert set(np.unique(mask[valid])) <= {0.0, 1.0}
    return float(mask[valid].mean())


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """A prospectivity model cross-validated on three folds, and a copy of its sample data."""
    data = tmp_path_factory.mktemp("aoa_data")
    shutil.copytree(Path(sample_area()["spec"]).parent, data, dirs_exist_ok=True)
    model = data / "model.gdl"
    assert _run("train", "--task", "prospectivity", "--spec", str(data / "spec.yaml"), "--labels",
                str(data / "deposits.gpkg"), "--ensemble", "1", "--cv-folds", "3", "--cv-block-size", "2500",
                "--seed", "5", "--no-baselines", *TRAINING, "--out", str(model)) == 0
    return model, data


def test_threshold_is_the_upper_whisker_of_the_other_fold_distances_capped_at_the_largest():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    folds = np.repeat([0, 1, 2], 100)
    aoa = fit_applicability(x, {"a": [0], "b": [1, 2]}, {"a": 2.0, "b": 1.0}, folds, seed=0)
    z = (x - x.mean(axis=0)) / x.std(axis=0) * np.array([2.0, 1.0, 1.0])
    pairs = np.linalg.norm(z[:, None] - z[None], axis=2)
    assert aoa.mean_distance == pytest.approx(pairs.sum() / (300 * 299))
    other = np.where(folds[:, None] != folds[None], pairs, np.inf).min(axis=1) / aoa.mean_distance
    q1, q3 = np.percentile(other, [25, 75])
    assert aoa.threshold == pytest.approx(min(q3 + 1.5 * (q3 - q1), other.max()))
    assert aoa.weights.tolist() == [2.0, 1.0, 1.0] and "cv folds" in aoa.method
    di = aoa.scorer([None, None, None])
    np.testing.assert_allclose(di(x[:5]), 0, atol=1e-6)  # a training row is its own nearest neighbour (float32 rows)
    far = x[:1] + np.array([[0.0, 0.0, 50.0]])
    assert di(far)[0] > aoa.threshold


def test_the_search_by_category_equals_a_brute_force_search_over_the_0_1_columns():
    rng = np.random.default_rng(4)
    layout = [None, (10, 20, 30, 40), None, (1, 2)]

    def rows(n):  # compact (positions, -1: a code unseen in training) and full (0/1 columns)
        compact = np.c_[rng.normal(size=n), rng.integers(0, 4, n), rng.normal(size=n), rng.integers(0, 2, n)]
        full = np.c_[compact[:, 0], np.eye(4)[compact[:, 1].astype(int)], compact[:, 2],
                     np.eye(2)[compact[:, 3].astype(int)]]
        return compact.astype(np.float32), full

    _, train = rows(400)
    aoa = fit_applicability(train, {"a": [0], "g": [1, 2, 3, 4], "b": [5], "h": [6, 7]},
                            {"a": 1.0, "g": 0.5, "b": 0.2, "h": 0.1}, None, seed=0)
    compact, full = rows(3000)
    compact[:50, 1], full[:50, 1:5] = -1, 0  # unseen codes
    z = (full - aoa.mean) / aoa.std * aoa.weights
    kept = aoa.rows.astype(np.float64) * aoa.weights
    brute = np.sqrt(((z[:, None] - kept[None]) ** 2).sum(axis=2)).min(axis=1) / aoa.mean_distance
    np.testing.assert_allclose(aoa.scorer(layout)(compact), brute, rtol=1e-5, atol=1e-6)


def test_without_folds_or_importance_the_fallbacks_are_recorded():
    x = np.random.default_rng(1).normal(size=(200, 2))
    aoa = fit_applicability(x, {"a": [0], "b": [1]}, {"a": -0.1, "b": float("nan")}, None, seed=0)
    assert aoa.weights.tolist() == [1.0, 1.0] and aoa.weights_from.startswith("equal")
    assert aoa.method.startswith("leave one out")
    assert 0 < aoa.threshold < 10


def test_kept_rows_are_bounded_and_drawn_from_the_seed():
    x = np.random.default_rng(2).normal(size=(MAX_ROWS + 700, 2))
    a, b, c = (fit_applicability(x, {"a": [0, 1]}, None, None, seed=s) for s in (3, 3, 4))
    assert a.rows.shape == (MAX_ROWS, 2) and a.n_training == MAX_ROWS + 700
    assert np.array_equal(a.rows, b.rows) and not np.array_equal(a.rows, c.rows)


def test_model_file_keeps_the_rows_as_a_verified_member(trained):
    model, _ = trained
    bundle = load_bundle(model, networks=False)
    aoa = bundle.applicability
    assert aoa.rows.shape[1] == len(bundle.band_names) and 0 < aoa.threshold
    with zipfile.ZipFile(model) as z:
        doc = json.loads(z.read("model.json"))
    assert doc["applicability"]["threshold"] == aoa.threshold and doc["applicability"]["name"] == ROWS_MEMBER
    assert doc["applicability"]["weights_from"].startswith("permutation importance")
    assert f"applicability  threshold {aoa.threshold:.4g} on {len(aoa.rows)} training rows (cv folds" in \
        describe_bundle(model)
    tampered = rewrite_bundle(model, model.with_name("tampered.gdl"),
                              replace={ROWS_MEMBER: np.zeros_like(aoa.rows).tobytes()})
    with pytest.raises(ModelFileError, match="does not match its checksum"):
        load_bundle(tampered, networks=False)


def test_applicability_is_mostly_inside_on_the_training_inputs_and_drops_with_a_far_magnetic_grid(trained, tmp_path):
    model, data = trained
    assert _run("predict", str(model), str(tmp_path / "map.tif"), "--applicability") == 0
    out = tmp_path / "map_applicability.tif"
    inside = _inside_share(out)
    assert inside >= 0.8
    with rasterio.open(out) as ds:
        assert float(ds.tags()["GDL_AOA_THRESHOLD"]) == load_bundle(model, networks=False).applicability.threshold
        assert ds.descriptions == ("dissimilarity index", "area of applicability")
    with rasterio.open(tmp_path / "map.tif") as ds:  # nodata where the prediction has none
        assert np.array_equal(np.isnan(ds.read(1)), np.isnan(rasterio.open(out).read(2)))
    assert 'band="2"' in (tmp_path / "map_applicability.qml").read_text()

    with rasterio.open(data / "magnetics.tif") as ds:
        profile, mag = ds.profile, ds.read(1)
        span = np.ptp(mag[mag != ds.nodata])
    far = np.where(mag == profile["nodata"], mag, mag + 20 * span).astype(np.float32)
    with rasterio.open(tmp_path / "mag_far.tif", "w", **profile) as ds:
        ds.write(far, 1)
    assert _run("predict", str(model), str(tmp_path / "far.tif"), "--input", f"mag={tmp_path / 'mag_far.tif'}",
                "--applicability") == 0
    assert inside - _inside_share(tmp_path / "far_applicability.tif") >= 0.30


def test_tiled_applicability_equals_the_whole_window(trained):
    from georaster_dl.engine.worker import WindowPredictor

    model, _ = trained
    bundle = load_bundle(model, networks=False)
    files = [applicability_output(Path("x.tif"), bundle.applicability.threshold, "")]
    predictor = WindowPredictor(bundle, {}, applicability=True)
    try:
        whole = predictor(Window(0, 0, 256, 256), files)["applicability"]
        tiled = np.concatenate([np.concatenate([predictor(Window(c, r, 96 if c else 160, 96 if r else 160),
                                                          files)["applicability"] for c in (0, 160)], axis=2)
                                for r in (0, 160)], axis=1)
    finally:
        predictor.close()
    assert np.isfinite(whole).any()
    np.testing.assert_array_equal(tiled, whole)


def test_a_model_without_training_rows_is_refused_with_one_line_and_nothing_written(tmp_path, capsys):
    model = make_bundle(sample_area()["spec"], tmp_path / "old.gdl", hidden=(4,))
    out = tmp_path / "map.tif"
    assert _run("predict", str(model), str(out), "--applicability") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --applicability: ") and "retrain" in err and "\n" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.gdl"]


def test_rows_that_deflate_like_a_zip_bomb_are_stored_and_load(tmp_path):
    # one-hot columns of a map of many units repeat a few values: deflated, 5,000 rows of a few hundred
    # bands inflate more than MAX_RATIO times, which the loader refuses as a zip bomb
    from georaster_dl.applicability import Applicability
    from georaster_dl.stack import Stack

    bundle = load_bundle(make_bundle(sample_area()["spec"], tmp_path / "m.gdl", hidden=(4,)))
    n_bands = len(bundle.band_names)
    rows = np.zeros((2 * 2**20 // (4 * n_bands), n_bands), np.float32)  # 2 MiB of one value
    bundle.applicability = Applicability(rows, np.zeros(n_bands), np.ones(n_bands), np.ones(n_bands), 1.0, 0.5,
                                         "test", "equal", len(rows))
    with Stack(sample_area()["spec"]) as stack:
        x = stack.sample_cells(np.arange(0, 256, 4), np.arange(0, 256, 4))
    bundle.save(tmp_path / "rows.gdl", check_rows=x[np.isfinite(x).all(axis=1)])
    assert np.array_equal(load_bundle(tmp_path / "rows.gdl", networks=False).applicability.rows, rows)


def test_the_demo_trust_picture_shows_targets_the_strongest_attribution_and_the_mask(trained, tmp_path):
    """The demo's trust maps: one prediction with --explain and --applicability, targets naming
    their inputs from the explanation, and the PNG of the three panels."""
    import geopandas as gpd
    import matplotlib.image

    from georaster_dl.demo import write_trust_preview
    from georaster_dl.targets import find_targets

    model, _ = trained
    assert _run("predict", str(model), str(tmp_path / "p.tif"), "--explain", "--applicability") == 0
    targets = find_targets(tmp_path / "p.tif", tmp_path / "t.gpkg", top_area=5, explain=tmp_path / "p_explain.tif")
    polygons = gpd.read_file(targets["path"])
    with rasterio.open(tmp_path / "p_explain.tif") as ds:
        assert set(polygons["input_1"]) <= set(ds.descriptions)
    png = write_trust_preview(tmp_path / "p.tif", tmp_path / "p_explain.tif", tmp_path / "p_applicability.tif",
                              targets["path"], tmp_path / "trust.png")
    image = matplotlib.image.imread(png)
    assert image.shape[:2] == (400, 1200) and image[..., :3].std() > 0.1  # three panels of 5 x 5 in at 80 dpi
