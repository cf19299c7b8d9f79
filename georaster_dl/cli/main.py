"""The ``georaster-dl`` command: a click group, global options and error handling.

Errors from the user's input (:class:`~georaster_dl.errors.UserInputError`) and from the
option parser print one line ``error: ...`` on stderr and exit 2; other failures exit 1; Ctrl-C exits 130. A
traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback

import click

from georaster_dl import __version__, progress
from georaster_dl.cli.scratch import private_tempdir
from georaster_dl.errors import GeoRasterDLError, Interrupted, UserInputError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="georaster-dl")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.option("--json-progress", is_flag=True,
              help="Report progress as JSON lines on stdout ({stage, done, total, message, eta_s}).")
def cli(debug: bool, json_progress: bool) -> None:
    """Deep-learning mapping for geoscience rasters.

    Align DEMs, survey grids and vector layers on one grid, derive terrain features,
    train dense networks for landform classes, prospectivity and continuous targets,
    evaluate them with spatial cross-validation, and predict styled GeoTIFFs.
    """
    progress.configure(json_progress)


def _register_commands() -> None:
    from georaster_dl.cli import demo, evaluate, features, info, predict, sample_data, stack, targets, train

    for module in (info, stack, features, train, evaluate, predict, targets, sample_data, demo):
        cli.add_command(module.command)


_register_commands()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter off stderr
    if not debug:
        # GDAL's messages reach Python's logging through rasterio; with no handler, Python prints
        # each one raw ("_tiffWriteProc: File too large." on a full disk) before our one line.
        logging.getLogger("rasterio").addHandler(logging.NullHandler())
    try:
        with private_tempdir():
            cli.main(args=args, prog_name="georaster-dl", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:  # the option parser's errors: the same one line as ours
        click.echo(f"error: {_parser_message(exc)}", err=True)
        return exc.exit_code
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("interrupted: no output was finished", err=True)
        return EXIT_INTERRUPTED
    except Interrupted as exc:
        click.echo(f"interrupted: {exc}", err=True)
        return EXIT_INTERRUPTED
    except GeoRasterDLError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {exc}", err=True)
        return EXIT_USER_ERROR if isinstance(exc, UserInputError) else 1
    except Exception as exc:  # our fault: say so in one line, details with --debug
        if debug:
            traceback.print_exc()
        click.echo(f"error: internal error ({type(exc).__name__}: {exc}); rerun with --debug and report it",
                   err=True)
        return 1
    return 0


def _parser_message(exc: click.ClickException) -> str:
    """Click's message on one line, pointing to the command's ``--help`` for usage errors."""
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.UsageError) and ctx is not None:
        message = message.rstrip(".") + f"; see '{ctx.command_path} --help'"
    return message


def run() -> None:
    """Console-script wrapper."""
    code = main()
    if code == EXIT_INTERRUPTED:
        # Everything worth keeping is on disk; don't wait for window threads still computing.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
