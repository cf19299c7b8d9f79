"""Vector inputs on a grid: exact distance grids, rasterised attributes, and bad files."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import UTM33, read_tiled
from rasterio import features as rio_features
from rasterio.windows import Window
from shapely.geometry import (GeometryCollection, LineString, MultiLineString, MultiPoint, MultiPolygon, Point,
                              Polygon)

from georaster_dl.errors import InputFileError, SpecError
from georaster_dl.grid import Grid
from georaster_dl.io.vectors import VectorSource, read_vector
from georaster_dl.spec import InputSpec

GRID = Grid.from_bounds(UTM33, 30, (500000, 4000000 - 30 * 70, 500000 + 30 * 90, 4000000))
WHOLE = Window(0, 0, GRID.width, GRID.height)


def vector(tmp_path, geoms, crs=UTM33, name="v.gpkg", **columns):
    path = tmp_path / name
    gpd.GeoDataFrame(columns, geometry=list(geoms), crs=crs).to_file(path)
    return path


def source(path, grid=GRID, **fields) -> VectorSource:
    src = VectorSource(InputSpec(name="v", path=str(path), kind="vector", **fields))
    src.attach(grid)
    return src


def brute_force_distance(geoms, grid=GRID, window=WHOLE) -> np.ndarray:
    rows, cols = np.mgrid[window.row_off:window.row_off + window.height, window.col_off:window.col_off + window.width]
    xs, ys = grid.xy(rows.ravel(), cols.ravel())
    points = shapely.points(xs, ys)
    dist = np.min([shapely.distance(points, g) for g in geoms], axis=0)
    return dist.reshape(int(window.height), int(window.width))


FAULTS = [LineString([(500100, 3999000), (501500, 3998200), (502600, 3999900)]),
          LineString([(499000, 3997000), (503000, 3998500)]),
          LineString([(501000, 4005000), (501010, 4005010)])]  # far outside: must not matter


def test_line_distance_grid_equals_brute_force_shapely_distances(tmp_path):
    got = source(vector(tmp_path, FAULTS)).read(WHOLE, "distance")
    np.testing.assert_allclose(got, brute_force_distance(FAULTS), rtol=1e-12, atol=1e-9)


def test_point_distance_grid_equals_brute_force(tmp_path):
    pts = [Point(500000 + 30 * i * 7.3, 4000000 - 30 * i * 5.1) for i in range(1, 12)]
    src = source(vector(tmp_path, pts))
    np.testing.assert_allclose(src.read(WHOLE, "distance"), brute_force_distance(pts), rtol=1e-12, atol=1e-9)


def test_polygon_distance_is_zero_inside_and_exact_outside(tmp_path):
    poly = Polygon([(500600, 3998600), (501500, 3998600), (501500, 3999500), (500600, 3999500)])
    got = source(vector(tmp_path, [poly, Point(502500, 3998000)])).read(WHOLE, "distance")
    np.testing.assert_allclose(got, brute_force_distance([poly, Point(502500, 3998000)]), rtol=1e-12, atol=1e-9)
    assert (got == 0).sum() == 30 * 30


def test_multi_part_polygon_with_hole_and_mixed_geometries_equal_brute_force(tmp_path):
    ring = Polygon([(500300, 3999700), (501700, 3999700), (501700, 3998300), (500300, 3998300)],
                   holes=[[(500700, 3999300), (501300, 3999300), (501300, 3998700), (500700, 3998700)]])
    geoms = [MultiPolygon([ring, Polygon([(502000, 3998000), (502300, 3998000), (502300, 3998300)])]),
             MultiLineString([[(500000, 3998100), (500500, 3998050)], [(502600, 3999900), (502650, 3999000)]]),
             GeometryCollection([Point(502100, 3999500), LineString([(501900, 3999800), (501950, 3999850)])]),
             MultiPoint([(500100, 3999900), (502500, 3998000)])]
    got = source(vector(tmp_path, geoms)).read(WHOLE, "distance")
    np.testing.assert_allclose(got, brute_force_distance(geoms), rtol=1e-12, atol=1e-9)
    r, c = GRID.rowcol(np.array([501000.0]), np.array([3999000.0]))
    assert got[r[0], c[0]] > 250  # in the hole: distance to the inner ring, not 0


def test_many_random_segments_over_windows_across_block_edges(tmp_path):
    rng = np.random.default_rng(11)
    starts = rng.uniform((499000, 3996900), (503700, 4001000), (300, 2))
    lines = [LineString([tuple(a), tuple(a + rng.normal(0, 150, 2))]) for a in starts]
    src = source(vector(tmp_path, lines))
    for window in (Window(-7, -5, 104, 81), Window(33, 17, 50, 40), Window(85, 60, 70, 70)):
        np.testing.assert_allclose(src.read(window, "distance"), brute_force_distance(lines, window=window),
                                   rtol=1e-12, atol=1e-9)


def test_vector_in_another_crs_is_reprojected_before_measuring(tmp_path):
    wgs = gpd.GeoSeries(FAULTS[:2], crs=UTM33).to_crs("EPSG:4326")
    got = source(vector(tmp_path, wgs.values, crs="EPSG:4326")).read(WHOLE, "distance")
    back = gpd.GeoSeries(wgs.values, crs="EPSG:4326").to_crs(UTM33).values
    np.testing.assert_allclose(got, brute_force_distance(back), rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(got, brute_force_distance(FAULTS[:2]), atol=0.01)


def test_distance_windows_and_halos_equal_the_whole_grid(tmp_path):
    src = source(vector(tmp_path, FAULTS))
    halo = 3
    padded = src.read(Window(-halo, -halo, GRID.width + 2 * halo, GRID.height + 2 * halo), "distance")
    np.testing.assert_array_equal(padded[halo:-halo, halo:-halo], src.read(WHOLE, "distance"))
    # Outside the grid the distance is still defined (a halo for a feature of the distance).
    np.testing.assert_allclose(padded, brute_force_distance(FAULTS, window=Window(-halo, -halo, GRID.width + 6,
                                                                                  GRID.height + 6)), atol=1e-9)


def test_numeric_attribute_is_rasterised_like_gdal_rasterize(tmp_path):
    polys = [Polygon([(500000, 4000000), (501300, 4000000), (501300, 3998500), (500000, 3998500)]),
             Polygon([(501300, 3999000), (502700, 3999000), (502100, 3997900)])]
    path = vector(tmp_path, polys, unit=[20, 35])
    src = source(path, attribute="unit")
    got = src.read(WHOLE)
    expected = rio_features.rasterize(zip(polys, [20.0, 35.0]), out_shape=GRID.shape, transform=GRID.transform,
                                      fill=np.nan, dtype="float64")
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(read_tiled(src.read, GRID.shape, (23, 19)), got)


def test_text_attribute_is_rasterised_as_position_in_the_sorted_labels(tmp_path):
    polys = [Polygon([(500000, 4000000), (501000, 4000000), (501000, 3999000)]),
             Polygon([(501500, 3999000), (502500, 3999000), (502500, 3998000)])]
    src = source(vector(tmp_path, polys, unit=["granite", "basalt"]), attribute="unit")
    assert src.category_values() == ["basalt", "granite"]
    got = src.read(WHOLE)
    assert set(np.unique(got[np.isfinite(got)])) == {1.0, 2.0}
    r, c = GRID.rowcol(np.array([502400]), np.array([3998900]))
    assert got[r[0], c[0]] == 1.0  # basalt


def test_value_of_vector_without_attribute_is_refused(tmp_path):
    src = source(vector(tmp_path, FAULTS))
    with pytest.raises(SpecError, match=r"inputs\.v: a vector input's value needs `attribute: FIELD`"):
        src.read(WHOLE)


def test_misspelt_attribute_names_the_closest_field(tmp_path):
    path = vector(tmp_path, FAULTS, name_="a b c".split())
    with pytest.raises(SpecError, match=r"inputs\.v\.attribute: .* has no field 'nmae_' \(did you mean 'name_'\?\)"):
        VectorSource(InputSpec(name="v", path=str(path), kind="vector", attribute="nmae_"))


def test_vector_without_crs_needs_crs_in_the_spec(tmp_path):
    path = vector(tmp_path, FAULTS[:1], name="nocrs.shp")
    path.with_suffix(".prj").unlink()  # (GeoJSON would not do: it is WGS84 by definition)
    with pytest.raises(SpecError, match=r"inputs\.v: .*nocrs\.shp has no CRS; add crs: EPSG:XXXX"):
        VectorSource(InputSpec(name="v", path=str(path), kind="vector"))
    got = source(path, crs=UTM33).read(WHOLE, "distance")
    np.testing.assert_allclose(got, brute_force_distance(FAULTS[:1]), atol=1e-9)


def test_vector_with_no_features_is_refused(tmp_path):
    path = tmp_path / "empty.gpkg"
    gpd.GeoDataFrame({"a": []}, geometry=[], crs=UTM33).to_file(path)
    with pytest.raises(InputFileError, match=r"empty\.gpkg has no features"):
        read_vector(str(path), where="inputs.v")


def test_vector_whose_geometries_are_all_empty_is_refused(tmp_path):
    path = vector(tmp_path, [LineString(), None], a=[1, 2])
    with pytest.raises(InputFileError, match="every geometry in .* is null or empty"):
        read_vector(str(path))


def test_missing_and_unreadable_vector_files_are_refused(tmp_path):
    with pytest.raises(InputFileError, match=r"inputs\.v: .*nope\.gpkg does not exist"):
        read_vector(str(tmp_path / "nope.gpkg"), where="inputs.v")
    (tmp_path / "junk.gpkg").write_text("not a geopackage")
    with pytest.raises(InputFileError, match=r"junk\.gpkg is not a vector file GDAL can read"):
        read_vector(str(tmp_path / "junk.gpkg"))


def test_shapefile_without_its_shx_is_refused_naming_the_missing_part(tmp_path):
    path = vector(tmp_path, FAULTS, name="faults.shp")
    path.with_suffix(".shx").unlink()
    with pytest.raises(InputFileError, match=r"faults\.shp is missing its \.shx file"):
        read_vector(str(path))


def test_a_table_without_geometries_is_refused_clearly(tmp_path):
    (tmp_path / "faults.csv").write_text("name,length\nf1,10\n")
    with pytest.raises(InputFileError, match="faults.csv has no geometries"):
        read_vector(str(tmp_path / "faults.csv"), where="inputs.faults")
