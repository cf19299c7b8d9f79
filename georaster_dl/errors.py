"""Exceptions raised by georaster_dl.

Every error the library raises on purpose derives from :class:`GeoRasterDLError`.
Errors caused by the user's input (a bad file, a bad parameter, an existing output)
also derive from :class:`UserInputError`; the CLI maps those to exit code 2 and prints
their message as one line. Anything else is our fault and exits 1.

Messages follow one shape: what is wrong, naming the file or parameter, then what to do.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GeoRasterDLError(Exception):
    """Root of every exception raised on purpose by georaster_dl."""


class UserInputError(GeoRasterDLError):
    """The user's input cannot be used as given (exit code 2 in the CLI)."""


class SpecError(UserInputError, ValueError):
    """A StackSpec document is invalid."""


class InputFileError(UserInputError, OSError):
    """An input file is missing, unreadable or not of the expected kind."""


class GridError(UserInputError, ValueError):
    """Inputs and the target grid do not fit together (no overlap, no CRS, ...)."""


class FeatureError(UserInputError, ValueError):
    """A feature name or parameter is unknown or invalid."""


class LabelError(UserInputError, ValueError):
    """Training or evaluation labels cannot be used."""


class OutputError(UserInputError, OSError):
    """An output path cannot be written (exists, folder missing, is a folder, ...)."""


class ModelFileError(UserInputError, ValueError):
    """A model bundle is not valid, has been tampered with, or is too new."""


def closest(name: str, valid: Iterable[str]) -> str:
    """Return a " (did you mean 'x'?)" hint for ``name`` among ``valid``, or ``""``.

    Examples
    --------
    >>> closest("slpoe", ["slope", "aspect"])
    " (did you mean 'slope'?)"
    """
    matches = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.5)
    return f" (did you mean '{matches[0]}'?)" if matches else ""


def one_of(valid: Iterable[str]) -> str:
    """Format a list of valid choices for an error message."""
    return ", ".join(repr(v) for v in valid)


class Interrupted(GeoRasterDLError):
    """The user stopped a run (Ctrl-C); the message says what was kept (exit code 130)."""
