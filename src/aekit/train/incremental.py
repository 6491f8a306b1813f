"""Incremental training: one pass over each chunk of data, the optimizer kept between chunks.

`IncrementalTrainer` is what `AutoEncoder.partial_fit` (scikit-learn's convention for data that
arrives in pieces or does not fit in memory) trains with. It is built from the trainer's public
pieces (`make_optimizer`, `make_scheduler`, `TrainConfig`, `aekit.train.precision`) and keeps,
across calls, everything that a single `Trainer.fit` keeps across epochs:

- the optimizer and its state (Adam's moments and step count),
- the learning-rate scheduler, stepped once per chunk (a chunk is an epoch of the schedule),
- the random generator that shuffles each chunk and draws the denoising noise.

What it does not do: hold out validation data, stop early or checkpoint (there is no "epoch"
to compare across chunks of different data), run the trainer's callbacks or loggers, or train
under torchrun (chunks are the caller's: give each process its own estimator, or use `fit`).
A chunk whose loss becomes NaN or infinite leaves the model and optimizer as they were before
it, and raises TrainingError.
"""
from __future__ import annotations

import copy
import math
import time

import torch
from torch import nn

from aekit.errors import ConfigError, TrainingError
from aekit.train.distributed import rank_and_world
from aekit.train.precision import MixedPrecision, auto_threads, flushes_denormals, to_device
from aekit.train.trainer import TrainConfig, make_optimizer, make_scheduler

STAGE = "partial_fit"


class IncrementalTrainer:
    """Trains `model` in place, one pass (epoch) over each chunk given to `partial_fit`.

    Parameters
    ----------
    model : torch.nn.Module
        Has ``training_terms(x, generator)`` (a dict of scalar tensors with a "loss" entry) and
        is already on ``config.device``.
    config : TrainConfig
        lr, optimizer, weight decay, batch size, schedule, grad_clip, precision, device and seed
        are used; epochs, early stopping, patience and checkpoints are not (see the module).
    first_epoch : int, default 0
        Epochs the model was trained for before (after `fit`): history rows continue from there.

    Attributes
    ----------
    optimizer : torch.optim.Optimizer
        Kept across calls.
    scheduler : torch.optim.lr_scheduler.LRScheduler or None
        Stepped once per call.
    generator : torch.Generator
        Shuffles each chunk and draws the noise of a denoising model; kept across calls.
    epoch : int
        Passes run so far (including `first_epoch`).
    steps : int
        Optimizer updates made by this trainer (one per batch, over every chunk so far).

    Raises
    ------
    ConfigError
        Under torchrun with more than one process.

    Examples
    --------
    >>> import torch
    >>> from aekit.models.autoencoder import AutoEncoderModel, ModelConfig
    >>> _ = torch.manual_seed(0)
    >>> model = AutoEncoderModel(ModelConfig(input_shape=(8,), hidden=(4,), latent_dim=2))
    >>> inc = IncrementalTrainer(model, TrainConfig(batch_size=16, progress=False))
    >>> rows = [inc.partial_fit(torch.rand(64, 8)) for _ in range(3)]
    >>> [r["epoch"] for r in rows], inc.steps
    ([1, 2, 3], 12)
    """

    def __init__(self, model: nn.Module, config: TrainConfig, first_epoch: int = 0):
        if rank_and_world()[1] > 1:
            raise ConfigError("partial_fit trains in one process: under torchrun give each process its own "
                              "estimator and chunks, or train with fit (DistributedDataParallel)")
        self.model = model
        self.config = config
        self.device = torch.device(config.device)
        self.optimizer = make_optimizer(config, [p for p in model.parameters() if p.requires_grad])
        self.scheduler = make_scheduler(config, self.optimizer)
        self.amp = MixedPrecision(config.precision, self.device)
        # Another stream than a fit's first epochs when continuing after one (the same seed
        # would shuffle the first chunk as fit shuffled its first epoch).
        self.generator = torch.Generator(device="cpu").manual_seed(int(config.seed) + 7919 * int(first_epoch))
        self.epoch = int(first_epoch)
        self.steps = 0

    def partial_fit(self, X: torch.Tensor, observed: torch.Tensor | None = None) -> dict:
        """One pass over the chunk X in shuffled batches of ``config.batch_size``.

        Parameters
        ----------
        X : torch.Tensor
            The chunk's samples along the first axis (at least one).
        observed : torch.Tensor, optional
            Bool mask of X's shape: the values the loss counts (a table's observed cells).

        Returns
        -------
        dict
            The pass's history row: "stage" ("partial_fit"), "epoch", the mean of each training
            term over the chunk ("loss", ...), "n_samples", "lr" (the rate this pass used),
            "train_seconds" and "seconds".

        Raises
        ------
        TrainingError
            An empty chunk, or a NaN / infinite loss (the model and optimizer are left as they
            were before this call).
        """
        cfg = self.config
        if X.shape[0] == 0:
            raise TrainingError("partial_fit got an empty chunk (0 samples)")
        flushing = flushes_denormals()
        torch.set_flush_denormal(True)  # denormals have slowed CPU runs several-fold
        previous_threads = torch.get_num_threads()
        if self.device.type == "cpu":
            torch.set_num_threads(cfg.num_threads or auto_threads(self.model, X[:1], cfg.batch_size))
        try:
            return self._pass(X, observed)
        finally:
            torch.set_num_threads(previous_threads)
            # the caller's floating-point mode back: a chunk at a time, code runs between calls
            # (hypothesis, for one, refuses to draw floats while subnormals are flushed)
            torch.set_flush_denormal(flushing)

    def _pass(self, X: torch.Tensor, observed: torch.Tensor | None) -> dict:
        cfg, model, optimizer = self.config, self.model, self.optimizer
        t0 = time.perf_counter()
        X = to_device(X, self.device, cfg.torch_dtype)
        observed = None if observed is None else to_device(observed, self.device, torch.bool)
        # What a failed pass goes back to: weights, optimizer and generator before it.
        before = ({k: v.detach().clone() for k, v in model.state_dict().items()},
                  copy.deepcopy(optimizer.state_dict()), self.generator.get_state())
        n = X.shape[0]
        batch_size = min(int(cfg.batch_size), n)
        lr = optimizer.param_groups[0]["lr"]
        model.train()
        if hasattr(model, "on_epoch_start"):  # schedules inside the model (VAE KL warm-up)
            model.on_epoch_start(self.epoch)
        try:
            sums = self._batches(X, observed, batch_size)
        finally:
            model.eval()
        row = {k: float(v) / n for k, v in sums.items()}
        n_batches = -(-n // batch_size)
        if not math.isfinite(row["loss"]):
            model.load_state_dict(before[0])
            optimizer.load_state_dict(before[1])
            self.generator.set_state(before[2])
            raise TrainingError(f"the training loss became {row['loss']} in partial_fit pass {self.epoch + 1}; the "
                                f"weights from before this chunk were kept. Lower the learning rate (now {cfg.lr:g}) "
                                "or set grad_clip")
        train_seconds = time.perf_counter() - t0
        self.steps += n_batches
        if self.scheduler is not None:
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.scheduler.step(row["loss"])
            else:
                self.scheduler.step()
        self.epoch += 1
        return {"stage": STAGE, "epoch": self.epoch, **row, "n_samples": int(n), "lr": lr,
                "train_seconds": train_seconds, "seconds": time.perf_counter() - t0}

    def _batches(self, X: torch.Tensor, observed: torch.Tensor | None, batch_size: int) -> dict[str, torch.Tensor]:
        """The optimizer steps of one shuffled pass; each term's sum over the samples (on the device)."""
        model, optimizer, cfg = self.model, self.optimizer, self.config
        n = X.shape[0]
        perm = torch.randperm(n, generator=self.generator).to(X.device)
        sums: dict[str, torch.Tensor] = {}
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            xb = X.index_select(0, idx)
            with self.amp.autocast():
                terms = (model.training_terms(xb, self.generator) if observed is None
                         else model.training_terms(xb, self.generator, observed=observed.index_select(0, idx)))
            optimizer.zero_grad(set_to_none=True)
            self.amp.step(terms["loss"], optimizer, model.parameters(), cfg.grad_clip)
            m = int(idx.shape[0])
            for k, v in terms.items():  # accumulated on the device: one host sync per chunk
                d = v.detach().float() * m
                sums[k] = sums[k] + d if k in sums else d
        return sums


__all__ = ["STAGE", "IncrementalTrainer"]
