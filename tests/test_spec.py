"""StackSpec: the documented YAML form, its dict/JSON equivalents, and validation messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from georaster_dl.errors import SpecError
from georaster_dl.spec import FeatureRef, load_spec

ISSUE_EXAMPLE = """\
grid:
  reference: dem            # or: crs: EPSG:32633, resolution: 30, bounds: [xmin, ymin, xmax, ymax]
inputs:
  dem:     {path: dem.tif}
  mag:     {path: magnetics.tif, resampling: bilinear}
  geology: {path: geology.tif, kind: categorical}
  faults:  {path: faults.gpkg, kind: vector}
  legacy:  {path: old_grid.asc, crs: "EPSG:28992", nodata: -9999}   # overrides for files that lack them
features:
  - dem
  - dem.slope               # from the features issue
  - mag
  - geology.onehot
  - faults.distance
  - legacy
"""


def minimal(**changes) -> dict:
    doc = {"grid": {"reference": "dem"}, "inputs": {"dem": {"path": "dem.tif"}}, "features": ["dem"]}
    doc.update(changes)
    return doc


def test_issue_example_parses_with_paths_relative_to_spec_folder(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "spec.yaml").write_text(ISSUE_EXAMPLE)
    spec = load_spec(folder / "spec.yaml")
    assert spec.grid.reference == "dem"
    assert spec.inputs["dem"].path == str(folder / "dem.tif")
    assert spec.inputs["legacy"].path == str(folder / "old_grid.asc")
    assert spec.inputs["mag"].resampling == "bilinear"
    assert spec.inputs["geology"].kind == "categorical"
    assert spec.inputs["geology"].resampling == "nearest"
    assert spec.inputs["faults"].kind == "vector"
    assert spec.inputs["legacy"].crs == "EPSG:28992"
    assert spec.inputs["legacy"].nodata == -9999
    assert [str(f) for f in spec.features] == ["dem", "dem.slope", "mag", "geology.onehot", "faults.distance",
                                               "legacy"]


def test_spec_path_given_as_str_also_resolves_against_its_folder(tmp_path, monkeypatch):
    (tmp_path / "spec.yml").write_text(ISSUE_EXAMPLE)
    monkeypatch.chdir("/")
    assert load_spec(str(tmp_path / "spec.yml")).inputs["dem"].path == str(tmp_path / "dem.tif")


def test_dict_json_and_yaml_forms_are_equivalent(tmp_path):
    doc = yaml.safe_load(ISSUE_EXAMPLE)
    (tmp_path / "spec.json").write_text(json.dumps(doc))
    (tmp_path / "spec.yaml").write_text(ISSUE_EXAMPLE)
    from_json = load_spec(tmp_path / "spec.json")
    from_yaml = load_spec(tmp_path / "spec.yaml")
    assert from_json == from_yaml
    assert from_json.to_dict() == from_yaml.to_dict()


def test_dict_paths_resolve_against_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_spec(minimal()).inputs["dem"].path == str(tmp_path / "dem.tif")


def test_input_given_as_bare_path_string():
    spec = load_spec(minimal(inputs={"dem": "/data/dem.tif", "faults": "/data/faults.gpkg"}))
    assert spec.inputs["dem"].path == "/data/dem.tif"
    assert spec.inputs["faults"].kind == "vector"


def test_grid_given_by_crs_resolution_and_bounds():
    spec = load_spec(minimal(grid={"crs": "EPSG:32633", "resolution": 30, "bounds": [0, 0, 300, 150]}))
    assert spec.grid.resolution == (30.0, 30.0)
    assert spec.grid.bounds == (0.0, 0.0, 300.0, 150.0)
    assert spec.grid.reference is None


@pytest.mark.parametrize("doc, where, hint", [
    (minimal(feautres=["dem"]), "feautres", "features"),
    (minimal(grid={"referense": "dem"}), "referense", "reference"),
    (minimal(inputs={"dem": {"path": "dem.tif", "resampeling": "nearest"}}), "resampeling", "resampling"),
    (minimal(inputs={"dem": {"path": "dem.tif", "kind": "categorial"}}), "categorial", "categorical"),
    (minimal(inputs={"dem": {"path": "dem.tif", "resampling": "bilnear"}}), "bilnear", "bilinear"),
    (minimal(grid={"reference": "dme"}), "dme", "dem"),
    (minimal(features=["dme.slope"]), "dme", "dem"),
])
def test_misspelt_key_names_the_closest_valid_one(doc, where, hint):
    with pytest.raises(SpecError) as err:
        load_spec(doc)
    message = str(err.value)
    assert repr(where) in message and f"did you mean '{hint}'" in message


def test_bilinear_on_categorical_input_is_refused():
    doc = minimal(inputs={"dem": {"path": "dem.tif"},
                          "geology": {"path": "geology.tif", "kind": "categorical", "resampling": "bilinear"}})
    with pytest.raises(SpecError, match=r"inputs\.geology\.resampling: 'bilinear' would blend class codes"):
        load_spec(doc)


def test_mode_is_accepted_for_categorical_input():
    doc = minimal(inputs={"dem": {"path": "dem.tif"},
                          "geology": {"path": "geology.tif", "kind": "categorical", "resampling": "mode"}})
    assert load_spec(doc).inputs["geology"].resampling == "mode"


def test_python_object_tag_is_refused_by_safe_load(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "evil.yaml").write_text(
        f"grid: !!python/object/apply:os.system ['touch {marker}']\ninputs: {{dem: dem.tif}}\nfeatures: [dem]\n")
    with pytest.raises(SpecError, match="!!python/object are never loaded"):
        load_spec(tmp_path / "evil.yaml")
    assert not marker.exists()


def test_invalid_yaml_error_names_the_spec_file(tmp_path):
    (tmp_path / "spec.yaml").write_text("inputs: [unclosed\n")
    with pytest.raises(SpecError, match=str(tmp_path / "spec.yaml")):
        load_spec(tmp_path / "spec.yaml")


def test_invalid_yaml_error_names_the_spec_file_in_current_folder(tmp_path, monkeypatch):
    (tmp_path / "spec.yaml").write_text("inputs: [unclosed\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError, match="spec.yaml"):
        load_spec("spec.yaml")


def test_missing_spec_file_is_named(tmp_path):
    with pytest.raises(SpecError, match="nope.yaml does not exist"):
        load_spec(tmp_path / "nope.yaml")


@pytest.mark.parametrize("text, expected", [
    ("dem", FeatureRef("dem")),
    ("dem.slope", FeatureRef("dem", "slope")),
    ("dem.tpi(radius=10)", FeatureRef("dem", "tpi", (("radius", 10),))),
    ("dem.tpi( radius = 10 , shape=annulus )", FeatureRef("dem", "tpi", (("radius", 10), ("shape", "annulus")))),
    ("dem.x(a=1.5,b=true)", FeatureRef("dem", "x", (("a", 1.5), ("b", True)))),
])
def test_feature_syntax_parses_input_feature_and_typed_params(text, expected):
    assert FeatureRef.parse(text) == expected


def test_feature_reference_round_trips_through_its_string():
    ref = FeatureRef.parse("dem.tpi(shape=annulus,radius=10)")
    assert str(ref) == "dem.tpi(radius=10,shape=annulus)"
    assert FeatureRef.parse(str(ref)) == ref


@pytest.mark.parametrize("text", ["dem.", "dem.slope(", "1dem", "dem.tpi(radius)", "dem..slope"])
def test_unparsable_feature_is_refused(text):
    with pytest.raises(SpecError, match="features|parameter"):
        load_spec(minimal(features=[text]))


def test_duplicate_features_are_refused_even_with_params_in_another_order():
    with pytest.raises(SpecError, match="listed twice"):
        load_spec(minimal(features=["dem.tpi(radius=3,shape=disc)", "dem.tpi(shape=disc, radius=3)"]))


def test_feature_naming_an_unknown_input_is_refused():
    with pytest.raises(SpecError, match=r"'magnetics' names input 'magnetics'.*inputs are 'dem'"):
        load_spec(minimal(features=["dem", "magnetics"]))


def test_to_dict_and_load_round_trip(tmp_path):
    (tmp_path / "spec.yaml").write_text(ISSUE_EXAMPLE + "transforms: {mag: log}\nedges: extrapolate\n")
    spec = load_spec(tmp_path / "spec.yaml")
    again = load_spec(yaml.safe_load(spec.to_yaml()))
    assert again == load_spec(spec.to_dict())
    assert again.to_dict() == spec.to_dict()
    assert (again.inputs, again.features, again.grid, again.transforms, again.edges) == \
           (spec.inputs, spec.features, spec.grid, spec.transforms, spec.edges)


def test_round_trip_keeps_pinned_categories_and_nondefault_resampling():
    spec = load_spec(minimal(inputs={"dem": {"path": "/d/dem.tif", "resampling": "cubic", "nodata": "none"},
                                     "geo": {"path": "/d/g.tif", "kind": "categorical", "resampling": "mode",
                                             "categories": [1, 5, 9]}},
                             features=["dem", "geo.onehot"]))
    again = load_spec(spec.to_dict())
    assert again.inputs == spec.inputs
    assert again.inputs["geo"].categories == (1, 5, 9)
    assert again.inputs["dem"].nodata == "none"


def test_a_named_band_survives_the_round_trip_even_band_1():
    doc = {"inputs": {"a": {"path": "/d/a.tif", "band": 1}, "b": {"path": "/d/b.tif"}}, "features": ["a", "b"]}
    spec = load_spec(doc)
    assert spec.inputs["a"].band_given and not spec.inputs["b"].band_given
    assert spec.to_dict()["inputs"]["a"]["band"] == 1 and "band" not in spec.to_dict()["inputs"]["b"]
    assert load_spec(spec.to_dict()) == spec


def test_with_inputs_overrides_paths_by_name(tmp_path):
    spec = load_spec(minimal(inputs={"dem": {"path": "/a/dem.tif", "z_factor": 0.3048}}))
    moved = spec.with_inputs({"dem": str(tmp_path / "other.tif")})
    assert moved.inputs["dem"].path == str(tmp_path / "other.tif")
    assert moved.inputs["dem"].z_factor == 0.3048
    assert spec.inputs["dem"].path == "/a/dem.tif"


def test_with_inputs_refuses_unknown_name_with_hint():
    with pytest.raises(SpecError, match=r"no input named 'dme' \(did you mean 'dem'\?\)"):
        load_spec(minimal()).with_inputs({"dme": "x.tif"})


@pytest.mark.parametrize("grid, message", [
    ({"crs": "EPSG:32633", "resolution": 30}, "missing 'bounds'"),
    ({"crs": "EPSG:32633", "resolution": "thirty", "bounds": [0, 0, 1, 1]}, "grid.resolution"),
    ({"crs": "EPSG:32633", "resolution": 30, "bounds": [0, 0, 1]}, "grid.bounds"),
    ({"crs": "EPSG:32633", "resolution": 30, "bounds": [0, 0, 1, "x"]}, "grid.bounds"),
])
def test_bad_grid_is_refused_naming_the_key(grid, message):
    with pytest.raises(SpecError, match=message):
        load_spec(minimal(grid=grid))


@pytest.mark.parametrize("entry, message", [
    ({"path": "dem.tif", "band": 0}, r"inputs\.dem\.band"),
    ({"path": "dem.tif", "band": True}, r"inputs\.dem\.band"),
    ({"path": "dem.tif", "nodata": "missing"}, r"inputs\.dem\.nodata"),
    ({"path": "dem.tif", "nodata": True}, r"inputs\.dem\.nodata"),
    ({"path": "dem.tif", "z_factor": -1}, r"inputs\.dem\.z_factor"),
    ({"path": "dem.tif", "transform": "lgo"}, r"did you mean 'log'"),
    ({"band": 1}, r"inputs\.dem: give at least a path"),
])
def test_bad_input_entry_is_refused_naming_the_key(entry, message):
    with pytest.raises(SpecError, match=message):
        load_spec(minimal(inputs={"dem": entry}))


def test_default_grid_is_first_input_and_vector_reference_is_refused():
    assert load_spec({"inputs": {"dem": "dem.tif"}, "features": ["dem"]}).grid.reference == "dem"
    with pytest.raises(SpecError, match="'faults' is a vector input"):
        load_spec({"grid": {"reference": "faults"}, "inputs": {"faults": "f.gpkg", "dem": "dem.tif"},
                   "features": ["dem"]})


def test_spec_must_be_a_mapping():
    with pytest.raises(SpecError, match="must be a mapping"):
        load_spec("- just\n- a list\n")


def test_unknown_edges_mode_is_refused():
    with pytest.raises(SpecError, match="edges must be one of"):
        load_spec(minimal(edges="wrap"))


def test_relative_path_inside_spec_folder_subdirectory(tmp_path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "s.yaml").write_text("inputs: {dem: ../rasters/dem.tif}\nfeatures: [dem]\n")
    assert load_spec(tmp_path / "specs" / "s.yaml").inputs["dem"].path == str(tmp_path / "rasters" / "dem.tif")


def test_home_relative_path_is_expanded():
    assert load_spec(minimal(inputs={"dem": "~/dem.tif"})).inputs["dem"].path == str(Path.home() / "dem.tif")


def test_exponent_parameters_are_numbers_and_non_finite_ones_are_refused():
    from georaster_dl.errors import FeatureError
    from georaster_dl.features.registry import resolve

    spec = load_spec({"inputs": {"dem": "dem.tif"}, "features": ["dem.geomorphons(flat=1e-3)", "dem.tpi(radius=.inf)"]})
    geomorphons, tpi = spec.features
    assert resolve(geomorphons, spec.inputs["dem"]).params["flat"] == 0.001
    with pytest.raises(FeatureError, match="radius must be a finite number"):
        resolve(tpi, spec.inputs["dem"])


def test_a_long_one_line_spec_string_is_parsed_not_taken_for_a_path():
    doc = {"inputs": {f"input_{i}": f"raster_{i}.tif" for i in range(20)}, "features": ["input_0"]}
    assert len(json.dumps(doc)) > 300
    assert list(load_spec(json.dumps(doc)).inputs) == list(doc["inputs"])


@pytest.mark.parametrize("entry, message", [
    ({"path": "faults.gpkg", "crs": "EPSG:99999"}, "inputs.faults.crs: 'EPSG:99999' is not a CRS"),
    ({"path": "faults.gpkg", "attribute": 5}, "inputs.faults.attribute: must be a name"),
    ({"path": "faults.gpkg", "transform": "clip(99, 1)"}, "clip\\(99, 1\\)' is not valid"),
])
def test_bad_input_entries_are_refused_when_the_spec_loads(entry, message):
    with pytest.raises(SpecError, match=message):
        load_spec({"inputs": {"faults": entry}, "features": ["faults.distance"]})


def test_a_binary_file_given_as_spec_is_refused_clearly(tmp_path):
    (tmp_path / "dem.tif").write_bytes(b"II*\x00\xff\xfe\x00\x80")
    with pytest.raises(SpecError, match="dem.tif is not a spec"):
        load_spec(tmp_path / "dem.tif")


def test_an_inputs_features_may_be_given_in_the_command_line_syntax():
    spec = load_spec(minimal(features=["dem", {"dem": "slope, tpi:radius=10:shape=annulus,tpi(radius=5,shape=disc)"}]))
    assert [str(f) for f in spec.features] == ["dem", "dem.slope", "dem.tpi(radius=10,shape=annulus)",
                                               "dem.tpi(radius=5,shape=disc)"]
    assert spec.to_dict()["features"] == [str(f) for f in spec.features]  # bundles keep plain references


def test_a_mistyped_command_line_feature_list_is_refused_naming_the_entry():
    with pytest.raises(SpecError, match="cannot parse 'dem.tpi radius=10'"):
        load_spec(minimal(features=[{"dem": "slope,tpi radius=10"}]))
