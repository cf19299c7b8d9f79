"""``python -m georaster_dl.sampledata [FOLDER] [--size N] [--seed N]``."""

from georaster_dl.cli.sample_data import command

command(prog_name="python -m georaster_dl.sampledata")
