"""The demo job: sample data -> aligned stack + preview -> models, reports and maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from georaster_dl.progress import info


def run_demo(folder: str | Path = "sample_data", quick: bool = False) -> dict[str, Path]:
    """Run the main job on the sample data in ``folder``; returns the outputs written.

    Generates the sample data when it is missing, then writes to ``folder/out/``: the
    aligned stack with a PNG preview; a landform model and a prospectivity model (with
    spatial cross-validation, metrics and HTML reports); their predicted maps; for the
    prospectivity map its explanation (``prospectivity_explain.tif``) and area of
    applicability (``prospectivity_applicability.tif``); ranked targets of its top 5%
    (``targets.gpkg``, each naming its three strongest inputs); and PNGs of the maps
    (``maps_preview.png``, ``trust_preview.png``). ``quick`` trains briefly without
    cross-validation and skips the explanation and applicability (a smoke run).
    """
    from georaster_dl.export import write_stack
    from georaster_dl.prediction import predict
    from georaster_dl.sampledata import write_sample_data
    from georaster_dl.targets import find_targets
    from georaster_dl.training import train

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "dem.tif").exists():
        info(f"generating sample data in {folder}")
        write_sample_data(folder)
    out = folder / "out"
    out.mkdir(exist_ok=True)
    spec = folder / "spec.yaml"
    outputs = {"stack": write_stack(spec, out / "stack.tif", overwrite=True)}
    outputs["preview"] = write_preview(outputs["stack"], out / "stack_preview.png")
    cv = {} if quick else {"cv_folds": 4, "cv_block_size": 6000}
    epochs = 20 if quick else 200
    # trust: explain the map and write its area of applicability (which needs the CV folds)
    for task, labels, field, trust in (("landform", "landforms.gpkg", "landform", False),
                                       ("prospectivity", "deposits.gpkg", None, not quick)):
        model = out / f"{task}.gdl"
        _, metrics = train(spec, folder / labels, task, label_field=field, epochs=epochs, seed=0, out=model,
                           metrics_path=out / f"{task}_metrics.json", report_path=out / f"{task}_report.html",
                           overwrite=True, **cv)
        outputs[f"{task}_model"] = model
        outputs[f"{task}_report"] = out / f"{task}_report.html"
        written = predict(model, out / f"{task}.tif", overwrite=True, explain=trust, applicability=trust)
        outputs[f"{task}_map"] = written[0]
        if trust:
            outputs["explain"], outputs["applicability"] = written[-2:]
        info(f"{task}: {_headline(metrics)}")
    outputs["targets"] = find_targets(outputs["prospectivity_map"], out / "targets.gpkg", top_area=5,
                                      explain=outputs.get("explain"), overwrite=True)["path"]
    outputs["maps_preview"] = write_map_preview(outputs["landform_map"], outputs["prospectivity_map"],
                                                out / "maps_preview.png")
    if "applicability" in outputs:
        outputs["trust_preview"] = write_trust_preview(outputs["prospectivity_map"], outputs["explain"],
                                                       outputs["applicability"], outputs["targets"],
                                                       out / "trust_preview.png")
    info(f"demo finished: outputs in {out}")
    return outputs


def _headline(metrics: dict) -> str:
    cv = metrics.get("cv") or {}
    if "auc_pooled" in cv:
        return f"pooled out-of-fold ROC AUC {cv['auc_pooled']:.3f} (folds {cv['auc_mean']:.3f} ± {cv['auc_sd']:.3f})"
    if "kappa" in cv:
        return f"out-of-fold accuracy {cv['accuracy']:.3f}, kappa {cv['kappa']:.3f}"
    return "trained without cross-validation"


def write_map_preview(landform: Path, prospectivity: Path, png: Path) -> Path:
    """A PNG with the landform classes (their colour table) beside the prospectivity map."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import rasterio
    from matplotlib.colors import ListedColormap

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 5))
    with rasterio.open(landform) as ds:
        classes = ds.read(1)
        cmap = ds.colormap(1)
        names = {int(k.split("_")[1]): v for k, v in ds.tags(1).items() if k.startswith("CLASS_")}
    top = max(names)
    colours = ListedColormap([tuple(c / 255 for c in cmap.get(i, (0, 0, 0, 0))) for i in range(top + 1)])
    left.imshow(classes, cmap=colours, vmin=0, vmax=top, interpolation="nearest")
    left.set_title("landform classes")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours(i)) for i in sorted(names)]
    left.legend(handles, [names[i] for i in sorted(names)], loc="lower left", fontsize=7)
    with rasterio.open(prospectivity) as ds:
        prob = ds.read(1)
    image = right.imshow(prob, cmap="RdYlBu_r", vmin=0, vmax=1)
    right.set_title("prospectivity (probability)")
    fig.colorbar(image, ax=right, fraction=0.046)
    for ax in (left, right):
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(png, dpi=80)
    plt.close(fig)
    return png


def write_trust_preview(prospectivity: Path, explain: Path, applicability: Path, targets: Path, png: Path) -> Path:
    """A PNG of the trust maps: the probability with the ranked targets outlined, the
    attribution of the input that matters most over the map, and the area of applicability."""
    import geopandas as gpd
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import rasterio
    from rasterio.plot import plotting_extent

    with rasterio.open(prospectivity) as ds:
        prob, extent = ds.read(1), plotting_extent(ds)
    with rasterio.open(explain) as ds:
        attributions = ds.read()
        strongest = int(np.nanargmax(np.nanmean(np.abs(attributions), axis=(1, 2))))
        name = ds.descriptions[strongest]
        half = float(np.nanpercentile(np.abs(attributions[strongest]), 99)) or 1.0
    with rasterio.open(applicability) as ds:
        mask = ds.read(2)
        inside = float(np.nanmean(mask))
    polygons = gpd.read_file(targets)
    fig, axes = plt.subplots(1, 3, figsize=(15, 5))
    image = axes[0].imshow(prob, cmap="RdYlBu_r", vmin=0, vmax=1, extent=extent)
    polygons.boundary.plot(ax=axes[0], color="black", linewidth=0.8)
    for _, row in polygons.nsmallest(3, "rank").iterrows():
        point = row.geometry.representative_point()
        axes[0].annotate(str(row["rank"]), (point.x, point.y), fontsize=9, fontweight="bold")
    axes[0].set_title(f"prospectivity, {len(polygons)} ranked targets (top 5%)")
    fig.colorbar(image, ax=axes[0], fraction=0.046)
    image = axes[1].imshow(attributions[strongest], cmap="RdBu_r", vmin=-half, vmax=half, extent=extent)
    axes[1].set_title(f"attribution of {name}")
    fig.colorbar(image, ax=axes[1], fraction=0.046)
    axes[2].imshow(mask, cmap=matplotlib.colors.ListedColormap(["#d7191c", "#1a9641"]), vmin=0, vmax=1,
                   extent=extent, interpolation="nearest")
    axes[2].set_title(f"area of applicability ({inside:.0%} inside, green)")
    for ax in axes:
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(png, dpi=80)
    plt.close(fig)
    return png


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
