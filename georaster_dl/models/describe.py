"""What ``georaster-dl info model.gdl`` prints: a model file described for people, or as JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path

from georaster_dl.models.bundle import file_sha256, open_model_zip, read_document
from georaster_dl.models.preprocess import transform_label


def describe_bundle(path: str | os.PathLike, as_json: bool = False) -> str:
    """A readable description of a model file (what ``georaster-dl info model.gdl`` prints).

    Only ``model.json`` is read and verified; the networks are not loaded.
    """
    path = Path(path).expanduser()
    with open_model_zip(path) as zf:
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
             f"; {len(doc['members'])} member(s)",
             "forward      " + ("ONNX graph stored (prediction runs it on ONNX Runtime)" if doc.get("forward_graph")
                                else "no ONNX graph (format 1): built from the networks on load, which imports "
                                     "TensorFlow")]
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
    aoa = doc.get("applicability")
    lines.append(f"applicability  threshold {aoa['threshold']:.4g} on {aoa['n_rows']} training rows ({aoa['method']}; "
                 f"weights: {aoa['weights_from']})" if aoa else
                 "applicability  none (trained before the rows were kept: retrain for predict --applicability)")
    return "\n".join(lines)
