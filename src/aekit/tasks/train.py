"""Training a preset on a data source into a run folder (what `aekit train` does), for every kind."""
from __future__ import annotations

import time
from pathlib import Path

from aekit.estimators import make_preset
from aekit.kinds import kind_of_preset
from aekit.report.html import write_report
from aekit.runs import RunRecord


def train_run(out: str | Path, source: str = "digits", *, preset: str = "ae", data_dir=None, data_seed: int = 0,
              label_column=None, resume: bool = False, overwrite: bool = False, report: bool = True,
              eval_options: dict | None = None, train_size: int | None = None, **params):
    """Train preset `preset` on `source`, evaluate it on the test data beside its baselines, and
    write the run folder (config, weights, history, metrics, report.html).

    Returns (estimator, metrics, run folder).
    """
    run = RunRecord(out)
    run.check_writable(resume=resume, overwrite=overwrite)
    kind = kind_of_preset(preset)
    est = make_preset(preset, **params)
    est.check_params()  # before any data is loaded or the folder is touched
    if resume:
        est.check_resume(run.path)
    args, kwargs, record, eval_data = kind.training_data(est, source, data_dir, data_seed, label_column, train_size)
    with run.lock():
        if overwrite and not resume:
            run.clear()  # an old report or checkpoint must not sit beside the new run
        t0 = time.perf_counter()
        est.fit(*[a for a in args if a is not None], **kwargs, run_dir=run.path, resume=resume)
        seconds = time.perf_counter() - t0
        ev = kind.evaluate(est, **eval_data, **(eval_options or {}))
        metrics = {**ev.metrics, "train_seconds": seconds}
        est.save(run.path, data=record.to_dict(), metrics=metrics)
        if report:
            write_report(run.report_path, f"aekit run {run.path.name}", kind.sections(preset, est, ev, run.path))
    return est, metrics, run.path


__all__ = ["train_run"]
