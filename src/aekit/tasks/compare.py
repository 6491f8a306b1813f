"""`aekit compare`: several run folders read side by side (one table, one page).

Runs are compared only on the same data: the same source (and, for a file, the same sha256),
split seed and training-size draw. Other data is refused with one message naming the runs and
what differs, unless the caller allows it (then those runs are marked).
"""
from __future__ import annotations

import os
from pathlib import Path

from aekit.errors import DataError, RunFolderError
from aekit.kinds import kind_of
from aekit.report.compare import CompareEntry, write_compare_page
from aekit.report.facts import parameter_count, training_seconds
from aekit.runs import RunRecord, read_json

# the task outputs a run folder may hold (the tasks' default output folders)

DATA_FIELDS = ("source", "sha256", "seed", "train_size", "label_column")  # what makes two runs' data the same


def data_key(record) -> dict:
    """What identifies a run's data and split: its source (the resolved path for a file), the
    file's sha256, the split seed, the --train-size draw, the CSV label column; and, shown but not
    compared, a detector's normal labels.

    Examples
    --------
    >>> from aekit.runs import DataRecord
    >>> data_key(DataRecord(source="digits", seed=0, extra={"train_size": 500}))
    {'source': 'digits', 'sha256': None, 'seed': 0, 'train_size': 500, 'label_column': None, 'normal_labels': None}
    """
    return {"source": record.path or record.source, "sha256": record.sha256, "seed": record.seed,
            "train_size": record.extra.get("train_size"), "label_column": record.label_column,
            "normal_labels": record.extra.get("normal_labels")}


def _model_text(est) -> tuple[str, int | None, str]:
    """(estimator and layers in short, code size or None, training loss) of a fitted estimator."""
    inner = getattr(est, "estimator_", est)
    c = inner.model_config_
    hidden = "-".join(str(h) for h in getattr(c, "hidden", ()) or ())
    code = getattr(c, "code_size", None)
    arch = getattr(c, "arch", "mlp")
    text = f"{type(inner).__name__} {arch} {hidden}" + (f" → {code}" if code is not None else "")
    extras = [f"{k} {getattr(c, k)}" for k in ("noise", "sparsity") if getattr(c, k, None)]
    if getattr(c, "tied", False):
        extras.append("tied")
    if inner is not est:
        text = f"{type(est).__name__} over {text}"
    loss = str(getattr(c, "loss", None) or getattr(c, "likelihood", None) or "loss")
    if getattr(inner, "_kind", None) == "vae":
        loss = "negative ELBO"
    return text + (f" ({', '.join(extras)})" if extras else ""), (None if code is None else int(code)), loss


def task_results(run: RunRecord) -> dict[str, str]:
    """The results of the tasks run on the folder (as noted by `RunRecord.record_task`, wherever
    they were written), in a few words.

    Parameters
    ----------
    run : RunRecord

    Returns
    -------
    dict of str to str
        "denoise", "detect score", "classify", "search" where present (the latest of each).
    """
    out = {}
    for entry in run.recorded_tasks():
        folder, task = Path(entry["folder"]), entry["task"]
        try:
            if task == "denoise":
                m = read_json(folder / "metrics.json")
                key, name = ("si_sdr", "SI-SDR") if "si_sdr" in m["model"] else ("psnr", "PSNR")  # signals: SI-SDR
                out[task] = (f"{m.get('noise', entry.get('noise', '?'))}: {name} {m['model'][key]:.2f} dB (noisy "
                             f"{m['noisy'][key]:.2f}, PCA {m['pca_tuned'][key]:.2f})")
            elif task == "detect score":
                m = read_json(folder / "metrics.json")
                if "roc_auc" in m:
                    out[task] = f"ROC-AUC {m['roc_auc']:.3f}"
            elif task == "classify":
                rows = read_json(folder / "classify.json").get("rows") or []
                best = max((v for k, v in rows[-1].items() if k != "labels_per_class" and isinstance(v, (int, float))),
                           default=None) if rows else None
                if best is not None:
                    out[task] = f"{rows[-1].get('labels_per_class')} labels/class: best accuracy {best:.3f}"
            elif task == "search" and entry.get("precision_at_k") is not None:
                out[task] = f"precision@{entry.get('k')} {entry['precision_at_k']:.3f}"
        except (RunFolderError, KeyError, TypeError):
            continue  # a result that cannot be read is left out of the summary (the report warns)
    return out


def compare_entry(path: str | os.PathLike, name: str | None = None) -> CompareEntry:
    """Read one run folder for the comparison (its weights are loaded to count the parameters).

    Parameters
    ----------
    path : str or os.PathLike
        A run folder.
    name : str or None, default None
        Its label; default: the folder's name.

    Returns
    -------
    CompareEntry
    """
    run = RunRecord(path)
    kind = kind_of(run.path)
    est = kind.load(run.path)
    model, code, loss = _model_text(est)
    metrics = run.read_metrics()
    history = run.history()
    inner = getattr(est, "estimator_", est)
    seconds, _ = training_seconds(history, metrics)
    record = run.data_record()
    key = data_key(record)
    data = record.name or record.source
    if key["train_size"] is not None:
        data += f" ({key['train_size']:,} training samples)"
    network = getattr(inner, "model_", None)
    return CompareEntry(
        name=name or run.path.name, path=str(run.path), kind=kind.name, model=model, data=data, code_size=code,
        parameters=None if network is None else parameter_count(network), epochs=getattr(inner, "n_epochs_", None),
        seconds=seconds, loss=loss, metrics=metrics, tasks=task_results(run), history=history, data_key=key)


def _differences(a: dict, b: dict) -> str:
    return ", ".join(f"{f} {a.get(f)!r} vs {b.get(f)!r}" for f in DATA_FIELDS if a.get(f) != b.get(f))


def compare_runs(paths: list, allow_different_data: bool = False) -> list[CompareEntry]:
    """Read the run folders; refuse runs on other data than the first's unless allowed (then marked).

    Parameters
    ----------
    paths : list of str or os.PathLike
        Two or more run folders.
    allow_different_data : bool, default False

    Returns
    -------
    list of CompareEntry

    Raises
    ------
    RunFolderError
        Fewer than two folders, or one given twice.
    DataError
        Runs on different data (without `allow_different_data`).
    """
    if len(paths) < 2:
        raise RunFolderError(f"aekit compare needs two or more run folders, got {len(paths)}")
    resolved = [Path(p).resolve() for p in paths]
    seen = set()
    for p, r in zip(paths, resolved):
        if r in seen:
            raise RunFolderError(f"{p} is given twice")
        seen.add(r)
    names = [Path(p).name or str(p) for p in paths]
    if len(set(names)) < len(names):  # folders of one name in different places: label them by their paths
        names = [str(p) for p in paths]
    entries = [compare_entry(p, n) for p, n in zip(paths, names)]
    first = entries[0]
    different = [e for e in entries[1:] if any(e.data_key.get(f) != first.data_key.get(f) for f in DATA_FIELDS)]
    if different and not allow_different_data:
        what = "; ".join(f"{e.name}: {_differences(first.data_key, e.data_key)}" for e in different)
        raise DataError(f"these runs were trained on different data than {first.name} ({what}); their test errors "
                        "are not comparable. Pass --allow-different-data to compare them anyway (they are marked)")
    for e in different:
        e.marked = True
    return entries


def compare(paths: list, out: str | os.PathLike | None = None, allow_different_data: bool = False
            ) -> tuple[list[CompareEntry], Path | None]:
    """`compare_runs`, and the HTML page written to `out` when given; (entries, page or None)."""
    entries = compare_runs(paths, allow_different_data)
    page = write_compare_page(out, entries) if out is not None else None
    return entries, page


__all__ = ["compare", "compare_entry", "compare_runs", "data_key", "task_results"]
