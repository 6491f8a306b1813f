"""Checkpoint files: the trainer's state at an epoch boundary, in one safetensors file.

Tensors: the model's weights (``model.*``), the best weights so far (``best.*``), the optimizer's
tensor state (``optim.<param id>.<name>``) and the shuffling generator's state
(``rng.generator``). Everything else (epoch, best loss, patience counter, history, the optimizer's
non-tensor state and param groups, the scheduler's state and the TrainConfig) is JSON in the file's
metadata under ``aekit_checkpoint``. No pickle anywhere; the file is written to a temporary name
and renamed, so a crash while writing leaves the previous checkpoint intact.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from aekit.runs import UMASK, writing
from aekit.errors import RunFolderError

CHECKPOINT_FILE = "checkpoint.safetensors"
METADATA_KEY = "aekit_checkpoint"


@dataclass
class TrainState:
    """Everything that changes during training, as of one epoch boundary.

    Parameters
    ----------
    epoch : int
        Epochs finished.
    model : dict of str to torch.Tensor
        The model's state dict.
    optimizer : dict
        The optimizer's state dict.
    scheduler : dict or None
        The learning-rate scheduler's state dict (None without a schedule).
    generator : torch.Tensor
        The state of the generator that shuffles the batches and draws the noise.
    best : dict of str to torch.Tensor or None
        The weights of the best epoch so far (None before the first epoch).
    best_loss : float
        The monitored loss of that epoch (inf before the first epoch).
    best_epoch : int
        That epoch (0 before the first).
    bad_epochs : int
        Epochs since the monitored loss last improved.
    history : list of dict
        One row per finished epoch, earlier stages included.
    """

    epoch: int
    model: dict
    optimizer: dict
    scheduler: dict | None
    generator: torch.Tensor
    best: dict | None
    best_loss: float
    best_epoch: int
    bad_epochs: int
    history: list


def write_checkpoint(path: str | os.PathLike, state: TrainState, *, stage: str, train_config: dict) -> None:
    """Write `state` to `path` atomically (temporary file, then rename).

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file; its folder is created if needed.
    state : TrainState
        What to save.
    stage : str
        The training stage ("train", "finetune", …); resuming checks it.
    train_config : dict
        The TrainConfig as a dict, kept for the record.

    Examples
    --------
    >>> import tempfile, torch
    >>> net = torch.nn.Linear(2, 1)
    >>> opt = torch.optim.SGD(net.parameters(), lr=0.1)
    >>> g = torch.Generator()
    >>> state = TrainState(epoch=1, model=net.state_dict(), optimizer=opt.state_dict(), scheduler=None,
    ...                    generator=g.get_state(), best=None, best_loss=0.5, best_epoch=1, bad_epochs=0,
    ...                    history=[{"stage": "train", "epoch": 1, "loss": 0.5}])
    >>> folder = tempfile.mkdtemp()
    >>> write_checkpoint(f"{folder}/{CHECKPOINT_FILE}", state, stage="train", train_config={})
    >>> read_checkpoint(f"{folder}/{CHECKPOINT_FILE}", stage="train").history[0]["loss"]
    0.5
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {f"model.{k}": v.contiguous() for k, v in state.model.items()}
    if state.best is not None:
        tensors.update({f"best.{k}": v.contiguous() for k, v in state.best.items()})
    opt_meta: dict = {"param_groups": state.optimizer["param_groups"], "state": {}}
    for pid, pstate in state.optimizer["state"].items():
        for key, value in pstate.items():
            if torch.is_tensor(value):
                tensors[f"optim.{pid}.{key}"] = value.contiguous()
            else:
                opt_meta["state"].setdefault(str(pid), {})[key] = value
    tensors["rng.generator"] = state.generator
    meta = {
        "epoch": state.epoch,
        "stage": stage,
        "best_loss": state.best_loss,
        "best_epoch": state.best_epoch,
        "bad_epochs": state.bad_epochs,
        "history": state.history,
        "optimizer": opt_meta,
        "scheduler": state.scheduler,
        "train_config": train_config,
    }
    tmp = path.with_name(path.name + ".tmp")
    with writing(path):  # a full disk mid-training: one message naming the checkpoint
        try:
            save_file(tensors, str(tmp), metadata={METADATA_KEY: json.dumps(meta)})
            os.chmod(tmp, 0o666 & ~UMASK)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def read_checkpoint(path: str | os.PathLike | None, *, stage: str) -> TrainState:
    """Read a checkpoint written by `write_checkpoint` for the training stage `stage`.

    Parameters
    ----------
    path : str, os.PathLike or None
        The checkpoint file (None: no checkpoint folder was given).
    stage : str
        The stage being resumed; a checkpoint of another stage is refused.

    Returns
    -------
    TrainState
        The saved state; its optimizer dict is ready for ``optimizer.load_state_dict``.

    Raises
    ------
    RunFolderError
        No file, a file that is not an aekit checkpoint, or one from another stage.
    """
    if path is None or not Path(path).exists():
        raise RunFolderError(f"--resume: no checkpoint found at {path}" if path else "resume needs a checkpoint folder")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads(f.metadata()[METADATA_KEY])
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # corrupt file, not a checkpoint
        raise RunFolderError(f"{path}: not a readable aekit checkpoint ({exc})") from None
    if meta.get("stage") != stage:
        raise RunFolderError(f"{path}: checkpoint is from stage {meta.get('stage')!r}, not {stage!r}")
    opt = {"param_groups": meta["optimizer"]["param_groups"], "state": {}}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, pid, name = key.split(".", 2)
            opt["state"].setdefault(int(pid), {})[name] = value
    for pid, extra in meta["optimizer"]["state"].items():
        opt["state"].setdefault(int(pid), {}).update(extra)
    for group in opt["param_groups"]:
        if "betas" in group:  # JSON made the tuple a list; the optimizers expect a tuple
            group["betas"] = tuple(group["betas"])
    return TrainState(
        epoch=int(meta["epoch"]),
        model={k[6:]: v for k, v in tensors.items() if k.startswith("model.")},
        optimizer=opt, scheduler=meta.get("scheduler"), generator=tensors["rng.generator"],
        best={k[5:]: v for k, v in tensors.items() if k.startswith("best.")} or None,
        best_loss=float(meta["best_loss"]), best_epoch=int(meta["best_epoch"]),
        bad_epochs=int(meta["bad_epochs"]), history=list(meta["history"]),
    )


def checkpoint_train_config(path: str | os.PathLike) -> dict | None:
    """The training options a checkpoint was written with (None without a readable one).

    Examples
    --------
    >>> checkpoint_train_config("no/such/checkpoint.safetensors") is None
    True
    """
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(json.loads(f.metadata()[METADATA_KEY]).get("train_config") or {})
    except Exception:
        return None


def restore_checkpoint(path: str | os.PathLike | None, *, stage: str, model: nn.Module,
                       optimizer: torch.optim.Optimizer, scheduler=None,
                       generator: torch.Generator | None = None) -> TrainState:
    """Read a checkpoint and put its state back into the model, optimizer, scheduler and generator.

    Parameters
    ----------
    path : str, os.PathLike or None
        The checkpoint file.
    stage : str
        The stage being resumed.
    model : torch.nn.Module
        Receives the weights (checked against the file first).
    optimizer : torch.optim.Optimizer
        Receives the optimizer state.
    scheduler : torch.optim.lr_scheduler.LRScheduler or ReduceLROnPlateau, optional
        Receives the scheduler state, when both the file and the run have a schedule.
    generator : torch.Generator, optional
        Receives the generator state.

    Returns
    -------
    TrainState
        The state read.

    Raises
    ------
    RunFolderError
        As `read_checkpoint`, and when the weights or the optimizer state do not fit.
    """
    return apply_checkpoint(read_checkpoint(path, stage=stage), path, model=model, optimizer=optimizer,
                            scheduler=scheduler, generator=generator)


def apply_checkpoint(state: TrainState, path, *, model: nn.Module, optimizer: torch.optim.Optimizer,
                     scheduler=None, generator: torch.Generator | None = None) -> TrainState:
    """Put a checkpoint's `state` (read from `path`, named in errors) back into the model,
    optimizer, scheduler and generator, as `restore_checkpoint` does; returns `state`."""
    load_state_checked(model, state.model, path)
    try:
        optimizer.load_state_dict(state.optimizer)
    except (ValueError, KeyError) as exc:
        raise RunFolderError(f"{path}: optimizer state does not fit this model/optimizer ({exc})") from None
    if scheduler is not None and state.scheduler is not None:
        scheduler.load_state_dict(state.scheduler)
    if generator is not None:
        generator.set_state(state.generator)
    return state


def load_state_checked(module: nn.Module, state: dict[str, torch.Tensor], source) -> None:
    """``module.load_state_dict(state)``, with one clear message listing what does not match.

    Parameters
    ----------
    module : torch.nn.Module
        The module to load into.
    state : dict of str to torch.Tensor
        The weights, as read from `source`.
    source : str or os.PathLike
        Where the weights came from, named in the error.

    Raises
    ------
    RunFolderError
        Names missing and unexpected entries and shape mismatches (the first five of each).

    Examples
    --------
    >>> import torch
    >>> load_state_checked(torch.nn.Linear(3, 2), {"weight": torch.zeros(2, 4), "bias": torch.zeros(2)}, "w.st")
    Traceback (most recent call last):
    ...
    aekit.errors.RunFolderError: w.st: weights do not match the model config: shape mismatch weight: file (2, 4) vs model (2, 3)
    """
    check_state(module, state, source)
    module.load_state_dict(state)


def check_state(module: nn.Module, state: dict[str, torch.Tensor], source) -> None:
    """RunFolderError when `state`'s names or shapes do not fit `module` (which may live on the
    meta device: nothing is copied or allocated)."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
        for k in sorted(set(own) & set(state))
        if tuple(state[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing[:5]}{' …' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:5]}{' …' if len(unexpected) > 5 else ''}")
        if wrong:
            parts.append("shape mismatch " + "; ".join(wrong[:5]))
        raise RunFolderError(f"{source}: weights do not match the model config: " + ", ".join(parts))


__all__ = ["CHECKPOINT_FILE", "TrainState", "apply_checkpoint", "check_state", "checkpoint_train_config", "load_state_checked", "read_checkpoint", "restore_checkpoint",
           "write_checkpoint"]
