"""Training a preset on a data source into a run folder (what `aekit train` does), for every kind."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from aekit.estimators import make_preset
from aekit.kinds import kind_of, kind_of_preset
from aekit.report.html import write_report
from aekit.runs import RunRecord
from aekit.train.distributed import is_writer
from aekit.train.tracking import resolve_loggers, tracking_run


def train_run(out: str | Path, source: str = "digits", *, preset: str = "ae", data_dir=None, data_seed: int = 0,
              label_column=None, resume: bool = False, overwrite: bool = False, report: bool = True,
              eval_options: dict | None = None, train_size: int | None = None, image_options: dict | None = None,
              progress: Callable[[str], None] | None = None, **params):
    """Train preset `preset` on `source`, evaluate it on the test data beside its baselines, and
    write the run folder (config, weights, history, metrics, report.html). With ``logger=`` (see
    `aekit.train.tracking`), the loggers' session spans training, evaluation and the report: the
    epochs, the config and data, the final metrics and the report's figures reach one run.

    `image_options` (size, crop, grey: `aekit.data.image_source.ImageFolderSource`) decode an
    image folder resized, cropped or grey; the run record keeps them.

    `progress` is told what each step after training is doing and how long it took (evaluation
    and the report can take minutes on large data).

    Under torchrun every rank trains its share of each batch and rank 0 alone writes the run
    folder; the other ranks return (estimator, {}, run folder) after training.

    Returns (estimator, metrics, run folder).
    """
    say = progress or (lambda _: None)
    run = RunRecord(out)
    writer = is_writer()
    if writer:
        run.check_writable(resume=resume, overwrite=overwrite)
    kind = kind_of_preset(preset)
    if params.get("logger") is not None:
        params["logger"] = resolve_loggers(params["logger"])
    loggers = params.get("logger") or []
    est = make_preset(preset, **params)
    est.check_params()  # before any data is loaded or the folder is touched
    if resume and writer:
        est.check_resume(run.path)
    images = {"image_options": image_options} if image_options else {}
    args, kwargs, record, eval_data = kind.training_data(est, source, data_dir, data_seed, label_column, train_size,
                                                         **images)
    if not writer:  # its checkpoint comes from rank 0, which also writes the folder
        est.fit(*[a for a in args if a is not None], **kwargs, run_dir=run.path, resume=resume)
        return est, {}, run.path
    # an old report or checkpoint must not sit beside the new run; a run that fails puts the old one back
    with run.lock(), run.replacing(overwrite and not resume):
        with tracking_run(loggers, run.path, resume=resume) as tracking:
            tracking.log_params({"data": record.to_dict()})
            t0 = time.perf_counter()
            est.fit(*[a for a in args if a is not None], **kwargs, run_dir=run.path, resume=resume)
            seconds = time.perf_counter() - t0
            say(f"evaluating on the test split beside its baselines ({kind.title})…")
            t1 = time.perf_counter()
            ev = kind.evaluate(est, **eval_data, **(eval_options or {}))
            metrics = {**ev.metrics, "train_seconds": seconds}
            est.save(run.path, data=record.to_dict(), metrics=metrics)
            tracking.log_summary(metrics)
            say(f"evaluated in {time.perf_counter() - t1:.1f} s")
            if report:
                say("writing the report (figures, latent maps)…")
                t1 = time.perf_counter()
                sections = kind.sections(preset, est, ev, run.path)
                write_report(run.report_path, f"aekit run {run.path.name}", sections)
                tracking.log_figures(path for section in sections for path, _ in section.figures)
                say(f"report written in {time.perf_counter() - t1:.1f} s")
    return est, metrics, run.path


def report_run(run, data=None, data_dir=None) -> tuple[Path, Path]:
    """(Re)write a run folder's report.html (what fits its kind, beside its baselines, then the
    results of every task run on the folder) and MODEL_CARD.md; returns both paths."""
    from aekit.report.model_card import write_model_card
    from aekit.report.task_results import task_sections

    run = Path(run)
    kind = kind_of(run)
    est = kind.load(run)
    ev = kind.evaluate(est, run, data, data_dir)
    recorded = RunRecord(run).read_metrics()
    if recorded.get("train_seconds") is not None:  # the fit's wall time, measured when it ran
        ev.metrics.setdefault("train_seconds", recorded["train_seconds"])
    sections = kind.sections(run.name, est, ev, run) + task_sections(RunRecord(run).recorded_tasks())
    path = write_report(run / "report.html", f"aekit run {run.name}", sections)
    return path, write_model_card(run, kind.name, kind.title, ev.metrics)


__all__ = ["report_run", "train_run"]
