"""Choose where the network runs: the GPU when TensorFlow sees one, else the CPU."""

from __future__ import annotations

from georaster_dl.errors import UserInputError, one_of

DEVICES = ("auto", "cpu", "gpu")


def select_device(device: str = "auto") -> str:
    """Make TensorFlow use ``device`` and return a description of the device used.

    Must run before TensorFlow places any operation. ``auto`` takes the first GPU when
    there is one; ``gpu`` refuses to fall back to the CPU.
    """
    if device not in DEVICES:
        raise UserInputError(f"--device must be one of {one_of(DEVICES)}, got {device!r}")
    from georaster_dl.quiet_tf import import_tensorflow

    import_tensorflow()  # after predict took its output lock: a second run is refused at once
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if device == "cpu" or not gpus:
        if device == "gpu":
            raise UserInputError("--device gpu: TensorFlow sees no GPU here; install georaster_dl[gpu] on a machine "
                                 "with an NVIDIA driver, or use --device auto")
        try:
            tf.config.set_visible_devices([], "GPU")
        except RuntimeError:
            pass  # TensorFlow already initialised its devices in this process; placement stays as it was
        return "CPU"
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass  # already initialised
    return f"GPU ({gpus[0].name})"
