"""Several runs side by side: one table (console and page) and their loss curves on one plot.

`aekit.tasks.compare` reads the run folders into `CompareEntry` objects; this module only
renders them.
"""
from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from pathlib import Path

from aekit.report import figures
from aekit.report.html import Section, Table, write_report


@dataclass
class CompareEntry:
    """One run folder, as the comparison shows it.

    Parameters
    ----------
    name : str
        The run's label (its folder name, made unique).
    path : str
        The folder.
    kind : str
        autoencoder, vae, colorizer or detector.
    model : str
        The estimator and its layers, in short.
    data : str
        The data's name (and training size when a --train-size draw).
    code_size : int or None
        Values in the code (None: no code, e.g. a colorizer).
    parameters : int or None
        Trainable numbers in the network.
    epochs : int or None
    seconds : float or None
        Training time.
    loss : str
        The training loss's name (the curves of runs with different losses are not on one scale).
    metrics : dict
        The run's recorded test metrics (metrics.json).
    tasks : dict of str to str, default {}
        Task → its result in a few words (denoise, detect score, classify...).
    history : list of dict, default []
        Epoch rows (history.csv).
    data_key : dict, default {}
        What identifies the data and its split (source, sha256, seed, training size...).
    marked : bool, default False
        True when its data differ from the first run's (shown with a mark).
    """

    name: str
    path: str
    kind: str
    model: str
    data: str
    code_size: int | None
    parameters: int | None
    epochs: int | None
    seconds: float | None
    loss: str
    metrics: dict
    tasks: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    data_key: dict = field(default_factory=dict)
    marked: bool = False


HEADERS = ["run", "kind", "model", "data", "code", "parameters", "epochs", "time (s)", "test MSE/value",
           "PCA MSE/value", "÷ PCA", "task results"]


def _number(v, fmt: str = "{:,}") -> str:
    return "—" if v is None else fmt.format(v)


def headline(m: dict) -> str:
    """A kind's own test result in a few words (likelihood, ROC-AUC, PSNR) from its metrics.

    Examples
    --------
    >>> headline({"elbo": -27.14, "log_likelihood": -27.04, "k": 1000})
    'ELBO -27.14, log p(x) -27.04 (k=1000)'
    >>> headline({"roc_auc": 0.9512, "pr_auc": 0.9})
    'ROC-AUC 0.951, PR-AUC 0.900'
    >>> headline({"psnr_model": 25.51, "psnr_grey": 24.0})
    'PSNR 25.51 dB (grey input 24.00)'
    >>> headline({})
    ''
    """
    parts = []
    if "elbo" in m:
        parts.append(f"ELBO {m['elbo']:.2f}, log p(x) {m['log_likelihood']:.2f} (k={m.get('k', '?')})")
    if "roc_auc" in m:
        parts.append(f"ROC-AUC {m['roc_auc']:.3f}" + (f", PR-AUC {m['pr_auc']:.3f}" if "pr_auc" in m else ""))
    if "psnr_model" in m:
        parts.append(f"PSNR {m['psnr_model']:.2f} dB (grey input {m['psnr_grey']:.2f})")
    return "; ".join(parts)


def compare_rows(entries: list[CompareEntry]) -> list[list]:
    """One row per run, cells as `HEADERS` names them; a run on other data is marked "†".

    Examples
    --------
    >>> m = {"model": {"mse_per_value": 0.02}, "pca": {"mse_per_value": 0.03}, "model_vs_pca": 0.667}
    >>> e = CompareEntry("ae", "runs/ae", "autoencoder", "AutoEncoder 64-8", "digits", 8, 1234, 5, 2.0, "mse", m)
    >>> compare_rows([e])[0]
    ['ae', 'autoencoder', 'AutoEncoder 64-8', 'digits', '8', '1,234', '5', '2.0', '0.02', '0.03', '0.667', '—']
    """
    rows = []
    for e in entries:
        m = e.metrics
        model_mse = m.get("model", {}).get("mse_per_value")
        pca_mse = m.get("pca", {}).get("mse_per_value")
        ratio = m.get("model_vs_pca")
        ratio_text = ("n/a (PCA exact)" if ratio is None and model_mse is not None else _number(ratio, "{:.3g}"))
        tasks = [t for t in (headline(m), *(f"{k}: {v}" for k, v in e.tasks.items())) if t]
        rows.append([e.name + (" †" if e.marked else ""), e.kind, e.model, e.data, _number(e.code_size),
                     _number(e.parameters), _number(e.epochs), _number(e.seconds, "{:.1f}"),
                     _number(model_mse, "{:.4g}"), _number(pca_mse, "{:.4g}"), ratio_text,
                     "; ".join(tasks) or "—"])
    return rows


def compare_table(entries: list[CompareEntry]) -> Table:
    """The runs side by side, one column per run, one row per `HEADERS` field (console and page).

    Parameters
    ----------
    entries : list of CompareEntry

    Returns
    -------
    Table

    Examples
    --------
    >>> e = CompareEntry("ae", "runs/ae", "autoencoder", "AutoEncoder 64-8", "digits", 8, 1234, 5, 2.0, "mse", {})
    >>> t = compare_table([e, e])
    >>> t.headers, t.rows[3]
    (['', 'ae', 'ae'], ['code', '8', '8'])
    """
    caption = ("Test split of each run's own data; PCA with the same code size fitted on its training split; "
               "÷ PCA below 1: the autoencoder reconstructs better than PCA. Time: the whole fit where recorded, "
               "else the sum of the epochs.")
    if any(e.marked for e in entries):
        caption += " † trained on other data than the first run: its numbers are not comparable with the others'."
    columns = compare_rows(entries)
    rows = [[field, *(col[i] for col in columns)] for i, field in enumerate(HEADERS) if i > 0]
    return Table(["", *(col[0] for col in columns)], rows, caption=caption, title=f"{len(entries)} runs side by side")


def data_table(entries: list[CompareEntry]) -> Table:
    """What each run's data is: source, file hash, split seed, training size.

    Examples
    --------
    >>> e = CompareEntry("ae", "runs/ae", "autoencoder", "", "digits", 8, None, None, None, "mse", {},
    ...                  data_key={"source": "digits", "seed": 0})
    >>> data_table([e]).rows
    [['ae', 'digits', '—', '0', '—', '—']]
    """
    rows = []
    for e in entries:
        k = e.data_key
        sha = k.get("sha256")
        rows.append([e.name + (" †" if e.marked else ""), str(k.get("source", "—")), sha[:12] if sha else "—",
                     _number(k.get("seed"), "{}"), _number(k.get("train_size")), str(k.get("normal_labels") or "—")])
    return Table(["run", "data source", "sha256", "split seed", "training size", "normal labels"], rows,
                 caption="The data each run was trained and measured on, as recorded in its config.json.")


def write_compare_page(path: str | os.PathLike, entries: list[CompareEntry]) -> Path:
    """One HTML page: the table, the loss curves of every run overlaid, and the data of each run.

    Parameters
    ----------
    path : str or os.PathLike
        The HTML file; the loss plot is written beside it (`<stem>-loss.png`) and embedded.
    entries : list of CompareEntry

    Returns
    -------
    pathlib.Path
        `path`.
    """
    path = Path(path)
    sections = [Section("Runs side by side", tables=[compare_table(entries)])]
    histories = {f"{e.name} ({e.loss})": e.history for e in entries if e.history}
    if histories:
        plot = figures.overlaid_loss_curves(histories, path.with_name(f"{path.stem}-loss.png"))
        losses = sorted({e.loss for e in entries if e.history})
        note = ("" if len(losses) < 2 else f" The runs train different losses ({', '.join(losses)}): their levels are "
                "not on one scale, only their shapes compare.")
        sections.append(Section("Loss curves", text=[html.escape(
            "Each run's training (solid) and validation (dashed) loss per epoch, one colour per run; stages "
            "(pretraining, fine-tuning) follow each other." + note)],
            figures=[(plot, "Loss per epoch of every run.")]))
    sections.append(Section("Data", tables=[data_table(entries)]))
    return write_report(path, f"aekit compare: {len(entries)} runs", sections)


__all__ = ["CompareEntry", "HEADERS", "compare_rows", "compare_table", "data_table", "headline", "write_compare_page"]
