"""The model file (``.gdl``): one zip holding the network(s) and everything needed to use them.

Layout::

    model.json                   what the model is (see below), sorted keys
    networks/member_00.keras     one Keras 3 network per ensemble member
    networks/member_01.keras     ...
    networks/forward.onnx        the forward pass (preprocessing, members, mean and SD) as
                                 one ONNX graph built from the members' weights
    applicability/rows.npy       (optional) the standardised training rows of the area of
                                 applicability (float32, at most 5,000; see
                                 :mod:`georaster_dl.applicability`), its parameters in
                                 ``model.json``'s ``applicability``

``model.json`` holds the format version, the task, the pinned StackSpec (inputs, features
in order, categories), band names and kinds, the preprocessing parameters, the classes
(names and colours), the regression target scaling, training options, metrics, library
versions, SHA-256 checksums of the input files and of every network member, the creation
time, and a checksum of its own content.

Prediction runs the ONNX graph on ONNX Runtime and loads the bundle with
``networks=False``: the ``.keras`` members are verified but not loaded, so TensorFlow is
not imported. The graph is built and checked against Keras (within
:data:`GRAPH_TOLERANCE` on the training rows) when the model is saved; a file written
before it existed (format 1) gets it built on load from its Keras members.

Loading is defensive: member names are checked (no absolute paths, no ``..``, nothing
unexpected), every checksum is verified, a newer format version is refused with a clear
message, network configurations may hold only the layers the trainer builds, each
``.keras`` loads with Keras' ``safe_mode=True`` (a ``Lambda`` layer is refused), and the
network's input width must equal the number of bands.

Writing is atomic (a fresh temporary file beside it, renamed when complete) and deterministic: the same
model gives the same bytes (fixed zip timestamps, normalised ``.keras`` members, sorted
JSON; set ``SOURCE_DATE_EPOCH`` to fix the creation time too).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import math
import os
import re
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from georaster_dl import __version__
from georaster_dl.applicability import ROWS_MEMBER, Applicability, load_rows
from georaster_dl.errors import GeoRasterDLError, ModelFileError, OutputError
from georaster_dl.io.files import atomic_output, check_input_file, check_output_path
from georaster_dl.io.schema import NUMBER, schema_problem
from georaster_dl.metrics import plain_json
from georaster_dl.tasks import TASKS, get_task
from georaster_dl.models.preprocess import Preprocessor
from georaster_dl.spec import StackSpec, load_spec

#: 2: the ONNX forward pass is stored (format 1 files are read; the graph is built on load).
#: 3: the area of applicability's training rows may be stored (files without them are read).
FORMAT_VERSION = 3
SUFFIX = ".gdl"
MODEL_JSON = "model.json"
GRAPH_MEMBER = "networks/forward.onnx"
#: Largest difference between ONNX Runtime and Keras allowed when a model is saved
#: (outputs in network units: probabilities, standardised regression targets).
GRAPH_TOLERANCE = 1e-5
_MEMBER_RE = re.compile(r"^networks/member_\d{2,4}\.keras$")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
#: What a Keras 3 ``.keras`` zip holds.
KERAS_MEMBERS = ("config.json", "metadata.json", "model.weights.h5")
#: Layers a network member may contain (what :func:`build_network` creates).
ALLOWED_LAYERS = ("InputLayer", "Dense", "Dropout")
#: Bounds checked on the zip's directory before any member is read, at every level (the
#: model file, and each network's ``.keras`` zip inside it), so a zip bomb is refused
#: before it inflates. Uncompressed bytes of one member, of a JSON member, and of all.
MAX_MEMBER_BYTES = 256 << 20
MAX_JSON_BYTES = 16 << 20
MAX_TOTAL_BYTES = 1 << 30
#: Most members of a zip, and the largest uncompressed / compressed ratio of a member over 1 MiB
#: (weights compress about 1.1-10x; a bomb 1000x).
MAX_MEMBERS = 1000
MAX_RATIO = 100
#: The shape of ``model.json``: what the code reads, checked once before it is read.
#: A dict lists required keys ("?key": optional); ``{str: s}`` maps any names to ``s``;
#: ``[s]`` is a list of ``s``; a tuple lists alternatives.
MODEL_SCHEMA = {
    "format_version": int, "software": str, "task": str, "created": str, "content_sha256": str,
    "spec": {"inputs": {str: {"path": str}}, "features": list}, "band_names": [str], "band_kinds": [str],
    "preprocess": {"bands": [{"name": str, "kind": str}]},
    "classes": ([{"name": (str, int), "colour": [int]}], None), "target": (dict, None),
    "value_range": ([NUMBER], None), "options": {"?network": dict}, "metrics": {"?cv": ({str: object}, None)},
    "input_sha256": {str: str}, "versions": {str: str}, "members": [{"name": str, "sha256": str}],
    "?forward_graph": {"name": str, "sha256": str},
    "?applicability": {"name": str, "sha256": str, "n_rows": int, "n_training": int, "mean": [NUMBER], "std": [NUMBER],
                       "weights": [NUMBER], "mean_distance": NUMBER, "threshold": NUMBER, "method": str,
                       "weights_from": str},
}


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
        Ensemble members (one for a single model); empty when loaded with ``networks=False``.
    graph : bytes or None
        The serialised ONNX forward pass (see :meth:`forward_graph`).
    member_count : int
        Ensemble members listed in the file (when the networks are not loaded).
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
    applicability : Applicability or None
        Training rows and threshold of the area of applicability (None: trained before it existed).
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
    graph: bytes | None = field(default=None, repr=False)
    member_count: int = 0
    applicability: Applicability | None = field(default=None, repr=False)

    @property
    def n_members(self) -> int:
        return len(self.networks) or self.member_count

    def forward_graph(self) -> bytes:
        """The ONNX graph of the forward pass: the stored one, or built from the networks."""
        if self.graph is None:
            from georaster_dl.models.onnx_graph import build_graph, dense_layers

            self.graph = build_graph(self.preprocess, [dense_layers(n) for n in self.networks], self.target,
                                     self.compact_layout())
        return self.graph

    def compact_layout(self) -> list[tuple | None]:
        """Columns of the rows the ONNX graph takes (see :attr:`Stack.compact_layout`)."""
        from georaster_dl import features  # noqa: F401  (registers the built-in features)
        from georaster_dl.features.registry import compact_layout, resolve

        layout = compact_layout([resolve(ref, self.spec.inputs[ref.input]) for ref in self.spec.features])
        if sum(1 if codes is None else len(codes) for codes in layout) != len(self.band_names):
            raise ModelFileError(f"{self.path or 'model'}: its spec gives other bands than the {len(self.band_names)} "
                                 "the networks take; the file is inconsistent, retrain the model")
        return layout

    @property
    def n_outputs(self) -> int:
        return get_task(self.task).n_outputs(len(self.classes or []))

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

    def save(self, path: str | os.PathLike, overwrite: bool = False, check_rows: np.ndarray | None = None) -> Path:
        """Write the bundle to ``path`` (``.gdl``) atomically; returns the path.

        The ONNX forward pass is built from the networks and must agree with Keras within
        :data:`GRAPH_TOLERANCE` on ``check_rows`` (feature rows (n, bands) as read from the
        stack; training passes its training rows; default: 1024 standard normal rows).

        Raises
        ------
        OutputError
            When ``path`` exists and ``overwrite`` is False, or its folder is missing.
        GeoRasterDLError
            When ONNX Runtime and Keras disagree (nothing is written).
        """
        path = check_output_path(path, overwrite, what="model file")
        if path.suffix.lower() != SUFFIX:
            raise OutputError(f"model file {path} must end in {SUFFIX}")
        if not self.networks:
            raise ValueError("this bundle was loaded without its networks (networks=False); load it with them to save")
        self.created = self.created or creation_time()
        self.versions = self.versions or library_versions()
        self.graph = None  # always from the networks being saved
        _check_graph(self, check_rows)
        members = {f"networks/member_{i:02d}.keras": _keras_bytes(net, self.created)
                   for i, net in enumerate(self.networks)}
        members[GRAPH_MEMBER] = self.forward_graph()
        if self.applicability is not None:
            members[ROWS_MEMBER] = self.applicability.rows_bytes()
        doc = self._document({name: _sha256(data) for name, data in members.items()})
        with atomic_output(path, overwrite) as f, zipfile.ZipFile(f, "w") as zf:
            _write_member(zf, MODEL_JSON, _dump(doc))
            for name in sorted(members):
                # the rows are stored: standardised 0/1 columns deflate past MAX_RATIO (a bomb, to the loader)
                _write_member(zf, name, members[name], compress=name != ROWS_MEMBER)
        self.sha256, self.path = file_sha256(path), str(path)
        return path

    def _document(self, member_sha256: dict[str, str]) -> dict[str, Any]:
        graph_sha256 = member_sha256.pop(GRAPH_MEMBER)
        rows_sha256 = member_sha256.pop(ROWS_MEMBER, None)
        doc = {"format_version": FORMAT_VERSION, "software": "georaster_dl", "task": self.task,
               "spec": self.spec.to_dict(), "band_names": list(self.band_names),
               "band_kinds": list(self.band_kinds), "preprocess": self.preprocess.to_dict(),
               "classes": self.classes, "target": self.target,
               "value_range": list(self.value_range) if self.value_range else None,
               "options": self.options, "metrics": self.metrics, "input_sha256": self.input_sha256,
               "versions": self.versions, "created": self.created,
               "members": [{"name": n, "sha256": s} for n, s in sorted(member_sha256.items())],
               "forward_graph": {"name": GRAPH_MEMBER, "sha256": graph_sha256, "format": "onnx"}}
        if self.applicability is not None:
            doc["applicability"] = self.applicability.to_dict(rows_sha256)
        doc = plain_json(doc)
        doc["content_sha256"] = _content_sha256(doc)
        return doc


def load_bundle(path: str | os.PathLike, networks: bool = True) -> ModelBundle:
    """Load and verify a ``.gdl`` model file.

    Parameters
    ----------
    path : path
        The model file.
    networks : bool
        Load the Keras networks (imports TensorFlow). False loads only the ONNX forward
        pass (what prediction needs); every member is still verified. A format 1 file
        has no ONNX graph: its networks are then loaded to build it.

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
    with open_model_zip(path) as zf:
        doc = read_document(zf, path)
        members = [_read_checked(zf, m["name"], m["sha256"], path) for m in doc["members"]]
        shapes = [_check_layers(data, m["name"], path) for m, data in zip(doc["members"], members)]
        stored = doc.get("forward_graph")
        graph = _read_checked(zf, GRAPH_MEMBER, stored["sha256"], path) if stored else None
        aoa = doc.get("applicability")
        rows = _read_checked(zf, ROWS_MEMBER, aoa["sha256"], path) if aoa else None
    nets = [_load_network(data, m["name"], path) for m, data in zip(doc["members"], members)] \
        if networks or graph is None else []
    try:
        bundle = ModelBundle(
            task=doc["task"], spec=load_spec(doc["spec"]), band_names=list(doc["band_names"]),
            band_kinds=list(doc["band_kinds"]), preprocess=Preprocessor.from_dict(doc["preprocess"]),
            networks=nets, classes=doc["classes"], target=doc["target"],
            value_range=tuple(doc["value_range"]) if doc["value_range"] else None, options=doc["options"],
            metrics=doc["metrics"], input_sha256=doc["input_sha256"], versions=doc["versions"],
            created=doc["created"], graph=graph, member_count=len(members))
        n_bands, n_out = len(bundle.band_names), bundle.n_outputs
        if aoa:
            bundle.applicability = Applicability.from_dict(aoa, load_rows(rows, aoa["n_rows"], n_bands, str(path)))
            consistent_aoa = all(len(aoa[k]) == n_bands for k in ("mean", "std", "weights"))
        consistent = bundle.preprocess.names == bundle.band_names and len(bundle.band_kinds) == n_bands
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelFileError(f"{path}: {MODEL_JSON} lacks or garbles an entry ({type(exc).__name__}: {exc}); "
                             "the file is corrupt: retrain or restore the model") from None
    for m, (n_in, n_net_out) in zip(doc["members"], shapes):
        if (n_in, n_net_out) != (n_bands, n_out):
            raise ModelFileError(f"{path}: {m['name']} takes {n_in} inputs and gives {n_net_out} outputs, but "
                                 f"model.json lists {n_bands} bands and {n_out} outputs; the file is inconsistent, "
                                 "retrain the model")
    if not consistent or (aoa and not consistent_aoa):
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
    _check_sizes(zf, path)
    if len(set(names)) != len(names):
        raise ModelFileError(f"{path}: the zip lists a member twice; the file has been tampered with")
    if MODEL_JSON not in names:
        raise ModelFileError(f"{path}: no {MODEL_JSON} inside; this is not a georaster_dl model file")
    doc = _parse_json(_read_member(zf, MODEL_JSON, path), MODEL_JSON, path)
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
    problem = schema_problem(doc, MODEL_SCHEMA)
    if problem:
        raise ModelFileError(f"{path}: not a valid model file: {MODEL_JSON} {problem}; retrain or restore the model")
    if doc.get("task") not in TASKS:
        raise ModelFileError(f"{path}: unknown task {doc.get('task')!r} in {MODEL_JSON}")
    members = doc.get("members")
    listed = [m.get("name") if isinstance(m, dict) else None for m in members] if isinstance(members, list) else []
    if not listed or any(not isinstance(n, str) or not _MEMBER_RE.match(n) for n in listed):
        raise ModelFileError(f"{path}: {MODEL_JSON} lists no or invalid network members; the file is corrupt")
    graph = doc.get("forward_graph")
    if graph is not None:
        if not isinstance(graph, dict) or graph.get("name") != GRAPH_MEMBER or not isinstance(graph.get("sha256"), str):
            raise ModelFileError(f"{path}: {MODEL_JSON} garbles its forward_graph entry; the file is corrupt")
        listed = listed + [GRAPH_MEMBER]
    elif version >= 2:
        raise ModelFileError(f"{path}: {MODEL_JSON} lists no forward graph; the file is corrupt: retrain the model")
    aoa = doc.get("applicability")
    if aoa is not None:
        if aoa["name"] != ROWS_MEMBER:
            raise ModelFileError(f"{path}: {MODEL_JSON} garbles its applicability entry; the file is corrupt")
        listed = listed + [ROWS_MEMBER]
    unexpected = sorted(set(names) - set(listed) - {MODEL_JSON})
    missing = sorted(set(listed) - set(names))
    if unexpected or missing:
        what = f"unexpected member {unexpected[0]}" if unexpected else f"missing member {missing[0]}"
        raise ModelFileError(f"{path}: {what}; the file has been tampered with or is incomplete")
    return doc


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
    import onnx
    import onnxruntime
    import rasterio
    import sklearn
    import tensorflow

    return {"georaster_dl": __version__, "keras": keras.__version__, "tensorflow": tensorflow.__version__,
            "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__,
            "numpy": numpy.__version__, "scikit-learn": sklearn.__version__, "rasterio": rasterio.__version__,
            "gdal": rasterio.__gdal_version__, "python": platform.python_version()}


def _check_graph(bundle: ModelBundle, rows) -> None:
    """Refuse a graph whose outputs differ from Keras's by more than :data:`GRAPH_TOLERANCE`
    (in network units) on ``rows``."""
    from georaster_dl.models.forward import Forward

    n_bands = len(bundle.band_names)
    x = np.random.default_rng(0).normal(size=(1024, n_bands)) if rows is None else rows
    x = np.asarray(x, np.float32).reshape(-1, n_bands)
    x = x[np.isfinite(x).all(axis=1)]
    mean, sd = Forward(bundle)(x)
    z = bundle.preprocess.apply(x)
    outs = np.stack([np.concatenate([net(z[i:i + 65536], training=False).numpy() for i in range(0, len(z), 65536)]
                                    or [np.empty((0, bundle.n_outputs), np.float32)]) for net in bundle.networks])
    target = bundle.target or {"mean": 0.0, "std": 1.0}
    shift, scale = float(target["mean"]), float(target["std"])
    expected = [outs.mean(axis=0, dtype=np.float64) * scale + shift] + ([outs.std(axis=0, dtype=np.float64) * scale]
                                                                      if sd is not None else [])
    worst = 0.0
    for got, want in zip((mean, sd), expected):
        # float32 rounding of outputs in target units is allowed on top of the tolerance
        excess = np.abs(got - want) / scale - 4 * np.finfo(np.float32).eps * np.abs(want) / scale
        worst = max(worst, float(excess.max(initial=0.0)))
    if not worst <= GRAPH_TOLERANCE:
        raise GeoRasterDLError(f"the ONNX forward pass differs from Keras by {worst:.3g} (more than {GRAPH_TOLERANCE:g}) "
                               f"on {len(x)} rows; the model was not written: report it with --debug output")


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file, or of every file of a folder (ESRI grids) in name order."""
    h = hashlib.sha256()
    p = Path(path)
    for f in sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]:
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def open_model_zip(path: Path) -> zipfile.ZipFile:
    """The model file as an open zip (not yet verified: see :func:`read_document`).

    Raises
    ------
    ModelFileError
        A missing file, a folder, a FIFO or device, or a file that is not a zip.
    """
    if not os.path.lexists(path):
        raise ModelFileError(f"model file {path} does not exist; check the path")
    check_input_file(path, f"model file {path}")
    if path.is_dir():
        raise ModelFileError(f"model file {path} is a folder; give the .gdl file written by train")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise ModelFileError(f"{path} is not a georaster_dl model file (not a zip); give a .gdl written by train") from None


def _check_member_name(name: str, path: Path) -> None:
    parts = name.split("/")
    if (name.startswith(("/", "\\")) or "\\" in name or ":" in name or ".." in parts or "" in parts
            or not (name in (MODEL_JSON, GRAPH_MEMBER, ROWS_MEMBER) or _MEMBER_RE.match(name))):
        raise ModelFileError(f"{path}: member name {name!r} is not allowed in a model file; "
                             "the file has been tampered with")


def _read_checked(zf: zipfile.ZipFile, name: str, sha256: str, path: Path) -> bytes:
    """A member's bytes, verified against its checksum in ``model.json``."""
    data = _read_member(zf, name, path)
    if _sha256(data) != sha256:
        raise ModelFileError(f"{path}: {name} does not match its checksum in {MODEL_JSON}; the file has been "
                             "modified or is corrupt: retrain or restore the model")
    return data


def _load_network(data: bytes, name: str, path: Path):
    from georaster_dl.quiet_tf import import_tensorflow

    import_tensorflow()  # its start-up lines kept off stderr
    import keras

    with tempfile.TemporaryDirectory(prefix="georaster_dl_") as tmp:
        member = Path(tmp) / "member.keras"
        member.write_bytes(data)
        try:
            return keras.saving.load_model(member, compile=False, safe_mode=True)
        except Exception as exc:  # Keras raises ValueError/TypeError/OSError for unsafe or broken files
            raise ModelFileError(f"{path}: {name} cannot be loaded safely ({type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0][:200]})") from None


def _check_layers(data: bytes, name: str, path: Path) -> tuple[int | None, int | None]:
    """Refuse layers other than :data:`ALLOWED_LAYERS`; return the network's input and
    output widths from its configuration (None where the configuration does not say)."""
    try:
        inner = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise ModelFileError(f"{path}: {name} is not a Keras 3 .keras file; the file is corrupt") from None
    with inner:
        unexpected = sorted(set(inner.namelist()) - set(KERAS_MEMBERS))
        if unexpected or "config.json" not in inner.namelist():
            raise ModelFileError(f"{path}: not a valid model file: {name} holds "
                                 + (f"an unexpected member {unexpected[0]!r}" if unexpected else "no config.json")
                                 + f"; a network holds only {', '.join(KERAS_MEMBERS)}")
        _check_sizes(inner, path, f"{name}: ")
        config = _parse_json(_read_member(inner, "config.json", path, f"{name}: "), f"{name}: config.json", path)
    problem = schema_problem(config, {"?config": {"?layers": [{"class_name": str, "?module": str}]}})
    if problem:
        raise ModelFileError(f"{path}: not a valid model file: {name}: config.json {problem}")
    layers = (config.get("config") or {}).get("layers") or []
    for layer in layers:
        cls = layer.get("class_name")
        if cls not in ALLOWED_LAYERS or not str(layer.get("module", "")).startswith("keras"):
            raise ModelFileError(f"{path}: {name} contains a {cls!r} layer; model files may only hold "
                                 f"{', '.join(ALLOWED_LAYERS)} layers (other layers can run arbitrary code)")
    try:
        inputs = [(l.get("config") or {}).get("batch_shape") for l in layers if l.get("class_name") == "InputLayer"]
        dense = [(l.get("config") or {}).get("units") for l in layers if l.get("class_name") == "Dense"]
        return (inputs[0][-1] if len(inputs) == 1 and inputs[0] else None), (dense[-1] if dense else None)
    except (TypeError, KeyError, IndexError, AttributeError):
        return None, None


def _check_sizes(zf: zipfile.ZipFile, path: Path, where: str = "") -> None:
    """Refuse a zip whose directory announces too many members, members too large or too
    compressed, or too many bytes in all (read from the directory: nothing is inflated)."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ModelFileError(f"{path}: not a valid model file: {where}{len(infos):,} members, more than "
                             f"{MAX_MEMBERS:,}")
    for info in infos:
        limit = MAX_JSON_BYTES if info.filename.endswith(".json") else MAX_MEMBER_BYTES
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limit or (info.file_size > 1 << 20 and ratio > MAX_RATIO):
            raise ModelFileError(f"{path}: not a valid model file: {where}{info.filename} inflates to "
                                 f"{info.file_size:,} bytes from {info.compress_size:,} (a zip bomb?); members "
                                 f"hold at most {limit:,} bytes and compress at most {MAX_RATIO}x")
    if sum(i.file_size for i in infos) > MAX_TOTAL_BYTES:
        raise ModelFileError(f"{path}: not a valid model file: {where}members inflate to more than "
                             f"{MAX_TOTAL_BYTES:,} bytes in all")


def _read_member(zf: zipfile.ZipFile, name: str, path: Path, where: str = "") -> bytes:
    """A member's bytes (its size was bounded by :func:`_check_sizes`: zipfile never inflates
    more than the directory announces); a corrupt member is a one-line error."""
    try:
        return zf.read(name)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, ValueError) as exc:
        raise ModelFileError(f"{path}: not a valid model file: {where}{name} is corrupt ({exc}); "
                             "restore or retrain the model") from None


def _parse_json(data: bytes, name: str, path: Path) -> Any:
    """JSON with finite numbers only (``NaN``, ``Infinity`` and ``1e999`` are refused)."""
    def finite(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(f"non-finite number {text}")
        return value

    def refuse(text: str):
        raise ValueError(f"non-finite number {text}")

    try:
        return json.loads(data.decode("utf-8"), parse_float=finite, parse_constant=refuse)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelFileError(f"{path}: not a valid model file: {name} is not valid JSON ({str(exc)[:200]}); "
                             "the file is corrupt") from None


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


def _write_member(zf: zipfile.ZipFile, name: str, data: bytes, compress: bool = True) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def _dump(doc: dict) -> bytes:
    return (json.dumps(doc, indent=1, sort_keys=True, allow_nan=False) + "\n").encode("utf-8")


def _content_sha256(doc: dict) -> str:
    body = {k: v for k, v in doc.items() if k != "content_sha256"}
    return _sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8"))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def member_bytes(bundle: ModelBundle) -> list[tuple[str, bytes]]:
    """The ``.keras`` members of a loaded bundle's file, each verified against its checksum
    (the file must still be the one loaded: same SHA-256)."""
    path = Path(bundle.path)
    data = path.read_bytes()
    if _sha256(data) != bundle.sha256:
        raise ModelFileError(f"{path} changed since it was loaded; run again")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        doc = read_document(zf, path)
        return [(m["name"], _read_checked(zf, m["name"], m["sha256"], path)) for m in doc["members"]]
