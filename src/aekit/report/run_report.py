"""The report of one or several trained models, always beside PCA."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aekit.data import Dataset
from aekit.models.losses import parse_sparsity
from aekit.models.pca import fit_pca, pca_reconstruct
from aekit.report import figures
from aekit.report.facts import best_epoch_basis, facts_table, pca_verdict
from aekit.report.latent_map import latent_map_html
from aekit.report.html import Section, Table, write_report
from aekit.evaluation import evaluate_reconstruction, model_input


@dataclass
class ReportEntry:
    """One trained model in a report.

    Parameters
    ----------
    name : str
        Its heading and table label.
    estimator : object
        A fitted autoencoder estimator (transform, reconstruct, model_config_).
    metrics : dict or None, default None
        Its `aekit.evaluation.evaluate_reconstruction` result; computed by `build_report` when None.
    description : str, default ""
        A paragraph under its heading; default: the layers and options of its config.
    slug : str, default ""
        File-name stem of its figures; default: made from `name`.
    pca_reason : str or None, default None
        Why it is not expected to beat PCA on clean reconstruction (the report's verdict says it
        when it does not).
    """

    name: str
    estimator: object
    metrics: dict | None = None  # from evaluate_reconstruction; computed when None
    description: str = ""
    slug: str = ""  # file-name stem of its figures
    pca_reason: str | None = None


def error_table(entries: list[ReportEntry]) -> Table:
    """Test reconstruction error of each entry beside PCA's with the same latent size.

    Parameters
    ----------
    entries : list of ReportEntry
        Entries whose `metrics` are set.

    Returns
    -------
    Table
        One row per entry.

    Examples
    --------
    >>> m = {"latent_dim": 2, "pca": {"n_components": 2, "mse_per_value": 0.04, "sse_per_sample": 2.6},
    ...      "model": {"mse_per_value": 0.03, "sse_per_sample": 1.9}, "model_vs_pca": 0.75}
    >>> error_table([ReportEntry("ae", None, metrics=m)]).rows
    [['ae', 2, 0.03, 0.04, '—', 1.9, 2.6, 0.75]]
    """
    rows = []
    for e in entries:
        m = e.metrics
        ratio = m["model_vs_pca"]
        rows.append([
            e.name, m["latent_dim"] if m["latent_dim"] == m["pca"]["n_components"]
            else f"{m['latent_dim']} (PCA {m['pca']['n_components']})", m["model"]["mse_per_value"], m["pca"]["mse_per_value"],
            m.get("mean", {}).get("mse_per_value", "—"), m["model"]["sse_per_sample"], m["pca"]["sse_per_sample"],
            "n/a (PCA exact)" if ratio is None else ratio,
        ])
    return Table(
        ["model", "latent", "MSE/value", "PCA MSE/value", "mean MSE/value", "SSE/sample", "PCA SSE/sample", "model ÷ PCA"],
        rows,
        caption="Test-split reconstruction error; PCA fitted on the training split with the same latent size; "
        "'mean' predicts the training mean for every sample (the trivial baseline). model ÷ PCA below 1 means the "
        "autoencoder reconstructs better than the linear baseline; with a code as large as the input PCA is exact "
        "and the ratio means nothing.",
    )


def warning_text(warnings_: list[str]) -> list[str]:
    """Report paragraphs for an evaluation's warnings (empty when there are none)."""
    return [f"<b class='warn'>Warning:</b> {w}." for w in warnings_]


def _describe(est) -> str:
    c = est.model_config_
    if c.arch == "conv":
        layers = f"conv {'-'.join(map(str, c.hidden))} on {'×'.join(map(str, c.input_shape))}, code {c.code_size}"
    elif c.arch == "resnet":
        layers = (f"resnet {'-'.join(map(str, c.hidden))} × {c.blocks} blocks on {'×'.join(map(str, c.input_shape))}, "
                  f"code {c.code_size}")
    else:
        layers = "-".join(str(v) for v in (c.n_features, *c.hidden, c.latent_dim))
    extras = [f"{c.activation} units", f"{c.loss} loss", f"{c.output_activation} output"]
    if c.tied:
        extras.append("tied weights")
    if c.noise:
        extras.append(f"noise {c.noise}")
    if c.sparsity:
        extras.append(f"sparsity {c.sparsity}")
    basis = best_epoch_basis(getattr(est, "history_", None))  # None: no history recorded, nothing to say
    best = {"validation loss": " (lowest validation loss)",
            "training loss": " (lowest training loss: no validation split)"}.get(basis, "")
    return (f"<code>{layers}</code> ({', '.join(extras)}); trained {getattr(est, 'n_epochs_', '?')} epochs, "
            f"best epoch {getattr(est, 'best_epoch_', '?')}{best}.")


def model_section(entry: ReportEntry, train: Dataset, test: Dataset, fig_dir: Path, slug: str,
                  error_table_shown: bool = True) -> Section:
    """One model's section: its error table, loss curves, reconstructions beside PCA's, the
    code-unit activity of a KL-sparse code, and its latent space beside PCA's.

    Parameters
    ----------
    entry : ReportEntry
        The model, with `metrics` set.
    train, test : Dataset
        PCA is fitted on `train`; the pictures show `test`.
    fig_dir : pathlib.Path
        Where the PNG figures are written.
    slug : str
        File-name stem of the figures.
    error_table_shown : bool, default True
        False where the report's summary table already shows this model's errors.

    Returns
    -------
    Section
    """
    est = entry.estimator
    m = entry.metrics
    sec = Section(entry.name, text=[*warning_text(m.get("warnings", [])), entry.description or _describe(est)])
    sec.tables.append(facts_table(est, m))
    if error_table_shown:
        sec.tables.append(error_table([entry]))
    if getattr(est, "history_", None):
        sec.figures.append((figures.loss_curves(est.history_, fig_dir / f"{slug}-loss.png", entry.name),
                            "Loss per epoch (solid: training, dashed: validation)."))
    n_show = min(10, len(test))
    shown = test.subset(np.arange(n_show))
    recon = est.reconstruct(model_input(est, shown))
    pca = fit_pca(train.flat(), m["latent_dim"])
    grid = figures.reconstruction_grid(
        {"original": shown.flat(), entry.name: recon.reshape(n_show, -1),
         f"PCA-{pca.n_components_}": pca_reconstruct(pca, shown.flat())},
        fig_dir / f"{slug}-reconstructions.png", image_shape=shown.sample_shape if shown.is_image else None,
        value_range=test.value_range,
    )
    if grid is not None:
        sec.figures.append((grid, "Test images (top), the autoencoder's reconstructions, and PCA's with the same latent size."))
    codes = est.transform(model_input(est, test))
    sparsity = parse_sparsity(est.model_config_.sparsity)
    if sparsity is not None and sparsity.kind == "kl":
        sec.figures.append((
            figures.code_unit_activity(codes.mean(0), sparsity.rho, fig_dir / f"{slug}-activity.png", entry.name),
            f"Mean activation of each code unit over the test set against the target ρ = {sparsity.rho:g} "
            f"(overall mean {codes.mean():.3f}).",
        ))
    pca2 = fit_pca(train.flat(), 2).transform(test.flat())
    sec.figures.append((
        figures.latent_scatter({entry.name: codes, "PCA (2 components)": pca2}, test.y,
                               fig_dir / f"{slug}-latent.png", classes=test.classes),
        "Test set in the autoencoder's latent space beside PCA's first two components, coloured by label.",
    ))
    signals = test.X.ndim == 3  # N×C×T windows: no picture to show per point
    sec.blocks.append(latent_map_html(f"LatentMap-{slug}", codes, labels=test.y, classes=test.classes,
                                      images=None if signals else test.X,
                                      image_shape=test.sample_shape if test.is_image else None,
                                      value_range=test.value_range, title=f"{entry.name}: interactive latent map"))
    return sec


def build_report(
    path: str | os.PathLike,
    entries: list[ReportEntry],
    train: Dataset,
    test: Dataset,
    title: str = "aekit report",
    intro: str = "",
    extra_sections: list[Section] | None = None,
) -> Path:
    """Write report.html (figures next to it, also embedded) for the given models.

    Parameters
    ----------
    path : str or os.PathLike
        The HTML file; the figures go to its folder.
    entries : list of ReportEntry
        The models; missing metrics are computed on `train` and `test`.
    train, test : Dataset
        The training split (for PCA) and the split the report measures.
    title : str, default "aekit report"
    intro : str, default ""
        A paragraph under the title.
    extra_sections : list of Section or None, default None
        Appended after the models' sections.

    Returns
    -------
    pathlib.Path
        `path`.
    """
    path = Path(path)
    fig_dir = path.parent
    for e in entries:
        if e.metrics is None:
            e.metrics = evaluate_reconstruction(e.estimator, train, test)
    sections = [Section("Summary: each model beside PCA", tables=[error_table(entries)],
                        text=[f"Data: <b>{test.name}</b>, {len(train)} training and {len(test)} test samples "
                              f"of shape {test.sample_shape}."])]
    for i, e in enumerate(entries):
        slug = e.slug or "-".join("".join(ch if ch.isalnum() else " " for ch in e.name.lower()).split()) or f"model{i}"
        sections.append(model_section(e, train, test, fig_dir, slug, error_table_shown=False))
    sections += extra_sections or []
    verdict = pca_verdict([(e.name, e.metrics["model_vs_pca"], e.pca_reason) for e in entries])
    return write_report(path, title, sections, intro=(f"<p>{intro}</p>" if intro else "") + verdict)
