"""The tracking adapters: `TrackingLogger` (the base: session, steps, rank 0, warn once) and
its TensorBoard, CSV and MLflow loggers. `aekit.train.tracking` chooses them by name and runs
their sessions; its docstring says what is logged and where.
"""
from __future__ import annotations

import abc
import contextlib
import csv
import io
import json
import math
import os
import socket
import time
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch

from aekit.errors import AekitWarning, ConfigError
from aekit.runs import atomic_write_text, write_json
from aekit.train.callbacks import Callback

LOG_DIR = "logs"  # inside a run folder
NO_RUN_DIR = "aekit-logs"  # in the working directory, for training without a run folder
MLFLOW_RUN_FILE = "mlflow-run.json"
PROBE_SECONDS = 5.0  # how long a tracking server gets to accept a connection


def tracking_rank() -> int:
    """This process's rank for logging: ``$RANK`` when set, else torch.distributed's, else 0.

    Examples
    --------
    >>> import os
    >>> "RANK" in os.environ or tracking_rank() == 0
    True
    """
    env = os.environ.get("RANK", "").strip()
    if env.isdigit():
        return int(env)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    return 0


def flatten(tree: dict, prefix: str = "") -> dict:
    """Nested dicts as one level, keys joined by dots.

    Examples
    --------
    >>> flatten({"model": {"mse": 0.5, "dims": [2, 3]}, "seconds": 1.0})
    {'model.mse': 0.5, 'model.dims': [2, 3], 'seconds': 1.0}
    """
    out: dict = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def numbers(tree: dict) -> dict[str, float]:
    """The numeric entries of a (nested) dict, flattened, as floats; booleans and text are left out.

    Examples
    --------
    >>> numbers({"stage": "train", "epoch": 3, "loss": 0.25, "pca": {"mse": 0.5}, "ok": True})
    {'epoch': 3.0, 'loss': 0.25, 'pca.mse': 0.5}
    """
    return {k: float(v) for k, v in flatten(tree).items()
            if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))}


def _as_text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _brief(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:300]}{'…' if len(text) > 300 else ''}"


class TrackingLogger(Callback, abc.ABC):
    """Base class of the tracking adapters: the session, the step count, the rank-0 rule and the
    warn-once-then-off guard. A subclass implements ``_begin``, ``_log_row`` and what it supports
    of ``_start_steps``, ``_log_params``, ``_log_summary``, ``_log_figures``, ``_flush``, ``_end``.

    Copies of a logger (as scikit-learn's ``clone`` makes of an estimator's parameters) are the
    logger itself: it is a handle to where the logs go, like an open file.

    Parameters
    ----------
    log_dir : str or os.PathLike, optional
        Where the logs go; default inside the run folder (see aekit.train.tracking).

    Attributes
    ----------
    path_ : pathlib.Path or None
        Where this session's logs went (None for a remote MLflow server).
    """

    name = "logger"
    _transient: tuple[str, ...] = ()  # open handles, not pickled

    def __init__(self, log_dir: str | os.PathLike | None = None):
        self.log_dir = log_dir
        self.path_: Path | None = None
        self._open = self._active = self._failed = False
        self._run_dir: Path | None = None
        self._resume = False
        self._step = 0
        self._steps_started = False
        self._stamp = ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(log_dir={self.log_dir!r})"

    def __deepcopy__(self, memo):
        return self

    def __getstate__(self) -> dict:
        return {k: (None if k in self._transient else v) for k, v in self.__dict__.items()}

    @property
    def is_open(self) -> bool:
        """Whether a session is open (between `begin` and `end`)."""
        return self._open

    def describe(self) -> str:
        """What the warning of a failure names: the logger and where it writes."""
        return f"{self.name} logging to {self.path_ or self.log_dir or 'its default folder'}"

    # -- the session -----------------------------------------------------------------------
    def begin(self, run_dir: str | os.PathLike | None = None, *, resume: bool = False) -> None:
        """Open a session for one run (a session still open is ended first).

        Parameters
        ----------
        run_dir : str or os.PathLike, optional
            The run folder; the logs go inside it unless ``log_dir`` says otherwise.
        resume : bool, default False
            The run continues from a checkpoint: keep the logs of the epochs it keeps.
        """
        if self._open:
            self.end()
        self._open, self._failed, self._steps_started, self._step = True, False, False, 0
        self._active = tracking_rank() == 0
        self._run_dir = None if run_dir is None else Path(run_dir)
        self._resume = bool(resume)
        self._stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{time.time_ns() // 1000 % 1_000_000:06d}"
        self._call(self._begin)

    def end(self, error: BaseException | None = None) -> None:
        """Close the session; `error` is the exception that ended training, if one did."""
        if not self._open:
            return
        try:
            self._call(self._end, error)
        finally:
            self._open = False

    def log_params(self, params: dict) -> None:
        """Log the run's configuration (nested dicts are flattened with dots)."""
        self._call(self._log_params, {k: _as_text(v) for k, v in flatten(params).items()})

    def log_summary(self, metrics: dict) -> None:
        """Log final metrics (their numeric entries, flattened) as ``final/<key>``."""
        self._call(self._log_summary, {f"final/{k}": v for k, v in numbers(metrics).items()})

    def log_figures(self, paths: Iterable[str | os.PathLike]) -> None:
        """Log PNG figures (files that do not exist are skipped)."""
        self._call(self._log_figures, [Path(p) for p in paths if Path(p).is_file()])

    # -- the callback hooks ------------------------------------------------------------------
    def on_stage_start(self, trainer) -> None:
        if not self._open:  # given straight to a training loop: a session without a run folder
            self.begin()
        if not self._steps_started:  # the session's first stage: steps go on from the kept history
            self._steps_started = True
            self._step = len(trainer.history)
            self._call(self._start_steps, self._step)

    def on_epoch_end(self, trainer, epoch: int, row: dict) -> None:
        self._step += 1
        stage = row.get("stage", trainer.stage)
        self._call(self._log_row, self._step, row, {f"{stage}/{k}": v for k, v in numbers(row).items()})

    def on_stage_end(self, trainer) -> None:
        self._call(self._flush)

    # -- what a subclass fills in --------------------------------------------------------------
    @abc.abstractmethod
    def _begin(self) -> None:
        """Open the session's files or run; set `path_`."""

    @abc.abstractmethod
    def _log_row(self, step: int, row: dict, values: dict[str, float]) -> None:
        """Log one history row (`values`: its numbers as ``<stage>/<key>``) at `step`."""

    def _start_steps(self, kept: int) -> None:
        """The session's rows start after `kept` earlier ones (a resume): drop logs beyond them."""

    def _log_params(self, params: dict[str, str]) -> None:
        """Log the flattened config."""

    def _log_summary(self, values: dict[str, float]) -> None:
        """Log the final metrics."""

    def _log_figures(self, paths: list[Path]) -> None:
        """Log figures."""

    def _flush(self) -> None:
        """Make what was logged durable (end of a stage)."""

    def _end(self, error: BaseException | None) -> None:
        """Close what the session opened."""

    # -- helpers -------------------------------------------------------------------------------
    def _call(self, fn, *args) -> None:
        """Run `fn` unless the session is off; the first failure warns once and switches it off."""
        if not (self._open and self._active) or self._failed:
            return
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - logging must never stop training
            self._failed = True
            warnings.warn(f"{self.describe()} failed ({_brief(exc)}); training goes on without it",
                          AekitWarning, stacklevel=4)

    def _folder(self, name: str) -> Path:
        """``log_dir``, else RUN/logs/<name>, else aekit-logs/<time>/<name> (`name` "" for the logs folder)."""
        if self.log_dir is not None:
            return Path(self.log_dir)
        base = self._run_dir / LOG_DIR if self._run_dir is not None else Path(NO_RUN_DIR) / self._stamp
        return base / name if name else base


class TensorBoardLogger(TrackingLogger):
    """Logs to TensorBoard event files through ``torch.utils.tensorboard.SummaryWriter``.

    Scalars ``<stage>/<key>`` per epoch and ``final/<key>``, the config as the text ``config``,
    figures as images ``figures/<name>``. On resume a purge marker makes TensorBoard drop the
    events of the epochs that were not kept.

    Parameters
    ----------
    log_dir : str or os.PathLike, optional
        The event files' folder; default RUN/logs/tensorboard.

    Examples
    --------
    >>> TensorBoardLogger(log_dir="tb").log_dir
    'tb'
    """

    name = "tensorboard"
    _transient = ("_writer",)

    def __init__(self, log_dir: str | os.PathLike | None = None):
        from importlib.util import find_spec

        if find_spec("tensorboard") is None:
            raise ConfigError("logger 'tensorboard' needs the tensorboard package: pip install 'aekit[tracking]'")
        super().__init__(log_dir)
        self._writer = None

    def _begin(self) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.path_ = self._folder("tensorboard")
        self._writer = SummaryWriter(str(self.path_))

    def _start_steps(self, kept: int) -> None:
        from tensorboard.compat.proto.event_pb2 import Event, SessionLog

        # What SummaryWriter(purge_step=) writes: readers drop earlier files' events from this step on.
        self._writer.file_writer.add_event(Event(step=kept + 1, session_log=SessionLog(status=SessionLog.START)))

    def _log_row(self, step: int, row: dict, values: dict[str, float]) -> None:
        for tag, value in values.items():
            self._writer.add_scalar(tag, value, step)

    def _log_params(self, params: dict[str, str]) -> None:
        lines = ["| name | value |", "|---|---|"] + [f"| {k} | {v.replace('|', '/')} |" for k, v in params.items()]
        self._writer.add_text("config", "\n".join(lines), 0)

    def _log_summary(self, values: dict[str, float]) -> None:
        for tag, value in values.items():
            self._writer.add_scalar(tag, value, self._step)

    def _log_figures(self, paths: list[Path]) -> None:
        from PIL import Image

        for path in paths:
            with Image.open(path) as image:
                pixels = np.asarray(image.convert("RGB"))
            self._writer.add_image(f"figures/{path.stem}", pixels, self._step, dataformats="HWC")

    def _flush(self) -> None:
        self._writer.flush()

    def _end(self, error: BaseException | None) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()


class CSVLogger(TrackingLogger):
    """Logs to CSV files: ``metrics.csv`` (one line per epoch: step, then the history row, written
    as each epoch ends), ``params.csv`` and ``final_metrics.csv`` (name, value).

    Parameters
    ----------
    log_dir : str or os.PathLike, optional
        The files' folder; default RUN/logs.

    Examples
    --------
    >>> CSVLogger().name
    'csv'
    """

    name = "csv"
    METRICS, PARAMS, FINAL = "metrics.csv", "params.csv", "final_metrics.csv"

    def __init__(self, log_dir: str | os.PathLike | None = None):
        super().__init__(log_dir)
        self._rows: list[dict] = []
        self._columns: list[str] = []

    def _begin(self) -> None:
        self.path_ = self._folder("")
        self.path_.mkdir(parents=True, exist_ok=True)
        self._rows, self._columns = [], []

    def _start_steps(self, kept: int) -> None:
        path = self.path_ / self.METRICS
        if kept and path.is_file():  # a resume keeps the lines of the epochs the checkpoint kept
            with open(path, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                self._columns = list(reader.fieldnames or [])
                self._rows = [r for r in reader if r.get("step", "").isdigit() and int(r["step"]) <= kept]
        self._rewrite()

    def _log_row(self, step: int, row: dict, values: dict[str, float]) -> None:
        record = {"step": step, **row}
        self._rows.append(record)
        new = [k for k in record if k not in self._columns]
        if new or not self._columns:
            self._columns += new
            self._rewrite()
            return
        with open(self.path_ / self.METRICS, "a", newline="", encoding="utf-8") as f:
            csv.DictWriter(f, self._columns).writerow(record)

    def _rewrite(self) -> None:
        buf = io.StringIO()
        if self._columns:
            writer = csv.DictWriter(buf, self._columns)
            writer.writeheader()
            writer.writerows(self._rows)
        atomic_write_text(self.path_ / self.METRICS, buf.getvalue())

    def _write_pairs(self, name: str, pairs: dict) -> None:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["name", "value"])
        writer.writerows(pairs.items())
        atomic_write_text(self.path_ / name, buf.getvalue())

    def _log_params(self, params: dict[str, str]) -> None:
        self._write_pairs(self.PARAMS, params)

    def _log_summary(self, values: dict[str, float]) -> None:
        self._write_pairs(self.FINAL, {k.removeprefix("final/"): v for k, v in values.items()})


@contextlib.contextmanager
def _file_store_allowed(uri: str) -> Iterator[None]:
    """MLflow 3 refuses its file store unless MLFLOW_ALLOW_FILE_STORE is set: allow it while a
    client for a local store is made (the store is cached per URI afterwards)."""
    local = urlparse(uri).scheme in ("", "file")
    if not local or "MLFLOW_ALLOW_FILE_STORE" in os.environ:
        yield
        return
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)


def probe_server(uri: str, seconds: float = PROBE_SECONDS) -> None:
    """Raise ConnectionError if an http(s) tracking URI's host does not accept a TCP connection
    within `seconds` (MLflow itself retries for minutes by default); other URIs pass."""
    parts = urlparse(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=seconds).close()
    except OSError as exc:
        raise ConnectionError(f"{parts.hostname}:{port} cannot be reached ({exc})") from None


class MLflowLogger(TrackingLogger):
    """Logs to MLflow: metrics ``<stage>/<key>`` per epoch and ``final/<key>``, the config as
    params, figures as artifacts under ``figures/``, the run's status at the end.

    Parameters
    ----------
    tracking_uri : str, optional
        An MLflow tracking URI (``http://host:5000``, ``file:/path``, ``databricks``...); default
        ``$MLFLOW_TRACKING_URI``, else the local store RUN/logs/mlruns.
    experiment : str, optional
        The experiment's name; default ``$MLFLOW_EXPERIMENT_NAME``, else "aekit".
    run_name : str, optional
        The MLflow run's name; default the run folder's name.
    log_dir : str or os.PathLike, optional
        The local store's folder when no tracking URI applies.

    Attributes
    ----------
    run_id : str or None
        The MLflow run of the last session.
    tracking_uri_ : str or None
        The tracking URI it used.

    Examples
    --------
    >>> MLflowLogger(tracking_uri="http://127.0.0.1:5000", experiment="digits").experiment
    'digits'
    """

    name = "mlflow"
    _transient = ("_client",)

    def __init__(self, tracking_uri: str | None = None, experiment: str | None = None, run_name: str | None = None,
                 log_dir: str | os.PathLike | None = None):
        from importlib.util import find_spec

        if find_spec("mlflow") is None:
            raise ConfigError("logger 'mlflow' needs MLflow: pip install 'aekit[tracking]'")
        super().__init__(log_dir)
        self.tracking_uri, self.experiment, self.run_name = tracking_uri, experiment, run_name
        self.run_id: str | None = None
        self.tracking_uri_: str | None = None
        self._client = None

    def __repr__(self) -> str:
        return f"MLflowLogger(tracking_uri={self.tracking_uri!r}, experiment={self.experiment!r})"

    def describe(self) -> str:
        return f"MLflow tracking at {self.tracking_uri_ or self.tracking_uri or 'the local store'}"

    def _begin(self) -> None:
        from mlflow.tracking import MlflowClient

        self.run_id, self.path_ = None, None
        uri = self.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or None
        if uri is None:
            self.path_ = self._folder("mlruns").resolve()
            uri = self.path_.as_uri()
        self.tracking_uri_ = uri
        probe_server(uri)
        with _file_store_allowed(uri):
            client = self._client = MlflowClient(tracking_uri=uri)
        record = self._run_dir / LOG_DIR / MLFLOW_RUN_FILE if self._run_dir is not None else None
        self.run_id = self._resumed_run(client, record) if self._resume else None
        if self.run_id is None:
            name = self.experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or "aekit"
            found = client.get_experiment_by_name(name)
            experiment_id = found.experiment_id if found is not None else client.create_experiment(name)
            tags = {"aekit.run_dir": str(self._run_dir.resolve())} if self._run_dir is not None else {}
            run_name = self.run_name or (self._run_dir.resolve().name if self._run_dir is not None else None)
            self.run_id = client.create_run(experiment_id, run_name=run_name, tags=tags).info.run_id
        if record is not None:
            write_json(record, {"tracking_uri": uri, "run_id": self.run_id})

    def _resumed_run(self, client, record: Path | None) -> str | None:
        """The MLflow run a resumed run folder logged to, if it is in this store; marked RUNNING."""
        if record is None or not record.is_file():
            return None
        try:
            saved = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(saved, dict) or saved.get("tracking_uri") != self.tracking_uri_:
            return None
        try:
            run = client.get_run(str(saved.get("run_id")))
        except Exception:  # noqa: BLE001 - a run deleted meanwhile: start a new one
            return None
        if run.info.lifecycle_stage != "active":
            return None
        client.update_run(run.info.run_id, status="RUNNING")
        return run.info.run_id

    def _metrics(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, step) for k, v in values.items() if math.isfinite(v)]
        for start in range(0, len(metrics), 1000):  # MLflow's batch limit
            self._client.log_batch(self.run_id, metrics=metrics[start : start + 1000], synchronous=True)

    def _log_row(self, step: int, row: dict, values: dict[str, float]) -> None:
        self._metrics(values, step)

    def _log_summary(self, values: dict[str, float]) -> None:
        self._metrics(values, self._step)

    def _log_params(self, params: dict[str, str]) -> None:
        from mlflow.entities import Param

        try:
            from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH as limit
        except ImportError:
            limit = 500
        known = self._client.get_run(self.run_id).data.params  # a resumed run keeps its params
        new = [Param(k, v[:limit]) for k, v in params.items() if k not in known]
        for start in range(0, len(new), 100):
            self._client.log_batch(self.run_id, params=new[start : start + 100], synchronous=True)

    def _log_figures(self, paths: list[Path]) -> None:
        for path in paths:
            self._client.log_artifact(self.run_id, str(path), "figures")

    def _end(self, error: BaseException | None) -> None:
        from aekit.train.trainer import TrainingInterrupted

        status = ("FINISHED" if error is None
                  else "KILLED" if isinstance(error, (KeyboardInterrupt, TrainingInterrupted)) else "FAILED")
        self._client.set_terminated(self.run_id, status=status)


__all__ = ["CSVLogger", "LOG_DIR", "MLflowLogger", "TensorBoardLogger", "TrackingLogger", "flatten", "numbers",
           "probe_server", "tracking_rank"]
