"""The model file: round trip, deterministic bytes, and refusal of tampered, unsafe or too-new files."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import write_raster
from predict_support import format1_bundle, lambda_bundle, make_bundle, nested_bomb_bundle, rewrite_bundle, zip_bytes

from georaster_dl.errors import ModelFileError, OutputError
from georaster_dl.models import bundle as bundle_module
from georaster_dl.models.bundle import load_bundle
from georaster_dl.models.describe import describe_bundle
from georaster_dl.models.forward import Forward


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("bundle")
    rng = np.random.default_rng(0)
    write_raster(d / "a.tif", rng.normal(100, 20, (64, 64)).astype(np.float32))
    write_raster(d / "b.tif", rng.lognormal(0, 1, (64, 64)).astype(np.float32))
    return {"grid": {"reference": "a"}, "inputs": {"a": {"path": str(d / "a.tif")}, "b": {"path": str(d / "b.tif")}},
            "features": ["a", "b"]}


@pytest.fixture(scope="module")
def saved(spec, tmp_path_factory) -> Path:
    return make_bundle(spec, tmp_path_factory.mktemp("saved") / "model.gdl", members=2)


def _rows(n: int = 500) -> np.ndarray:
    rng = np.random.default_rng(1)
    return np.c_[rng.normal(100, 20, n), rng.lognormal(0, 1, n)].astype(np.float32)


def test_saved_and_loaded_bundle_predicts_identically(spec, tmp_path):
    from georaster_dl.stack import Stack
    from georaster_dl.models.bundle import ModelBundle
    from georaster_dl.models.network import NetworkOptions, build_network
    from georaster_dl.models.preprocess import Preprocessor

    with Stack(spec) as stack:
        x = _rows()
        pre = Preprocessor.fit(x, stack.band_names, stack.band_kinds, stack.band_transforms)
        opts = NetworkOptions(hidden=(8,)).validated("regression")
        original = ModelBundle("regression", stack.spec, stack.band_names, stack.band_kinds, pre,
                               [build_network(2, 1, "regression", opts, s) for s in (1, 2)],
                               target={"mean": 50.0, "std": 4.0}, value_range=(40.0, 60.0))
    path = original.save(tmp_path / "m.gdl")
    loaded = load_bundle(path)
    for a, b in zip(Forward(original)(x), Forward(loaded)(x)):
        np.testing.assert_array_equal(a, b)
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (loaded.task, loaded.n_members, loaded.value_range, loaded.band_names) == (
        "regression", 2, (40.0, 60.0), ["a", "b"])
    assert loaded.spec.to_dict() == original.spec.to_dict()
    assert not Path(str(path) + ".partial").exists()


def test_forward_gives_mean_and_sd_of_members_in_target_units(saved):
    bundle = load_bundle(saved)
    x = _rows()
    mean, sd = Forward(bundle)(x)
    members = np.stack([net(bundle.preprocess.apply(x)).numpy() for net in bundle.networks])
    np.testing.assert_allclose(mean, members.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(sd, members.std(axis=0), rtol=1e-4, atol=1e-6)
    small = Forward(bundle, batch_rows=7)(x)
    np.testing.assert_allclose(small[0], mean, rtol=1e-6)
    empty = Forward(bundle)(np.empty((0, 2), np.float32))
    assert empty[0].shape == (0, 1) and empty[1].shape == (0, 1)
    with pytest.raises(ValueError, match="rows of 2 bands"):
        Forward(bundle)(np.zeros((3, 5), np.float32))


def test_same_model_gives_byte_identical_files(spec, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    a = make_bundle(spec, tmp_path / "a.gdl", task="landform", members=2, seed=3)
    b = make_bundle(spec, tmp_path / "b.gdl", task="landform", members=2, seed=3)
    assert a.read_bytes() == b.read_bytes()
    assert load_bundle(a).created == "2023-11-14T22:13:20+00:00"


def test_tampered_network_is_refused(saved, tmp_path):
    with zipfile.ZipFile(saved) as z:
        data = bytearray(z.read("networks/member_01.keras"))
    data[len(data) // 2] ^= 0xFF
    bad = rewrite_bundle(saved, tmp_path / "bad.gdl", replace={"networks/member_01.keras": bytes(data)})
    with pytest.raises(ModelFileError, match="member_01.keras does not match its checksum"):
        load_bundle(bad)


def test_edited_model_json_is_refused(saved, tmp_path):
    with zipfile.ZipFile(saved) as z:
        doc = json.loads(z.read("model.json"))
    doc["preprocess"]["bands"][0]["mean"] += 1.0
    bad = rewrite_bundle(saved, tmp_path / "bad.gdl", replace={"model.json": json.dumps(doc).encode()})
    with pytest.raises(ModelFileError, match="model.json does not match its checksum"):
        load_bundle(bad)


@pytest.mark.parametrize("name, message", [
    ("../evil.keras", "member name '../evil.keras' is not allowed"),
    ("/etc/evil", "member name '/etc/evil' is not allowed"),
    ("networks/member_09.keras", "unexpected member networks/member_09.keras"),
])
def test_unexpected_or_unsafe_member_names_are_refused(saved, tmp_path, name, message):
    bad = rewrite_bundle(saved, tmp_path / "bad.gdl", add={name: b"x"})
    with pytest.raises(ModelFileError, match=message.replace(".", r"\.")):
        load_bundle(bad)


def test_newer_format_version_gives_a_clear_error(saved, tmp_path):
    newer = rewrite_bundle(saved, tmp_path / "newer.gdl", doc_changes={"format_version": 99})
    with pytest.raises(ModelFileError, match="format version 99 is newer than this georaster_dl .* upgrade"):
        load_bundle(newer)
    with pytest.raises(ModelFileError, match="newer"):
        describe_bundle(newer)


def test_band_count_must_match_the_network_input(saved, tmp_path):
    bad = rewrite_bundle(saved, tmp_path / "bad.gdl", doc_changes={"band_names": ["a"], "band_kinds": ["continuous"]})
    with pytest.raises(ModelFileError, match="takes 2 inputs .* model.json lists 1 bands"):
        load_bundle(bad)


def test_lambda_layer_in_a_bundle_is_refused(saved, tmp_path, monkeypatch):
    bad = lambda_bundle(saved, tmp_path / "lambda.gdl")
    with pytest.raises(ModelFileError, match="contains a 'Lambda' layer"):
        load_bundle(bad)
    # Keras' safe mode is the second line of defence: it refuses the Lambda even when our layer check lets it by.
    monkeypatch.setattr(bundle_module, "ALLOWED_LAYERS", bundle_module.ALLOWED_LAYERS + ("Lambda",))
    with pytest.raises(ModelFileError, match="cannot be loaded safely .*Lambda"):
        load_bundle(bad)


def test_files_that_are_not_bundles_are_refused(tmp_path):
    (tmp_path / "x.gdl").write_text("hello")
    with pytest.raises(ModelFileError, match="not a zip"):
        load_bundle(tmp_path / "x.gdl")
    with pytest.raises(ModelFileError, match="does not exist"):
        load_bundle(tmp_path / "missing.gdl")
    with zipfile.ZipFile(tmp_path / "other.gdl", "w") as z:
        z.writestr("readme.txt", "hi")
    with pytest.raises(ModelFileError, match="not allowed"):
        load_bundle(tmp_path / "other.gdl")


def test_existing_model_file_is_kept_without_overwrite(saved, spec, tmp_path):
    path = make_bundle(spec, tmp_path / "m.gdl")
    bundle = load_bundle(path)
    with pytest.raises(OutputError, match="already exists; pass --overwrite"):
        bundle.save(path)
    with pytest.raises(OutputError, match="must end in .gdl"):
        bundle.save(tmp_path / "m.zip")
    assert bundle.save(path, overwrite=True) == path


def test_describe_bundle_is_readable_and_json_is_complete(saved):
    text = describe_bundle(saved)
    assert "task         prospectivity" in text and "2 member(s)" in text and "clip" in text
    doc = json.loads(describe_bundle(saved, as_json=True))
    assert doc["format_version"] == bundle_module.FORMAT_VERSION
    assert {"spec", "preprocess", "versions", "members", "created", "file_sha256"} <= set(doc)
    assert set(doc["versions"]) >= {"keras", "tensorflow", "georaster_dl"}


@pytest.mark.parametrize("changes, message", [
    ({"band_kinds": None}, "not a valid model file: model.json entry 'band_kinds' should be a list, not null"),
    ({"preprocess": {"bands": [{"name": "x", "kind": "continuous", "transform": "clip"}]}},
     "lacks or garbles an entry"),
    ({"preprocess": {"bands": [{"name": "x", "kind": "continuous"}]}},
     "different bands for the network and its scaling"),
    ({"members": ["networks/member_00.keras"]}, "entry 'members\\[0\\]' should be a mapping, not text"),
    ({"versions": "1.0"}, "not a valid model file: model.json entry 'versions' should be a mapping, not text"),
    ({"task": 3}, "entry 'task' should be text, not a number"),
    ({"spec": {"inputs": {"dem": {"kind": "continuous"}}, "features": ["dem"]}},
     "entry 'spec.inputs.dem.path' is missing"),
])
def test_a_garbled_model_json_is_a_clear_model_file_error(saved, tmp_path, changes, message):
    # model.json's own checksum is recomputed by the forger: only the shape checks stand in the way.
    bad = rewrite_bundle(saved, tmp_path / "garbled.gdl", doc_changes=changes)
    with pytest.raises(ModelFileError, match=message):
        load_bundle(bad)


def _load_peak(path: Path) -> tuple[str, int]:
    """The error loading ``path`` gives, and the peak of Python memory allocated meanwhile."""
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError) as err:
            load_bundle(path)
        return str(err.value), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_nested_zip_bomb_is_refused_before_it_inflates(saved, tmp_path):
    bomb = nested_bomb_bundle(saved, tmp_path / "bomb.gdl", inflated=256 << 20)
    assert bomb.stat().st_size < 600_000  # a quarter of a GiB inside
    message, peak = _load_peak(bomb)
    assert "not a valid model file: networks/member_00.keras: config.json inflates to 268,435,467 bytes" in message
    assert peak < 16 << 20


@pytest.mark.parametrize("name, size", [("model.json", 40 << 20), ("networks/member_00.keras", 20 << 20)])
def test_an_outer_member_too_large_or_too_compressed_is_refused_unread(saved, tmp_path, name, size):
    with zipfile.ZipFile(saved) as z:
        items = {i.filename: z.read(i) for i in z.infolist()}
    items[name] = b"\0" * size
    (tmp_path / "bomb.gdl").write_bytes(zip_bytes(items))
    message, peak = _load_peak(tmp_path / "bomb.gdl")
    assert f"not a valid model file: {name} inflates to {size:,} bytes" in message
    assert peak < 8 << 20


def test_too_many_members_are_refused(saved, tmp_path):
    with zipfile.ZipFile(saved) as z:
        items = {i.filename: z.read(i) for i in z.infolist()}
    items.update({f"networks/member_{i:04d}.keras": b"" for i in range(100, 1200)})
    (tmp_path / "many.gdl").write_bytes(zip_bytes(items))
    with pytest.raises(ModelFileError, match=f"not a valid model file: {len(items):,} members, more than 1,000"):
        load_bundle(tmp_path / "many.gdl")


def test_a_member_with_a_bad_crc_is_a_clear_error(saved, tmp_path):
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as z:
        info = z.getinfo("model.json")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0x01  # one bit of the compressed model.json
    (tmp_path / "crc.gdl").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="not a valid model file: model.json is corrupt"):
        load_bundle(tmp_path / "crc.gdl")
    with pytest.raises(ModelFileError, match="not a valid model file: model.json is corrupt"):
        describe_bundle(tmp_path / "crc.gdl")


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_statistics_in_model_json_are_refused(saved, tmp_path, value):
    with zipfile.ZipFile(saved) as z:
        text = z.read("model.json").decode()
    mean = json.loads(text)["preprocess"]["bands"][0]["mean"]
    edited = text.replace(f'"mean": {json.dumps(mean)}', f'"mean": {value}', 1)
    assert edited != text
    bad = rewrite_bundle(saved, tmp_path / "nan.gdl", replace={"model.json": edited.encode()})
    with pytest.raises(ModelFileError, match=f"not a valid model file: model.json is not valid JSON "
                                             f"\\(non-finite number {value}\\)"):
        load_bundle(bad)


def test_a_network_with_an_unexpected_member_is_refused(saved, tmp_path):
    with zipfile.ZipFile(saved) as z:
        doc = json.loads(z.read("model.json"))
        name = doc["members"][0]["name"]
        with zipfile.ZipFile(io.BytesIO(z.read(name))) as inner:
            items = {i.filename: inner.read(i) for i in inner.infolist()}
    data = zip_bytes({**items, "assets/payload.py": b"print('hi')"})
    members = [{**m, "sha256": hashlib.sha256(data).hexdigest()} if m["name"] == name else m for m in doc["members"]]
    bad = rewrite_bundle(saved, tmp_path / "extra.gdl", replace={name: data}, doc_changes={"members": members})
    with pytest.raises(ModelFileError, match="holds an unexpected member 'assets/payload.py'"):
        load_bundle(bad)
def test_tampered_forward_graph_is_refused(saved, tmp_path):
    with zipfile.ZipFile(saved) as z:
        data = bytearray(z.read("networks/forward.onnx"))
    data[len(data) // 2] ^= 0xFF
    bad = rewrite_bundle(saved, tmp_path / "bad.gdl", replace={"networks/forward.onnx": bytes(data)})
    for networks in (True, False):
        with pytest.raises(ModelFileError, match="forward.onnx does not match its checksum"):
            load_bundle(bad, networks=networks)
    missing = rewrite_bundle(saved, tmp_path / "missing.gdl", drop=("networks/forward.onnx",))
    with pytest.raises(ModelFileError, match="missing member networks/forward.onnx"):
        load_bundle(missing, networks=False)


def test_a_file_written_before_the_onnx_graph_loads_and_predicts_the_same(saved, tmp_path):
    old = format1_bundle(saved, tmp_path / "old.gdl")
    bundle = load_bundle(old, networks=False)  # the graph is built from its Keras members
    assert bundle.n_members == 2 and len(bundle.networks) == 2
    x = _rows()
    for a, b in zip(Forward(bundle)(x), Forward(load_bundle(saved, networks=False))(x)):
        np.testing.assert_array_equal(a, b)
    assert "no ONNX graph (format 1)" in describe_bundle(old)


def test_loading_without_networks_keeps_them_unloaded_and_checked(saved, tmp_path):
    bundle = load_bundle(saved, networks=False)
    assert bundle.networks == [] and bundle.n_members == 2 and bundle.graph
    assert "ONNX graph stored" in describe_bundle(saved)
    bad = lambda_bundle(saved, tmp_path / "lambda.gdl")
    with pytest.raises(ModelFileError, match="contains a 'Lambda' layer"):
        load_bundle(bad, networks=False)
    with pytest.raises(ValueError, match="loaded without its networks"):
        bundle.save(tmp_path / "again.gdl")


def test_a_forward_graph_onnx_runtime_refuses_or_of_other_widths_is_a_model_file_error(saved, spec, tmp_path):
    other = make_bundle({**spec, "features": ["a"]}, tmp_path / "one_band.gdl", members=2)
    with zipfile.ZipFile(other) as z:
        narrow = z.read("networks/forward.onnx")
    for name, graph, message in (("garbage.gdl", b"not an onnx graph", "ONNX Runtime cannot load its forward graph"),
                                 ("narrow.gdl", narrow, r"forward graph takes \[\('n', 1\)\] .* lists 2 columns")):
        with zipfile.ZipFile(saved) as z:
            doc = json.loads(z.read("model.json"))
        graph_entry = {**doc["forward_graph"], "sha256": hashlib.sha256(graph).hexdigest()}
        bad = rewrite_bundle(saved, tmp_path / name, replace={"networks/forward.onnx": graph},
                             doc_changes={"forward_graph": graph_entry})
        with pytest.raises(ModelFileError, match=message):
            Forward(load_bundle(bad, networks=False))
