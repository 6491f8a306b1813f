"""The run folder, aekit's unit of exchange, read and written in one place.

A run folder (format 2) holds::

    config.json         format_version, kind, estimator, params, model, train, fitted, data,
                        aekit_version, weights_sha256: everything needed to rebuild the model
    model.safetensors   weights (never pickle)
    metrics.json        evaluation numbers
    history.csv         one row per epoch (and stage)
    checkpoint/         the trainer's resumable checkpoint (checkpoint.safetensors) and, after
                        layer-wise pretraining, the pretrained stack (pretrained.safetensors)
    detector.json       a detector's threshold and parameters (+ train_scores.npy)
    report.html, *.png  the report and its figures
    logs/               experiment tracking (``--log``, ``logger=``; aekit.train.tracking):
                        tensorboard/ (event files), metrics.csv (one line per epoch: step +
                        the history row), params.csv, final_metrics.csv, mlruns/ (MLflow's
                        local file store) and mlflow-run.json (the MLflow run, continued on
                        --resume); absent without a logger
    denoise/, scores/, classify/ ...   results of tasks run on the folder
    tasks.json          where each task run on the folder wrote its results (also outside it),
                        so that `aekit report` shows them

Format 1 (aekit 0.1.0) is the same without `format_version`; the models' configs read its
`extra` entries (see `aekit.models`). Every file is written atomically (temp file + rename),
so a crash never leaves half a file, and the weights' sha256 is checked on every load.
"""
from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import io
import json
import os
import shutil
import tempfile
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from aekit import __version__
from aekit.errors import AekitWarning, DataError, RunFolderError

FORMAT_VERSION = 2
CONFIG = "config.json"
WEIGHTS = "model.safetensors"
METRICS = "metrics.json"
HISTORY = "history.csv"
REPORT = "report.html"
TASKS = "tasks.json"  # where the tasks run on this folder wrote their results (for the report)
CHECKPOINT_DIR = "checkpoint"
LOCK = ".aekit.lock"
REPLACED_PREFIX = ".aekit-replaced-"  # an earlier run set aside while --overwrite writes the new one
UMASK = os.umask(0)  # the process's umask, read once (os.umask can only be read by setting it)
os.umask(UMASK)


# -- atomic files ---------------------------------------------------------------------------------
def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename; an OSError
    (a full disk, a read-only place) becomes one RunFolderError naming the file."""
    with writing(path):
        _atomic_write(Path(path), data)


def check_output_file(path: str | os.PathLike) -> Path:
    """Refuse, before any work is done, an output path that is a folder or lies where nothing can
    be written."""
    path = Path(path)
    if path.is_dir():
        raise RunFolderError(f"{path} is a folder: give a file name to write")
    parent = next((p for p in path.parents if p.exists()), Path("."))
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise RunFolderError(f"{path}: cannot write there ({parent} is not a writable folder)")
    return path


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def read_json(path: str | os.PathLike) -> dict:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFolderError(f"{path} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunFolderError(f"{path} is not valid JSON ({exc})") from None


def write_history(path: str | os.PathLike, history: list[dict]) -> None:
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys)
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(path, buf.getvalue())


def read_history(path: str | os.PathLike) -> list[dict]:
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            parsed = {}
            for k, v in row.items():
                try:
                    parsed[k] = float(v) if v not in ("", None) else None
                except ValueError:
                    parsed[k] = v
            rows.append(parsed)
    return rows


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def writing(path):
    """Turn an OSError (or safetensors' own error for one) while writing `path` into one
    RunFolderError naming it."""
    try:
        yield
    except OSError as exc:
        what = "no space left on device" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise RunFolderError(f"{what} while writing {exc.filename or path}") from None
    except SafetensorError as exc:  # safetensors reports the OS error in its own exception's text
        full = f"os error {errno.ENOSPC})" in str(exc)
        raise RunFolderError(f"{'no space left on device' if full else exc} while writing {path}") from None


# -- the data a run was trained on ------------------------------------------------------------------
@dataclass
class DataRecord:
    """Where a run's data came from, so that later commands load the same splits.

    Parameters
    ----------
    source : str
        A built-in name ("digits", "mnist", ...) or the path given to `--data`.
    data_dir : str or None
        The folder of the built-in datasets, resolved.
    seed : int
        The seed of the train/val/test split.
    name, sample_shape, value_range : the dataset's name, sample shape and value range.
    label_column : str or None
        CSV files: the label column.
    path, size, sha256 : for a file source, its resolved path, size in bytes and content hash
        (a folder: its resolved path only); later commands refuse a file that changed.
    extra : dict
        Kind-specific entries (a detector's normal labels, a colorizer's photos).
    stream : dict or None
        For data read from disk batch by batch (over the memory budget): the source's
        ``describe()`` (kind, path(s), rows, sample shape, bytes on disk); None for data in memory.
    """

    source: str = "digits"
    data_dir: str | None = None
    seed: int = 0
    name: str = ""
    sample_shape: list = field(default_factory=list)
    value_range: list = field(default_factory=list)
    label_column: str | None = None
    path: str | None = None
    size: int | None = None
    sha256: str | None = None
    extra: dict = field(default_factory=dict)
    stream: dict | None = None

    @classmethod
    def of(cls, source, data_dir=None, seed: int = 0, dataset=None, label_column=None, **extra) -> "DataRecord":
        """The record of `source` as loaded now (a path is resolved and hashed)."""
        rec = cls(source=str(source), data_dir=None if data_dir is None else str(Path(data_dir).resolve()),
                  seed=int(seed), label_column=label_column, extra=extra)
        if dataset is not None:
            rec.name, rec.sample_shape = dataset.name, list(dataset.sample_shape)
            rec.value_range = list(dataset.value_range)
            if callable(getattr(dataset, "describe", None)):  # a streamed dataset: what it reads
                rec.stream = dataset.describe()
        p = Path(str(source)).expanduser()
        if p.exists():
            rec.path = str(p.resolve())
            if p.is_file():
                rec.size, rec.sha256 = p.stat().st_size, file_sha256(p)
        return rec

    @classmethod
    def from_dict(cls, d: dict | None) -> "DataRecord":
        d = dict(d or {})
        known = {f.name for f in fields(cls)}
        extra = {k: d.pop(k) for k in list(d) if k not in known}
        rec = cls(**d)
        rec.extra = {**extra, **(rec.extra or {})}
        return rec

    def to_dict(self) -> dict:
        d = asdict(self)
        extra = d.pop("extra")
        return {**d, **extra}  # extra entries sit beside the others, as format 1 stored them

    def resolved_source(self) -> str:
        """The source to load: the recorded resolved path (checked unchanged), or the name.

        Raises DataError when the file was moved, removed or changed since the run was trained.
        """
        if self.path is None:
            return self.source
        p = Path(self.path)
        if not p.exists():
            raise DataError(f"the data this run was trained on, {p}, is gone: pass --data to name it")
        if self.sha256 is not None and (p.stat().st_size != self.size or file_sha256(p) != self.sha256):
            raise DataError(f"{p} changed since this run was trained on it (size or sha256 differ): "
                            "pass --data to use it as it is now")
        return str(p)


# -- the run folder ------------------------------------------------------------------------------
class RunRecord:
    """One run folder: its layout, and every read and write of it.

    Parameters
    ----------
    path : str or path-like
        The folder.

    Examples
    --------
    >>> import tempfile, torch
    >>> run = RunRecord(tempfile.mkdtemp())
    >>> _ = run.save({"kind": "autoencoder", "model": {}}, {"w": torch.zeros(2)}, metrics={"mse": 0.5})
    >>> config, state = run.load(kind="autoencoder")
    >>> config["format_version"], run.read_metrics()["mse"]
    (2, 0.5)
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunRecord({str(self.path)!r})"

    # the layout
    @property
    def config_path(self) -> Path:
        return self.path / CONFIG

    @property
    def weights_path(self) -> Path:
        return self.path / WEIGHTS

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS

    @property
    def history_path(self) -> Path:
        return self.path / HISTORY

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINT_DIR

    @property
    def report_path(self) -> Path:
        return self.path / REPORT

    def file(self, name: str) -> Path:
        """Another file of the folder (detector.json, a task's output folder...)."""
        return self.path / name

    def exists(self) -> bool:
        """Whether the folder holds a trained run (a config.json)."""
        return self.config_path.exists()

    def has_checkpoint(self) -> bool:
        return self.checkpoint_dir.is_dir() and any(self.checkpoint_dir.glob("*.safetensors"))

    def check_writable(self, *, resume: bool = False, overwrite: bool = False) -> None:
        """Refuse to train into a folder that holds a run or a checkpoint of one (a killed run)
        unless resuming or overwriting, and a place that is not a writable folder."""
        if self.path.exists() and not self.path.is_dir():
            raise RunFolderError(f"{self.path} is a file, not a run folder: choose another --out")
        aside = [] if overwrite else self.set_aside()
        if aside:
            raise RunFolderError(f"{self.path} holds an earlier run that an --overwrite stopped before it finished "
                                 f"set aside in {aside[0].name}: move its files back to keep it or delete "
                                 "that folder; --overwrite replaces it")
        if not (resume or overwrite):
            if self.exists():
                raise RunFolderError(f"{self.path} already holds a trained run; choose another --out, "
                                     "or pass --overwrite")
            if self.has_checkpoint():
                raise RunFolderError(f"{self.path} holds the checkpoint of an unfinished run: continue it with "
                                     "--resume, or pass --overwrite to start again")
        parent = self.path if self.path.exists() else next((p for p in self.path.parents if p.exists()), Path("."))
        if not os.access(parent, os.W_OK | os.X_OK):
            raise RunFolderError(f"{self.path}: cannot write there ({parent} is not writable)")

    def clear(self, keep: tuple[str, ...] = ()) -> None:
        """Remove what an earlier run wrote (for --overwrite), so old and new files never mix; the
        lock and the names in `keep` stay."""
        if not self.path.is_dir():
            return
        for child in self.path.iterdir():
            if child.name == LOCK or child.name in keep:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()

    @contextlib.contextmanager
    def replacing(self, overwrite: bool = True):
        """--overwrite that loses nothing: within the block (which holds `lock`) the earlier run's
        files are set aside in a hidden folder; when the block ends normally they are deleted. When
        it fails (a refusal, an error, Ctrl-C, SIGTERM) the new run's files are removed and the
        earlier ones put back, unless the new run left a checkpoint to continue with --resume (an
        exception whose `resumable` is true, as an interrupted training's after its first epoch):
        then it stays, and the earlier run is deleted as asked.
        A file that cannot be set aside leaves the folder as it was (RunFolderError). With
        `overwrite` False the block runs as it is."""
        if not overwrite or not self.path.is_dir():
            yield self
            return
        aside = self.path / f"{REPLACED_PREFIX}{os.getpid()}"
        if aside.exists():  # left by a killed process of the same pid: set aside with the rest below
            aside = aside.with_name(aside.name + "-again")
        old = [c for c in self.path.iterdir() if c.name != LOCK]  # earlier runs set aside by killed processes too
        aside.mkdir()
        moved = []
        try:
            for child in old:
                child.rename(aside / child.name)
                moved.append(child.name)
        except BaseException as exc:  # a file that cannot move (a mount point, say), or a signal meanwhile
            for name in moved:
                (aside / name).rename(self.path / name)
            aside.rmdir()
            if not isinstance(exc, OSError):
                raise
            raise RunFolderError(f"{self.path}: --overwrite could not set the earlier run's {exc.filename} aside "
                                 f"({exc.strerror or exc}); the folder is as it was") from None
        try:
            yield self
        except BaseException as exc:
            if getattr(exc, "resumable", False) and self.has_checkpoint():  # the new run says --resume: it stays
                shutil.rmtree(aside)
            else:  # nothing of the new run to continue: the earlier run comes back
                self.clear(keep=(aside.name,))
                for child in aside.iterdir():
                    child.rename(self.path / child.name)
                aside.rmdir()
            raise
        shutil.rmtree(aside)

    def set_aside(self) -> list[Path]:
        """Earlier runs that an --overwrite killed before it finished left set aside in this folder
        (not one a live process is replacing now)."""
        if not self.path.is_dir():
            return []
        found = []
        for aside in sorted(self.path.glob(f"{REPLACED_PREFIX}*")):
            pid = aside.name[len(REPLACED_PREFIX):].split("-")[0]
            if not (pid.isdigit() and _alive(int(pid))):
                found.append(aside)
        return found

    @contextlib.contextmanager
    def lock(self):
        """Hold the folder for one writing process: a lock file with the holder's pid. A second
        process gets a RunFolderError; a lock left by a dead process is taken over with a notice."""
        created = not self.path.exists()
        self.path.mkdir(parents=True, exist_ok=True)
        lock = self.path / LOCK
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    pid = int(lock.read_text().strip() or "0")
                except (OSError, ValueError):
                    pid = 0
                if pid > 0 and pid != os.getpid() and _alive(pid):
                    raise RunFolderError(f"{self.path} is in use by another aekit process (pid {pid}); wait for it "
                                         "or choose another --out") from None
                warnings.warn(f"{self.path}: taking over a lock left by process {pid}, which is no longer running",
                              AekitWarning, stacklevel=3)
                lock.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as f:
                f.write(str(os.getpid()))
            break
        else:  # pragma: no cover - another process took it between unlink and create
            raise RunFolderError(f"{self.path} is in use by another aekit process")
        try:
            yield self
        finally:
            lock.unlink(missing_ok=True)
            if created and not any(self.path.iterdir()):
                self.path.rmdir()  # a run that failed before writing anything leaves no empty folder

    # config, weights
    def read_config(self) -> dict:
        """config.json, checked to be an aekit run config of a format this release reads."""
        if not self.path.is_dir():
            raise RunFolderError(f"{self.path}: no such run folder")
        aside = [] if self.config_path.exists() else self.set_aside()
        if aside:
            raise RunFolderError(f"{self.config_path} is missing: an --overwrite was stopped before it finished, and "
                                 f"the earlier run is set aside in {aside[0]} (move its files back)")
        config = read_json(self.config_path)
        if not isinstance(config, dict) or "model" not in config or "kind" not in config:
            raise RunFolderError(f"{self.config_path}: not an aekit run config (no 'model'/'kind' entry)")
        version = config.get("format_version", 1)
        if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
            raise RunFolderError(f"{self.config_path}: format_version {version!r} is not one this aekit "
                                 f"({__version__}) reads (1 to {FORMAT_VERSION})")
        config["format_version"] = version
        return config

    @property
    def kind(self) -> str:
        return str(self.read_config()["kind"])

    def data_record(self) -> DataRecord:
        return DataRecord.from_dict(self.read_config().get("data"))

    def save(self, config: dict, state: dict[str, torch.Tensor], *, metrics: dict | None = None,
             history: list[dict] | None = None) -> Path:
        """Write weights, then config (with format version and the weights' sha256), metrics, history.

        An OSError (a full disk, a read-only place) becomes one RunFolderError naming the file."""
        with writing(self.weights_path):
            return self._save(config, state, metrics, history)

    def _save(self, config, state, metrics, history) -> Path:
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.weights_path.with_name(f".{WEIGHTS}.tmp")
        save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(tmp))
        os.chmod(tmp, 0o666 & ~UMASK)
        digest = file_sha256(tmp)
        os.replace(tmp, self.weights_path)
        write_json(self.config_path, {"format_version": FORMAT_VERSION, **config, "aekit_version": __version__,
                                      "weights_sha256": digest})
        if metrics is not None:
            write_json(self.metrics_path, metrics)
        if history is not None:
            write_history(self.history_path, history)
        return self.path

    def load(self, kind: str | None = None) -> tuple[dict, dict[str, torch.Tensor]]:
        """config.json and the weights; checks the folder is complete, of `kind`, and unaltered."""
        config = self.read_config()
        if kind is not None and config["kind"] != kind:
            raise RunFolderError(f"{self.path}: holds a {config['kind']!r} model, not a {kind!r} model")
        weights = self.weights_path
        if not weights.exists():
            raise RunFolderError(f"{weights} is missing: the run folder has no trained weights")
        expected = config.get("weights_sha256")
        if expected and file_sha256(weights) != expected:
            raise RunFolderError(
                f"{weights} does not match the sha256 recorded in {CONFIG}: the weights were altered or replaced"
            )
        try:
            state = load_file(str(weights))
        except Exception as exc:
            raise RunFolderError(f"{weights}: not a readable safetensors file ({exc})") from None
        return config, state

    # metrics, history, other files
    def history(self) -> list[dict]:
        return read_history(self.history_path)

    def read_metrics(self) -> dict:
        return read_json(self.metrics_path) if self.metrics_path.exists() else {}

    def record_task(self, task: str, folder: str | os.PathLike, **facts) -> None:
        """Note that `task` (denoise, detect score, classify, search) wrote its results to `folder`,
        so that `aekit report` shows them; a later run of the same task into the same folder
        replaces the note. A folder that cannot be written (a shared, read-only run) only warns:
        the task's own output is already written."""
        folder = str(Path(folder).resolve())
        entries = [e for e in self.recorded_tasks() if (e["task"], e["folder"]) != (task, folder)]
        entries.append({"task": task, "folder": folder, **facts})
        try:
            write_json(self.path / TASKS, {"tasks": entries})
        except RunFolderError as exc:
            warnings.warn(f"the report will not list this {task} result: {exc}", AekitWarning, stacklevel=2)

    def recorded_tasks(self) -> list[dict]:
        """The task results noted by `record_task` whose folders still exist, oldest first."""
        path = self.path / TASKS
        if not path.exists():
            return []
        try:
            entries = read_json(path).get("tasks", [])
        except (ValueError, AttributeError, RunFolderError):
            warnings.warn(f"{path} is not a task list written by aekit; ignored", AekitWarning, stacklevel=2)
            return []
        return [e for e in entries if isinstance(e, dict) and isinstance(e.get("task"), str)
                and isinstance(e.get("folder"), str) and Path(e["folder"]).is_dir()]

    def update_metrics(self, **entries) -> dict:
        metrics = self.read_metrics()
        metrics.update(entries)
        write_json(self.metrics_path, metrics)
        return metrics

    def read_json(self, name: str) -> dict:
        return read_json(self.file(name))

    def write_json(self, name: str, obj) -> None:
        write_json(self.file(name), obj)


__all__ = ["CHECKPOINT_DIR", "CONFIG", "DataRecord", "FORMAT_VERSION", "HISTORY", "METRICS", "REPORT", "RunRecord",
           "UMASK", "WEIGHTS", "atomic_write_bytes", "check_output_file", "writing", "atomic_write_text", "file_sha256", "read_history", "read_json",
           "write_history", "write_json"]
