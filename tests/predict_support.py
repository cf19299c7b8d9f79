"""Small model bundles built without training, for prediction tests and benchmarks.

Throughput, tiling and determinism do not depend on what a network learned, so these
bundles use freshly initialised networks (seeded) and preprocessing fitted on a sample
of the stack's own cells.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from georaster_dl.models.bundle import ModelBundle
from georaster_dl.models.network import NetworkOptions, build_network
from georaster_dl.models.preprocess import Preprocessor
from georaster_dl.stack import Stack

CLASS_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)]


def make_bundle(spec, path: Path, task: str = "prospectivity", hidden=(16, 16), members: int = 1,
                n_classes: int = 3, seed: int = 0, sample_window: int | None = None) -> Path:
    """Save an untrained bundle for ``spec`` at ``path`` and return the path.

    The preprocessing is fitted on 2000 random cells (of the top-left ``sample_window``
    square only, when given, so that large benchmark rasters are not read in full).
    """
    with Stack(spec) as stack:
        rng = np.random.default_rng(seed)
        rows = rng.integers(0, min(stack.grid.height, sample_window or stack.grid.height), 2000)
        cols = rng.integers(0, min(stack.grid.width, sample_window or stack.grid.width), 2000)
        x = stack.sample_cells(rows, cols)
        x = x[np.isfinite(x).all(axis=1)]
        preprocess = Preprocessor.fit(x, stack.band_names, stack.band_kinds, stack.band_transforms)
        n_out = n_classes if task == "landform" else 1
        options = NetworkOptions(hidden=tuple(hidden), dropout=0.0).validated(task)
        networks = [build_network(len(stack.band_names), n_out, task, options, seed + i) for i in range(members)]
        classes = ([{"name": f"class {i + 1}", "colour": list(CLASS_COLOURS[i % 4]), "value": f"c{i + 1}"}
                    for i in range(n_classes)] if task == "landform" else None)
        bundle = ModelBundle(task=task, spec=stack.spec, band_names=stack.band_names, band_kinds=stack.band_kinds,
                             preprocess=preprocess, networks=networks, classes=classes,
                             target={"mean": 10.0, "std": 2.0} if task == "regression" else None,
                             value_range=(5.0, 15.0) if task == "regression" else None)
        return bundle.save(path, overwrite=True, check_rows=x)


def synthetic_dem(rows: int, cols: int, seed: int = 0, holes: int = 3) -> np.ndarray:
    """A smooth float32 DEM with a few NaN holes (nodata)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols] / 60.0
    dem = (200 + 40 * np.sin(x) * np.cos(0.7 * y) + 15 * np.sin(2.3 * x + y) + rng.normal(0, 0.5, (rows, cols)))
    for _ in range(holes):
        r, c = rng.integers(0, rows - 20), rng.integers(0, cols - 20)
        dem[r:r + rng.integers(3, 20), c:c + rng.integers(3, 20)] = np.nan
    return dem.astype(np.float32)


def rewrite_bundle(src: Path, dst: Path, replace: dict[str, bytes] | None = None, add: dict[str, bytes] | None = None,
                   doc_changes: dict | None = None, drop: tuple[str, ...] = (), drop_keys: tuple[str, ...] = ()) -> Path:
    """Copy a bundle, replacing, adding or dropping (``drop``) members; ``doc_changes`` and
    ``drop_keys`` edit model.json with a valid self-checksum, as a careful forger would."""
    with zipfile.ZipFile(src) as zin:
        items = {i.filename: zin.read(i) for i in zin.infolist() if i.filename not in drop}
    if doc_changes or drop_keys:
        doc = json.loads(items["model.json"])
        doc.update(doc_changes or {})
        doc = {k: v for k, v in doc.items() if k not in drop_keys}
        body = {k: v for k, v in doc.items() if k != "content_sha256"}
        doc["content_sha256"] = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        items["model.json"] = json.dumps(doc).encode()
    items.update(replace or {})
    items.update(add or {})
    with zipfile.ZipFile(dst, "w") as zout:
        for name, data in items.items():
            zout.writestr(name, data)
    return dst


def format1_bundle(src: Path, dst: Path) -> Path:
    """Copy of bundle ``src`` as georaster_dl wrote it before the ONNX graph was stored (format 1)."""
    return rewrite_bundle(src, dst, drop=("networks/forward.onnx",),
                          doc_changes={"format_version": 1}, drop_keys=("forward_graph",))


def lambda_bundle(src: Path, dst: Path) -> Path:
    """Copy of bundle ``src`` whose networks hold a Lambda layer (arbitrary code), checksums made valid."""
    import keras

    with zipfile.ZipFile(src) as z:
        doc = json.loads(z.read("model.json"))
    inputs = keras.Input((len(doc["band_names"]),), name="features")
    x = keras.layers.Lambda(lambda t: t * 2.0, name="sneaky")(inputs)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="output")(x)
    keras.Model(inputs, outputs).save(dst.with_suffix(".keras"))
    data = dst.with_suffix(".keras").read_bytes()
    dst.with_suffix(".keras").unlink()
    members = [{"name": m["name"], "sha256": hashlib.sha256(data).hexdigest()} for m in doc["members"]]
    return rewrite_bundle(src, dst, replace={m["name"]: data for m in members}, doc_changes={"members": members})


def zip_bytes(items: dict[str, bytes]) -> bytes:
    """A zip of ``items``, every member deflated (as a bomb's maker would)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data in items.items():
            z.writestr(name, data)
    return out.getvalue()


def nested_bomb_bundle(src: Path, dst: Path, inflated: int = 64 << 20) -> Path:
    """Copy of bundle ``src`` whose first network's ``.keras`` holds a config.json inflating to
    ``inflated`` bytes, checksums made valid: a few kB that would inflate to a large document."""
    with zipfile.ZipFile(src) as z:
        doc = json.loads(z.read("model.json"))
        name = doc["members"][0]["name"]
        with zipfile.ZipFile(io.BytesIO(z.read(name))) as inner:
            items = {i.filename: inner.read(i) for i in inner.infolist()}
    items["config.json"] = b'{"pad": "' + b" " * inflated + b'"}'
    data = zip_bytes(items)
    members = [{"name": m["name"], "sha256": hashlib.sha256(data).hexdigest()} if m["name"] == name else m
               for m in doc["members"]]
    rewrite_bundle(src, dst, replace={name: data}, doc_changes={"members": members})
    with zipfile.ZipFile(dst) as z:  # deflate the outer level too, as a bomb would be
        outer = {i.filename: z.read(i) for i in z.infolist()}
    dst.write_bytes(zip_bytes(outer))
    return dst
