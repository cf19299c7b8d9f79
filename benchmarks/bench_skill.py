#!/usr/bin/env python3
"""Screen training defaults on the real data sets, in one process, beside random forest and linear baselines.

Reproduces ``../shared/bench/spatial_cv.py`` (its own ``block_folds``, seed 42, 5 folds; training
labels = the labels outside the fold; training seed 1) without a process per fold: each data set's
feature rows are read once through the library (:class:`~georaster_dl.stack.Stack`), each fold's
model is trained by the library's own training functions (``training.fit_models``, the code ``train`` uses, with
background drawn from the whole grid as the CLI does) and scored the way spatial_cv.py scores:

- prospectivity: pooled ROC AUC of every held-out presence against every other valid held-out cell;
  with known absences (nanling) also presences against held-out absences;
- regression: pooled R² of the held-out labels.

A random forest and a logistic / linear regression (scikit-learn) are fitted on exactly the rows the
network's first member trains on, fold by fold, and scored the same way (cached per data set and
background setting in ``benchmarks/work/skill_baselines.json``).

Example::

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_skill.py cloncurry usgs_mg --ensemble 5 --seeds 1 2
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from rasterio.windows import Window

from georaster_dl.io.labels import read_labels
from georaster_dl.models.config import TrainConfig
from georaster_dl.models.forward import Forward
from georaster_dl.models.network import NetworkOptions
from georaster_dl.models.settings import TrainSettings
from georaster_dl.progress import configure
from georaster_dl.samples import label_samples
from georaster_dl.stack import Stack
from georaster_dl import training

_NET, _RUN = NetworkOptions(), TrainSettings()
HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"
WORK = HERE / "work"
_spec = importlib.util.spec_from_file_location("spatial_cv", HERE.parent.parent / "shared" / "bench" / "spatial_cv.py")
spatial_cv = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(spatial_cv)

#: name: task, spec, labels (path, layer), label field, block (cells)
DATASETS = {
    "cloncurry": ("prospectivity", HERE / "cloncurry_plain.yaml", (DATA / "cloncurry/IOCG_Deposits.shp", None),
                  None, 100),
    "usgs_mg": ("regression", DATA / "usgs_geochem/spec.yaml", (DATA / "usgs_geochem/geochem_samples.gpkg", None),
                "ln_mg", 5),
    "usgs_cu": ("regression", DATA / "usgs_geochem/spec.yaml", (DATA / "usgs_geochem/geochem_samples.gpkg", None),
                "ln_cu", 5),
    "usgs_k": ("regression", DATA / "usgs_geochem/spec.yaml", (DATA / "usgs_geochem/geochem_samples.gpkg", None),
               "ln_k", 5),
    "sirsam_na": ("regression", HERE / "sirsam_geochem.yaml", (DATA / "sirsam_geochem/labels.gpkg", None),
                  "Na_ppm_i_1", 60),
    "sirsam_k": ("regression", HERE / "sirsam_geochem.yaml", (DATA / "sirsam_geochem/labels.gpkg", None),
                 "K_ppm_imp_", 60),
    "sirsam_cu": ("regression", HERE / "sirsam_geochem.yaml", (DATA / "sirsam_geochem/labels.gpkg", None),
                  "Cu_ppm_i_1", 60),
    "ariolimax": ("prospectivity", HERE / "ariolimax_sdm.yaml",
                  (DATA / "ariolimax_sdm_california/labels.gpkg", "presence"), None, 50),
    "nanling": ("prospectivity", HERE / "nanling_li.yaml", (DATA / "nanling_li_deposits/labels.gpkg", None),
                "label", 50),
}


class ArrayStack:
    """The parts of a Stack a training run uses, answered from the whole grid held in memory."""

    def __init__(self, stack: Stack, transform: str | None) -> None:
        self.grid, self.spec = stack.grid, stack.spec
        self.band_names, self.band_kinds = stack.band_names, stack.band_kinds
        self._transforms = [transform if (kind == "continuous" and t is None and transform) else t
                            for t, kind in zip(stack.band_transforms, stack.band_kinds)]
        self.layout = stack.compact_layout
        g = stack.grid
        self.compact, self.valid = stack.read_window(Window(0, 0, g.width, g.height), compact=True)

    @property
    def band_transforms(self):
        return self._transforms

    def sample_cells(self, rows, cols) -> np.ndarray:
        compact = self.compact[:, rows, cols].T
        out = _expand_onehot(np.nan_to_num(compact, nan=-1.0), self.layout)
        out[~np.isfinite(compact).all(axis=1)] = np.nan
        return out


def _expand_onehot(rows: np.ndarray, layout: list) -> np.ndarray:
    """Full feature rows from compact ones (positions among a one-hot feature's codes, -1: none)."""
    parts = [rows[:, [j]] if codes is None else
             (rows[:, [j]] == np.arange(len(codes), dtype=np.float32)).astype(np.float32)
             for j, codes in enumerate(layout)]
    return np.concatenate(parts, axis=1)


class _Bar:
    def update(self, n: int = 1) -> None:
        pass


def load(name: str):
    task, spec, (labels, layer), field, block = DATASETS[name]
    stack = Stack(spec)
    labs = read_labels(labels, stack.grid, field=field, layer=layer)
    folds = spatial_cv.block_folds((stack.grid.height, stack.grid.width), block, 5, 42)
    return task, stack, labs, folds, field


def subset_labels(labs, mask):
    return replace(labs, rows=labs.rows[mask], cols=labs.cols[mask],
                   values=None if labs.values is None else np.asarray(labs.values)[mask],
                   feature_ids=labs.feature_ids[mask])


def run(name: str, args, seed: int, cache: dict) -> dict:
    task, stack, labs, folds, field = load(name)
    astack = ArrayStack(stack, args.transform)
    stack.close()
    ok_lab = astack.valid[labs.rows, labs.cols]
    labs = subset_labels(labs, ok_lab)
    pfold = folds[labs.rows, labs.cols]
    options = NetworkOptions(hidden=args.hidden, dropout=args.dropout, patience=args.patience,
                             epochs=args.epochs, learning_rate=args.learning_rate, batch_size=args.batch_size,
                             ).validated(task)
    settings = TrainSettings(background_ratio=args.background_ratio, ensemble=args.ensemble, seed=seed,
                             presence_neighbours=args.presence_neighbours, tune=args.tune)
    config = TrainConfig(task, options, settings)
    key = f"{name}|ratio={args.background_ratio}|seed={seed}|rf-rf5-lr"
    want_base = args.baselines and key not in cache
    oof = np.full(astack.valid.shape, np.nan) if task == "prospectivity" else np.full(len(labs.rows), np.nan)
    base = {"rf": oof.copy(), "rf5": oof.copy(), "lr": oof.copy()} if want_base else None
    t0 = time.perf_counter()
    chosen = []
    for f in range(5):
        train_labs = subset_labels(labs, pfold != f)
        labelset = label_samples(astack, train_labs, task, field)
        fitted = training.fit_models(training.training_data(astack, labelset, config), config, None, None, _Bar())
        forward = Forward(fitted.bundle)
        chosen += [fitted.tuning.get("chosen")] if args.tune else []
        if task == "prospectivity":
            cells = np.argwhere((folds == f) & astack.valid)
            x = astack.sample_cells(cells[:, 0], cells[:, 1])
            oof[cells[:, 0], cells[:, 1]] = forward(x)[0][:, 0]
        else:
            sel = pfold == f
            x = astack.sample_cells(labs.rows[sel], labs.cols[sel])
            oof[sel] = forward(x)[0][:, 0]
        if want_base:
            fit_baselines(task, fitted.rows, x, sel if task != "prospectivity" else cells, base, seed)
    secs = time.perf_counter() - t0
    out = {"dataset": name, "seed": seed, "score": score(task, oof, labs, astack.valid), "secs": round(secs, 1),
           **({"tuned": chosen} if chosen else {})}
    if want_base:
        cache[key] = {k: score(task, v, labs, astack.valid) for k, v in base.items()}
    if key in cache:
        out.update(cache[key])
    return out


def fit_baselines(task, s, x_test, where, base, seed):
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # rf: scikit-learn's defaults (200 trees); rf5: R randomForest-like (a third of the features per
    # split, leaves of at least 5 samples), often the stronger on small noisy sets.
    if task == "prospectivity":
        models = {"rf": RandomForestClassifier(n_estimators=200, n_jobs=2, random_state=seed),
                  "rf5": RandomForestClassifier(n_estimators=200, n_jobs=2, random_state=seed, min_samples_leaf=5,
                                                max_features=0.33),
                  "lr": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))}
    else:
        models = {"rf": RandomForestRegressor(n_estimators=200, n_jobs=2, random_state=seed),
                  "rf5": RandomForestRegressor(n_estimators=200, n_jobs=2, random_state=seed, min_samples_leaf=5,
                                               max_features=0.33),
                  "lr": make_pipeline(StandardScaler(), LinearRegression())}
    for k, m in models.items():
        m.fit(s.x, s.y)
        if task == "prospectivity":
            base[k][where[:, 0], where[:, 1]] = m.predict_proba(x_test)[:, 1]
        else:
            base[k][where] = m.predict(x_test)


def score(task, oof, labs, valid) -> dict:
    if task == "prospectivity":
        y = np.ones(len(labs.rows)) if labs.values is None else np.asarray(labs.values, float)
        pos = y == 1
        dep = np.zeros(valid.shape, bool)
        dep[labs.rows, labs.cols] = True
        ok = valid & np.isfinite(oof)
        res = {"auc": round(spatial_cv.auc(oof[labs.rows[pos], labs.cols[pos]], oof[ok & ~dep]), 4)}
        if (~pos).any():
            res["auc_abs"] = round(spatial_cv.auc(oof[labs.rows[pos], labs.cols[pos]],
                                                  oof[labs.rows[~pos], labs.cols[~pos]]), 4)
        return res
    y = np.asarray(labs.values, float)
    return {"r2": round(float(1 - ((y - oof) ** 2).sum() / ((y - y.mean()) ** 2).sum()), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("datasets", nargs="+", choices=list(DATASETS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--hidden", default=",".join(map(str, _NET.hidden)))
    ap.add_argument("--dropout", type=float, default=_NET.dropout)
    ap.add_argument("--patience", type=int, default=_NET.patience)
    ap.add_argument("--epochs", type=int, default=_NET.epochs)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--learning-rate", type=float, default=_NET.learning_rate)
    ap.add_argument("--ensemble", type=int, default=_RUN.ensemble)
    ap.add_argument("--background-ratio", type=float, default=_RUN.background_ratio)
    ap.add_argument("--presence-neighbours", type=int, default=_RUN.presence_neighbours)
    ap.add_argument("--tune", action="store_true", help="each fold's model tuned by inner spatial CV")
    ap.add_argument("--transform", default=None,
                    help="transform of continuous bands the spec names none for (default: the library's)")
    ap.add_argument("--baselines", action="store_true", help="also fit RF and LR (cached)")
    ap.add_argument("--tag", default="", help="label of this configuration in the results file")
    args = ap.parse_args()
    configure(False)
    WORK.mkdir(exist_ok=True)
    cache_path = WORK / "skill_baselines.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    for name in args.datasets:
        for seed in args.seeds:
            res = run(name, args, seed, cache)
            cache_path.write_text(json.dumps(cache, indent=1, sort_keys=True))
            res["config"] = {k: v for k, v in vars(args).items() if k not in ("datasets", "seeds", "baselines")}
            print(json.dumps(res), flush=True)
            with open(WORK / "skill_results.jsonl", "a") as fh:
                fh.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    sys.exit(main())
