"""The public API: ``georaster_dl.train`` / ``predict`` / ``evaluate`` are the functions,
whatever was imported before (submodules named like them would shadow them)."""

import subprocess
import sys


def test_api_names_are_functions_after_the_cli_is_imported():
    code = ("import georaster_dl.cli.main, georaster_dl.demo\n"
            "import georaster_dl as gdl\n"
            "from georaster_dl import train, predict, evaluate\n"
            "assert all(callable(f) for f in (train, predict, evaluate, gdl.train, gdl.predict, gdl.evaluate))\n"
            "print(train.__module__, predict.__module__, evaluate.__module__)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["georaster_dl.training", "georaster_dl.prediction", "georaster_dl.evaluation"]
