"""The plugin loads in real, headless QGIS: provider, algorithms, help, backend setting, packaging."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
import sys
import zipfile

import numpy as np
import pytest
import rasterio
from affine import Affine

import georaster_dl
from qgis_support import (ALGORITHMS, BACKEND, PLUGIN, PLUGIN_PARENT, REPO, make_profile, qgis_env,
                          qgis_process, requires_qgis, run_script)

@pytest.fixture(scope="module")
def no_backend_env(tmp_path_factory):
    """A QGIS profile with the plugin enabled, no backend setting and no backend on PATH."""
    return make_profile(tmp_path_factory.mktemp("qgis_home"), backend=None)


@pytest.fixture(scope="module")
def provider(no_backend_env):
    return run_script(no_backend_env, "provider_checks.py", BACKEND)


def test_about_and_install_help_name_the_same_install_command():
    about = (PLUGIN_PARENT / PLUGIN / "metadata.txt").read_text()
    command = "python3 -m venv ~/georaster-dl && ~/georaster-dl/bin/pip install /path/to/georaster_dl"
    assert command in about and command in (PLUGIN_PARENT / PLUGIN / "backend.py").read_text()
    assert command in (REPO / "README.md").read_text()


@pytest.mark.qgis
@requires_qgis
def test_the_backend_setting_accepts_a_path_beginning_with_a_tilde(provider):
    assert provider["tilde"] == ["", [True, ""]]  # "~/..." as the help text writes it
    assert provider["tilde_missing"].startswith("~/no-such-georaster-dl does not exist")


def test_metadata_version_matches_package():
    text = (PLUGIN_PARENT / PLUGIN / "metadata.txt").read_text()
    assert re.search(r"^version=(.+)$", text, re.M).group(1) == georaster_dl.__version__
    for key in ("qgisMinimumVersion=3.22", "hasProcessingProvider=yes", "about=", "tags="):
        assert key in text


def test_build_zip_holds_one_plugin_folder_without_caches(tmp_path):
    target = tmp_path / "georaster_dl_qgis.zip"
    subprocess.run([sys.executable, str(PLUGIN_PARENT / "build_zip.py"), str(target)], check=True, cwd=REPO)
    names = zipfile.ZipFile(target).namelist()
    assert {n.split("/")[0] for n in names} == {PLUGIN}
    for required in ("metadata.txt", "__init__.py", "provider.py", "runner.py", "icons/georaster_dl.svg",
                     "algorithms/base.py", *(f"algorithms/{a}.py" for a in ALGORITHMS)):
        assert f"{PLUGIN}/{required}" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


@pytest.mark.qgis
@requires_qgis
def test_zip_installs_into_a_profile_like_install_from_zip(tmp_path):
    target = tmp_path / "georaster_dl_qgis.zip"
    subprocess.run([sys.executable, str(PLUGIN_PARENT / "build_zip.py"), str(target)], check=True, cwd=REPO,
                   capture_output=True)
    home = tmp_path / "home"
    zipfile.ZipFile(target).extractall(home / ".local/share/QGIS/QGIS3/profiles/default/python/plugins")
    env = {k: v for k, v in qgis_env(home).items() if k not in ("QGIS_PLUGINPATH", "PYTHONPATH")}
    assert qgis_process(env, "plugins", "enable", PLUGIN).returncode == 0
    assert set(re.findall(r"georaster_dl:(\w+)", qgis_process(env, "list").stdout)) == set(ALGORITHMS)


def test_algorithm_modules_stay_small():
    for name in ALGORITHMS:
        lines = (PLUGIN_PARENT / PLUGIN / "algorithms" / f"{name}.py").read_text().count("\n")
        assert lines < 100, f"{name}.py has {lines} lines"


@pytest.mark.qgis
@requires_qgis
def test_qgis_process_lists_every_algorithm(no_backend_env):
    done = qgis_process(no_backend_env, "list")
    assert done.returncode == 0, done.stderr
    assert "GeoRaster DL" in done.stdout
    listed = set(re.findall(r"georaster_dl:(\w+)", done.stdout))
    assert listed == set(ALGORITHMS)


@pytest.mark.qgis
@requires_qgis
def test_every_algorithm_and_parameter_has_help(provider):
    assert provider["provider"] == ["georaster_dl", "GeoRaster DL", True]
    assert set(provider["algorithms"]) == set(ALGORITHMS)
    for name, alg in provider["algorithms"].items():
        assert alg["undocumented"] == [], name
        assert len(alg["help"]) > 200 and alg["group"], name


@pytest.mark.qgis
@requires_qgis
def test_every_algorithm_links_its_readme_section_and_has_an_icon_for_the_model_designer(provider):
    homepage = re.search(r"^homepage=(.+)$", (PLUGIN_PARENT / PLUGIN / "metadata.txt").read_text(), re.M).group(1)
    headings = re.findall(r"^## (.+)$", (REPO / "README.md").read_text(), re.M)
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}  # GitHub's anchors
    for name, alg in provider["algorithms"].items():
        url, _, anchor = alg["help_url"].partition("#")
        assert url == homepage and anchor in anchors, (name, alg["help_url"])
        assert alg["svg_icon"].endswith("georaster_dl.svg") and Path(alg["svg_icon"]).is_file()


@pytest.mark.qgis
@requires_qgis
def test_backend_setting_lives_in_processing_options_and_accepts_executable_or_venv(provider):
    assert provider["setting_group"] == "GeoRaster DL"
    assert provider["executable"] == [True, ""]
    assert provider["venv_folder"] == [True, ""]
    ok, message = provider["bad_path"]
    assert not ok and "qgis_scripts" in message and "pip install /path/to/georaster_dl" in message
    assert provider["after_unload"]


@pytest.mark.qgis
@requires_qgis
def test_toolbox_refuses_to_open_an_algorithm_without_backend_and_says_how_to_install(provider):
    ok, message = provider["unset"]
    assert not ok
    for hint in ("not on PATH", "python3 -m venv ~/georaster-dl && ~/georaster-dl/bin/pip install "
                 "/path/to/georaster_dl",
                 "Processing > Options > Providers > GeoRaster DL", "Never put the environment's bin folder first",
                 "fails to load its SIP module"):
        assert hint in message
    assert "pip install georaster_dl" not in message  # no such package is published


@pytest.mark.qgis
@requires_qgis
def test_run_without_backend_fails_with_install_instructions(no_backend_env, tmp_path):
    dem = tmp_path / "dem.tif"
    with rasterio.open(dem, "w", driver="GTiff", width=8, height=8, count=1, dtype="float32", crs="EPSG:32633",
                       transform=Affine(30, 0, 500000, 0, -30, 5200000)) as ds:
        ds.write(np.arange(64, dtype="float32").reshape(1, 8, 8))
    done = qgis_process(no_backend_env, "run", "georaster_dl:terrain_features", f"--INPUT={dem}",
                        f"--OUTPUT={tmp_path / 'slope.tif'}")
    assert done.returncode != 0
    assert "GeoRaster DL backend not found" in done.stderr and "pip install /path/to/georaster_dl" in done.stderr
    assert "Traceback" not in done.stderr
    assert not list(tmp_path.glob("slope*"))


@pytest.mark.qgis
@requires_qgis
def test_the_model_designer_lists_training_steps_model_files_first_for_every_model_parameter(no_backend_env):
    result = run_script(no_backend_env, "modeler_checks.py")
    landforms = ["georaster_dl:train_landforms_1", "OUTPUT"]
    prospectivity = ["georaster_dl:train_prospectivity_1", "OUTPUT"]
    first = {"map_prospectivity": [prospectivity, landforms], "classify_landforms": [landforms, prospectivity],
             "predict": [landforms, prospectivity], "evaluate": [landforms, prospectivity],
             "describe_model": [landforms, prospectivity]}  # the expected task's model first, else by step id
    for name, models in first.items():
        lists = result[name]
        assert lists["offered"][:2] == models, name
        assert sorted(lists["offered"]) == sorted(lists["qgis_own"]), name  # QGIS's list, only reordered
        assert lists["chosen"] == prospectivity, name  # a step output chosen in the designer is kept
        assert lists["toolbox"] == "QgsAbstractProcessingParameterWidgetWrapper", name  # QGIS's own file widget
    assert result["batch"]
