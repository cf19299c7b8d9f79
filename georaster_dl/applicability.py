"""Area of applicability: where a model's inputs resemble what it was trained on.

After Meyer & Pebesma (2021, "Predicting into unknown space? Estimating the area of
applicability of spatial prediction models", Methods Ecol. Evol. 12: 1620-1633), as the R
package CAST's ``aoa()`` computes it:

1. Feature rows are standardised with the training rows' mean and standard deviation
   (CAST's ``scale()``; one-hot bands are 0/1 columns like any other) and each band is
   multiplied by its feature's weight: the feature's permutation importance from the
   cross-validation (negative drops count as 0). Raw values, not the network's transformed
   inputs, because the network's transforms (clip, quantile) saturate: a magnetic grid far
   outside the training range would map onto its largest training value and look familiar.
2. The dissimilarity index (DI) of a cell is the distance to the nearest training row in
   that weighted space over ``d_bar``, the mean distance between two training rows.
3. The threshold is taken from the training rows: each row's DI to the nearest training row
   in another cross-validation fold; threshold = 75th percentile + 1.5 IQR of those DIs,
   capped at their maximum (CAST's outlier rule). Cells with DI <= threshold are inside.

Without cross-validation folds each training row's DI is taken to the nearest *other*
training row (leave one out), which gives a smaller, stricter threshold; the method is
recorded with the threshold.

At most :data:`MAX_ROWS` training rows are kept (drawn with the training seed) in the model
file as a float32 ``.npy`` member; ``model.json`` holds the rest (:meth:`Applicability.to_dict`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from georaster_dl.errors import ModelFileError, UserInputError

#: Most training rows kept in the model file for the nearest-neighbour search.
MAX_ROWS = 5000
#: The model file member holding the standardised training rows.
ROWS_MEMBER = "applicability/rows.npy"
#: Rows per block when computing the mean distance between training rows (bounds memory).
_PAIR_BLOCK = 512
#: IQR multiple of the threshold rule (Meyer & Pebesma 2021; CAST).
IQR_FACTOR = 1.5


@dataclass
class Applicability:
    """What the area of applicability needs from training.

    Attributes
    ----------
    rows : numpy.ndarray
        float32 (n, bands): training rows standardised with ``mean`` and ``std`` (not weighted).
    mean, std : numpy.ndarray
        float64 (bands,): per-band standardisation (of the raw values, one-hot bands as 0/1).
    weights : numpy.ndarray
        float64 (bands,): per-band weight (its feature's importance; 0 drops a band).
    mean_distance : float
        ``d_bar``: mean weighted distance between two training rows.
    threshold : float
        Cells with a DI up to this are inside the area of applicability.
    method : str
        How the threshold was derived.
    weights_from : str
        Where the weights came from (``permutation importance`` or ``equal``).
    n_training : int
        Training rows the kept ``rows`` were drawn from.
    """

    rows: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray
    mean_distance: float
    threshold: float
    method: str
    weights_from: str
    n_training: int

    def to_dict(self, member_sha256: str) -> dict:
        """The ``model.json`` entry (the rows themselves are the member :data:`ROWS_MEMBER`)."""
        return {"name": ROWS_MEMBER, "sha256": member_sha256, "n_rows": int(self.rows.shape[0]),
                "n_training": int(self.n_training), "mean": self.mean.tolist(), "std": self.std.tolist(),
                "weights": self.weights.tolist(), "mean_distance": float(self.mean_distance),
                "threshold": float(self.threshold), "method": self.method, "weights_from": self.weights_from}

    @classmethod
    def from_dict(cls, entry: dict, rows: np.ndarray) -> Applicability:
        return cls(rows=rows, mean=np.asarray(entry["mean"], np.float64), std=np.asarray(entry["std"], np.float64),
                   weights=np.asarray(entry["weights"], np.float64), mean_distance=float(entry["mean_distance"]),
                   threshold=float(entry["threshold"]), method=str(entry["method"]),
                   weights_from=str(entry["weights_from"]), n_training=int(entry["n_training"]))

    def rows_bytes(self) -> bytes:
        """The rows as ``.npy`` bytes (deterministic)."""
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(self.rows, np.float32), allow_pickle=False)
        return buf.getvalue()

    def scorer(self) -> DissimilarityIndex:
        """The nearest-neighbour search over the kept rows (build once per worker)."""
        return DissimilarityIndex(self)


class DissimilarityIndex:
    """DI of feature rows: distance to the nearest kept training row over ``d_bar``.

    Parameters
    ----------
    aoa : Applicability

    Examples
    --------
    >>> di = bundle.applicability.scorer()  # doctest: +SKIP
    >>> di(rows)                            # rows: float32 (n, bands) as the stack reads them  # doctest: +SKIP
    """

    def __init__(self, aoa: Applicability) -> None:
        from scipy.spatial import cKDTree

        self.aoa = aoa
        self._used = np.flatnonzero(aoa.weights > 0)  # bands of weight 0 add nothing to a distance
        self._scale = (aoa.weights / aoa.std)[self._used]
        self._shift = aoa.mean[self._used]
        self._tree = cKDTree(aoa.rows[:, self._used].astype(np.float64) * aoa.weights[self._used])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """float32 DI of rows ``x`` (n, bands) of raw feature values (one-hot as 0/1), without NaN."""
        z = (np.asarray(x, np.float64)[:, self._used] - self._shift) * self._scale
        distance, _ = self._tree.query(z, k=1)  # exact: a row's DI does not depend on its neighbours in x
        return (distance / self.aoa.mean_distance).astype(np.float32)


def fit_applicability(x: np.ndarray, groups: dict[str, list[int]], importance: dict[str, float] | None,
                      folds: np.ndarray | None, seed: int) -> Applicability:
    """Fit the area of applicability on training rows.

    Parameters
    ----------
    x : numpy.ndarray
        Training feature rows (n, bands) as the stack reads them (one-hot as 0/1), without NaN.
    groups : dict
        Band indices of each feature (:func:`georaster_dl.importance.feature_groups`).
    importance : dict, optional
        Permutation importance per feature (the cross-validation's); None or no positive,
        finite figure: equal weights.
    folds : numpy.ndarray, optional
        Cross-validation fold of each row; None: leave-one-out threshold (see the module doc).
    seed : int
        Draws the kept rows when there are more than :data:`MAX_ROWS`.

    Returns
    -------
    Applicability
    """
    x = np.asarray(x, np.float64)
    n, n_bands = x.shape
    keep = np.arange(n)
    if n > MAX_ROWS:
        keep = np.sort(np.random.default_rng(seed).choice(n, MAX_ROWS, replace=False))
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[~(std > 0)] = 1.0  # a constant band: every row sits at 0
    weights, weights_from = _weights(groups, importance, n_bands)
    z = (x[keep] - mean) / std
    zw = z * weights
    d_bar = _mean_pairwise_distance(zw)
    if not d_bar > 0:
        d_bar = 1.0  # every training row alike: any difference is extrapolation
    if folds is not None and np.unique(folds[keep]).size > 1:
        nearest = _nearest_other_fold(zw, np.asarray(folds)[keep])
        method = "cv folds: DI to the nearest training row of another fold"
    else:
        from scipy.spatial import cKDTree

        nearest = cKDTree(zw).query(zw, k=2)[0][:, 1]  # the second neighbour: the first is the row itself
        method = "leave one out (no cross-validation folds): DI to the nearest other training row"
    train_di = nearest / d_bar
    q1, q3 = np.percentile(train_di, [25, 75])
    threshold = float(min(q3 + IQR_FACTOR * (q3 - q1), train_di.max()))
    method += "; threshold = 75th percentile + 1.5 IQR, at most the largest"
    return Applicability(rows=z.astype(np.float32), mean=mean, std=std, weights=weights, mean_distance=float(d_bar),
                         threshold=threshold, method=method, weights_from=weights_from, n_training=n)


def required(bundle) -> Applicability:
    """The bundle's area of applicability, or a one-line refusal for a model trained without it.

    Raises
    ------
    UserInputError
        When the model file holds no training rows for it.
    """
    if bundle.applicability is None:
        raise UserInputError(f"--applicability: {bundle.path or 'the model'} holds no training rows for the area of "
                             "applicability (it was trained before georaster_dl kept them); retrain the model to "
                             "use --applicability")
    return bundle.applicability


def load_rows(data: bytes, n_rows: int, n_bands: int, where: str) -> np.ndarray:
    """The kept rows from the model file's member bytes, checked (never unpickled)."""
    try:
        rows = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ModelFileError(f"{where}: {ROWS_MEMBER} is not a valid array ({str(exc)[:200]}); "
                             "the file is corrupt: retrain or restore the model") from None
    if rows.dtype != np.float32 or rows.shape != (n_rows, n_bands) or not np.isfinite(rows).all():
        raise ModelFileError(f"{where}: {ROWS_MEMBER} holds {rows.dtype} {rows.shape}, not the finite float32 "
                             f"({n_rows}, {n_bands}) model.json lists; the file is inconsistent: retrain the model")
    return rows


def _weights(groups: dict[str, list[int]], importance: dict[str, float] | None,
             n_bands: int) -> tuple[np.ndarray, str]:
    weights = np.zeros(n_bands)
    for name, bands in groups.items():
        value = (importance or {}).get(name, float("nan"))
        weights[bands] = value if np.isfinite(value) and value > 0 else 0.0
    if not weights.any():
        return np.ones(n_bands), "equal (no positive permutation importance: train with --cv-folds)"
    return weights, "permutation importance (cross-validation)"


def _mean_pairwise_distance(z: np.ndarray) -> float:
    """Mean Euclidean distance over every pair of distinct rows, in blocks of rows."""
    from scipy.spatial.distance import cdist

    n = z.shape[0]
    if n < 2:
        return 0.0
    total = sum(float(cdist(z[i:i + _PAIR_BLOCK], z).sum()) for i in range(0, n, _PAIR_BLOCK))
    return total / (n * (n - 1))  # the diagonal's zeros are in the sum, not in the count


def _nearest_other_fold(z: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Distance from each row to the nearest row of another fold."""
    from scipy.spatial import cKDTree

    out = np.empty(z.shape[0])
    for f in np.unique(folds):
        inside = folds == f
        out[inside] = cKDTree(z[~inside]).query(z[inside], k=1)[0]
    return out
