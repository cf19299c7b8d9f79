"""Runs write only where the user said, YAML never runs code, and no code builds shell commands.

(Model files that try to run code, hostile members and Lambda layers are refused in
tests/test_bundle.py and tests/test_bad_inputs.py.)
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from model_support import sample_area

from georaster_dl.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
#: Folders whose code runs on users' data.
CODE = [ROOT / "georaster_dl", ROOT / "qgis_plugin"]
SCRIPT = Path(sys.executable).with_name("georaster-dl")
TINY = ["--epochs", "2", "--hidden", "4", "--patience", "0"]


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


@pytest.fixture
def places(tmp_path, monkeypatch) -> dict[str, Path]:
    """Inputs (a copy of the sample data), an output folder, an empty working directory and
    an empty temporary folder (TMPDIR) for the runs."""
    inputs = tmp_path / "inputs"
    shutil.copytree(Path(sample_area()["spec"]).parent, inputs)
    folders = {"inputs": inputs, "out": tmp_path / "out", "cwd": tmp_path / "cwd", "tmp": tmp_path / "tmp"}
    for key in ("out", "cwd", "tmp"):
        folders[key].mkdir()
    monkeypatch.setenv("TMPDIR", str(folders["tmp"]))
    return folders


def _cli(places: dict[str, Path], *args: str) -> None:
    """Run the installed console script in its own process, as users and QGIS do."""
    run = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, cwd=places["cwd"], timeout=300)
    assert run.returncode == 0, run.stderr


def test_train_and_predict_write_only_their_outputs(places):
    inputs, out = places["inputs"], places["out"]
    before = _tree(inputs)
    _cli(places, "train", "--task", "prospectivity", "--spec", str(inputs / "spec.yaml"),
         "--labels", str(inputs / "deposits.gpkg"), *TINY, "--out", str(out / "model.gdl"),
         "--metrics", str(out / "metrics.json"), "--report", str(out / "report.html"))
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "model.gdl", "report.html"]
    _cli(places, "predict", str(out / "model.gdl"), str(out / "map.tif"))
    assert sorted(p.name for p in out.iterdir()) == ["map.qml", "map.tif", "metrics.json", "model.gdl",
                                                     "report.html"]
    assert _tree(inputs) == before
    # TensorFlow's compiled-function sources live in TMPDIR until the process exits
    assert list(places["cwd"].iterdir()) == [] and list(places["tmp"].iterdir()) == []


def test_yaml_python_tags_are_never_executed(tmp_path, capsys):
    marker = tmp_path / "executed"
    (tmp_path / "spec.yaml").write_text(
        "grid: !!python/object/apply:os.system ['touch " + str(marker) + "']\n"
        "inputs: {dem: dem.tif}\nfeatures: [dem]\n")
    for args in (["stack", str(tmp_path / "spec.yaml"), str(tmp_path / "out.tif")],
                 ["info", str(tmp_path / "spec.yaml")]):
        assert main(args) == 2
        assert "Python tags such as !!python/object are never loaded" in capsys.readouterr().err
    assert not marker.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node, ast.unparse(node.func)


def _problems(path: Path, root: Path = ROOT) -> list[str]:
    """Calls and imports that would run strings as code or commands, in one source file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node, name in _calls(tree):
        where = f"{path.relative_to(root)}:{node.lineno}"
        if any(k.arg == "shell" and not (isinstance(k.value, ast.Constant) and k.value.value is False)
               for k in node.keywords):
            found.append(f"{where}: shell= in {name}()")
        if name in ("os.system", "os.popen", "eval", "exec", "yaml.load", "yaml.load_all", "yaml.unsafe_load",
                    "yaml.full_load", "pickle.load", "pickle.loads"):
            found.append(f"{where}: {name}()")
        if name.startswith("subprocess.") and node.args and isinstance(node.args[0], (ast.Constant, ast.JoinedStr,
                                                                                      ast.BinOp)):
            found.append(f"{where}: {name}() with a command string, not an argument list")
        if any(k.arg == "safe_mode" and isinstance(k.value, ast.Constant) and k.value.value is False
               for k in node.keywords):
            found.append(f"{where}: safe_mode=False in {name}()")
    for node in ast.walk(tree):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        for module in names:
            if module.split(".")[0] in ("pickle", "marshal", "shelve", "dill", "cloudpickle"):
                found.append(f"{path.relative_to(root)}:{node.lineno}: imports {module}")
    return found


def test_no_code_runs_shell_strings_eval_or_unsafe_loaders():
    files = [p for folder in CODE for p in sorted(folder.rglob("*.py"))]
    assert len(files) > 50  # the walk found the code
    problems = [line for path in files for line in _problems(path)]
    assert problems == []


def test_the_source_check_catches_what_it_looks_for(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os, pickle, subprocess, yaml\n"
                   "subprocess.run('ls ' + x, shell=True)\nsubprocess.Popen(f'rm {x}')\nos.system('ls')\n"
                   "yaml.load(text)\neval(expr)\nkeras.saving.load_model(p, safe_mode=False)\n"
                   "subprocess.run(['ls', x], shell=False)\nyaml.safe_load(text)\n")
    assert len(_problems(bad, tmp_path)) == 8, _problems(bad, tmp_path)


def test_info_on_a_raster_writes_nothing_beside_it(places):
    inputs = places["inputs"]
    before = _tree(inputs)
    for name in sorted(p.name for p in inputs.glob("*.tif")):
        _cli(places, "info", str(inputs / name))
    assert _tree(inputs) == before  # no .aux.xml of the statistics info computes


def test_an_unreachable_scheduler_is_announced_and_refused_within_seconds(places):
    inputs, out = places["inputs"], places["out"]
    _cli(places, "train", "--task", "prospectivity", "--spec", str(inputs / "spec.yaml"),
         "--labels", str(inputs / "deposits.gpkg"), *TINY, "--out", str(out / "model.gdl"))
    proc = subprocess.Popen([str(SCRIPT), "predict", str(out / "model.gdl"), str(out / "map.tif"), "--scheduler",
                             "tcp://127.0.0.1:1"], stderr=subprocess.PIPE, text=True, cwd=places["cwd"])
    first = proc.stderr.readline()  # says what it waits for before loading anything
    assert first.startswith("connecting to the dask scheduler at tcp://127.0.0.1:1 (giving up after 3 s)")
    assert proc.wait(timeout=60) == 2
    last = proc.stderr.read()
    assert last.startswith("error: --scheduler tcp://127.0.0.1:1: cannot reach a dask scheduler there")
    assert sorted(p.name for p in out.iterdir()) == ["model.gdl"]


def test_a_killed_run_leaves_nothing_in_the_temporary_folder_once_another_runs(places):
    # TensorFlow writes __autograph_generated_file*.py sources to the temporary folder and deletes
    # them only at a normal exit; a run keeps them in its own folder, which the next run deletes.
    inputs, tmp = places["inputs"], places["tmp"]
    proc = subprocess.Popen([str(SCRIPT), "train", "--task", "prospectivity", "--spec", str(inputs / "spec.yaml"),
                             "--labels", str(inputs / "deposits.gpkg"), "--epochs", "100000", "--hidden", "4",
                             "--patience", "0", "--out", str(places["out"] / "model.gdl")],
                            stderr=subprocess.DEVNULL, cwd=places["cwd"])
    deadline = time.monotonic() + 240
    while not list(tmp.rglob("__autograph_generated_file*.py")) and time.monotonic() < deadline:
        assert proc.poll() is None
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    left = list(tmp.rglob("__autograph_generated_file*.py"))
    assert left and all(p.parent.name.startswith(f"georaster_dl-{proc.pid}-") for p in left)
    _cli(places, "info", str(inputs / "spec.yaml"))
    assert list(tmp.iterdir()) == []
