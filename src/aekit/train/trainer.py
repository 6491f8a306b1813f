"""The training loop every model shares.

In-memory batching by index slicing (or batches read from a row source on disk, the same rows
for the same seed: aekit.train.batches), optimizers by name, learning-rate schedules, gradient
clipping, validation, seeded determinism, per-epoch history, resume, NaN/inf guard and Ctrl-C
handling. A model only needs `training_terms(x, generator)` and `validation_terms(x)`, each
returning a dict of scalar tensors with a "loss" entry.

Everything else is a callback (aekit.train.callbacks) that the Trainer installs from its
TrainConfig: early stopping (best weights restored), the time budget, checkpoints
(aekit.train.checkpoint) and the rich progress bar; user callbacks join them.

Scale-out: under torchrun (torch.distributed initialized) the model trains through
DistributedDataParallel, each global batch split across the ranks, metrics reduced and rank 0
writing (aekit.train.distributed). Devices and mixed precision: aekit.train.precision.
"""
from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import torch
from torch import nn

from aekit.data.sources import RowSource, is_row_source
from aekit.errors import ConfigError, TrainingError
from aekit.specs import finite_number, non_negative_int, parse_spec, positive_int
from aekit.train.callbacks import (
    Callback,
    CallbackList,
    Checkpoint,
    EarlyStopping,
    ProgressBar,
    TimeBudget,
    TrainingLoop,
    scoped_callbacks,
)
from aekit.train.batches import (
    EpochBatches,
    check_training_data,
    epoch_index_batches,
    evaluate,
    first_sample,
    validation_tensor,
)
from aekit.train.checkpoint import (
    CHECKPOINT_FILE,
    TrainState,
    apply_checkpoint,
    read_checkpoint,
    write_checkpoint,
)
from aekit.train.distributed import (
    PeerFailure,
    agree_on_stop,
    all_sum,
    first_sentence,
    is_collective_failure,
    on_rank_zero,
    rank_and_world,
    rank_generator,
    wrap_ddp,
)
from aekit.train.precision import (MixedPrecision, auto_threads, check_device, check_precision, flushes_denormals,
                                   to_device)

OPTIMIZERS: dict[str, Callable] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
    "adadelta": torch.optim.Adadelta,
    "adagrad": torch.optim.Adagrad,
}


@dataclass
class TrainConfig:
    """How to train; validated on creation (ConfigError). Each field's comment gives its meaning.

    ``early_stopping``, ``patience``, ``max_seconds``, ``checkpoint_every`` and ``progress`` choose
    the Trainer's built-in callbacks; ``min_delta`` is the improvement that makes an epoch the best.

    Examples
    --------
    >>> TrainConfig(epochs=5, lr_schedule="step:2:0.5").to_dict()["lr_schedule"]
    'step:2:0.5'
    >>> TrainConfig(lr=0)
    Traceback (most recent call last):
    ...
    aekit.errors.ConfigError: lr (the learning rate) must be > 0, got 0
    """

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
    device: str = "cpu"  # auto | cpu | cuda | cuda:N | mps (resolved to the device used)
    dtype: str = "float32"
    precision: str = "32"  # 32 | bf16-mixed | 16-mixed (aekit.train.precision)
    progress: bool = True
    num_threads: int | None = None  # None: 1 for small models (see auto_threads), else torch's default
    max_seconds: float | None = None  # stop after the epoch in which training time reaches this

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Every option checked in one place: ConfigError naming the option and what it accepts."""
        self.epochs = non_negative_int(self.epochs, "epochs")
        self.batch_size = positive_int(self.batch_size, "batch_size")
        self.patience = positive_int(self.patience, "patience")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        self.lr = finite_number(self.lr, "lr (the learning rate)", low=0.0, low_open=True)
        self.weight_decay = finite_number(self.weight_decay, "weight_decay", low=0.0)
        self.momentum = finite_number(self.momentum, "momentum", low=0.0)
        if self.grad_clip is not None:
            self.grad_clip = finite_number(self.grad_clip, "grad_clip", low=0.0, low_open=True)
        if self.max_seconds is not None:
            self.max_seconds = finite_number(self.max_seconds, "max_seconds", low=0.0, low_open=True)
        if self.dtype not in ("float32", "float64", "bfloat16"):
            raise ConfigError(f"dtype must be float32, float64 or bfloat16, got {self.dtype!r}")
        self.device = str(check_device(self.device))
        self.precision = check_precision(self.precision, self.device)
        parse_schedule(self.lr_schedule)

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


SCHEDULES = {"cosine": (), "step": ("EVERY", "GAMMA"), "exponential": ("GAMMA",),
             "plateau": ((), ("PATIENCE", "FACTOR"))}


def parse_schedule(spec: str | None) -> tuple[str, tuple[float, ...]]:
    """A learning-rate schedule's name and numbers ("none" for None / "constant").

    Examples
    --------
    >>> parse_schedule("step:10:0.5")
    ('step', (10.0, 0.5))
    """
    if spec is not None and str(spec).strip().lower() == "constant":
        return "none", ()
    parsed = parse_spec(spec, "lr_schedule", SCHEDULES)
    return ("none", ()) if parsed is None else parsed


def make_optimizer(config: TrainConfig, params) -> torch.optim.Optimizer:
    """The optimizer named by ``config.optimizer`` over `params`, with its lr, weight decay and momentum."""
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
    """The learning-rate scheduler of ``config.lr_schedule`` (None without one); stepped once an epoch."""
    name, v = parse_schedule(config.lr_schedule)
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


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") else model


class TrainingInterrupted(TrainingError):
    """Ctrl-C (or SIGTERM) during training: a checkpoint of the last finished epoch was written (if
    a checkpoint folder was given) and the model holds that epoch's weights. An AekitError, so the
    CLI reports it in one line instead of a traceback. `resumable`: a checkpoint with at least one
    finished epoch is there to continue (`aekit.runs.RunRecord.replacing` keeps such a run)."""

    def __init__(self, epoch: int, checkpoint: Path | None):
        self.epoch = epoch
        self.checkpoint = checkpoint
        self.resumable = checkpoint is not None and epoch > 0
        where = f"; checkpoint saved in {checkpoint.parent}, continue with --resume" if self.resumable else ""
        when = f"after epoch {epoch}" if epoch > 0 else "before its first epoch finished"
        super().__init__(f"training interrupted {when}{where}")


class Trainer(TrainingLoop):
    """Trains a model in place; `checkpoint_dir` (optional) receives checkpoint.safetensors.

    Parameters
    ----------
    config : TrainConfig
        The training options; they also choose the built-in callbacks (see `install_callbacks`).
    checkpoint_dir : str or os.PathLike, optional
        Folder for the checkpoint (written every ``config.checkpoint_every`` epochs, at the end,
        on Ctrl-C and on a NaN loss); None writes none and cannot resume.
    stage : str, default "train"
        The stage's name, in every history row and in the checkpoint.
    callbacks : sequence of Callback, default ()
        Called after early stopping and the time budget and before checkpointing and the progress
        bar (aekit.train.callbacks explains the hooks).

    Attributes
    ----------
    history : list of dict
        One row per epoch: "stage", "epoch", the model's training terms ("loss", …), "train_seconds",
        "val_<term>" with validation data, "lr", "seconds", and what callbacks add.
    best_epoch : int
        The epoch with the lowest monitored loss (val_loss, else loss), set when `fit` returns.
    stopped_early, stopped_at_budget : bool
        Why the last `fit` stopped before ``config.epochs``.
    state : TrainState or None
        During `fit`: the state after the last finished epoch (what a checkpoint holds), with the
        best-epoch record (``best``, ``best_loss``, ``best_epoch``, ``bad_epochs``). A callback that
        changes the weights does it with `load_weights`, so the checkpoint has them too.
    model, optimizer, scheduler, X_val, rank, world_size
        During `fit`: the module being trained (unwrapped from DDP), its optimizer and scheduler,
        the validation tensor (or None) and the process's place under torch.distributed.

    Examples
    --------
    >>> import torch
    >>> from aekit.models.autoencoder import AutoEncoderModel, ModelConfig
    >>> from aekit.train.callbacks import Callback
    >>> class StopAtLoss(Callback):
    ...     def on_epoch_end(self, trainer, epoch, row):
    ...         if row["loss"] < 1.0:
    ...             trainer.stop("loss below 1")
    >>> _ = torch.manual_seed(0)
    >>> model = AutoEncoderModel(ModelConfig(input_shape=(8,), hidden=(4,), latent_dim=2))
    >>> trainer = Trainer(TrainConfig(epochs=5, progress=False), callbacks=[StopAtLoss()])
    >>> history = trainer.fit(model, torch.rand(64, 8))
    >>> len(history), trainer.stop_reason
    (1, 'loss below 1')
    """

    def __init__(self, config: TrainConfig, checkpoint_dir: str | os.PathLike | None = None, stage: str = "train",
                 callbacks: Sequence[Callback] = ()):
        super().__init__(stage, callbacks)
        self.config = config
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.best_epoch: int = 0
        self.stopped_early = False
        self.stopped_at_budget = False
        self.state: TrainState | None = None
        self.optimizer = self.scheduler = self.X_val = None
        self.observed = self.observed_val = None
        self.rank, self.world_size = 0, 1

    @property
    def checkpoint_path(self) -> Path | None:
        """The checkpoint file, or None without a checkpoint folder."""
        return self.checkpoint_dir / CHECKPOINT_FILE if self.checkpoint_dir is not None else None

    @property
    def epochs(self) -> int:
        """The number of epochs the stage runs at most (``config.epochs``)."""
        return int(self.config.epochs)

    def install_callbacks(self) -> list[Callback]:
        """The callbacks of one `fit`, in calling order: EarlyStopping (``early_stopping``),
        TimeBudget (``max_seconds``), this trainer's `callbacks`, those of enclosing
        `use_callbacks` blocks, Checkpoint (a checkpoint folder, rank 0), ProgressBar (``progress``,
        rank 0).

        Returns
        -------
        list of Callback
        """
        cfg = self.config
        installed: list[Callback] = []
        if cfg.early_stopping:
            installed.append(EarlyStopping(cfg.patience))
        if cfg.max_seconds is not None:
            installed.append(TimeBudget(cfg.max_seconds))
        installed += [*self.callbacks, *scoped_callbacks()]
        if self.checkpoint_dir is not None and self.rank == 0:
            installed.append(Checkpoint(cfg.checkpoint_every))
        if cfg.progress and self.rank == 0:
            installed.append(ProgressBar())
        return installed

    def save_checkpoint(self) -> None:
        """Write `state` to `checkpoint_path` (no-op without a checkpoint folder or off rank 0).
        The built-in Checkpoint callback decides when."""
        if self.checkpoint_path is None or self.rank != 0 or self.state is None:
            return
        write_checkpoint(self.checkpoint_path, self.state, stage=self.stage, train_config=self.config.to_dict())

    def load_weights(self, weights: dict[str, torch.Tensor]) -> None:
        """Load `weights` into the model and make them the weights of `state` (what a checkpoint
        saves); early stopping uses it to bring back the best epoch.

        Parameters
        ----------
        weights : dict of str to torch.Tensor
            A state dict of the model being trained.
        """
        self.model.load_state_dict(weights)
        self.state = replace(self.state, model={k: v.detach().clone() for k, v in weights.items()})

    # ------------------------------------------------------------------------------------
    def fit(
        self,
        model: nn.Module,
        X_train: torch.Tensor | RowSource,
        X_val: torch.Tensor | RowSource | None = None,
        *,
        resume: bool = False,
        history: list[dict] | None = None,
        observed: torch.Tensor | None = None,
        observed_val: torch.Tensor | None = None,
    ) -> list[dict]:
        """Train `model` in place.

        Parameters
        ----------
        model : torch.nn.Module
            Has ``training_terms(x, generator)`` and ``validation_terms(x)``, each a dict of scalar
            tensors with a "loss" entry (optionally ``on_epoch_start(epoch)``); may be DDP-wrapped.
        X_train : torch.Tensor or aekit.data.sources.RowSource
            Training samples along the first axis, in memory or on disk (a source is read one
            batch at a time, the same rows for the same seed: `aekit.train.batches`).
        X_val : torch.Tensor or RowSource, optional
            Validation samples; they enable early stopping. Empty means none. A source is read
            into memory once.
        resume : bool, default False
            Continue from the checkpoint in `checkpoint_dir` (bit-identical to an uninterrupted run).
        history : list of dict, optional
            Rows of earlier stages, kept at the front of the history.
        observed, observed_val : torch.Tensor, optional
            Bool masks of X_train's and X_val's shape: the values the loss counts (a table's
            observed cells). Each batch carries its rows' mask to the model's
            ``training_terms(x, generator, observed=...)`` / ``validation_terms(x, observed=...)``.

        Returns
        -------
        list of dict
            The history. With early stopping and validation data, the model ends holding the
            weights of the best validation epoch.

        Raises
        ------
        TrainingError
            A NaN or infinite loss (the weights of the last finished epoch are kept).
        TrainingInterrupted
            Ctrl-C (the last finished epoch is kept and checkpointed).
        RunFolderError
            `resume` without a usable checkpoint.
        """
        cfg = self.config
        flushing = flushes_denormals()
        torch.set_flush_denormal(True)  # denormals have slowed CPU runs several-fold
        previous_threads = torch.get_num_threads()
        if torch.device(cfg.device).type == "cpu":
            torch.set_num_threads(cfg.num_threads or auto_threads(_unwrap(model), first_sample(X_train),
                                                                  cfg.batch_size))
        try:
            return self._fit(model, X_train, X_val, resume=resume, history=history, observed=observed,
                             observed_val=observed_val)
        finally:
            torch.set_num_threads(previous_threads)
            torch.set_flush_denormal(flushing)  # the caller's floating-point mode back

    def _fit(self, model, X_train, X_val, *, resume, history, observed=None, observed_val=None) -> list[dict]:
        cfg = self.config
        self.rank, self.world_size = rank_and_world()
        core = _unwrap(model)
        device = torch.device(cfg.device)
        check_training_data(X_train, observed)
        if not is_row_source(X_train):
            X_train = to_device(X_train, device, cfg.torch_dtype)
        X_val = validation_tensor(X_val, device, cfg.torch_dtype)
        self.observed = None if observed is None else to_device(observed, device, torch.bool)
        self.observed_val = None if observed_val is None or X_val is None else to_device(observed_val, device,
                                                                                          torch.bool)
        if X_train.shape[0] == 0:
            raise TrainingError("no training samples")

        generator = torch.Generator(device="cpu").manual_seed(int(cfg.seed))
        optimizer = make_optimizer(cfg, [p for p in model.parameters() if p.requires_grad])
        scheduler = make_scheduler(cfg, optimizer)
        self.model, self.optimizer, self.scheduler, self.X_val = core, optimizer, scheduler, X_val
        self.amp = MixedPrecision(cfg.precision, device)
        self.reset_stop()
        self.stopped_early = self.stopped_at_budget = False
        if resume:
            # Under torchrun rank 0 reads the checkpoint and sends it (or its error) to the others.
            saved = on_rank_zero(lambda: read_checkpoint(self.checkpoint_path, stage=self.stage))
            start = apply_checkpoint(saved, self.checkpoint_path, model=core, optimizer=optimizer,
                                     scheduler=scheduler, generator=generator)
        else:
            start = TrainState(epoch=0, model={}, optimizer={}, scheduler=None, generator=generator.get_state(),
                               best=None, best_loss=math.inf, best_epoch=0, bad_epochs=0,
                               history=list(history or []))
        self.history = start.history
        self.state = self._snapshot(generator, start.epoch, start.best, start.best_loss, start.best_epoch,
                                    start.bad_epochs)
        self.epoch = start.epoch
        # The training step's module: under torchrun, DDP over the model's training_terms.
        step_module = wrap_ddp(core, device) if self.world_size > 1 else None
        callbacks = CallbackList(self.install_callbacks())
        try:
            callbacks.on_stage_start(self)
            while self.epoch < cfg.epochs and not self.should_stop:
                try:
                    row = self._epoch(step_module, X_train, generator, callbacks)
                    callbacks.on_epoch_end(self, self.epoch, row)
                    agree_on_stop(self)  # rank 0's decision (a time budget's clock differs by rank)
                except RuntimeError as exc:
                    if self.world_size > 1 and is_collective_failure(exc):
                        raise self._peer_failure(exc) from None
                    raise
        except (KeyboardInterrupt, TrainingError) as exc:
            core.load_state_dict(self.state.model)  # back to the last finished epoch
            self._end(callbacks, exc)
            if isinstance(exc, KeyboardInterrupt):
                raise TrainingInterrupted(self.state.epoch, self.checkpoint_path) from None
            if isinstance(exc, PeerFailure):  # RunRecord.replacing keeps a run that can be continued
                exc.resumable = self.checkpoint_dir is not None and self.state.epoch > 0
            raise
        except BaseException as exc:
            self._end(callbacks, exc)
            raise
        self.best_epoch = self.state.best_epoch
        callbacks.on_stage_end(self)
        return self.history

    def _peer_failure(self, exc: BaseException) -> PeerFailure:
        resumable = self.checkpoint_dir is not None and self.state.epoch > 0
        where = (f"; the checkpoint of epoch {self.state.epoch} is in {self.checkpoint_dir}, continue with --resume"
                 if resumable else "")
        return PeerFailure(f"rank {self.rank} of {self.world_size}: another process of the torchrun job stopped "
                           f"during epoch {self.epoch + 1} ({first_sentence(exc)}){where}")

    def _end(self, callbacks: CallbackList, exc: BaseException) -> None:
        self.error = exc
        callbacks.on_stage_end(self)

    def _epoch(self, step_module: nn.Module | None, X_train, generator: torch.Generator,
               callbacks: CallbackList) -> dict:
        """One epoch: the optimization, the epoch's row (validation, NaN guard, schedule), the
        best-epoch record and the new `state`; returns the row, already in the history.
        `step_module` is the DDP wrapper under torchrun (None: the model's own training_terms);
        `X_train` a tensor on the device or a row source (`aekit.train.batches.EpochBatches`)."""
        cfg, core, optimizer, scheduler = self.config, self.model, self.optimizer, self.scheduler
        rank, world, X_val = self.rank, self.world_size, self.X_val
        n = len(X_train)
        batch_size = min(int(cfg.batch_size), n)
        epoch = self.epoch + 1
        callbacks.on_epoch_start(self, epoch)
        t0 = time.perf_counter()
        core.train()
        if hasattr(core, "on_epoch_start"):  # schedules inside the model (VAE KL warm-up)
            core.on_epoch_start(epoch - 1)
        # The same permutation on every rank; each global batch is split across the ranks.
        perm = torch.randperm(n, generator=generator)
        if not is_row_source(X_train):
            perm = perm.to(X_train.device)
        batches = epoch_index_batches(perm, batch_size, rank, world)
        sums: dict[str, torch.Tensor] = {}
        count = 0
        n_steps = len(batches)
        inputs = EpochBatches(X_train, batches, torch.device(cfg.device), cfg.torch_dtype)
        for step, ((idx, weight), xb) in enumerate(zip(batches, inputs)):
            mask = None if self.observed is None else self.observed.index_select(0, idx)
            with self.amp.autocast():
                if step_module is None:
                    terms = (core.training_terms(xb, generator) if mask is None
                             else core.training_terms(xb, generator, observed=mask))
                else:
                    terms = step_module(xb, rank_generator(cfg.seed, epoch, step, rank), mask)
            optimizer.zero_grad(set_to_none=True)
            loss = terms["loss"] if weight == 1.0 else terms["loss"] * weight
            self.amp.step(loss, optimizer, core.parameters(), cfg.grad_clip)
            m = int(idx.shape[0]) if weight else 0
            count += m
            for k, v in terms.items():  # accumulate on device: no host sync per step
                d = v.detach().float() * m
                sums[k] = sums[k] + d if k in sums else d
            self.epoch_sums, self.epoch_count = sums, count  # the running means, for callbacks (read sparingly)
            callbacks.on_batch_end(self, epoch, step + 1, n_steps)
        row = self._reduce(sums, count, world)
        row["train_seconds"] = time.perf_counter() - t0  # the optimization alone, no validation
        if X_val is not None and math.isfinite(row["loss"]):
            for k, v in self._validate(core, X_val, max(batch_size, 1024)).items():
                row[f"val_{k}"] = v
        for key, what in (("loss", "training"), ("val_loss", "validation")):
            if key in row and not math.isfinite(row[key]):
                raise TrainingError(
                    f"the {what} loss became {row[key]} in epoch {epoch}; the weights of epoch "
                    f"{self.state.epoch} were kept. Lower the learning rate (now {cfg.lr:g}) or set grad_clip."
                )
        row["lr"] = optimizer.param_groups[0]["lr"]
        row["seconds"] = time.perf_counter() - t0
        row = {"stage": self.stage, "epoch": epoch, **row}
        if scheduler is not None:
            if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                scheduler.step(row[self.monitor])
            else:
                scheduler.step()
        self.history.append(row)
        s = self.state
        current = row[self.monitor]
        if current < s.best_loss - cfg.min_delta:
            best = {k: v.detach().clone() for k, v in core.state_dict().items()}
            self.state = self._snapshot(generator, epoch, best, current, epoch, 0)
        else:
            self.state = self._snapshot(generator, epoch, s.best, s.best_loss, s.best_epoch, s.bad_epochs + 1)
        self.epoch = epoch
        return row

    @property
    def monitor(self) -> str:
        """The history key that picks the best epoch: "val_loss" with validation data, else "loss"."""
        return "val_loss" if self.X_val is not None else "loss"

    def _snapshot(self, generator: torch.Generator, epoch: int, best, best_loss: float, best_epoch: int,
                  bad_epochs: int) -> TrainState:
        return TrainState(
            epoch=epoch,
            model={k: v.detach().clone() for k, v in self.model.state_dict().items()},
            optimizer=copy.deepcopy(self.optimizer.state_dict()),
            scheduler=copy.deepcopy(self.scheduler.state_dict()) if self.scheduler is not None else None,
            generator=generator.get_state(),
            best=best, best_loss=best_loss, best_epoch=best_epoch, bad_epochs=bad_epochs, history=list(self.history),
        )

    def _validate(self, core: nn.Module, X_val: torch.Tensor, batch_size: int) -> dict[str, float]:
        """The validation terms' means; under torchrun each rank evaluates every world-th row and
        the sums are reduced (all ranks evaluate everything when there are fewer rows than ranks)."""
        rank, world = self.rank, self.world_size
        if world <= 1 or X_val.shape[0] < world:
            return evaluate(core, X_val, batch_size=batch_size, observed=self.observed_val)
        part = X_val[rank::world]
        means = evaluate(core, part, batch_size=batch_size,
                         observed=None if self.observed_val is None else self.observed_val[rank::world])
        return self._reduce({k: torch.tensor(v * part.shape[0], dtype=torch.float64) for k, v in means.items()},
                            part.shape[0], world)

    @staticmethod
    def _reduce(sums: dict[str, torch.Tensor], count: int, world: int) -> dict[str, float]:
        keys = sorted(sums)
        # On the host in float64: exact counts, and gloo reduces CPU tensors whatever the device.
        vec = torch.stack([sums[k].detach().cpu().double() for k in keys] + [torch.tensor(float(count),
                                                                                          dtype=torch.float64)])
        vec = all_sum(vec) if world > 1 else vec
        total = float(vec[-1])
        return {k: float(vec[i]) / total for i, k in enumerate(keys)}
