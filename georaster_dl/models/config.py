"""One :class:`TrainConfig`: every choice of a training run, built by keyword and validated once.

The CLI, the Python API (:func:`georaster_dl.training.train`) and the QGIS plugin (through the
CLI) all end here. Defaults live in one place each: the fields of
:class:`~georaster_dl.models.network.NetworkOptions` (the network),
:class:`~georaster_dl.models.settings.TrainSettings` (sampling, ensembles, cross-validation)
and :class:`TrainConfig` (labels and baselines).

Examples
--------
>>> config = TrainConfig.from_options("prospectivity", hidden="32,16", cv_folds=5, cv_block_size=3000)
>>> config.network.hidden, config.network.loss, config.settings.cv_folds
((32, 16), 'binary_crossentropy', 5)
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from georaster_dl.errors import closest, one_of
from georaster_dl.models.network import NetworkOptions, OptionError
from georaster_dl.models.settings import TrainSettings

#: Share of the training samples held out (in spatial blocks) to stop training early.
VALIDATION_FRACTION = 0.2


@dataclass(frozen=True)
class TrainConfig:
    """Every choice of a training run, validated for its task.

    Attributes
    ----------
    task : {'landform', 'prospectivity', 'regression'}
    network : NetworkOptions
        Architecture and fitting (validated: the loss filled in).
    settings : TrainSettings
        Background sampling, ensemble, seed and cross-validation.
    label_field, where, layer : str or None
        Which labels: the field, a filter on the attributes, the layer of a vector file.
    baselines : bool
        With cross-validation, also fit and score the baselines on the same folds.
    """

    task: str
    network: NetworkOptions = field(default_factory=NetworkOptions)
    settings: TrainSettings = field(default_factory=TrainSettings)
    label_field: str | None = None
    where: str | None = None
    layer: str | None = None
    baselines: bool = True

    @classmethod
    def from_options(cls, task: str, **options: Any) -> TrainConfig:
        """A validated config from options by name: those of :class:`NetworkOptions`,
        :class:`TrainSettings` and ``label_field``, ``where``, ``layer``, ``baselines``.

        Raises
        ------
        OptionError
            An unknown option name (with the closest valid one).
        UserInputError
            An option whose value cannot work.
        """
        network_names = {f.name for f in fields(NetworkOptions)}
        settings_names = {f.name for f in fields(TrainSettings)}
        own_names = {f.name for f in fields(cls)} - {"task", "network", "settings"}
        valid = sorted(network_names | settings_names | own_names)
        for name in options:
            if name not in valid:
                raise OptionError(f"unknown training option {name!r}{closest(name, valid)}; valid: {one_of(valid)}")
        network = NetworkOptions(**{k: v for k, v in options.items() if k in network_names}).validated(task)
        settings = TrainSettings(**{k: v for k, v in options.items() if k in settings_names}).validated(task)
        return cls(task, network, settings, **{k: v for k, v in options.items() if k in own_names})

    def to_dict(self, labels: str | None) -> dict[str, Any]:
        """What a model file records of its training (``options``); ``labels`` is the labels
        file, or None for labels passed in memory."""
        return {"network": self.network.to_dict(), "training": {
            **self.settings.__dict__, "baselines": bool(self.baselines), "label_field": self.label_field,
            "where": self.where, "layer": self.layer, "labels": labels, "validation_fraction": VALIDATION_FRACTION}}
