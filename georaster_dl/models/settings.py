"""Training settings other than the network: background sampling, ensembles, cross-validation."""

from __future__ import annotations

import math
from dataclasses import dataclass

from georaster_dl.errors import UserInputError


@dataclass(frozen=True)
class TrainSettings:
    """How samples are drawn and models are repeated (everything but the network).

    Presence-only handling (prospectivity): ``presence_neighbours`` r adds the valid cells
    within r cells (a square) of each presence as presences of their own. ``tune`` picks
    each model's network options by inner spatial cross-validation (:mod:`georaster_dl.models.tune`).
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

    def check(self, task: str) -> None:
        """Raise :class:`UserInputError` naming the first option whose value cannot work."""
        for flag, value in (("--background-ratio", self.background_ratio), ("--buffer", self.buffer),
                            ("--cv-block-size", self.cv_block_size), ("--cv-buffer", self.cv_buffer)):
            if value is not None and not math.isfinite(value):
                raise UserInputError(f"{flag} must be a finite number, got {value}")
        if self.cv_block_size is not None and self.cv_block_size <= 0:
            raise UserInputError(f"--cv-block-size must be a positive distance in grid units, got {self.cv_block_size}")
        if int(self.ensemble) < 1:
            raise UserInputError(f"--ensemble must be at least 1, got {self.ensemble}")
        if self.background_ratio < 0 or (task == "prospectivity" and self.background_ratio == 0):
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
