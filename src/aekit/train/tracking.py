"""Experiment tracking: trainer callbacks that send a run to TensorBoard, MLflow or CSV.

A `TrackingLogger` (the adapters: `TensorBoardLogger`, `MLflowLogger`, `CSVLogger`, in
aekit.train.loggers and importable from here) is a trainer callback (aekit.train.callbacks) with
a session around it::

    begin(run_dir, resume=...)  where the logs go (inside the run folder by default)
    log_params(params)          the config, flattened: params.lr, model.latent_dim, train.epochs, ...
    on_epoch_end                every number of each history row as <stage>/<key> (train/loss,
                                train/val_loss, train/lr, pretrain-1/loss, ...) at step = the row's
                                place in the run's history (1-based, pretraining stages first:
                                the row's line in history.csv)
    log_summary(metrics)        the final metrics, as final/<key>
    log_figures(paths)          PNG figures: MLflow artifacts under figures/, TensorBoard images
    end(error)                  closes files; MLflow records FINISHED, KILLED or FAILED

Estimators take loggers as ``logger=`` (see `resolve_loggers`) and run a session around their
training, pretraining stages included (`tracking_run` + `use_callbacks`). `aekit train` opens the
session around fitting, evaluation and the report, so the final metrics and the report's figures
reach the same run; the estimator then logs into the open session.

Where the logs go: the logger's ``log_dir`` when given; else, with a run folder,
``RUN/logs/tensorboard/``, ``RUN/logs/metrics.csv`` (with ``params.csv`` and
``final_metrics.csv``) and MLflow's local store ``RUN/logs/mlruns`` (the run's id in
``RUN/logs/mlflow-run.json``, so ``--resume`` continues the same MLflow run); without one,
``aekit-logs/<time>/`` in the working directory (MLflow: ``aekit-logs/mlruns``). MLflow uses the
tracking URI given, else ``$MLFLOW_TRACKING_URI``, else that local store. The local store is
MLflow's file store: MLflow 3 refuses it unless ``MLFLOW_ALLOW_FILE_STORE=true`` (it favours a
database store, which mlflow-skinny cannot open without SQLAlchemy), so the logger allows it for
the stores it opens; to browse one, run ``MLFLOW_ALLOW_FILE_STORE=true mlflow ui
--backend-store-uri RUN/logs/mlruns``.

A logger that fails (a tracking server that cannot be reached, a full disk) warns once
(AekitWarning) and is switched off; training goes on. Loggers read the history rows only, never
the model or a random generator, so they do not change training. When a distributed rank is set
(``RANK`` ≠ 0, or torch.distributed's rank) the logger does nothing: rank 0 logs.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence

from aekit.errors import ConfigError
from aekit.train.loggers import (
    LOG_DIR,
    CSVLogger,
    MLflowLogger,
    TensorBoardLogger,
    TrackingLogger,
    flatten,
    numbers,
    tracking_rank,
)

LOGGERS: dict[str, type[TrackingLogger]] = {"tensorboard": TensorBoardLogger, "mlflow": MLflowLogger, "csv": CSVLogger}


def logger_from_name(spec: str) -> TrackingLogger:
    """A logger from its name: "tensorboard", "mlflow" or "csv"; "mlflow:URI" gives a tracking
    URI, "tensorboard:DIR" and "csv:DIR" a folder.

    Examples
    --------
    >>> logger_from_name("mlflow:http://127.0.0.1:5000").tracking_uri
    'http://127.0.0.1:5000'
    >>> logger_from_name("wandb")
    Traceback (most recent call last):
    ...
    aekit.errors.ConfigError: unknown logger 'wandb'; choose tensorboard, mlflow or csv (mlflow:URI for a tracking server, tensorboard:DIR or csv:DIR for another folder)
    """
    name, _, arg = str(spec).strip().partition(":")
    cls = LOGGERS.get(name.strip().lower())
    if cls is None:
        raise ConfigError(f"unknown logger {spec!r}; choose tensorboard, mlflow or csv (mlflow:URI for a tracking "
                          "server, tensorboard:DIR or csv:DIR for another folder)")
    arg = arg.strip() or None
    return MLflowLogger(tracking_uri=arg) if cls is MLflowLogger else cls(log_dir=arg)


def resolve_loggers(spec) -> list[TrackingLogger]:
    """The loggers an estimator's ``logger`` parameter names: None (none), a name (see
    `logger_from_name`), a TrackingLogger, or a list of those. ConfigError for anything else or
    for a logger named twice.

    Examples
    --------
    >>> [type(lg).__name__ for lg in resolve_loggers(["csv", "tensorboard"])]
    ['CSVLogger', 'TensorBoardLogger']
    >>> resolve_loggers(None)
    []
    """
    if spec is None:
        return []
    items = [spec] if isinstance(spec, (str, TrackingLogger)) else spec
    if not isinstance(items, (list, tuple)):
        raise ConfigError(f"logger must be a name (tensorboard, mlflow, csv), a TrackingLogger or a list of those; "
                          f"got {type(spec).__name__}")
    loggers: list[TrackingLogger] = []
    for item in items:
        if isinstance(item, TrackingLogger):
            logger = item
        elif isinstance(item, str):
            logger = logger_from_name(item)
        else:
            raise ConfigError(f"logger must be a name (tensorboard, mlflow, csv), a TrackingLogger or a list of "
                              f"those; got a {type(item).__name__} in the list")
        if any(lg is logger or (isinstance(item, str) and repr(lg) == repr(logger)) for lg in loggers):
            raise ConfigError(f"logger {item!r} is given twice")
        loggers.append(logger)
    return loggers


class TrackingRun:
    """The open loggers of one run, as one: what `tracking_run` yields.

    Parameters
    ----------
    loggers : sequence of TrackingLogger
    """

    def __init__(self, loggers: Sequence[TrackingLogger]):
        self.loggers = list(loggers)

    def log_params(self, params: dict) -> None:
        """`TrackingLogger.log_params` on each logger."""
        for lg in self.loggers:
            lg.log_params(params)

    def log_summary(self, metrics: dict) -> None:
        """`TrackingLogger.log_summary` on each logger."""
        for lg in self.loggers:
            lg.log_summary(metrics)

    def log_figures(self, paths: Iterable[str | os.PathLike]) -> None:
        """`TrackingLogger.log_figures` on each logger."""
        paths = list(paths)
        for lg in self.loggers:
            lg.log_figures(paths)


@contextlib.contextmanager
def tracking_run(loggers: Sequence[TrackingLogger], run_dir: str | os.PathLike | None = None, *,
                 resume: bool = False) -> Iterator[TrackingRun]:
    """A session of `loggers` around a block: those not open yet begin here and end with the block
    (recording the exception that leaves it, if any); loggers already open are left open for
    whoever opened them.

    Parameters
    ----------
    loggers : sequence of TrackingLogger
    run_dir : str or os.PathLike, optional
        The run folder (where the logs go by default).
    resume : bool, default False
        Training resumes from a checkpoint.

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     csv_logger = CSVLogger()
    ...     with tracking_run([csv_logger], tmp) as run:
    ...         run.log_params({"lr": 0.001})
    ...     print(sorted(os.listdir(os.path.join(tmp, "logs"))), csv_logger.is_open)
    ['params.csv'] False
    """
    owned = [lg for lg in loggers if not lg.is_open]
    for lg in owned:
        lg.begin(run_dir, resume=resume)
    try:
        yield TrackingRun(loggers)
    except BaseException as exc:
        for lg in owned:
            lg.end(exc)
        raise
    for lg in owned:
        lg.end()


__all__ = ["CSVLogger", "LOGGERS", "LOG_DIR", "MLflowLogger", "TensorBoardLogger", "TrackingLogger", "TrackingRun",
           "flatten", "logger_from_name", "numbers", "resolve_loggers", "tracking_rank", "tracking_run"]
