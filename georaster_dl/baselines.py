"""Reference models fitted beside the network in cross-validation: logistic or linear
regression and a random forest (scikit-learn).

Each fold's baselines are fitted on exactly the rows that fold's network trained on (for
prospectivity the same presences and the same background cells: those of the first
ensemble member), after the same input preprocessing (the fold's fitted
:class:`~georaster_dl.models.preprocess.Preprocessor`: the spec's transforms, clipping and
standardisation; one-hot bands as they are). Training then scores them exactly as it
scores the network (same held-out cells, same metrics), so every run shows the
network's lift over simple models on the user's own data, or its absence. Evaluation
fits them on the final model's training rows, drawn again from the files the model
records (see :func:`georaster_dl.training.training_rows`), and scores them on the
evaluation labels.

- ``logistic`` (prospectivity, landform): L2-penalised logistic regression (C = 1, lbfgs;
  multinomial for several classes), with the network's class weights;
- ``linear`` (regression): ordinary least squares;
- ``random_forest``: :data:`N_TREES` trees with leaves of at least :data:`MIN_LEAF` rows,
  scikit-learn's other defaults (the network's class weights for classifiers), seeded
  from the run's seed, at most :data:`N_JOBS` threads. A forest is unaffected by monotone
  transforms, so the preprocessing matters to it only through clipping.

Examples
--------
>>> import numpy as np
>>> from georaster_dl.models.preprocess import Preprocessor
>>> from georaster_dl.samples import Samples
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(200, 2)).astype(np.float32)
>>> s = Samples(x, (x[:, 0] > 0).astype(np.int64), np.arange(200), np.arange(200))
>>> pre = Preprocessor.fit(x, ["a", "b"], ["continuous"] * 2, [None, None])
>>> models = fit_baselines("prospectivity", s, pre, "balanced", seed=0)
>>> sorted(models), models["logistic"](x[:3])[0].shape
(['logistic', 'random_forest'], (3, 1))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from georaster_dl.models.preprocess import Preprocessor
from georaster_dl.samples import Samples
from georaster_dl.tasks import get_task

#: Trees of each random forest. On Cloncurry 300 trees scored the same pooled AUC as 200 (0.752)
#: and cost 35 % more to score every cell.
N_TREES = 200
#: Fewest rows in a forest's leaf. scikit-learn's default (1) grows leaves around single deposits:
#: on Cloncurry it scored 0.730 pooled against 0.752 with 5 (0.754 with 3), and its trees, twice
#: as deep, took 30 % longer to score every cell. 5 is also ranger's default for regression.
MIN_LEAF = 5
#: Most threads a forest fits or predicts with.
N_JOBS = 2
@dataclass
class Baseline:
    """A fitted scikit-learn model called like :class:`~georaster_dl.models.forward.Forward`.

    ``baseline(x)`` takes raw feature rows (n, bands) and returns a one-tuple holding the
    probability of presence (n, 1), the class probabilities (n, classes) or the value
    (n, 1), so the scoring paths of the network take it unchanged.
    """

    model: Any
    preprocess: Preprocessor
    task: str
    n_classes: int

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray]:
        z = self.preprocess.apply(x)
        task = get_task(self.task)
        if not task.classifies:
            return (self.model.predict(z).astype(np.float32)[:, None],)
        proba = self.model.predict_proba(z)
        # A class missing from a fold's training rows has no column: give it probability 0.
        out = np.zeros((len(z), self.n_classes), np.float32)
        out[:, self.model.classes_] = proba
        return (task.outputs_from_probabilities(out),)


def fit_baselines(task: str, samples: Samples, preprocess: Preprocessor, class_weights: str,
                  seed: int, n_classes: int = 2) -> dict[str, Baseline]:
    """Fit the baselines of ``task`` on ``samples``.

    Parameters
    ----------
    task : {'landform', 'prospectivity', 'regression'}
    samples : Samples
        The training rows (raw features, targets).
    preprocess : Preprocessor
        The scaling the network of these rows was trained with.
    class_weights : {'balanced', 'none'}
        The network's class weights (classifiers only).
    seed : int
        Seeds the random forest.
    n_classes : int
        Classes of a landform model (2 for prospectivity).

    Returns
    -------
    dict
        ``{name: Baseline}`` in the order of the task's
        :meth:`~georaster_dl.tasks.Task.baselines`.
    """
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.linear_model import LinearRegression, LogisticRegression

    z = preprocess.apply(samples.x)
    if not get_task(task).classifies:
        models = [LinearRegression(), RandomForestRegressor(n_estimators=N_TREES, min_samples_leaf=MIN_LEAF,
                                                            random_state=seed, n_jobs=N_JOBS)]
    else:
        weight = "balanced" if class_weights == "balanced" else None
        models = [LogisticRegression(C=1.0, max_iter=2000, class_weight=weight),
                  RandomForestClassifier(n_estimators=N_TREES, min_samples_leaf=MIN_LEAF, class_weight=weight,
                                         random_state=seed, n_jobs=N_JOBS)]
    fitted = {}
    for name, model in zip(get_task(task).baselines(), models):
        model.fit(z, samples.y)
        fitted[name] = Baseline(model, preprocess, task, n_classes)
    return fitted


def lift_line(key: str, network: dict, baselines: dict) -> str:
    """One line: the baselines' scores ``key`` and the network's lift over the best of them.

    Examples
    --------
    >>> lift_line("auc_pooled", {"auc_pooled": 0.77},
    ...           {"logistic": {"auc_pooled": 0.74}, "random_forest": {"auc_pooled": 0.75}})
    'baselines: logistic auc_pooled 0.740, random_forest 0.750; network lift over the best (random_forest) +0.020'
    """
    scores = {name: b.get(key) for name, b in baselines.items() if isinstance(b.get(key), float)}
    if not scores:
        return "baselines: no score"
    text = "baselines: " + ", ".join(f"{name} {key + ' ' if i == 0 else ''}{v:.3f}"
                                     for i, (name, v) in enumerate(scores.items()))
    best = max(scores, key=scores.get)
    ours = network.get(key)
    if not isinstance(ours, float):
        return text
    lift = ours - scores[best]
    verdict = "lift over the best" if lift > 0 else "NO lift over the best"
    return f"{text}; network {verdict} ({best}) {lift:+.3f}"
