"""The model file (``.gdl``): one zip holding the network(s) and everything needed to use them.

Layout::

    model.json                   what the model is (see below), sorted keys
    networks/member_00.keras     one Keras 3 network per ensemble member
    networks/member_01.keras     ...

``model.json`` holds the format version, the task, the pinned StackSpec (inputs, features
in order, categories), band names and kinds, the preprocessing parameters, the classes
(names and colours), the regression target scaling, training options, metrics, library
versions, SHA-256 checksums of the input files and of every network member, the creation
time, and a checksum of its own content.

Loading is defensive: member names are checked (no absolute paths, no ``..``, nothing
unexpected), every checksum is verified, a newer format version is refused with a clear
message, network configurations may hold only the layers the trainer builds, each
``.keras`` loads with Keras' ``safe_mode=True`` (a ``Lambda`` layer is refused), and the
network's input width must equal the number of bands.

Writing is atomic (``<path>.partial`` renamed when complete) and deterministic: the same
model gives the same bytes (fixed zip timestamps, normalised ``.keras`` members, sorted
JSON; set ``SOURCE_DATE_EPOCH`` to fix the creation time too).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from georaster_dl import __version__
from georaster_dl.errors import ModelFileError, OutputError
from georaster_dl.io.writer import check_output_path, partial_path
from georaster_dl.metrics import plain_json
from georaster_dl.models.network import TASKS
from georaster_dl.models.preprocess import Preprocessor, transform_label
from georaster_dl.spec import StackSpec, load_spec

FORMAT_VERSION = 1
SUFFIX = ".gdl"
MODEL_JSON = "model.json"
_MEMBER_RE = re.compile(r"^networks/member_\d{2,4}\.keras$")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
#: Layers a network member may contain (what :func:`build_network` creates).
ALLOWED_LAYERS = ("InputLayer", "Dense", "Dropout")
#: Refuse members or JSON bigger than this (bytes, uncompressed): a guard against zip bombs.
MAX_MEMBER_BYTES = 1 << 30


@dataclass
class ModelBundle:
    """A trained model: networks plus what they need to predict from a StackSpec.

    Attributes
    ----------
    task : {'landform', 'prospectivity', 'regression'}
    spec : StackSpec
        Pinned spec: prediction re-derives exactly these bands.
    band_names, band_kinds : list of str
        Network inputs in order.
    preprocess : Preprocessor
        Per-band transforms and standardisation.
    networks : list of keras.Model
        Ensemble members (one for a single model).
    classes : list of dict or None
        Landform classes in output order: ``{"name", "colour": [r, g, b], "value"}``.
    target : dict or None
        Regression target scaling ``{"mean", "std"}``; outputs are mapped back to units.
    value_range : tuple or None
        Regression: 2nd-98th percentile of the training targets (display range).
    options, metrics : dict
        Training options and metrics (cross-validation and training summary).
    input_sha256 : dict
        SHA-256 of every input file and of the labels, by path.
    versions : dict
        Library versions used for training.
    created : str
        ISO 8601 UTC creation time.
    sha256 : str or None
        SHA-256 of the bundle file once saved or loaded.
    path : str or None
        The file the bundle was loaded from or saved to (for messages).
    """

    task: str
    spec: StackSpec
    band_names: list[str]
    band_kinds: list[str]
    preprocess: Preprocessor
    networks: list = field(default_factory=list)
    classes: list[dict] | None = None
    target: dict | None = None
    value_range: tuple[float, float] | None = None
    options: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    input_sha256: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    created: str = ""
    sha256: str | None = None
    path: str | None = None

    @property
    def n_members(self) -> int:
        return len(self.networks)

    @property
    def n_outputs(self) -> int:
        return len(self.classes) if self.task == "landform" else 1

    def check_bands(self, band_names: list[str], overridden: bool) -> None:
        """Refuse a stack whose bands are not the ones the networks were trained on.

        Parameters
        ----------
        band_names : list of str
            Bands of the stack opened from the bundle's spec.
        overridden : bool
            Whether some input paths were replaced (then they are the likely cause; else
            the file itself is inconsistent).

        Raises
        ------
        ModelFileError
            Naming the first band that differs.
        """
        expected = list(self.band_names)
        if list(band_names) == expected:
            return
        i = next((i for i, (a, b) in enumerate(zip(band_names, expected)) if a != b),
                 min(len(band_names), len(expected)))
        got = repr(band_names[i]) if i < len(band_names) else "nothing"
        want = repr(expected[i]) if i < len(expected) else "nothing"
        fix = ("check the input overrides: each must hold what the model was trained on (same categories)"
               if overridden else "the file is inconsistent (edited?); retrain the model")
        raise ModelFileError(f"{self.path or 'model'}: its inputs give {len(band_names)} bands but the networks "
                             f"take {len(expected)} (band {i + 1} is {got} instead of {want}); {fix}")

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the bundle to ``path`` (``.gdl``) atomically; returns the path.

        Raises
        ------
        OutputError
            When ``path`` exists and ``overwrite`` is False, or its folder is missing.
        """
        path = check_output_path(path, overwrite, what="model file")
        if path.suffix.lower() != SUFFIX:
            raise OutputError(f"model file {path} must end in {SUFFIX}")
        self.created = self.created or creation_time()
        self.versions = self.versions or library_versions()
        members = {f"networks/member_{i:02d}.keras": _keras_bytes(net, self.created)
                   for i, net in enumerate(self.networks)}
        doc = self._document({name: _sha256(data) for name, data in members.items()})
        partial = partial_path(path)
        try:
            with zipfile.ZipFile(partial, "w") as zf:
                _write_member(zf, MODEL_JSON, _dump(doc))
                for name in sorted(members):
                    _write_member(zf, name, members[name])
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        self.sha256, self.path = file_sha256(path), str(path)
        return path

    def _document(self, member_sha256: dict[str, str]) -> dict[str, Any]:
        doc = {"format_version": FORMAT_VERSION, "software": "georaster_dl", "task": self.task,
               "spec": self.spec.to_dict(), "band_names": list(self.band_names),
               "band_kinds": list(self.band_kinds), "preprocess": self.preprocess.to_dict(),
               "classes": self.classes, "target": self.target,
               "value_range": list(self.value_range) if self.value_range else None,
               "options": self.options, "metrics": self.metrics, "input_sha256": self.input_sha256,
               "versions": self.versions, "created": self.created,
               "members": [{"name": n, "sha256": s} for n, s in sorted(member_sha256.items())]}
        doc = plain_json(doc)
        doc["content_sha256"] = _content_sha256(doc)
        return doc


def load_bundle(path: str | os.PathLike) -> ModelBundle:
    """Load and verify a ``.gdl`` model file.

    Raises
    ------
    ModelFileError
        When the file is not a bundle, is corrupt or tampered with, holds unexpected
        members or layers, or was written by a newer format version.

    Examples
    --------
    >>> bundle = load_bundle("landforms.gdl")   # doctest: +SKIP
    >>> bundle.task, bundle.n_members           # doctest: +SKIP
    ('landform', 1)
    """
    path = Path(path).expanduser()
    with _open_zip(path) as zf:
        doc = read_document(zf, path)
        networks = [_load_network(zf, m["name"], m["sha256"], path) for m in doc["members"]]
    try:
        bundle = ModelBundle(
            task=doc["task"], spec=load_spec(doc["spec"]), band_names=list(doc["band_names"]),
            band_kinds=list(doc["band_kinds"]), preprocess=Preprocessor.from_dict(doc["preprocess"]),
            networks=networks, classes=doc["classes"], target=doc["target"],
            value_range=tuple(doc["value_range"]) if doc["value_range"] else None, options=doc["options"],
            metrics=doc["metrics"], input_sha256=doc["input_sha256"], versions=doc["versions"],
            created=doc["created"])
        n_bands, n_out = len(bundle.band_names), bundle.n_outputs
        consistent = bundle.preprocess.names == bundle.band_names and len(bundle.band_kinds) == n_bands
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelFileError(f"{path}: {MODEL_JSON} lacks or garbles an entry ({type(exc).__name__}: {exc}); "
                             "the file is corrupt: retrain or restore the model") from None
    for m, net in zip(doc["members"], networks):
        if tuple(net.input_shape) != (None, n_bands) or tuple(net.output_shape) != (None, n_out):
            raise ModelFileError(f"{path}: {m['name']} takes {net.input_shape[-1]} inputs and gives "
                                 f"{net.output_shape[-1]} outputs, but model.json lists {n_bands} bands and "
                                 f"{n_out} outputs; the file is inconsistent, retrain the model")
    if not consistent:
        raise ModelFileError(f"{path}: {MODEL_JSON} lists different bands for the network and its scaling; "
                             "the file is inconsistent, retrain the model")
    bundle.sha256, bundle.path = file_sha256(path), str(path)
    return bundle


def read_document(zf: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    """Check the members of an open bundle and return its verified ``model.json``."""
    names = [i.filename for i in zf.infolist()]
    if MODEL_JSON not in names and {"config.json", "metadata.json"} <= set(names):
        raise ModelFileError(f"{path} is a bare Keras model, not a georaster_dl model file; it is not loaded "
                             "(it lacks the spec and scaling the network needs): train a .gdl with georaster-dl train")
    for info in zf.infolist():
        _check_member_name(info.filename, path)
        if info.file_size > MAX_MEMBER_BYTES:
            raise ModelFileError(f"{path}: member {info.filename} is {info.file_size} bytes uncompressed, "
                                 "more than a model file can hold; the file is not a georaster_dl model")
    if len(set(names)) != len(names):
        raise ModelFileError(f"{path}: the zip lists a member twice; the file has been tampered with")
    if MODEL_JSON not in names:
        raise ModelFileError(f"{path}: no {MODEL_JSON} inside; this is not a georaster_dl model file")
    try:
        doc = json.loads(zf.read(MODEL_JSON).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, zipfile.BadZipFile) as exc:
        raise ModelFileError(f"{path}: {MODEL_JSON} is not valid JSON ({exc}); the file is corrupt") from None
    if not isinstance(doc, dict) or doc.get("software") != "georaster_dl":
        raise ModelFileError(f"{path}: {MODEL_JSON} does not describe a georaster_dl model")
    version = doc.get("format_version")
    if not isinstance(version, int):
        raise ModelFileError(f"{path}: {MODEL_JSON} has no valid format_version; the file is corrupt")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path}: model format version {version} is newer than this georaster_dl "
                             f"{__version__} reads (up to {FORMAT_VERSION}); upgrade georaster_dl")
    if doc.get("content_sha256") != _content_sha256(doc):
        raise ModelFileError(f"{path}: {MODEL_JSON} does not match its checksum; the file has been modified "
                             "or is corrupt: retrain or restore the model")
    if doc.get("task") not in TASKS:
        raise ModelFileError(f"{path}: unknown task {doc.get('task')!r} in {MODEL_JSON}")
    members = doc.get("members")
    listed = [m.get("name") if isinstance(m, dict) else None for m in members] if isinstance(members, list) else []
    if not listed or any(not isinstance(n, str) or not _MEMBER_RE.match(n) for n in listed):
        raise ModelFileError(f"{path}: {MODEL_JSON} lists no or invalid network members; the file is corrupt")
    unexpected = sorted(set(names) - set(listed) - {MODEL_JSON})
    missing = sorted(set(listed) - set(names))
    if unexpected or missing:
        what = f"unexpected member {unexpected[0]}" if unexpected else f"missing member {missing[0]}"
        raise ModelFileError(f"{path}: {what}; the file has been tampered with or is incomplete")
    return doc


def describe_bundle(path: str | os.PathLike, as_json: bool = False) -> str:
    """A readable description of a model file (what ``georaster-dl info model.gdl`` prints).

    Only ``model.json`` is read and verified; the networks are not loaded.
    """
    path = Path(path).expanduser()
    with _open_zip(path) as zf:
        doc = read_document(zf, path)
    doc["file_sha256"] = file_sha256(path)
    if as_json:
        return json.dumps(doc, indent=2, sort_keys=True)
    opts = doc.get("options") or {}
    net = opts.get("network") or {}
    lines = [f"model file   {path}  (format {doc['format_version']}, sha256 {doc['file_sha256'][:16]}...)",
             f"task         {doc['task']}",
             f"created      {doc['created']}  with georaster_dl {doc['versions'].get('georaster_dl', '?')}, "
             f"keras {doc['versions'].get('keras', '?')}, tensorflow {doc['versions'].get('tensorflow', '?')}",
             f"network      {len(doc['band_names'])} inputs -> hidden {net.get('hidden')} {net.get('activation')}"
             f" -> {doc['task']} output; loss {net.get('loss')}, {net.get('optimizer')} lr {net.get('learning_rate')}"
             f"; {len(doc['members'])} member(s)"]
    if doc.get("classes"):
        lines.append("classes      " + ", ".join(str(c["name"]) for c in doc["classes"]))
    lines.append("inputs")
    for name, spec in doc["spec"]["inputs"].items():
        lines.append(f"  {name:<12} {spec.get('kind', 'continuous'):<12} {spec['path']}")
    lines.append("bands (transform)")
    for b in doc["preprocess"]["bands"]:
        lines.append(f"  {b['name']:<28} {b['kind']:<11} {transform_label(b)}")
    cv = (doc.get("metrics") or {}).get("cv")
    if cv:
        keys = [k for k in ("auc_pooled", "auc_mean", "auc_sd", "accuracy", "kappa", "r2", "rmse", "mae") if k in cv]
        lines.append(f"cv ({cv.get('folds')} folds)  " + ", ".join(f"{k} {cv[k]:.3f}" for k in keys))
    return "\n".join(lines)


def creation_time() -> str:
    """UTC now, or ``SOURCE_DATE_EPOCH`` when set (reproducible builds)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    now = _dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc) if epoch else _dt.datetime.now(_dt.timezone.utc)
    return now.replace(microsecond=0).isoformat()


def library_versions() -> dict[str, str]:
    """Versions of the libraries a model depends on."""
    import platform

    import keras
    import numpy
    import rasterio
    import sklearn
    import tensorflow

    return {"georaster_dl": __version__, "keras": keras.__version__, "tensorflow": tensorflow.__version__,
            "numpy": numpy.__version__, "scikit-learn": sklearn.__version__, "rasterio": rasterio.__version__,
            "gdal": rasterio.__gdal_version__, "python": platform.python_version()}


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file, or of every file of a folder (ESRI grids) in name order."""
    h = hashlib.sha256()
    p = Path(path)
    for f in sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]:
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _open_zip(path: Path) -> zipfile.ZipFile:
    if not path.is_file():
        raise ModelFileError(f"model file {path} does not exist; check the path")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise ModelFileError(f"{path} is not a georaster_dl model file (not a zip); give a .gdl written by train") from None


def _check_member_name(name: str, path: Path) -> None:
    parts = name.split("/")
    if (name.startswith(("/", "\\")) or "\\" in name or ":" in name or ".." in parts or "" in parts
            or not (name == MODEL_JSON or _MEMBER_RE.match(name))):
        raise ModelFileError(f"{path}: member name {name!r} is not allowed in a model file; "
                             "the file has been tampered with")


def _load_network(zf: zipfile.ZipFile, name: str, sha256: str, path: Path):
    import keras

    data = zf.read(name)
    if _sha256(data) != sha256:
        raise ModelFileError(f"{path}: {name} does not match its checksum in {MODEL_JSON}; the file has been "
                             "modified or is corrupt: retrain or restore the model")
    _check_layers(data, name, path)
    with tempfile.TemporaryDirectory(prefix="georaster_dl_") as tmp:
        member = Path(tmp) / "member.keras"
        member.write_bytes(data)
        try:
            return keras.saving.load_model(member, compile=False, safe_mode=True)
        except Exception as exc:  # Keras raises ValueError/TypeError/OSError for unsafe or broken files
            raise ModelFileError(f"{path}: {name} cannot be loaded safely ({type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0][:200]})") from None


def _check_layers(data: bytes, name: str, path: Path) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as inner:
            config = json.loads(inner.read("config.json"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError):
        raise ModelFileError(f"{path}: {name} is not a Keras 3 .keras file; the file is corrupt") from None
    layers = (config.get("config") or {}).get("layers") or []
    for layer in layers:
        cls = layer.get("class_name")
        if cls not in ALLOWED_LAYERS or not str(layer.get("module", "")).startswith("keras"):
            raise ModelFileError(f"{path}: {name} contains a {cls!r} layer; model files may only hold "
                                 f"{', '.join(ALLOWED_LAYERS)} layers (other layers can run arbitrary code)")


def _keras_bytes(net, created: str) -> bytes:
    """A network as normalised ``.keras`` bytes: fixed timestamps and object ids, sorted members."""
    with tempfile.TemporaryDirectory(prefix="georaster_dl_") as tmp:
        target = Path(tmp) / "member.keras"
        net.save(target)
        with zipfile.ZipFile(target) as zf:
            items = {i.filename: zf.read(i) for i in zf.infolist()}
    if "metadata.json" in items:
        meta = json.loads(items["metadata.json"])
        meta["date_saved"] = created
        items["metadata.json"] = json.dumps(meta, sort_keys=True).encode()
    if "config.json" in items:
        items["config.json"] = _renumber_shared_ids(items["config.json"])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name in sorted(items):
            _write_member(zf, name, items[name])
    return out.getvalue()


def _renumber_shared_ids(config: bytes) -> bytes:
    """Replace the Python object ids Keras writes as ``shared_object_id`` by 1, 2, ..."""
    ids: dict[str, int] = {}
    text = re.sub(r'"shared_object_id": (\d+)',
                  lambda m: f'"shared_object_id": {ids.setdefault(m.group(1), len(ids) + 1)}', config.decode("utf-8"))
    return text.encode("utf-8")


def _write_member(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def _dump(doc: dict) -> bytes:
    return (json.dumps(doc, indent=1, sort_keys=True, allow_nan=False) + "\n").encode("utf-8")


def _content_sha256(doc: dict) -> str:
    body = {k: v for k, v in doc.items() if k != "content_sha256"}
    return _sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8"))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
