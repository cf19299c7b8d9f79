"""What every task declares: the :class:`Task` interface."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from georaster_dl.io import qml


class Task:
    """One kind of model: what its network outputs, how its labels become targets, what
    prediction writes and how it is scored against the baselines.

    Subclasses set the class attributes and implement :meth:`targets`.
    """

    #: Name used on the command line, in model files and in the plugin.
    name: ClassVar[str]
    #: Losses the network may train with; the first is the default.
    losses: ClassVar[tuple[str, ...]]
    #: Keras activation of the output layer.
    output_activation: ClassVar[str]
    #: Labels are classes: class weights apply, the network outputs probabilities.
    classifies: ClassVar[bool] = True
    #: The linear baseline fitted beside the network ('logistic' or 'linear').
    linear_baseline: ClassVar[str] = "logistic"
    #: The score compared between the network and the baselines (higher is better), in
    #: cross-validation (``cv``) and in an evaluation (``evaluation``).
    headline: ClassVar[dict[str, str]]
    #: The figures shown beside the headline score in the report's baselines table.
    report_columns: ClassVar[dict[str, tuple[str, ...]]]
    #: Labels are presences (and optional known absences): background cells drawn from the grid
    #: are the negatives, and cross-validation folds are laid out around the presences.
    draws_background: ClassVar[bool] = False
    #: Scores rank every valid cell of the map (AUC against all cells, area captured by the top
    #: cells), rather than predicting labels cell by cell.
    ranks_cells: ClassVar[bool] = False
    #: Outputs are class probabilities that temperature scaling can calibrate (``--calibrate``).
    calibrates: ClassVar[bool] = False
    #: Fewest classes the training labels must hold.
    min_classes: ClassVar[int] = 0
    #: What to do when a training set holds a single class (classifiers).
    one_class_advice: ClassVar[str] = ""
    #: Figures of a cross-validation scored on the labels, summarised as mean and SD over folds.
    cv_keys: ClassVar[tuple[str, ...]] = ()
    #: What ``predict --bands`` may select.
    output_bands: ClassVar[tuple[str, ...]] = ("mean", "sd")
    #: Name of the predicted band (its SD band adds " sd"), also the report's colour-bar label.
    map_label: ClassVar[str] = "value"
    #: Colour ramp of the predicted band in QGIS, and colour map of the report's map.
    map_ramp: ClassVar[tuple[tuple[float, str], ...]] = qml.SEQUENTIAL_RAMP
    report_colormap: ClassVar[str] = "viridis"
    #: Range of the predicted band when fixed (probabilities); else the training targets' range.
    fixed_range: ClassVar[tuple[float, float] | None] = None

    def n_outputs(self, n_classes: int) -> int:
        """Units of the output layer for a model of ``n_classes`` classes."""
        return 1

    def targets(self, values: np.ndarray | None, n_labels: int, where: str) -> tuple[np.ndarray, list[dict] | None]:
        """Targets (int64 class indices or float64 values) and classes of ``n_labels`` labels
        whose field holds ``values`` (``None``: the labels have no field); ``where`` names the
        field in errors.

        Raises
        ------
        LabelError
        """
        raise NotImplementedError

    def class_names(self, classes: list[dict] | None) -> list[str] | None:
        """Names of the target classes, or None for a continuous target."""
        return None

    def needed_classes(self, n_classes: int) -> range | list[int]:
        """Indices of the classes that need labels (at least ``MIN_PER_CLASS`` each)."""
        return range(n_classes)

    def network_targets(self, y: np.ndarray, n_outputs: int, target: dict | None) -> np.ndarray:
        """What the network is fitted to: (n, n_outputs) float32."""
        return y.astype(np.float32)[:, None]

    def point(self, out: np.ndarray) -> np.ndarray:
        """One value per row of network outputs (n, n_outputs): what a map or a CV point shows."""
        return out[:, 0]

    def label_metrics(self, y: np.ndarray, outputs: np.ndarray, class_names: list[str] | None) -> dict:
        """Figures of network outputs (n, n_outputs) against the targets ``y`` of labelled cells
        (tasks that score labels cell by cell; see :attr:`ranks_cells`)."""
        raise NotImplementedError(f"a {self.name} model is scored on every cell of the map, not per label")

    def cv_extras(self, y: np.ndarray) -> dict:
        """Figures of a labelled cross-validation that depend on the labels alone."""
        return {}

    def row_score(self, y: np.ndarray, outputs: np.ndarray) -> float:
        """One figure of network outputs against targets, higher is better (permutation importance)."""
        raise NotImplementedError

    def sample_counts(self, y: np.ndarray, classes: list[dict] | None) -> dict:
        """What the training summary says of the final model's training rows besides their number."""
        return {}

    def outputs_from_probabilities(self, proba: np.ndarray) -> np.ndarray:
        """A classifier's class probabilities (n, classes) as the network's outputs."""
        return proba

    def baselines(self) -> tuple[str, str]:
        """The baselines fitted beside the network, in report order."""
        return (self.linear_baseline, "random_forest")
