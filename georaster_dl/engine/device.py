"""Choose where the network runs: ONNX Runtime's CUDA provider when asked for or present, else the CPU.

The CUDA provider comes with the ``onnxruntime-gpu`` package (installed instead of
``onnxruntime``). Not yet measured on a GPU machine: see BENCHMARKS.md.
"""

from __future__ import annotations

from georaster_dl.errors import UserInputError, one_of

#: ``cuda`` is another name for ``gpu``.
DEVICES = ("auto", "cpu", "gpu", "cuda")
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"


def select_device(device: str = "auto") -> list[str]:
    """ONNX Runtime execution providers for ``device``, in order of preference.

    ``auto`` takes the CUDA provider when this ONNX Runtime has it, with the CPU as
    fallback (ONNX Runtime falls back when no GPU works), and never fails; ``gpu``/``cuda``
    refuse to run without the CUDA provider.

    Raises
    ------
    UserInputError
        For an unknown device, or ``gpu`` without the CUDA provider.
    """
    if device not in DEVICES:
        raise UserInputError(f"--device must be one of {one_of(DEVICES)}, got {device!r}")
    if device == "cpu":
        return [CPU]
    import onnxruntime as ort

    has_cuda = CUDA in ort.get_available_providers()
    if device in ("gpu", "cuda") and not has_cuda:
        raise UserInputError(f"--device {device}: this ONNX Runtime has no CUDA provider; install onnxruntime-gpu "
                             "instead of onnxruntime on a machine with an NVIDIA driver, or use --device auto")
    return [CUDA, CPU] if has_cuda else [CPU]


def check_device(device: str, used: str) -> None:
    """Refuse a run that asked for the GPU when ONNX Runtime fell back to the CPU (no usable GPU)."""
    if device in ("gpu", "cuda") and not used.startswith("GPU"):
        raise UserInputError(f"--device {device}: ONNX Runtime could not use a GPU here (no NVIDIA driver or CUDA "
                             "libraries?); use --device auto or cpu")
