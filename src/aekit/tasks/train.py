"""Training a model on a data source into a run folder (what `aekit train` does)."""
from __future__ import annotations

import time
from pathlib import Path

from aekit.data import Dataset, load
from aekit.errors import RunFolderError
from aekit.estimators import PRESETS, VAE_PRESETS, AutoEncoder
from aekit.report.run_report import ReportEntry, build_report
from aekit.runs import CONFIG, update_metrics
from aekit.tasks.evaluate import evaluate_reconstruction, model_input


def load_splits(source: str, data_dir=None, seed: int = 0, label_column=None) -> tuple[Dataset, Dataset, Dataset]:
    kw = {"data_dir": data_dir, "seed": seed}
    if label_column is not None:
        kw["label_column"] = label_column
    return load(source, split="train", **kw), load(source, split="val", **kw), load(source, split="test", **kw)


def data_record(source: str, data_dir, seed: int, ds: Dataset, label_column=None) -> dict:
    return {
        "source": str(source),
        "data_dir": None if data_dir is None else str(Path(data_dir).resolve()),
        "seed": seed,
        "name": ds.name,
        "sample_shape": list(ds.sample_shape),
        "value_range": list(ds.value_range),
        "label_column": label_column,
    }


def train_run(
    out: str | Path,
    source: str = "digits",
    *,
    preset: str = "ae",
    data_dir=None,
    data_seed: int = 0,
    label_column=None,
    resume: bool = False,
    overwrite: bool = False,
    report: bool = True,
    **params,
) -> tuple[AutoEncoder, dict, Path]:
    """Train, evaluate on the test split beside PCA, and write the run folder (+ report)."""
    if preset in VAE_PRESETS:  # variational autoencoders have their own evaluation and report
        from aekit.tasks.generate import train_vae_run

        return train_vae_run(out, source, preset=preset, data_dir=data_dir, data_seed=data_seed,
                             label_column=label_column, resume=resume, overwrite=overwrite, report=report, **params)
    out = Path(out)
    if (out / CONFIG).exists() and not (resume or overwrite):
        raise RunFolderError(f"{out} already holds a trained run; choose another --out, or pass --overwrite")
    train, val, test = load_splits(source, data_dir, data_seed, label_column)
    est = AutoEncoder.from_preset(preset, **params)
    t0 = time.perf_counter()
    est.fit(model_input_for(train), X_val=model_input_for(val) if len(val) else None, run_dir=out, resume=resume)
    seconds = time.perf_counter() - t0
    metrics = evaluate_reconstruction(est, train, test)
    metrics["train_seconds"] = seconds
    est.save(out, data=data_record(source, data_dir, data_seed, train, label_column), metrics=metrics)
    if report:
        build_report(out / "report.html", [ReportEntry(preset, est, metrics)], train, test,
                     title=f"aekit run {out.name}")
    return est, metrics, out


def model_input_for(ds: Dataset):
    """Image datasets are given to the estimator as N×C×H×W (so runs remember the image shape)."""
    return ds.X


__all__ = ["PRESETS", "data_record", "load_splits", "model_input", "train_run", "update_metrics"]
