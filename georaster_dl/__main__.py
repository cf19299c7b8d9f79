"""``python -m georaster_dl`` runs the CLI."""

from georaster_dl.cli.main import run

run()
