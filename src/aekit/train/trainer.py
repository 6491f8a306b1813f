"""The training loop every model shares.

In-memory batching by index slicing, optimizers by name, learning-rate schedules, gradient
clipping, validation with early stopping (best weights restored), seeded determinism,
a rich progress bar, per-epoch history, atomic checkpoints, resume, NaN/inf guard and
Ctrl-C handling. A model only needs `training_terms(x, generator)` and `validation_terms(x)`,
each returning a dict of scalar tensors with a "loss" entry.

Scale-out: when torch.distributed is initialized, each rank takes its shard of the shuffled
indices, per-epoch metrics are all-reduced and only rank 0 writes checkpoints. (Gradient
all-reduce is the remaining step for DDP; it is not exercised on this CPU-only project yet.)
"""
from __future__ import annotations

import copy
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from aekit.errors import ConfigError, RunFolderError, TrainingError

OPTIMIZERS: dict[str, Callable] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
    "adadelta": torch.optim.Adadelta,
    "adagrad": torch.optim.Adagrad,
}
CHECKPOINT_FILE = "checkpoint.safetensors"


@dataclass
class TrainConfig:
    epochs: int = 50
    batch_size: int = 128
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9  # for sgd / rmsprop
    lr_schedule: str | None = None  # none | cosine | step:EVERY:GAMMA | exponential:GAMMA | plateau[:PATIENCE:FACTOR]
    grad_clip: float | None = None  # max global gradient norm
    early_stopping: bool = True
    patience: int = 10
    min_delta: float = 0.0
    checkpoint_every: int = 1  # epochs; 0 = only at the end / on interrupt
    seed: int = 0
    device: str = "cpu"
    dtype: str = "float32"
    progress: bool = True
    num_threads: int | None = None  # None: 1 for small models (see auto_threads), else torch's default
    max_seconds: float | None = None  # stop after the epoch in which training time reaches this

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if int(self.epochs) < 0:
            raise ConfigError(f"epochs must be ≥ 0, got {self.epochs}")
        if int(self.batch_size) < 1:
            raise ConfigError(f"batch_size must be ≥ 1, got {self.batch_size}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"learning rate must be > 0, got {self.lr}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be ≥ 0, got {self.weight_decay}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ConfigError(f"grad_clip must be > 0, got {self.grad_clip}")
        if int(self.patience) < 1:
            raise ConfigError(f"patience must be ≥ 1, got {self.patience}")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise ConfigError(f"max_seconds must be > 0, got {self.max_seconds}")
        if self.dtype not in ("float32", "float64", "bfloat16"):
            raise ConfigError(f"dtype must be float32, float64 or bfloat16, got {self.dtype!r}")
        _parse_schedule(self.lr_schedule)

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def _parse_schedule(spec: str | None) -> tuple[str, list[float]]:
    if spec is None or str(spec).lower() in ("", "none", "constant"):
        return "none", []
    name, *args = str(spec).lower().split(":")
    try:
        values = [float(a) for a in args]
    except ValueError:
        raise ConfigError(f"lr_schedule {spec!r}: arguments must be numbers") from None
    expected = {"cosine": (0,), "step": (2,), "exponential": (1,), "plateau": (0, 2)}
    if name not in expected:
        raise ConfigError(
            f"unknown lr_schedule {spec!r}; use cosine, step:EVERY:GAMMA, exponential:GAMMA or plateau[:PATIENCE:FACTOR]"
        )
    if len(values) not in expected[name]:
        raise ConfigError(f"lr_schedule {spec!r}: wrong number of arguments")
    return name, values


def make_optimizer(config: TrainConfig, params) -> torch.optim.Optimizer:
    cls = OPTIMIZERS[config.optimizer]
    kwargs: dict = {"lr": config.lr, "weight_decay": config.weight_decay}
    if config.optimizer in ("sgd", "rmsprop"):
        kwargs["momentum"] = config.momentum
    if config.optimizer in ("adam", "adamw"):
        # Fused: one pass over parameters and both moments. foreach Adam makes ~8 passes and was the
        # largest single cost of a CPU training step of the deep MNIST autoencoder (41 % of it,
        # more than the matrix multiplies; benchmarks/RESULTS.md). Same state dict, same results.
        if torch.device(config.device).type in ("cpu", "cuda"):
            kwargs["fused"] = True
        else:
            kwargs["foreach"] = True
    return cls(params, **kwargs)


def make_scheduler(config: TrainConfig, optimizer: torch.optim.Optimizer):
    name, v = _parse_schedule(config.lr_schedule)
    s = torch.optim.lr_scheduler
    if name == "cosine":
        return s.CosineAnnealingLR(optimizer, T_max=max(1, config.epochs))
    if name == "step":
        return s.StepLR(optimizer, step_size=max(1, int(v[0])), gamma=v[1])
    if name == "exponential":
        return s.ExponentialLR(optimizer, gamma=v[0])
    if name == "plateau":
        patience, factor = (int(v[0]), v[1]) if v else (5, 0.5)
        return s.ReduceLROnPlateau(optimizer, patience=patience, factor=factor)
    return None


def _dist() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") else model


class TrainingInterrupted(TrainingError):
    """Ctrl-C during training: a checkpoint of the last finished epoch was written (if a
    checkpoint folder was given) and the model holds that epoch's weights. An AekitError, so
    the CLI reports it in one line instead of a traceback."""

    def __init__(self, epoch: int, checkpoint: Path | None):
        self.epoch = epoch
        self.checkpoint = checkpoint
        where = f"; checkpoint saved in {checkpoint.parent}, continue with --resume" if checkpoint else ""
        super().__init__(f"training interrupted after epoch {epoch}{where}")


@dataclass
class _State:
    """Everything that changes during training; one copy is kept from the last epoch boundary."""

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


class Trainer:
    """Trains a model; `checkpoint_dir` (optional) receives checkpoint.safetensors."""

    def __init__(self, config: TrainConfig, checkpoint_dir: str | os.PathLike | None = None, stage: str = "train"):
        self.config = config
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.stage = stage
        self.history: list[dict] = []
        self.best_epoch: int = 0
        self.stopped_early = False
        self.stopped_at_budget = False

    @property
    def checkpoint_path(self) -> Path | None:
        return self.checkpoint_dir / CHECKPOINT_FILE if self.checkpoint_dir is not None else None

    # ------------------------------------------------------------------------------------
    def fit(
        self,
        model: nn.Module,
        X_train: torch.Tensor,
        X_val: torch.Tensor | None = None,
        *,
        resume: bool = False,
        history: list[dict] | None = None,
    ) -> list[dict]:
        """Train in place; returns the history (a dict per epoch). With early stopping, the
        model ends holding the weights of the best validation epoch."""
        cfg = self.config
        torch.set_flush_denormal(True)  # denormals have slowed CPU runs several-fold
        previous_threads = torch.get_num_threads()
        if torch.device(cfg.device).type == "cpu":
            torch.set_num_threads(cfg.num_threads or auto_threads(_unwrap(model), X_train[:1], cfg.batch_size))
        try:
            return self._fit(model, X_train, X_val, resume=resume, history=history)
        finally:
            torch.set_num_threads(previous_threads)

    def _fit(self, model, X_train, X_val, *, resume, history) -> list[dict]:
        cfg = self.config
        rank, world = _dist()
        core = _unwrap(model)
        device = torch.device(cfg.device)
        X_train = X_train.to(device=device, dtype=cfg.torch_dtype)
        X_val = None if X_val is None or len(X_val) == 0 else X_val.to(device=device, dtype=cfg.torch_dtype)
        n = X_train.shape[0]
        if n == 0:
            raise TrainingError("no training samples")
        batch_size = min(int(cfg.batch_size), n)

        generator = torch.Generator(device="cpu").manual_seed(int(cfg.seed))
        optimizer = make_optimizer(cfg, [p for p in model.parameters() if p.requires_grad])
        scheduler = make_scheduler(cfg, optimizer)
        state = _State(
            epoch=0, model={}, optimizer={}, scheduler=None, generator=generator.get_state(),
            best=None, best_loss=math.inf, best_epoch=0, bad_epochs=0, history=list(history or []),
        )
        if resume:
            state = self._load_checkpoint(core, optimizer, scheduler, generator, state)
        self.history = state.history
        monitor = "val_loss" if X_val is not None else "loss"

        def snapshot(epoch: int) -> _State:
            return _State(
                epoch=epoch,
                model={k: v.detach().clone() for k, v in core.state_dict().items()},
                optimizer=copy.deepcopy(optimizer.state_dict()),
                scheduler=copy.deepcopy(scheduler.state_dict()) if scheduler is not None else None,
                generator=generator.get_state(),
                best=state.best, best_loss=state.best_loss, best_epoch=state.best_epoch,
                bad_epochs=state.bad_epochs, history=list(self.history),
            )

        progress = _Progress(enabled=cfg.progress and rank == 0, total=cfg.epochs, start=state.epoch, stage=self.stage)
        good = snapshot(state.epoch)
        epoch = state.epoch
        try:
            with progress:
                while epoch < cfg.epochs:
                    t0 = time.perf_counter()
                    model.train()
                    if hasattr(core, "on_epoch_start"):  # schedules inside the model (VAE KL warm-up)
                        core.on_epoch_start(epoch)
                    perm = torch.randperm(n, generator=generator).to(device)
                    if world > 1:
                        perm = perm[rank::world]
                    sums: dict[str, torch.Tensor] = {}
                    count = 0
                    n_steps = -(-perm.shape[0] // batch_size)
                    for step, start in enumerate(range(0, perm.shape[0], batch_size)):
                        progress.step(epoch, step, n_steps)
                        idx = perm[start : start + batch_size]
                        xb = X_train.index_select(0, idx)
                        terms = core.training_terms(xb, generator)
                        optimizer.zero_grad(set_to_none=True)
                        terms["loss"].backward()
                        if cfg.grad_clip is not None:
                            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                        optimizer.step()
                        m = idx.shape[0]
                        count += m
                        for k, v in terms.items():  # accumulate on device: no host sync per step
                            d = v.detach() * m
                            sums[k] = sums[k] + d if k in sums else d
                    row = self._reduce(sums, count, world)
                    row["train_seconds"] = time.perf_counter() - t0  # the optimization alone, no validation
                    epoch += 1
                    if X_val is not None and math.isfinite(row["loss"]):
                        for k, v in evaluate(core, X_val, batch_size=max(batch_size, 1024)).items():
                            row[f"val_{k}"] = v
                    for key, what in (("loss", "training"), ("val_loss", "validation")):
                        if key in row and not math.isfinite(row[key]):
                            core.load_state_dict(good.model)
                            self._write_checkpoint(good, rank)
                            raise TrainingError(
                                f"the {what} loss became {row[key]} in epoch {epoch}; the weights of epoch "
                                f"{good.epoch} were kept. Lower the learning rate (now {cfg.lr:g}) or set grad_clip."
                            )
                    row["lr"] = optimizer.param_groups[0]["lr"]
                    row["seconds"] = time.perf_counter() - t0
                    row = {"stage": self.stage, "epoch": epoch, **row}
                    if scheduler is not None:
                        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                            scheduler.step(row[monitor])
                        else:
                            scheduler.step()
                    self.history.append(row)
                    current = row[monitor]
                    if current < state.best_loss - cfg.min_delta:
                        state.best_loss, state.best_epoch, state.bad_epochs = current, epoch, 0
                        state.best = {k: v.detach().clone() for k, v in core.state_dict().items()}
                    else:
                        state.bad_epochs += 1
                    good = snapshot(epoch)
                    progress.update(epoch, row)
                    if cfg.checkpoint_every and epoch % cfg.checkpoint_every == 0:
                        self._write_checkpoint(good, rank)
                    if cfg.early_stopping and X_val is not None and state.bad_epochs >= cfg.patience:
                        self.stopped_early = True
                        progress.note(f"early stop: no val improvement for {cfg.patience} epochs")
                        break
                    if cfg.max_seconds is not None:
                        spent = sum(r.get("train_seconds", 0.0) for r in self.history if r["stage"] == self.stage)
                        if spent >= cfg.max_seconds:
                            self.stopped_at_budget = True
                            progress.note(f"time budget: {spent:.0f} s of training ≥ max_seconds={cfg.max_seconds:g}")
                            break
        except KeyboardInterrupt:
            core.load_state_dict(good.model)
            self._write_checkpoint(good, rank)
            raise TrainingInterrupted(good.epoch, self.checkpoint_path) from None
        if state.best is not None and cfg.early_stopping and X_val is not None:
            core.load_state_dict(state.best)
        self.best_epoch = state.best_epoch
        good = snapshot(epoch)
        self._write_checkpoint(good, rank)
        return self.history

    # ------------------------------------------------------------------------------------
    @staticmethod
    def _reduce(sums: dict[str, torch.Tensor], count: int, world: int) -> dict[str, float]:
        keys = sorted(sums)
        vec = torch.stack([sums[k].float() for k in keys] + [torch.tensor(float(count), device=sums[keys[0]].device)])
        if world > 1:
            torch.distributed.all_reduce(vec)
        vec = vec.cpu()
        total = float(vec[-1])
        return {k: float(vec[i]) / total for i, k in enumerate(keys)}

    def _write_checkpoint(self, state: _State, rank: int) -> None:
        path = self.checkpoint_path
        if path is None or rank != 0:
            return
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
            "stage": self.stage,
            "best_loss": state.best_loss,
            "best_epoch": state.best_epoch,
            "bad_epochs": state.bad_epochs,
            "history": state.history,
            "optimizer": opt_meta,
            "scheduler": state.scheduler,
            "train_config": self.config.to_dict(),
        }
        tmp = path.with_name(path.name + ".tmp")
        save_file(tensors, str(tmp), metadata={"aekit_checkpoint": json.dumps(meta)})
        os.replace(tmp, path)

    def _load_checkpoint(self, core, optimizer, scheduler, generator, state: _State) -> _State:
        path = self.checkpoint_path
        if path is None or not path.exists():
            raise RunFolderError(
                f"--resume: no checkpoint found at {path}" if path else "resume needs a checkpoint folder"
            )
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = json.loads(f.metadata()["aekit_checkpoint"])
                tensors = {k: f.get_tensor(k) for k in f.keys()}
        except Exception as exc:  # corrupt file, not a checkpoint
            raise RunFolderError(f"{path}: not a readable aekit checkpoint ({exc})") from None
        if meta.get("stage") != self.stage:
            raise RunFolderError(f"{path}: checkpoint is from stage {meta.get('stage')!r}, not {self.stage!r}")
        model_state = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
        _load_state_checked(core, model_state, path)
        best = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")} or None
        opt = {"param_groups": meta["optimizer"]["param_groups"], "state": {}}
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, pid, name = key.split(".", 2)
                opt["state"].setdefault(int(pid), {})[name] = value
        for pid, extra in meta["optimizer"]["state"].items():
            opt["state"].setdefault(int(pid), {}).update(extra)
        for group in opt["param_groups"]:
            if "betas" in group:
                group["betas"] = tuple(group["betas"])
        try:
            optimizer.load_state_dict(opt)
        except (ValueError, KeyError) as exc:
            raise RunFolderError(f"{path}: optimizer state does not fit this model/optimizer ({exc})") from None
        if scheduler is not None and meta.get("scheduler") is not None:
            scheduler.load_state_dict(meta["scheduler"])
        generator.set_state(tensors["rng.generator"])
        return _State(
            epoch=int(meta["epoch"]), model=model_state, optimizer=opt, scheduler=meta.get("scheduler"),
            generator=tensors["rng.generator"], best=best, best_loss=float(meta["best_loss"]),
            best_epoch=int(meta["best_epoch"]), bad_epochs=int(meta["bad_epochs"]), history=list(meta["history"]),
        )


def _load_state_checked(module: nn.Module, state: dict[str, torch.Tensor], source) -> None:
    """load_state_dict with one clear message listing what does not match."""
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
    module.load_state_dict(state)


SMALL_STEP_MACS = 5e7


def auto_threads(model: nn.Module, x1: torch.Tensor, batch_size: int) -> int:
    """1 thread when a training step is too small for threads to pay off, else torch's default.

    A step's multiply-adds (forward + backward ≈ 3× the forward's, counted on one sample by
    hooks on the linear and convolution layers) below SMALL_STEP_MACS take well under a few
    milliseconds on one core; then thread synchronization costs more than it saves, and on a
    shared machine spinning OpenMP threads have slowed small runs more than tenfold.
    """
    macs = 0

    def hook(module, _inp, out):
        nonlocal macs
        per_position = module.weight.numel() // (module.groups if isinstance(module, nn.Conv2d) else 1)
        positions = out[0].numel() // out.shape[1] if isinstance(module, nn.Conv2d) else 1
        macs += per_position * positions

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    try:
        with torch.no_grad():
            model.validation_terms(x1.float().cpu()) if hasattr(model, "validation_terms") else model(x1)
    except Exception:
        return torch.get_num_threads()
    finally:
        for h in handles:
            h.remove()
    return 1 if 3 * macs * batch_size < SMALL_STEP_MACS else torch.get_num_threads()


@torch.inference_mode()
def evaluate(model: nn.Module, X: torch.Tensor, batch_size: int = 1024) -> dict[str, float]:
    """Mean of each validation term over X, batched."""
    was_training = model.training
    model.eval()
    sums: dict[str, torch.Tensor] = {}
    for start in range(0, X.shape[0], batch_size):
        xb = X[start : start + batch_size]
        for k, v in model.validation_terms(xb).items():
            d = v.detach().float() * xb.shape[0]
            sums[k] = sums[k] + d if k in sums else d
    model.train(was_training)
    return {k: float(v) / X.shape[0] for k, v in sums.items()}


class _Progress:
    """A rich progress bar over epochs showing loss and validation loss."""

    def __init__(self, enabled: bool, total: int, start: int, stage: str, loss_label: str = "loss",
                 extra: tuple[tuple[str, str], ...] = ()):
        self.enabled = enabled
        self.total, self.start, self.stage = total, start, stage
        self.loss_label, self.extra = loss_label, extra  # extra: (history key, label) shown when present
        self._progress = None

    def __enter__(self):
        if self.enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("epoch {task.fields[ep]}/{task.total:.0f}"),
                TextColumn("{task.fields[metrics]}"),
                TimeElapsedColumn(),
                transient=False,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(self.stage, total=self.total, completed=self.start, metrics="",
                                                 ep=self.start)
        return self

    def step(self, epoch: int, step: int, n_steps: int) -> None:
        """Move the bar within an epoch (every ~2 % of it, so long epochs show progress)."""
        if self._progress is not None and n_steps >= 50 and step % max(1, n_steps // 50) == 0:
            self._progress.update(self._task, completed=epoch + step / n_steps, ep=epoch + 1)

    def update(self, epoch: int, row: dict) -> None:
        if self._progress is None:
            return
        text = f"{self.loss_label} {row['loss']:.4g}"
        for key, label in (*self.extra, ("val_loss", "val")):
            if key in row:
                text += f"  {label} {row[key]:.4g}"
        self._progress.update(self._task, completed=epoch, metrics=text, ep=epoch)

    def note(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(f"[dim]{text}[/dim]")

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.__exit__(*exc)
        return False
