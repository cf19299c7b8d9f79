"""The backend runner in QGIS's own Python, against a fake backend (progress, errors, env, cancel).

The fake (qgis_scripts/fake_backend.py) stands in for georaster-dl only here, where the
runner's reactions to exact line sequences and to a backend that ignores SIGTERM are tested;
the algorithm tests use the real backend.
"""

from __future__ import annotations

import pytest

from qgis_support import requires_qgis, run_script, qgis_env

pytestmark = [pytest.mark.qgis, requires_qgis]


@pytest.fixture(scope="module")
def observed(tmp_path_factory):
    work = tmp_path_factory.mktemp("runner")
    return run_script(qgis_env(work / "home"), "runner_checks.py", work)


def kinds(calls, kind):
    return [value for k, value in calls if k == kind]


def test_json_progress_lines_drive_progress_and_messages(observed):
    run = observed["progress"]
    assert run["exception"] is None and run["output"] == "done"
    assert kinds(run["calls"], "progress") == [0, 25, 50, 75, 100, 100 / 3, 200 / 3, 100]
    infos = kinds(run["calls"], "info")
    assert infos == ["reading inputs", "features: computing features", "predict: window 1 of 3", "plain stdout line"]
    assert "computing features (about 4 s left)" in kinds(run["calls"], "text")
    # before the backend says anything, and each information line as it comes
    assert kinds(run["calls"], "text")[:2] == [
        "Starting the georaster-dl backend (loading Python, TensorFlow and the model)", "reading inputs"]
    assert run["calls"].index(["text", kinds(run["calls"], "text")[0]]) < run["calls"].index(["info", "reading inputs"])
    assert kinds(run["calls"], "warning") == ["3 labels fall outside the grid"]
    assert kinds(run["calls"], "console") == ["some library chatter"]
    assert "fake_backend.py --json-progress progress" in kinds(run["calls"], "command")[0]


def test_backend_error_line_is_raised_once_and_only_this_runs_files_are_removed(observed):
    run = observed["fail"]
    message = "input dem: /nope.tif does not exist; check the path"
    assert run["exception"] == message  # QGIS reports the exception; not reported a second time
    assert kinds(run["calls"], "error") == []
    # the journal this run wrote is gone; the partial file that was there before it (another run's) is not
    assert run["left"] == ["fail.tif.partial"]


def test_child_environment_is_cleaned_of_qgis_variables(observed):
    run = observed["env"]
    assert run["exception"] is None
    env = run["child_env"]
    for name in ("PYTHONHOME", "PYTHONPATH", "GDAL_DATA", "PROJ_LIB", "QGIS_PREFIX_PATH", "OSGEO4W_ROOT"):
        assert name not in env
    assert "/opt/osgeo4w/bin" not in env["PATH"].split(":")
    assert "/usr/bin" in env["PATH"].split(":") and env["HOME"]


def test_cancel_kills_a_stuck_backend_and_its_workers_within_two_seconds(observed):
    run = observed["cancel"]
    assert run["exception"].startswith("Cancelled")
    assert run["seconds"] < 2.0
    assert run["alive"] == []
    assert run["left"] == []  # hang.tif.partial removed
