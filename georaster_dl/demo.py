"""The demo job: sample data -> aligned stack + preview -> models, reports and maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from georaster_dl.progress import info


def run_demo(folder: str | Path = "sample_data", quick: bool = False) -> dict[str, Path]:
    """Run the main job on the sample data in ``folder``; returns the outputs written.

    Generates the sample data when ``folder/spec.yaml``'s inputs are missing, then
    writes ``folder/out/stack.tif`` and ``folder/out/stack_preview.png``.
    """
    from georaster_dl.export import write_stack
    from georaster_dl.sampledata import write_sample_data

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "dem.tif").exists():
        info(f"generating sample data in {folder}")
        write_sample_data(folder)
    out = folder / "out"
    out.mkdir(exist_ok=True)
    outputs = {"stack": write_stack(folder / "spec.yaml", out / "stack.tif", overwrite=True)}
    outputs["preview"] = write_preview(outputs["stack"], out / "stack_preview.png")
    info(f"wrote {outputs['preview']}")
    return outputs


def write_preview(raster: Path, png: Path, max_bands: int = 6) -> Path:
    """A PNG grid of the first ``max_bands`` bands of ``raster``, each with its description."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import rasterio

    with rasterio.open(raster) as ds:
        step = max(1, max(ds.width, ds.height) // 512)
        n = min(max_bands, ds.count)
        cols = min(3, n)
        rows = (n + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 4 * rows), squeeze=False)
        for i, ax in enumerate(axes.flat):
            ax.set_axis_off()
            if i >= n:
                continue
            band = ds.read(i + 1, out_shape=(ds.height // step, ds.width // step))
            lo, hi = np.nanpercentile(band, [2, 98]) if np.isfinite(band).any() else (0, 1)
            ax.imshow(band, cmap="viridis", vmin=lo, vmax=hi)
            ax.set_title(ds.descriptions[i] or f"band {i + 1}", fontsize=10)
        fig.tight_layout()
        fig.savefig(png, dpi=80)
        plt.close(fig)
    return png
