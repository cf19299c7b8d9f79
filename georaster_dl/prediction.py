"""Predict a model over its grid: windowed, memory-bounded, resumable, local or on a cluster.

The model's StackSpec is re-derived window by window (input paths overridable by
name); each window's features go through the compiled forward pass in bounded
batches; a single writer puts results into tiled GeoTIFFs in window order. At most a
few windows are in flight, so memory does not grow with the raster.

Start-up is kept short (the QGIS plugin shows progress from the first line): the feature
kernels (numba), the stack and ONNX Runtime are imported after the "loading model" progress
line, and TensorFlow never is.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import rasterio

from georaster_dl.applicability import required
from georaster_dl.engine.device import check_device, select_device
from georaster_dl.engine.journal import (Journal, OutputLock, discard_interrupted_run, journal_path,
                                         require_journal, truncate_to)
from georaster_dl.engine.outputs import OutputFile, applicability_output, plan_outputs
from georaster_dl.engine.scheduler import run_distributed, run_local
from georaster_dl.errors import Interrupted, OutputError, UserInputError
from georaster_dl.explain import EXPLAIN_KEY, single_thread_blas
from georaster_dl.grid import check_window_size
from georaster_dl.io.files import absolute, check_free, check_output_path, is_regular_file
from georaster_dl.io.qml import qml_path, write_qml
from georaster_dl.io.writer import GeoTIFFWriter, partial_path
from georaster_dl.progress import info, progress
from georaster_dl.stack import check_override_categories

if TYPE_CHECKING:  # imported lazily at run time: it pulls in ONNX Runtime
    from georaster_dl.engine.worker import WindowPredictor

#: Windows between two checkpoints of the resume journal.
CHECKPOINT_EVERY = 8
#: GDAL's block cache in MiB. GDAL's default, 5% of the RAM, fills with the output's tiles
#: (and the inputs') as a run goes on, so memory would grow with the raster up to that cap
#: (1.2 GiB on a 24 GiB machine). Windows are whole tiles and read once, so a small cache
#: costs nothing. Takes effect when GDAL has not used its cache yet in this process.
GDAL_CACHE_MB = 64
#: Seconds to wait for a dask scheduler to answer.
SCHEDULER_TIMEOUT_S = 3


def predict(model: str | os.PathLike, out: str | os.PathLike, *, inputs: dict[str, str] | None = None,
            window: int | None = None, workers: int | None = None, device: str = "auto", scheduler=None,
            bands: tuple[str, ...] | None = None, overwrite: bool = False, resume: bool = False,
            compress: str = "zstd", overviews: bool = False, explain: bool = False,
            applicability: bool = False) -> list[Path]:
    """Predict ``model`` over its grid into ``out`` (and sibling files for landform probabilities).

    Parameters
    ----------
    model : path
        A ``.gdl`` model bundle.
    out : path
        Output GeoTIFF; a ``.qml`` style is written beside it.
    inputs : dict, optional
        Input paths to use instead of the training ones, by input name.
    window : int, optional
        Window size in cells (a multiple of 512); default 1024, or 512 for grids holding
        fewer than 8 windows of 1024 and for models with so many bands that a 1024 window
        would hold more than 128 MiB of features (one-hot inputs count as one band).
    workers : int, optional
        Windows computed at once (default: CPU count).
    device : {'auto', 'cpu', 'gpu', 'cuda'}
        Where ONNX Runtime runs the network: ``auto`` takes its CUDA provider when
        installed (``onnxruntime-gpu``) and falls back to the CPU; ``gpu`` (``cuda``)
        refuses to run without a GPU.
    scheduler : str or distributed.Client, optional
        A dask.distributed scheduler address (``tcp://host:8786``) or client; windows then
        run on the cluster's workers, each loading the model once.
    bands : tuple of str, optional
        Output bands (landform: class, probabilities; others: mean, sd).
    overwrite, resume : bool
        Replace existing outputs; continue an interrupted run from its journal.
    explain : bool
        Also write ``OUT_explain.tif``: per feature, its Integrated Gradients attribution to
        the output (see :mod:`georaster_dl.explain`); tag ``GDL_BASELINE`` the baseline output.
    applicability : bool
        Also write ``OUT_applicability.tif``: the dissimilarity index to the training rows and
        the area of applicability (Meyer & Pebesma 2021; see :mod:`georaster_dl.applicability`).

    Returns
    -------
    list of Path
        The GeoTIFFs written.

    Examples
    --------
    >>> predict("landforms.gdl", "landforms.tif", inputs={"dem": "other_dem.tif"})  # doctest: +SKIP
    """
    if window is not None:
        check_window_size(window)
    out = absolute(check_output_path(out, overwrite, inputs=[model]))
    with OutputLock(out), rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):  # the lock first: a second run is refused at once
        if resume:
            require_journal(out)  # before the model and the inputs are loaded
        else:
            discard_interrupted_run(out, overwrite)
        written, files = _predict_locked(model, out, inputs or {}, window, workers, device, scheduler, bands,
                                         overwrite, resume, compress, overviews, explain, applicability)
    for f in files:
        if f.style:
            write_qml(f.path, f.style)
    info("wrote " + ", ".join(str(p) for p in written))
    return written


def _predict_locked(model, out: Path, inputs: dict, window: int | None, workers: int | None, device: str, scheduler,
                    bands, overwrite: bool, resume: bool, compress: str, overviews: bool, explain: bool,
                    applicability: bool) -> tuple[list[Path], list[OutputFile]]:
    client = None if scheduler is None else _client(scheduler)  # first: an unreachable one fails in seconds
    # The first progress line, at once: QGIS shows movement while the model and inputs load.
    with progress("load", 1, "loading model") as bar:
        from georaster_dl.engine.worker import WindowPredictor, auto_window, model_classes
        from georaster_dl.explain import explain_output
        from georaster_dl.export import spec_hash
        from georaster_dl.models.bundle import load_bundle

        providers = select_device(device)
        bundle = load_bundle(model, networks=False)  # verified in full; TensorFlow is never imported
        files = plan_outputs(out, bundle.task, model_classes(bundle), bundle.n_members > 1, bands, bundle.value_range)
        files += [explain_output(out, bundle)] if explain else []
        if applicability:
            aoa = required(bundle)
            files.append(applicability_output(out, aoa.threshold, aoa.method))
        overrides = {k: str(absolute(v)) for k, v in inputs.items()}
        used_inputs = [model, *(i.path for i in bundle.spec.with_inputs(overrides).inputs.values())]
        for f in files:
            check_output_path(f.path, overwrite, inputs=used_inputs)
            check_output_path(qml_path(f.path), True, what="style file", inputs=used_inputs)
            if not resume:
                check_free(partial_path(f.path))
        if not resume:
            check_free(journal_path(out))
        predictor = WindowPredictor(bundle, overrides, providers, explain, applicability)
        bar.update()
    try:
        check_device(device, predictor.forward.device)
        check_override_categories(predictor.stack, overrides)
        grid = predictor.stack.grid
        window = window or auto_window(len(predictor.stack.compact_layout), grid.height, grid.width)
        windows = list(grid.windows(window))
        workers = workers or os.cpu_count() or 1
        info(f"predicting {grid.width} x {grid.height} cells in {len(windows)} windows on {predictor.forward.device}"
             + (" with a dask cluster" if scheduler is not None else f" with {workers} worker(s)"))
        tags = {"model_sha256": bundle.sha256, "spec_sha256": spec_hash(predictor.stack.spec)}
        if predictor.explainer:
            files = [replace(f, tags=predictor.explainer.tags) if f.key == EXPLAIN_KEY else f for f in files]
        writers = [GeoTIFFWriter(f.path, grid, len(f.descriptions), f.dtype, f.nodata, descriptions=f.descriptions,
                                 compress=compress, overwrite=overwrite, colormap=f.colormap,
                                 category_names=f.category_names, tags={**tags, **(f.tags or {})},
                                 overviews=overviews) for f in files]
        # a dict, not pairs: it must compare equal after its JSON round trip for --resume
        journal = Journal(out, {"model_sha256": bundle.sha256, "inputs": dict(sorted(overrides.items())),
                                "window": window, "bands": [f.descriptions for f in files], "compress": compress,
                                "grid": grid.to_dict()})
        start = _open_writers(writers, journal, resume)
        with single_thread_blas() if explain else contextlib.nullcontext():
            _run(predictor, files, writers, journal, windows, start, workers, client, model, overrides, providers)
    finally:
        predictor.close()
    return _finish(writers, journal, len(windows)), files


def _finish(writers: list[GeoTIFFWriter], journal: Journal, n_windows: int) -> list[Path]:
    """Finish every output, then publish them together: a run's files are finished together
    or not at all. Ctrl-C while finishing keeps the partial files (every window is in them)
    for ``--resume``, which then only finishes them."""
    try:
        for w in writers:
            w.finish()
    except KeyboardInterrupt:
        for w in writers:  # every window is in the partial files: keep them, closed, for --resume
            w.discard_copy()
            w.suspend()
        journal.checkpoint(n_windows, {w.partial.name: w.partial.stat().st_size for w in writers})
        raise Interrupted(f"stopped while finishing the outputs; what was computed is kept in {writers[0].partial}; "
                          "rerun the same command with --resume to finish") from None
    except BaseException:  # e.g. the disk filled up while the last tiles were flushed
        for w in writers:
            w.abort()
        journal.remove()
        raise
    written: list[Path] = []
    try:
        for w in writers:
            written.append(w.publish())
    except BaseException:
        for w in writers:
            w.abort()
        for path in written:
            path.unlink(missing_ok=True)
        raise
    finally:
        journal.remove()
    return written


def _open_writers(writers: list[GeoTIFFWriter], journal: Journal, resume: bool) -> int:
    """Open fresh partial files, or truncate and reopen them to resume; returns the first window to do.

    If this fails or is interrupted, a fresh run's files are deleted; a resumed run's
    partial files are closed and kept, still matching the journal."""
    try:
        if not resume:
            for w in writers:
                w.open()
            journal.start([w.partial.name for w in writers])
            return 0
        start, sizes = journal.last_checkpoint()
        missing = [str(w.partial) for w in writers if not is_regular_file(w.partial)]
        if missing:
            raise OutputError(f"--resume: {missing[0]} is missing; run again without --resume")
        if sizes and set(sizes) != {w.partial.name for w in writers}:
            raise OutputError(f"--resume: {journal.path} lists other files than this run writes; "
                              "run again without --resume (add --overwrite)")
        truncate_to({w.partial: sizes[w.partial.name] for w in writers} if sizes else {})
        for w in writers:
            w.open(resume=bool(sizes))
    except BaseException:
        for w in writers:
            if resume:
                w.suspend()
            else:
                w.abort()
        if not resume:
            journal.remove()
        raise
    info(f"resuming after {start} finished window(s)")
    return start


def _run(predictor: WindowPredictor, files: list[OutputFile], writers: list[GeoTIFFWriter], journal: Journal,
         windows: list, start: int, workers: int, client, model, overrides: dict, providers: list[str]) -> None:
    from georaster_dl.engine.worker import predict_window_task, windows_in_flight

    state = {"done": start}

    def consume(i: int, w, result: dict) -> None:
        for writer, f in zip(writers, files):
            writer.write(w, result[f.key])
        state["done"] = i + 1
        bar.update()
        if state["done"] % CHECKPOINT_EVERY == 0 and state["done"] < len(windows):
            journal.checkpoint(state["done"], {wr.partial.name: wr.checkpoint() for wr in writers})

    try:
        with progress("predict", len(windows), "predicting windows") as bar:
            bar.update(start)
            if client is None:
                in_flight = windows_in_flight(workers, len(predictor.stack.compact_layout), int(windows[0].width))
                run_local(windows, lambda w: predictor(w, files), consume, workers, in_flight, start)
            else:
                args = (str(absolute(model)), predictor.bundle.sha256, tuple(sorted(overrides.items())),
                        tuple(providers), files)
                run_distributed(client, windows, predict_window_task, args, consume, 2 * _n_workers(client), start)
    except KeyboardInterrupt:
        journal.checkpoint(state["done"], {wr.partial.name: wr.suspend() for wr in writers})
        raise Interrupted(f"{state['done']} of {len(windows)} windows are kept in {writers[0].partial}; "
                          "rerun the same command with --resume to continue") from None
    except BaseException:
        for wr in writers:
            wr.abort()
        journal.remove()
        raise


def _client(scheduler):
    if not isinstance(scheduler, str):
        return scheduler  # a distributed.Client
    info(f"connecting to the dask scheduler at {scheduler} (giving up after {SCHEDULER_TIMEOUT_S} s)")
    from distributed import Client

    try:
        return Client(scheduler, timeout=SCHEDULER_TIMEOUT_S)
    except (ValueError, OSError, TimeoutError) as exc:
        raise UserInputError(f"--scheduler {scheduler}: cannot reach a dask scheduler there "
                             f"({str(exc).splitlines()[0]}); start it, or give its address as "
                             "tcp://host:8786") from None


def _n_workers(client) -> int:
    return max(1, len(client.scheduler_info().get("workers", {})))
