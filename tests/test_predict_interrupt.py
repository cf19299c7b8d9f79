"""Interrupted predictions lose nothing: SIGKILL, Ctrl-C, --resume, locks, a full disk."""

from __future__ import annotations

import hashlib
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import write_raster
from predict_support import make_bundle, synthetic_dem

CLI = [sys.executable, "-m", "georaster_dl"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("interrupt")
    write_raster(d / "dem.tif", synthetic_dem(2048, 4096), nodata=np.nan)
    spec = {"inputs": {"dem": {"path": str(d / "dem.tif")}},
            "features": ["dem", "dem.slope", "dem.tpi(radius=10)", "dem.geomorphons(search=8)"]}
    path = make_bundle(spec, d / "model.gdl", members=2)
    reference = d / "reference.tif"
    subprocess.run(CLI + ["predict", str(path), str(reference), "--window", "512", "--workers", "1"],
                   check=True, capture_output=True)
    return path, reference


def _start(model_path: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(CLI + ["predict", str(model_path), str(out), "--window", "512", "--workers", "1", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_checkpoint(out: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    journal = Path(str(out) + ".partial.journal")
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if journal.exists() and "windows_done" in journal.read_text():
            return
        if proc.poll() is not None:
            pytest.fail(f"run ended before its first checkpoint: {proc.stderr.read()}")
        time.sleep(0.01)
    pytest.fail("no checkpoint written")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sigkill_leaves_no_finished_file_and_resume_gives_identical_bytes(model, tmp_path):
    model_path, reference = model
    out = tmp_path / "map.tif"
    proc = _start(model_path, out)
    _wait_for_checkpoint(out, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    assert Path(str(out) + ".partial").exists()
    done = subprocess.run(CLI + ["predict", str(model_path), str(out), "--window", "512", "--workers", "1",
                                 "--resume"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "resuming after" in done.stderr
    assert _sha(out) == _sha(reference)
    assert not Path(str(out) + ".partial").exists() and not Path(str(out) + ".partial.journal").exists()


def test_ctrl_c_stops_quickly_says_what_was_kept_and_resume_finishes(model, tmp_path):
    model_path, reference = model
    out = tmp_path / "map.tif"
    proc = _start(model_path, out)
    _wait_for_checkpoint(out, proc)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 2.0
    assert proc.returncode == 130
    assert "windows are kept in" in stderr and "--resume" in stderr
    assert "Traceback" not in stderr
    assert not out.exists() and Path(str(out) + ".partial").exists()
    done = subprocess.run(CLI + ["predict", str(model_path), str(out), "--window", "512", "--workers", "1",
                                 "--resume"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    import rasterio

    with rasterio.open(out) as a, rasterio.open(reference) as b:
        assert np.array_equal(a.read(), b.read(), equal_nan=True)


def test_second_run_on_the_same_output_is_refused_and_the_first_is_unharmed(model, tmp_path):
    model_path, reference = model
    out = tmp_path / "map.tif"
    first = _start(model_path, out)
    _wait_for_checkpoint(out, first)
    second = subprocess.run(CLI + ["predict", str(model_path), str(out), "--overwrite"], capture_output=True, text=True)
    assert second.returncode == 2
    assert "another georaster-dl run is writing" in second.stderr
    assert first.wait(timeout=300) == 0
    assert _sha(out) == _sha(reference)


def test_two_runs_on_different_outputs_both_succeed(model, tmp_path):
    model_path, reference = model
    runs = [_start(model_path, tmp_path / f"map{i}.tif") for i in range(2)]
    assert [r.wait(timeout=300) for r in runs] == [0, 0]
    assert _sha(tmp_path / "map0.tif") == _sha(tmp_path / "map1.tif") == _sha(reference)


def test_full_disk_gives_a_clear_error_and_removes_what_it_wrote(model, tmp_path):
    model_path, _ = model
    out = tmp_path / "map.tif"

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    run = subprocess.run(CLI + ["predict", str(model_path), str(out), "--window", "512"],
                         capture_output=True, text=True, preexec_fn=limit_file_size)
    assert run.returncode == 2, run.stderr
    assert "error:" in run.stderr and "map.tif" in run.stderr and "Traceback" not in run.stderr
    # our progress line and one error line: no raw GDAL/libtiff lines ("_tiffWriteProc: File too large.")
    lines = run.stderr.strip().splitlines()
    assert lines[0].startswith("predicting") and len(lines) == 2 and lines[1].startswith("error: "), run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("task, interrupted_copy_no", [("prospectivity", 1), ("landform", 1), ("landform", 2)])
def test_ctrl_c_while_finishing_keeps_every_window_and_resume_only_finishes(model, tmp_path, monkeypatch, task,
                                                                              interrupted_copy_no):
    # A landform run writes two files (classes and probabilities); Ctrl-C may come while either is copied.
    import rasterio.shutil

    from georaster_dl.errors import Interrupted, UserInputError
    from georaster_dl.models.bundle import load_bundle
    from georaster_dl.prediction import predict

    model_path, reference = model
    if task == "landform":
        model_path = make_bundle(load_bundle(model_path).spec.to_dict(), tmp_path / "landform.gdl", task="landform")
        reference = tmp_path / "reference" / "map.tif"
        reference.parent.mkdir()
        predict(model_path, reference, window=512, workers=1)
    out = tmp_path / "map.tif"
    real_copy = rasterio.shutil.copy
    copies = []

    def interrupted_copy(src, dst, **options):
        real_copy(src, dst, **options)
        copies.append(dst)
        if len(copies) == interrupted_copy_no:
            raise KeyboardInterrupt  # the copy is written, then Ctrl-C arrives

    monkeypatch.setattr(rasterio.shutil, "copy", interrupted_copy)
    with pytest.raises(Interrupted, match="--resume"):
        predict(model_path, out, window=512, workers=1)
    partials = ["map.tif.partial"] + (["map_probabilities.tif.partial"] if task == "landform" else [])
    # every partial file kept, the journal beside them, no finished copy and no final name
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("map")) == sorted(
        partials + ["map.tif.partial.journal"])
    monkeypatch.setattr(rasterio.shutil, "copy", real_copy)
    # a scheduler that cannot be reached is refused before the kept files are touched
    with pytest.raises(UserInputError, match="--scheduler"):
        predict(model_path, out, window=512, workers=1, resume=True, scheduler="no-such-scheduler")
    assert all((tmp_path / n).exists() for n in partials)
    done = subprocess.run(CLI + ["predict", str(model_path), str(out), "--window", "512", "--workers", "1",
                                 "--resume"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "resuming after 32 finished window(s)" in done.stderr  # 2048 x 4096 in 512 windows: all of them
    assert _sha(out) == _sha(reference)
    expected = ["map.qml", "map.tif"] + (["map_probabilities.qml", "map_probabilities.tif"] if task == "landform" else [])
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("map")) == sorted(expected)
    if task == "landform":
        assert _sha(tmp_path / "map_probabilities.tif") == _sha(reference.with_name("map_probabilities.tif"))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_resume_with_an_input_override_gives_identical_bytes(model, tmp_path, sig):
    # The override's fingerprint once failed its JSON round trip: every resume with --input was refused.
    from georaster_dl.models.bundle import load_bundle

    model_path, reference = model
    dem = load_bundle(model_path).spec.inputs["dem"].path
    out = tmp_path / "map.tif"
    proc = _start(model_path, out, "--input", f"dem={dem}")
    _wait_for_checkpoint(out, proc)
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert not out.exists() and Path(str(out) + ".partial").exists()
    again = subprocess.run(CLI + ["predict", str(model_path), str(out), "--window", "512", "--workers", "1"],
                           capture_output=True, text=True)  # a fresh run would discard what was computed
    assert again.returncode == 2 and "--resume to continue it, or with --overwrite" in again.stderr
    done = subprocess.run(CLI + ["predict", str(model_path), str(out), "--window", "512", "--workers", "1",
                                 "--input", f"dem={dem}", "--resume"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "resuming after" in done.stderr
    assert _sha(out) == _sha(reference)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.qml", "map.tif"]
