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

    def scorer(self, layout: list[tuple | None]) -> DissimilarityIndex:
        """The nearest-neighbour search over the kept rows for rows of ``layout`` (build once per worker)."""
        return DissimilarityIndex(self, layout)


class DissimilarityIndex:
    """DI of feature rows: distance to the nearest kept training row over ``d_bar``.

    The search is exact and takes rows as prediction reads them (one column of category
    positions per one-hot feature). A one-hot feature adds a fixed amount to a squared distance:
    0 between rows of one category, ``w^2 (1/s_a^2 + 1/s_b^2)`` between categories ``a`` and ``b``
    (``s``: the 0/1 columns' training SDs). So the training rows are grouped by their categories,
    one ``cKDTree`` per group on the continuous bands alone, and a cell searches the groups in
    increasing order of that amount, skipping those it cannot beat. A KD-tree over all the
    0/1 columns is close to a brute-force search: 31 s per 100,000 cells with 88 categories,
    measured here.

    Parameters
    ----------
    aoa : Applicability
    layout : list
        Columns of the rows (see :attr:`georaster_dl.stack.Stack.compact_layout`): None for a
        band, the codes of a one-hot feature for its column of positions.

    Examples
    --------
    >>> di = bundle.applicability.scorer(stack.compact_layout)  # doctest: +SKIP
    >>> di(rows)                         # rows: read with compact=True, valid cells  # doctest: +SKIP
    """

    def __init__(self, aoa: Applicability, layout: list[tuple | None]) -> None:
        from scipy.spatial import cKDTree

        self.aoa = aoa
        scale = aoa.weights / aoa.std
        self._cont: list[tuple[int, int]] = []  # (column, band) of the weighted continuous bands
        self._groups: list[tuple[int, np.ndarray]] = []  # (column, w^2 / s^2 of each category) of one-hot features
        train_cats = []
        band = 0
        for col, codes in enumerate(layout):
            if codes is None:
                if aoa.weights[band] > 0:
                    self._cont.append((col, band))
                band += 1
                continue
            bands = slice(band, band + len(codes))
            band += len(codes)
            if not len(codes) or not aoa.weights[bands][0] > 0:
                continue
            self._groups.append((col, (scale[bands] ** 2).astype(np.float64)))
            values = aoa.rows[:, bands] * aoa.std[bands] + aoa.mean[bands]  # back to 0/1
            train_cats.append(np.where(values.max(axis=1) > 0.5, values.argmax(axis=1), -1))
        if band != aoa.rows.shape[1]:
            raise ModelFileError(f"the area of applicability holds {aoa.rows.shape[1]} bands, the model's inputs give "
                                 f"{band}; the file is inconsistent: retrain the model")
        cols, bands_ = [c for c, _ in self._cont], [b for _, b in self._cont]
        self._cont_cols, self._shift, self._scale = cols, aoa.mean[bands_], scale[bands_]
        train = aoa.rows[:, bands_].astype(np.float64) * aoa.weights[bands_]
        cats = np.stack(train_cats, axis=1) if train_cats else np.zeros((len(train), 0), np.int64)
        self._combos, which = np.unique(cats, axis=0, return_inverse=True)
        which = which.reshape(-1)
        self._trees = [cKDTree(train[which == t]) for t in range(len(self._combos))]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """float32 DI of rows ``x`` (n, columns of the layout), valid cells only."""
        x = np.asarray(x, np.float64)
        z = (x[:, self._cont_cols] - self._shift) * self._scale
        cats = x[:, [c for c, _ in self._groups]].astype(np.int64)
        keys, which = np.unique(cats, axis=0, return_inverse=True)
        which = which.reshape(-1)
        best = np.full(len(x), np.inf)  # squared distances
        for k, key in enumerate(keys):
            cells = np.flatnonzero(which == k)
            best[cells] = self._nearest(z[cells], self._penalties(key))
        return (np.sqrt(best) / self.aoa.mean_distance).astype(np.float32)

    def _penalties(self, key: np.ndarray) -> np.ndarray:
        """Squared distance the one-hot features add between categories ``key`` and each group."""
        out = np.zeros(len(self._combos))
        for g, (_, cost) in enumerate(self._groups):
            a, b = int(key[g]), self._combos[:, g]
            own = cost[a] if a >= 0 else 0.0  # -1: a code unseen in training, every 0/1 column at 0
            out += np.where(b == a, 0.0, own + np.where(b >= 0, cost[np.maximum(b, 0)], 0.0))
        return out

    def _nearest(self, z: np.ndarray, penalties: np.ndarray) -> np.ndarray:
        """Smallest squared distance from each row of ``z`` to a training row, groups in order."""
        best = np.full(len(z), np.inf)
        for t in np.argsort(penalties, kind="stable"):
            p = penalties[t]
            open_ = np.flatnonzero(best > p)
            if not open_.size:
                break
            if z.shape[1]:
                bound = float(np.sqrt(np.max(best[open_]) - p))  # farther rows cannot beat any open cell
                d, _ = self._trees[t].query(z[open_], k=1, distance_upper_bound=bound)
                d2 = d ** 2 + p
            else:
                d2 = np.full(open_.size, p)
            best[open_] = np.minimum(best[open_], d2)
        return best


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
