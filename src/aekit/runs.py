"""The run folder, aekit's unit of exchange.

    config.json         everything needed to rebuild the model (+ aekit version, weights hash)
    model.safetensors   weights (never pickle)
    metrics.json        evaluation numbers
    history.csv         one row per epoch (and stage)
    report.html, *.png  the report and its figures
    checkpoint/         the trainer's resumable checkpoint

Every file is written atomically (temp file + rename), so a crash never leaves half a file.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from aekit import __version__
from aekit.errors import RunFolderError

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
METRICS = "metrics.json"
HISTORY = "history.csv"
CHECKPOINT_DIR = "checkpoint"
_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
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


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_run(
    path: str | os.PathLike,
    *,
    config: dict,
    state: dict[str, torch.Tensor],
    metrics: dict | None = None,
    history: list[dict] | None = None,
) -> Path:
    """Write weights, then config (with the weights' sha256), metrics and history."""
    run = Path(path)
    run.mkdir(parents=True, exist_ok=True)
    weights = run / WEIGHTS
    tmp = weights.with_name(f".{WEIGHTS}.tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(tmp))
    digest = _sha256(tmp)
    os.replace(tmp, weights)
    write_json(run / CONFIG, {**config, "aekit_version": __version__, "weights_sha256": digest})
    if metrics is not None:
        write_json(run / METRICS, metrics)
    if history is not None:
        write_history(run / HISTORY, history)
    return run


def load_run(path: str | os.PathLike, kind: str | None = None) -> tuple[dict, dict[str, torch.Tensor]]:
    """Read config.json and the weights; checks the folder is complete and unaltered."""
    run = Path(path)
    if not run.is_dir():
        raise RunFolderError(f"{run}: no such run folder")
    config = read_json(run / CONFIG)
    if "model" not in config or "kind" not in config:
        raise RunFolderError(f"{run / CONFIG}: not an aekit run config (no 'model'/'kind' entry)")
    if kind is not None and config["kind"] != kind:
        raise RunFolderError(f"{run}: holds a {config['kind']!r} model, not a {kind!r} model")
    weights = run / WEIGHTS
    if not weights.exists():
        raise RunFolderError(f"{weights} is missing: the run folder has no trained weights")
    expected = config.get("weights_sha256")
    if expected and _sha256(weights) != expected:
        raise RunFolderError(
            f"{weights} does not match the sha256 recorded in {CONFIG}: the weights were altered or replaced"
        )
    try:
        state = load_file(str(weights))
    except Exception as exc:
        raise RunFolderError(f"{weights}: not a readable safetensors file ({exc})") from None
    return config, state


def read_metrics(path: str | os.PathLike) -> dict:
    p = Path(path) / METRICS
    return read_json(p) if p.exists() else {}


def update_metrics(path: str | os.PathLike, **entries) -> dict:
    metrics = read_metrics(path)
    metrics.update(entries)
    write_json(Path(path) / METRICS, metrics)
    return metrics
