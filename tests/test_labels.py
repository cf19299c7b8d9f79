"""Reading labels: points, polygons and CSV rows placed on a grid, filters, and every bad input."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform as transform_points
from shapely.geometry import LineString, MultiPoint, Point, Polygon, box

from georaster_dl.errors import InputFileError, LabelError
from georaster_dl.grid import Grid
from georaster_dl.io.labels import LabelWarning, Labels, read_labels
from georaster_dl.sampledata import write_sample_data

X0, Y0, CELL = 500_000.0, 5_200_000.0, 30.0
GRID = Grid(CRS.from_epsg(32633), Affine(CELL, 0, X0, 0, -CELL, Y0), 100, 80)
CLONCURRY = Path(__file__).resolve().parents[2] / "shared" / "data" / "cloncurry"


def centre(row: int, col: int) -> tuple[float, float]:
    return X0 + (col + 0.5) * CELL, Y0 - (row + 0.5) * CELL


def lonlat(row: int, col: int) -> tuple[float, float]:
    lon, lat = transform_points("EPSG:32633", "EPSG:4326", *[[v] for v in centre(row, col)])
    return lon[0], lat[0]


def write(tmp_path: Path, name: str, frame: gpd.GeoDataFrame, **kwargs) -> Path:
    path = tmp_path / name
    frame.to_file(path, engine="pyogrio", **kwargs)
    return path


@pytest.fixture
def points_gpkg(tmp_path) -> Path:
    """Four points in EPSG:4326: three in cells (5, 7), (20, 40), (79, 99), one off the grid."""
    cells = [(5, 7), (20, 40), (79, 99)]
    geoms = [Point(lonlat(r, c)) for r, c in cells] + [Point(lonlat(-50, -50))]
    frame = gpd.GeoDataFrame({"kind": ["ridge", "valley", "ridge", "plain"], "grade": [1.5, 2.0, 0.5, 9.0],
                              "code": [1, 2, 1, 3]}, geometry=geoms, crs="EPSG:4326")
    return write(tmp_path, "points.gpkg", frame)


@pytest.fixture
def cloncurry() -> Path:
    if not (CLONCURRY / "IOCG_Deposits.shp").exists():
        pytest.skip(f"real data not found at {CLONCURRY}")
    return CLONCURRY


# --- points, polygons, CSV ------------------------------------------------------------

def test_points_are_reprojected_to_their_cells_and_outside_ones_counted(points_gpkg):
    with pytest.warns(LabelWarning, match="1 outside the grid"):
        labels = read_labels(points_gpkg, GRID)
    assert isinstance(labels, Labels) and len(labels) == 3
    assert labels.rows.tolist() == [5, 20, 79] and labels.cols.tolist() == [7, 40, 99]
    assert (labels.n_total, labels.n_outside, labels.values) == (4, 1, None)
    assert labels.summary == "points.gpkg: 3 of 4 labels on the grid (3 cells); 1 outside the grid"


def test_text_field_gives_values_and_sorted_class_names(points_gpkg):
    with pytest.warns(LabelWarning):
        labels = read_labels(points_gpkg, GRID, field="kind")
    assert labels.values.tolist() == ["ridge", "valley", "ridge"]
    assert labels.class_names == ("plain", "ridge", "valley")
    assert labels.field == "kind" and labels.feature_ids.tolist() == [0, 1, 2]


def test_numeric_field_keeps_numbers(points_gpkg):
    with pytest.warns(LabelWarning):
        labels = read_labels(points_gpkg, GRID, field="grade")
    assert labels.values.dtype.kind == "f" and labels.values.tolist() == [1.5, 2.0, 0.5]
    assert labels.class_names is None


def test_where_filters_before_placing(points_gpkg):
    labels = read_labels(points_gpkg, GRID, field="code", where="kind == 'ridge' and grade > 1")
    assert labels.rows.tolist() == [5] and labels.values.tolist() == [1]
    assert (labels.n_total, labels.n_filtered, labels.n_outside) == (1, 3, 0)


def test_polygon_labels_every_cell_whose_centre_is_inside(tmp_path):
    # Rows 10-19, cols 5-14 exactly, with a 2x2-cell hole; a sliver inside one cell; one half off the grid.
    outer = box(X0 + 5 * CELL, Y0 - 20 * CELL, X0 + 15 * CELL, Y0 - 10 * CELL)
    hole = box(X0 + 8 * CELL, Y0 - 14 * CELL, X0 + 10 * CELL, Y0 - 12 * CELL)
    sliver = box(X0 + 50.2 * CELL, Y0 - 30.8 * CELL, X0 + 50.4 * CELL, Y0 - 30.6 * CELL)
    edge = box(X0 - 10 * CELL, Y0 - 3 * CELL, X0 + 2 * CELL, Y0 - 1 * CELL)
    frame = gpd.GeoDataFrame({"cls": ["a", "b", "c"]},
                             geometry=[Polygon(outer.exterior, [hole.exterior]), sliver, edge], crs=GRID.crs)
    labels = read_labels(write(tmp_path, "areas.gpkg", frame), GRID, field="cls")
    cells = set(zip(labels.rows.tolist(), labels.cols.tolist(), labels.values.tolist()))
    in_hole = {(r, c, "a") for r in (12, 13) for c in (8, 9)}
    assert {x for x in cells if x[2] == "a"} == {(r, c, "a") for r in range(10, 20) for c in range(5, 15)} - in_hole
    assert {x for x in cells if x[2] == "b"} == {(30, 50, "b")}
    assert {x for x in cells if x[2] == "c"} == {(r, c, "c") for r in (1, 2) for c in (0, 1)}
    assert labels.n_outside == 0 and len(labels) == 96 + 1 + 4


def test_multipoints_label_one_cell_per_point(tmp_path):
    frame = gpd.GeoDataFrame({"v": [7]}, geometry=[MultiPoint([centre(1, 1), centre(2, 3)])], crs=GRID.crs)
    labels = read_labels(write(tmp_path, "mp.gpkg", frame), GRID, field="v")
    assert list(zip(labels.rows, labels.cols)) == [(1, 1), (2, 3)] and labels.values.tolist() == [7, 7]


def test_csv_with_lon_lat_columns_and_a_where_filter(tmp_path):
    rows = [(*lonlat(3, 4), 4.5, 10.0), (*lonlat(6, 7), 3.0, 8.0), (*lonlat(-40, 10), 5.1, 2.0)]
    path = tmp_path / "quakes.csv"
    pd.DataFrame(rows, columns=["Longitude", "Latitude", "mag", "depth"]).to_csv(path, index=False)
    with pytest.warns(LabelWarning, match="1 left out by --where, 1 outside the grid"):
        labels = read_labels(path, GRID, where="mag >= 4", field="depth")
    assert list(zip(labels.rows, labels.cols)) == [(3, 4)] and labels.values.tolist() == [10.0]
    assert (labels.n_total, labels.n_filtered, labels.n_outside) == (2, 1, 1)


def test_csv_with_x_y_columns_needs_and_uses_a_crs(tmp_path):
    path = tmp_path / "samples.csv"
    path.write_text("id;easting;northing;cu\n" + "".join(
        f"s{i};{x};{y};{cu}\n" for i, ((x, y), cu) in enumerate([(centre(2, 2), 5.5), (centre(9, 8), 7.0)])))
    with pytest.raises(LabelError, match="'easting'/'northing' need their CRS"):
        read_labels(path, GRID)
    labels = read_labels(path, GRID, crs="EPSG:32633", field="cu")
    assert list(zip(labels.rows, labels.cols)) == [(2, 2), (9, 8)] and labels.values.tolist() == [5.5, 7.0]


def test_csv_with_named_coordinate_columns_and_empty_coordinates(tmp_path):
    path = tmp_path / "custom.csv"
    (x, y) = centre(4, 4)
    path.write_text(f"E_coord,N_coord,label\n{x},{y},a\n,,b\n")
    with pytest.warns(LabelWarning, match="1 without a geometry skipped"):
        labels = read_labels(path, GRID, x_column="E_coord", y_column="N_coord", crs="EPSG:32633", field="label")
    assert labels.values.tolist() == ["a"] and labels.n_skipped == 1


def test_sample_data_labels_read_onto_the_sample_grid(tmp_path):
    paths = write_sample_data(tmp_path, size=128, seed=1)
    with rasterio.open(paths["truth_landform"]) as ds:
        grid = Grid(ds.crs, ds.transform, ds.width, ds.height)
        truth = ds.read(1)
    landforms = read_labels(paths["landforms"], grid, field="landform")
    codes = read_labels(paths["landforms"], grid, field="code")
    assert np.array_equal(truth[codes.rows, codes.cols], codes.values)
    assert landforms.class_names == ("lower slope", "plain", "ridge", "upper slope", "valley floor")
    with pytest.warns(LabelWarning, match="outside the grid"):
        quakes = read_labels(paths["epicentres"], grid, where="mag >= 3")
    assert quakes.n_outside > 0 and len(quakes) > 0


def test_geographic_grid_takes_projected_labels(points_gpkg):
    lon0, lat0 = lonlat(0, 0)
    geographic = Grid(CRS.from_epsg(4326), Affine(0.001, 0, lon0 - 0.01, 0, -0.001, lat0 + 0.01), 100, 100)
    with pytest.warns(LabelWarning):
        labels = read_labels(points_gpkg, geographic)
    assert len(labels) >= 1 and geographic.contains(labels.rows, labels.cols).all()


# --- the real Cloncurry deposits --------------------------------------------------------

def test_cloncurry_deposits_all_fall_on_the_evidence_grid(cloncurry):
    with rasterio.open(cloncurry / "Dist2Breccia.tif") as ds:
        grid = Grid(ds.crs, ds.transform, ds.width, ds.height)
    labels = read_labels(cloncurry / "IOCG_Deposits.shp", grid, field="Status")
    assert (len(labels), labels.n_outside) == (258, 0)
    assert labels.class_names == ("Deposit", "Occurrence")
    table = gpd.read_file(cloncurry / "IOCG_Deposits.shp")
    filtered = read_labels(cloncurry / "IOCG_Deposits.shp", grid, where="Status == 'Deposit' and Cu__Mt_ > 0")
    assert len(filtered) == int(((table.Status == "Deposit") & (table.Cu__Mt_ > 0)).sum()) > 0


# --- bad input ---------------------------------------------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        read_labels(tmp_path / "nope.gpkg", GRID)
    with pytest.raises(InputFileError, match="does not exist"):
        read_labels(tmp_path / "nope.csv", GRID)


def test_raster_is_not_a_vector(tmp_path):
    path = tmp_path / "grid.tif"
    with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=1, dtype="uint8",
                       crs=GRID.crs, transform=GRID.transform) as ds:
        ds.write(np.zeros((1, 4, 4), np.uint8))
    with pytest.raises(InputFileError, match="not a vector file"):
        read_labels(path, GRID)


def test_layer_without_features(tmp_path):
    frame = gpd.GeoDataFrame({"v": pd.Series([], dtype=float)}, geometry=gpd.GeoSeries([], crs=GRID.crs))
    with pytest.raises(InputFileError, match="has no features"):
        read_labels(write(tmp_path, "empty.gpkg", frame), GRID)


def test_null_geometries_are_skipped_and_all_null_is_refused(tmp_path):
    frame = gpd.GeoDataFrame({"v": [1, 2, 3]}, geometry=[Point(centre(1, 1)), None, None], crs=GRID.crs)
    with pytest.warns(LabelWarning, match="2 without a geometry skipped"):
        labels = read_labels(write(tmp_path, "some.gpkg", frame), GRID)
    assert (len(labels), labels.n_skipped) == (1, 2)
    frame = gpd.GeoDataFrame({"v": [1]}, geometry=gpd.GeoSeries([None], crs=GRID.crs))
    with pytest.raises(InputFileError, match="null or empty"):
        read_labels(write(tmp_path, "none.gpkg", frame), GRID)


def test_lines_are_refused(tmp_path):
    frame = gpd.GeoDataFrame({"v": [1]}, geometry=[LineString([centre(1, 1), centre(5, 5)])], crs=GRID.crs)
    with pytest.raises(LabelError, match="points or polygons.*'LineString'"):
        read_labels(write(tmp_path, "lines.gpkg", frame), GRID)


def test_csv_without_coordinate_columns_lists_its_columns(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("name,grade\na,1\n")
    with pytest.raises(LabelError, match="no coordinate columns \\(found 'name', 'grade'\\)"):
        read_labels(path, GRID)


def test_text_in_a_coordinate_column_names_the_line(tmp_path):
    path = tmp_path / "dms.csv"
    path.write_text("lon,lat\n15.1,46.9\n15°7'23\",46.9\n")
    with pytest.raises(LabelError, match="column 'lon' holds text .* on line 3"):
        read_labels(path, GRID)


def test_projected_numbers_in_lon_lat_columns_are_refused(tmp_path):
    path = tmp_path / "swapped.csv"
    path.write_text(f"lon,lat\n{X0},{Y0}\n")
    with pytest.raises(LabelError, match="not in degrees"):
        read_labels(path, GRID)


def test_missing_field_lists_the_valid_ones(points_gpkg):
    message = "no field 'knd' \\(did you mean 'kind'\\?\\); its fields are 'kind', 'grade', 'code'"
    with pytest.raises(LabelError, match=message):
        read_labels(points_gpkg, GRID, field="knd")


def test_field_of_dates_is_refused(tmp_path):
    frame = gpd.GeoDataFrame({"when": pd.to_datetime(["2024-01-02"]), "v": [1]},
                             geometry=[Point(centre(1, 1))], crs=GRID.crs)
    with pytest.raises(LabelError, match="'when'.*neither numbers nor text; use one of 'v'"):
        read_labels(write(tmp_path, "dated.gpkg", frame), GRID, field="when")


def test_empty_field_is_refused(tmp_path):
    frame = gpd.GeoDataFrame({"v": [None, None]}, geometry=[Point(centre(1, 1)), Point(centre(2, 2))], crs=GRID.crs)
    with pytest.raises(LabelError, match="'v' .* is empty"):
        read_labels(write(tmp_path, "blank.gpkg", frame), GRID, field="v")


@pytest.mark.parametrize("expression, message", [
    ("grade >", "not a valid expression"),
    ("__import__('os').system('true')", "is not allowed"),
    ("grde > 1", "no field 'grde' \\(did you mean 'grade'\\?\\)"),
    ("kind > 3", "holds text; quote the value"),
    ("grade == 'high'", "holds numbers"),
])
def test_bad_where_expressions(points_gpkg, expression, message):
    with pytest.raises(LabelError, match=message):
        read_labels(points_gpkg, GRID, where=expression)


def test_where_matching_nothing(points_gpkg):
    with pytest.raises(LabelError, match="no label .* matches --where 'grade > 100' \\(4 features"):
        read_labels(points_gpkg, GRID, where="grade > 100")


def test_every_label_outside_the_grid(tmp_path):
    frame = gpd.GeoDataFrame({"v": [1]}, geometry=[Point(centre(-500, -500))], crs=GRID.crs)
    with pytest.raises(LabelError, match="all 1 labels .* fall outside the grid.*check the labels' CRS"):
        read_labels(write(tmp_path, "far.gpkg", frame), GRID)


def test_labels_in_degrees_declared_as_utm_fall_outside(points_gpkg, tmp_path):
    with pytest.raises(LabelError, match="outside the grid"):
        read_labels(points_gpkg, GRID, crs="EPSG:32633")


@pytest.mark.parametrize("part", [".shx", ".dbf"])
def test_shapefile_missing_a_part(tmp_path, part):
    frame = gpd.GeoDataFrame({"v": [1]}, geometry=[Point(centre(1, 1))], crs=GRID.crs)
    path = write(tmp_path, "deps.shp", frame)
    path.with_suffix(part).unlink()
    with pytest.raises(InputFileError, match=f"missing its \\{part} file"):
        read_labels(path, GRID)


def test_shapefile_without_prj_needs_a_crs(tmp_path):
    frame = gpd.GeoDataFrame({"v": [1]}, geometry=[Point(centre(1, 1))], crs=GRID.crs)
    path = write(tmp_path, "deps.shp", frame)
    path.with_suffix(".prj").unlink()
    with pytest.raises(LabelError, match="has no CRS"):
        read_labels(path, GRID)
    assert len(read_labels(path, GRID, crs="EPSG:32633")) == 1


def test_several_layers_need_a_choice(tmp_path):
    path = tmp_path / "two.gpkg"
    frame = gpd.GeoDataFrame({"v": [1]}, geometry=[Point(centre(1, 1))], crs=GRID.crs)
    frame.to_file(path, layer="deposits", engine="pyogrio")
    frame.to_file(path, layer="prospects", engine="pyogrio")
    with pytest.raises(LabelError, match="has 2 layers \\('deposits', 'prospects'\\)"):
        read_labels(path, GRID)
    with pytest.raises(LabelError, match="no layer 'deposit' \\(did you mean 'deposits'\\?\\)"):
        read_labels(path, GRID, layer="deposit")
    assert len(read_labels(path, GRID, layer="prospects")) == 1
