"""The forward pass: feature rows in, model outputs (ensemble mean and SD) out, on ONNX Runtime.

:class:`Forward` runs a bundle's ONNX graph (preprocessing, every ensemble member, mean
and SD: see :mod:`georaster_dl.models.onnx_graph`) on batches of at most
:data:`BATCH_ROWS` rows. TensorFlow is not imported: a process that predicts pays 0.3 s
for ``import onnxruntime`` instead of about 3 s and 570 MiB for TensorFlow, and ONNX
Runtime ran an 8-64-64-1 network 1.5-1.7x faster than TensorFlow with XLA on this
project's 2-core machines. Prediction, evaluation and cross-validation all go through
this class.

Every batch is padded to a multiple of :data:`ROW_BLOCK` rows: ONNX Runtime computes the
last few elements of an array that do not fill a vector register with other code, whose
rounding differs in the last bit, so a row's output would otherwise depend on where it
fell in its batch (and maps on the window size).
"""

from __future__ import annotations

import os

import numpy as np

from georaster_dl.errors import ModelFileError

#: Rows per call of the session. Small batches keep each layer's activations (4096 x 64
#: float32: 1 MiB) in the cache: the bias adds and activations between the matrix products
#: are memory-bound passes, and on 262,144-row batches an 8-64-64-1 network took 0.34-0.37
#: CPU s per million rows against 0.19-0.25 with 4096 (2-core EPYC VM, one thread).
BATCH_ROWS = 4096
#: Batches are padded to a multiple of this many rows (see the module docstring).
ROW_BLOCK = 64


def session_options(threads: int):
    """ONNX Runtime options: ``threads`` threads for one call, no spinning threads (they
    would steal a core from the window workers and GDAL), quiet logs."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    return opts


class Forward:
    """Forward pass of a model bundle.

    Parameters
    ----------
    bundle : ModelBundle
        Uses its ONNX graph (:meth:`ModelBundle.forward_graph`), ``band_names``,
        ``n_outputs`` and ``n_members``.
    batch_rows : int
        Largest batch handed to ONNX Runtime at once.
    threads : int, optional
        Threads of one call (default: CPU count). Prediction's window workers each call
        with one thread, so the cores are shared by windows, not split inside a call.
    providers : list of str, optional
        ONNX Runtime execution providers (default: the CPU); see
        :func:`georaster_dl.engine.device.select_device`.

    Examples
    --------
    >>> forward = Forward(load_bundle("model.gdl", networks=False))  # doctest: +SKIP
    >>> mean, sd = forward(rows)         # rows: float32 (n, bands)  # doctest: +SKIP
    """

    def __init__(self, bundle, batch_rows: int = BATCH_ROWS, threads: int | None = None,
                 providers: list[str] | None = None) -> None:
        import onnxruntime as ort

        self.n_bands = len(bundle.band_names)
        self.n_outputs = bundle.n_outputs
        self.n_members = bundle.n_members
        self.batch_rows = max(ROW_BLOCK, int(batch_rows) // ROW_BLOCK * ROW_BLOCK)
        self._outputs = ["mean", "sd"] if self.n_members > 1 else ["mean"]
        where = bundle.path or "model"
        try:
            self.session = ort.InferenceSession(bundle.forward_graph(), session_options(threads or os.cpu_count() or 1),
                                                providers=providers or ["CPUExecutionProvider"])
        except Exception as exc:  # ONNX Runtime raises its own error types for graphs it refuses
            raise ModelFileError(f"{where}: ONNX Runtime cannot load its forward graph ({str(exc).splitlines()[0][:200]}); "
                                 "the file is corrupt: retrain or restore the model") from None
        # a graph that takes or gives other widths than model.json says is refused, not run
        got = ([tuple(i.shape) for i in self.session.get_inputs()], [(o.name, tuple(o.shape))
                                                                      for o in self.session.get_outputs()])
        want = ([("n", self.n_bands)], [(name, ("n", self.n_outputs)) for name in self._outputs])
        if got != want:
            raise ModelFileError(f"{where}: its forward graph takes {got[0]} and gives {got[1]}, but model.json lists "
                                 f"{self.n_bands} bands and {self.n_outputs} outputs per member; the file is "
                                 "inconsistent: retrain the model")

    @property
    def device(self) -> str:
        """Where the network runs: ``GPU (CUDA)`` or ``CPU``."""
        return "GPU (CUDA)" if self.session.get_providers()[0] == "CUDAExecutionProvider" else "CPU"

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Outputs for feature rows ``x`` (n, bands) as read from the stack (not yet scaled).

        Returns
        -------
        mean : numpy.ndarray
            float32 (n, outputs): class probabilities, presence probability, or the
            regression value in the target's units; averaged over ensemble members.
        sd : numpy.ndarray or None
            float32 (n, outputs), the members' standard deviation; None for one member.
        """
        x = np.asarray(x, np.float32)
        if x.ndim != 2 or x.shape[1] != self.n_bands:
            raise ValueError(f"Forward expects rows of {self.n_bands} bands, got shape {x.shape}")
        mean = np.empty((x.shape[0], self.n_outputs), np.float32)
        sd = np.empty_like(mean) if self.n_members > 1 else None
        for start in range(0, x.shape[0], self.batch_rows):
            stop = min(start + self.batch_rows, x.shape[0])
            out = self.session.run(self._outputs, {"features": _padded(x[start:stop])})
            mean[start:stop] = out[0][:stop - start]
            if sd is not None:
                sd[start:stop] = out[1][:stop - start]
        return mean, sd


def _padded(x: np.ndarray) -> np.ndarray:
    """``x`` with zero rows appended up to a multiple of :data:`ROW_BLOCK` (each row's
    output does not depend on the others)."""
    n = x.shape[0]
    size = -(-max(n, 1) // ROW_BLOCK) * ROW_BLOCK
    if size == n:
        return np.ascontiguousarray(x)
    out = np.zeros((size, x.shape[1]), np.float32)
    out[:n] = x
    return out
