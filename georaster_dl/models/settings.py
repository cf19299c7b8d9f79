"""Training settings other than the network: background sampling, ensembles, cross-validation."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from georaster_dl.errors import UserInputError
from georaster_dl.tasks import get_task


@dataclass(frozen=True)
class TrainSettings:
    """How samples are drawn and models are repeated (everything but the network).

    Presence-only handling (prospectivity): ``presence_neighbours`` r adds the valid cells
    within r cells (a square) of each presence as presences of their own. ``tune`` picks
    each model's network options by inner spatial cross-validation (:mod:`georaster_dl.models.tune`).
    ``calibrate`` (class probabilities, with cross-validation) fits a temperature on the
    out-of-fold probabilities and applies it to the final model (:mod:`georaster_dl.calibration`).
    """

    background_ratio: float = 10.0
    buffer: float = 0.0
    ensemble: int = 5
    seed: int = 0
    cv_folds: int = 0
    cv_block_size: float | None = None
    cv_buffer: float = 0.0
    presence_neighbours: int = 0
    tune: bool = False
    calibrate: bool = False

    def validated(self, task: str) -> TrainSettings:
        """Check every setting for ``task``; return a copy with numbers of the right types.

        Raises
        ------
        UserInputError
            Naming the first option whose value cannot work.
        """
        typed = replace(self, background_ratio=float(self.background_ratio), buffer=float(self.buffer),
                        ensemble=int(self.ensemble), seed=int(self.seed), cv_folds=int(self.cv_folds),
                        cv_block_size=None if self.cv_block_size is None else float(self.cv_block_size),
                        cv_buffer=float(self.cv_buffer), presence_neighbours=int(self.presence_neighbours),
                        tune=bool(self.tune), calibrate=bool(self.calibrate))
        typed._check(task)
        return typed

    def _check(self, task: str) -> None:
        for flag, value in (("--background-ratio", self.background_ratio), ("--buffer", self.buffer),
                            ("--cv-block-size", self.cv_block_size), ("--cv-buffer", self.cv_buffer)):
            if value is not None and not math.isfinite(value):
                raise UserInputError(f"{flag} must be a finite number, got {value}")
        if self.cv_block_size is not None and self.cv_block_size <= 0:
            raise UserInputError(f"--cv-block-size must be a positive distance in grid units, got {self.cv_block_size}")
        if int(self.ensemble) < 1:
            raise UserInputError(f"--ensemble must be at least 1, got {self.ensemble}")
        if self.background_ratio < 0 or (get_task(task).draws_background and self.background_ratio == 0):
            raise UserInputError(f"--background-ratio must be positive (background cells per presence), "
                                 f"got {self.background_ratio}")
        if self.buffer < 0 or self.cv_buffer < 0:
            raise UserInputError("--buffer and --cv-buffer must be 0 or more grid units")
        if self.cv_folds and self.cv_block_size is None:
            raise UserInputError("--cv-folds needs --cv-block-size (block side in grid units, e.g. 10000)")
        if int(self.presence_neighbours) < 0:
            raise UserInputError(f"--presence-neighbours must be 0 or more cells, got {self.presence_neighbours}")
        if self.cv_folds == 1 or self.cv_folds < 0:
            raise UserInputError(f"--cv-folds must be 0 (none) or at least 2, got {self.cv_folds}")
        if self.calibrate and not get_task(task).calibrates:
            raise UserInputError(f"--calibrate applies to models of class probabilities (landform), not {task}: "
                                 "leave it out")
        if self.calibrate and not self.cv_folds:
            raise UserInputError("--calibrate needs --cv-folds: the temperature is fitted on the out-of-fold "
                                 "probabilities")
