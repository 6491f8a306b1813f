"""Tables and report sections of the tasks run on a trained folder: denoising, anomaly scores,
few-label classification and similar-image search.

Each task writes its results to a folder (`aekit denoise` → RUN/denoise, `aekit detect score`
→ RUN/scores, `aekit classify` → RUN/classify, `aekit index query` → the index folder) and notes
it in the run folder (`RunRecord.record_task`); `task_sections` turns those notes into the
report's sections, from the files the tasks wrote, so a report shows what was done with a model
without doing it again.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

from aekit.errors import AekitWarning
from aekit.report.detector import detector_tables
from aekit.report.html import Section, Table

CLASSIFY_METHODS = ("encoder + pseudo-labels", "encoder fine-tuned", "PCA + logistic regression",
                    "raw + logistic regression")


def denoise_table(m: dict, title: str = "") -> Table:
    """PSNR and SSIM of the noisy input, PCA denoising and the model against the clean images (for
    signals: SI-SDR and segmental SNR).

    Parameters
    ----------
    m : dict
        `aekit.tasks.denoise.denoise_split`'s metrics: "noisy", "model", "pca_tuned" and
        optionally "pca_same_size", each with "psnr" (and "ssim" for images) or, for signals,
        "si_sdr" and "seg_snr"; "warnings".
    title : str, default ""
        The console title.

    Returns
    -------
    Table

    Examples
    --------
    >>> m = {"noisy": {"psnr": 9.4}, "pca_tuned": {"psnr": 15.2, "n_components": 64}, "model": {"psnr": 16.3}}
    >>> [r[0] for r in denoise_table(m).rows]
    ['noisy input', 'PCA-64 (best size on validation)', 'autoencoder']
    """
    rows = [["noisy input", m["noisy"]]]
    if "pca_same_size" in m:
        rows.append([f"PCA-{m['pca_same_size']['n_components']} (same size as the code)", m["pca_same_size"]])
    rows.append([f"PCA-{m['pca_tuned']['n_components']} (best size on validation)", m["pca_tuned"]])
    rows.append(["autoencoder", m["model"]])
    caption = " ".join(f"Warning: {w}." for w in m.get("warnings", []))
    if "si_sdr" in m["model"]:  # signals: SI-SDR and segmental SNR, as the speech benchmark scores them
        return Table(["method", "SI-SDR (dB)", "seg. SNR (dB)"],
                     [[name.replace(" (", " on frames (", 1) if name.startswith("PCA-") else name, r["si_sdr"],
                       r["seg_snr"]] for name, r in rows],
                     caption=caption.strip(), title=title)
    has_ssim = "ssim" in m["model"]
    return Table(["method", "PSNR (dB)", *(["SSIM"] if has_ssim else [])],
                 [[name, r["psnr"], *([r.get("ssim", float("nan"))] if has_ssim else [])] for name, r in rows],
                 caption=caption.strip(), title=title)


def classify_table(result: dict) -> Table:
    """Test accuracy by labels per class for each method of `aekit classify`.

    Examples
    --------
    >>> r = {"rows": [{"labels_per_class": 10, "encoder fine-tuned": 0.9, "raw + logistic regression": 0.8}],
    ...      "data": "digits", "n_test": 359, "code_size": 16}
    >>> t = classify_table(r)
    >>> t.headers, t.rows
    (['labels per class', 'encoder fine-tuned', 'raw + logistic regression'], [[10, 0.9, 0.8]])
    """
    shown = [m for m in CLASSIFY_METHODS if any(m in r for r in result["rows"])]
    return Table(["labels per class", *shown], [[r["labels_per_class"], *(r[m] for m in shown)] for r in result["rows"]],
                 caption=f"Test accuracy on {result['data']} ({result['n_test']} samples); code size "
                         f"{result['code_size']}; baselines: logistic regression on PCA codes of the same size and on "
                         "the raw inputs, with the same labelled samples.",
                 title=f"test accuracy on {result['data']} ({result['n_test']} samples)")


def _read(folder: Path, name: str) -> dict | None:
    try:
        return json.loads((folder / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _figure(path, caption: str) -> list[tuple[Path, str]]:
    return [(Path(path), caption)] if path and Path(path).is_file() else []


def _denoise(folder: Path, entry: dict) -> Section | None:
    m = _read(folder, "metrics.json")
    if m is None:
        return None
    if "si_sdr" in m.get("model", {}):
        return Section(f"Denoising ({entry.get('noise', m.get('noise', ''))})".replace(" ()", ""),
                       text=["`aekit denoise`: test windows corrupted with noise, SI-SDR and segmental SNR against the "
                             "clean signals (the windows joined end to end), beside the noisy input and PCA on frames. "
                             f"Results (with WAV files of the stretch drawn) in {folder}."],
                       tables=[denoise_table(m)],
                       figures=_figure(folder / "denoise-spectrograms.png",
                                       "Spectrograms of a stretch of the test signals: noisy, PCA on frames, the "
                                       "autoencoder, the clean signal."))
    return Section(f"Denoising ({entry.get('noise', m.get('noise', ''))})".replace(" ()", ""),
                   text=[f"`aekit denoise`: test images corrupted with noise, PSNR/SSIM against the clean images, "
                         f"beside the noisy input and PCA-projection denoising. Results in {folder}."],
                   tables=[denoise_table(m)],
                   figures=_figure(folder / "denoise-grid.png",
                                   "Rows: noisy input, PCA denoising, the autoencoder, the clean image."))


def _scores(folder: Path, entry: dict) -> Section | None:
    m = _read(folder, "metrics.json")
    if m is None or "threshold" not in m:
        return None
    figs = m.get("figures", {})
    return Section(f"Anomaly scores: {m.get('data', '')} {m.get('split', '')}".strip(),
                   text=[f"`aekit detect score`: scores of every row, the threshold and, where the labels say which "
                         f"rows are anomalies, the ROC beside PCA and IsolationForest. Results in {folder}."],
                   tables=detector_tables(m),
                   figures=[f for key, caption in (("histogram", "Scores with the threshold."), ("roc", "ROC curve."),
                                                   ("most_anomalous", "The most anomalous samples."))
                            for f in _figure(figs.get(key), caption)])


def _classify(folder: Path, entry: dict) -> Section | None:
    r = _read(folder, "classify.json")
    if r is None or "rows" not in r:
        return None
    return Section("Few-label classification",
                   text=["`aekit classify`: the encoder with a softmax layer, fine-tuned on N labelled samples per "
                         f"class, beside logistic regression on PCA codes and on the raw inputs. Results in {folder}."],
                   tables=[classify_table(r)],
                   figures=_figure(folder / "classify.png", "Test accuracy against labelled samples per class."))


def _search(folder: Path, entry: dict) -> Section | None:
    rows = [["index", str(folder)], ["neighbours per query (k)", entry.get("k", "")]]
    if entry.get("precision_at_k") is not None:
        rows.append([f"precision@{entry.get('k')} by label", entry["precision_at_k"]])
    return Section("Similar-image search",
                   text=["`aekit index query`: each query's nearest neighbours by the encoder's codes; precision@k is "
                         "the share of neighbours with the query's label."],
                   tables=[Table(["", "value"], rows)],
                   figures=_figure(entry.get("grid"), "Each row: a query, then its nearest neighbours, nearest first."))


TASK_SECTIONS = {"denoise": _denoise, "detect score": _scores, "classify": _classify, "search": _search}


def task_sections(entries: list[dict]) -> list[Section]:
    """The report sections of the task results noted in a run folder (`RunRecord.recorded_tasks`);
    a result whose files are gone or unreadable is skipped with a warning.

    Parameters
    ----------
    entries : list of dict
        Each with "task" (a key of TASK_SECTIONS), "folder" and the facts the task noted.

    Returns
    -------
    list of Section
    """
    out = []
    for entry in entries:
        make = TASK_SECTIONS.get(entry["task"])
        section = make(Path(entry["folder"]), entry) if make else None
        if section is None:
            warnings.warn(f"the {entry['task']} result in {entry['folder']} cannot be read; not in the report",
                          AekitWarning, stacklevel=2)
        else:
            out.append(section)
    return out


__all__ = ["CLASSIFY_METHODS", "TASK_SECTIONS", "classify_table", "denoise_table", "task_sections"]
