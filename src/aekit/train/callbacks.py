"""Trainer callbacks: code that runs at fixed points of a training loop.

A callback subclasses `Callback` and overrides the hooks it needs; each hook gets the training
loop (a `TrainingLoop`: the `Trainer`, or the RBM trainer of layer-wise pretraining) as its first
argument::

    on_stage_start(trainer)                  before the first epoch (after a resume is loaded)
    on_epoch_start(trainer, epoch)           epoch = the number (1-based) of the epoch starting
    on_batch_end(trainer, epoch, step, n_steps)   after optimizer step `step` (1-based) of n_steps
    on_epoch_end(trainer, epoch, row)        row = that epoch's history dict, already in
                                             trainer.history; a callback may add keys to it
    on_stage_end(trainer)                    however the stage ends; trainer.error is None after
                                             a normal end, else the exception that ends it

A callback asks training to stop with ``trainer.stop("reason")`` (sets ``trainer.should_stop`` and
``trainer.stop_reason``); the loop stops after the current epoch's ``on_epoch_end`` calls. Hooks
run on the host between steps: ``on_batch_end`` must not read tensor values (``.item()``,
``float(t)``), which would wait for the device at every step.

The Trainer turns its TrainConfig into the built-in callbacks and calls every hook on them in
this order: `EarlyStopping` (``early_stopping``), `TimeBudget` (``max_seconds``), the callbacks
given to the Trainer, those of an enclosing `use_callbacks` block, `Checkpoint` (with a checkpoint
folder, on rank 0) and `ProgressBar` (``progress``, on rank 0). So at the end of a stage the best
weights are back before user callbacks and the final checkpoint see the model, and every row a
callback extends is in the checkpoint written after it.

The experiment-tracking loggers (TensorBoard, MLflow, CSV: aekit.train.tracking) are callbacks
too; estimators install them for every stage with `use_callbacks`.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextvars import ContextVar

from aekit.errors import ConfigError, TrainingError


class Callback:
    """Base class of trainer callbacks: every hook does nothing.

    Examples
    --------
    >>> class EpochLogger(Callback):
    ...     def on_epoch_end(self, trainer, epoch, row):
    ...         row["double_loss"] = 2 * row["loss"]  # lands in trainer.history
    >>> row = {"loss": 0.25}
    >>> EpochLogger().on_epoch_end(None, 1, row)
    >>> row
    {'loss': 0.25, 'double_loss': 0.5}
    """

    def on_stage_start(self, trainer) -> None:
        """Before the first epoch of the stage (a resumed stage: after its checkpoint is loaded)."""

    def on_epoch_start(self, trainer, epoch: int) -> None:
        """Before epoch `epoch` (1-based) starts; not counted in its ``train_seconds``."""

    def on_batch_end(self, trainer, epoch: int, step: int, n_steps: int) -> None:
        """After optimizer step `step` (1-based) of the `n_steps` of epoch `epoch`."""

    def on_epoch_end(self, trainer, epoch: int, row: dict) -> None:
        """After epoch `epoch`; `row` is its history dict (already appended to ``trainer.history``)."""

    def on_stage_end(self, trainer) -> None:
        """When the stage ends, normally or not (``trainer.error``)."""


class CallbackList(Callback):
    """Calls each hook on `callbacks`, in order.

    ``on_stage_end`` reaches every callback even when one of them raises (the first error is
    raised afterwards), so a progress display is always closed.

    Parameters
    ----------
    callbacks : sequence of Callback, default ()
        The callbacks, in calling order.

    Examples
    --------
    >>> class Say(Callback):
    ...     def __init__(self, name):
    ...         self.name = name
    ...     def on_stage_start(self, trainer):
    ...         print(self.name)
    >>> CallbackList([Say("a"), Say("b")]).on_stage_start(None)
    a
    b
    """

    def __init__(self, callbacks: Sequence[Callback] = ()):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise ConfigError(f"callbacks must be aekit.train.callbacks.Callback instances, got {type(cb).__name__}")

    def on_stage_start(self, trainer) -> None:
        for cb in self.callbacks:
            cb.on_stage_start(trainer)

    def on_epoch_start(self, trainer, epoch: int) -> None:
        for cb in self.callbacks:
            cb.on_epoch_start(trainer, epoch)

    def on_batch_end(self, trainer, epoch: int, step: int, n_steps: int) -> None:
        for cb in self.callbacks:
            cb.on_batch_end(trainer, epoch, step, n_steps)

    def on_epoch_end(self, trainer, epoch: int, row: dict) -> None:
        for cb in self.callbacks:
            cb.on_epoch_end(trainer, epoch, row)

    def on_stage_end(self, trainer) -> None:
        first: BaseException | None = None
        for cb in self.callbacks:
            try:
                cb.on_stage_end(trainer)
            except BaseException as exc:  # noqa: BLE001 - the others must still run; re-raised below
                first = first or exc
        if first is not None:
            raise first


class TrainingLoop:
    """What every training loop offers its callbacks (`Trainer`, the RBM trainer).

    Attributes
    ----------
    stage : str
        The stage's name; history rows carry it.
    epochs : int
        The number of epochs the stage runs at most.
    epoch : int
        Epochs finished so far (a resumed stage starts above 0).
    history : list of dict
        One row per finished epoch, earlier stages included.
    model : torch.nn.Module or None
        The module being trained (None outside ``fit``).
    should_stop : bool
        Set by `stop`; the loop ends after the current epoch.
    stop_reason : str or None
        Why, as given to `stop` (the first request wins).
    error : BaseException or None
        During ``on_stage_end``: the exception that ends the stage, None after a normal end.
    """

    epochs: int = 0

    def __init__(self, stage: str, callbacks: Sequence[Callback] = ()):
        self.stage = stage
        self.callbacks = list(callbacks)
        CallbackList(self.callbacks)  # checks the types now, not at the first epoch
        self.history: list[dict] = []
        self.model = None
        self.epoch = 0
        self.should_stop = False
        self.stop_reason: str | None = None
        self.error: BaseException | None = None

    def stop(self, reason: str) -> None:
        """Ask the loop to stop after the current epoch, saying why (shown by the progress bar).

        Parameters
        ----------
        reason : str
            One line; the first request's reason is kept.

        Examples
        --------
        >>> loop = TrainingLoop("train")
        >>> loop.stop("target reached"); loop.stop("later")
        >>> loop.should_stop, loop.stop_reason
        (True, 'target reached')
        """
        if not self.should_stop:
            self.stop_reason = reason
        self.should_stop = True

    def reset_stop(self) -> None:
        """Clear a stop request and the last error (a loop calls it when a stage starts)."""
        self.should_stop, self.stop_reason, self.error = False, None, None


# -- a hook for code that trains through an API without a `callbacks` parameter ---------------
_SCOPED: ContextVar[tuple[Callback, ...]] = ContextVar("aekit_scoped_callbacks", default=())


@contextlib.contextmanager
def use_callbacks(*callbacks: Callback) -> Iterator[None]:
    """Within this block, every training loop also calls `callbacks` (after its own).

    For training that goes through an API with no ``callbacks`` parameter, such as an estimator's
    ``fit``. Every stage started in the block sees them (pretraining stages too: check
    ``trainer.stage``). Blocks nest; the setting is per thread and per asyncio task.

    Parameters
    ----------
    *callbacks : Callback
        Added to the loops started inside the block.

    Examples
    --------
    >>> cb = Callback()
    >>> with use_callbacks(cb):
    ...     scoped_callbacks() == (cb,)
    True
    >>> scoped_callbacks()
    ()
    """
    CallbackList(callbacks)  # type check
    token = _SCOPED.set(_SCOPED.get() + tuple(callbacks))
    try:
        yield
    finally:
        _SCOPED.reset(token)


def scoped_callbacks() -> tuple[Callback, ...]:
    """The callbacks of the enclosing `use_callbacks` blocks, outermost first.

    Returns
    -------
    tuple of Callback
        Empty outside any block.
    """
    return _SCOPED.get()


# -- the built-in callbacks -------------------------------------------------------------------
class EarlyStopping(Callback):
    """(Trainer only) Stops when the validation loss has not improved for `patience` epochs, then restores the
    weights of the best epoch.

    The trainer tracks the best epoch itself (``trainer.state``: ``best``, ``best_epoch``,
    ``bad_epochs``, improving by more than ``min_delta``), so the record survives a resume. Without
    validation data this callback does nothing.

    Parameters
    ----------
    patience : int, default 10
        Epochs without improvement before stopping.
    """

    def __init__(self, patience: int = 10):
        if int(patience) < 1:
            raise ConfigError(f"patience must be ≥ 1, got {patience}")
        self.patience = int(patience)

    def on_epoch_end(self, trainer, epoch: int, row: dict) -> None:
        if trainer.X_val is not None and trainer.state.bad_epochs >= self.patience:
            trainer.stopped_early = True
            trainer.stop(f"early stop: no val improvement for {self.patience} epochs")

    def on_stage_end(self, trainer) -> None:
        best = trainer.state.best
        if trainer.error is None and best is not None and trainer.X_val is not None:
            trainer.load_weights(best)


class TimeBudget(Callback):
    """Stops after the epoch in which this stage's training time reaches `max_seconds`.

    Training time is the sum of the ``train_seconds`` of the stage's history rows (a resumed
    stage counts its earlier epochs): the optimization alone, without validation.
    An earlier stop request in the same epoch (early stopping) takes precedence.

    Parameters
    ----------
    max_seconds : float
        The budget, > 0.
    """

    def __init__(self, max_seconds: float):
        if not max_seconds > 0:
            raise ConfigError(f"max_seconds must be > 0, got {max_seconds}")
        self.max_seconds = float(max_seconds)

    def on_epoch_end(self, trainer, epoch: int, row: dict) -> None:
        if trainer.should_stop:
            return
        spent = sum(r.get("train_seconds", 0.0) for r in trainer.history if r["stage"] == trainer.stage)
        if spent >= self.max_seconds:
            trainer.stopped_at_budget = True
            trainer.stop(f"time budget: {spent:.0f} s of training ≥ max_seconds={self.max_seconds:g}")


class Checkpoint(Callback):
    """(Trainer only) Writes the trainer's checkpoint every `every` epochs and when the stage ends.

    At the end it writes after a normal end, Ctrl-C or a TrainingError (the NaN guard): the
    trainer has then put back the weights of the last finished epoch. After any other exception
    the weights may be mid-epoch, and the last periodic checkpoint stays.

    Parameters
    ----------
    every : int, default 1
        Epochs between checkpoints; 0 writes only at the end of the stage.
    """

    def __init__(self, every: int = 1):
        if int(every) < 0:
            raise ConfigError(f"checkpoint_every must be ≥ 0, got {every}")
        self.every = int(every)

    def on_epoch_end(self, trainer, epoch: int, row: dict) -> None:
        if self.every and epoch % self.every == 0:
            trainer.save_checkpoint()

    def on_stage_end(self, trainer) -> None:
        if trainer.error is None or isinstance(trainer.error, (KeyboardInterrupt, TrainingError)):
            trainer.save_checkpoint()


# Text put before a progress bar's stage name while it is set (`progress_label`): a caller that trains
# several models in turn (a detector's cross-fitted networks) says which one a bar belongs to.
_PROGRESS_LABEL: ContextVar[str] = ContextVar("aekit_progress_label", default="")


@contextlib.contextmanager
def progress_label(text: str):
    """Within the block, progress bars start with `text` (e.g. "network 2/5").

    Examples
    --------
    >>> with progress_label("network 2/5"):
    ...     bar_description("train")
    'network 2/5 train'
    >>> bar_description("train")
    'train'
    """
    token = _PROGRESS_LABEL.set(text)
    try:
        yield
    finally:
        _PROGRESS_LABEL.reset(token)


def bar_description(stage: str) -> str:
    """A progress bar's description: the stage, after the `progress_label` in effect."""
    label = _PROGRESS_LABEL.get()
    return f"{label} {stage}" if label else stage


class ProgressBar(Callback):
    """A rich progress bar over the stage's epochs, showing the loss, extra columns and the
    validation loss; it prints why the stage stopped early.

    Parameters
    ----------
    loss_label : str, default "loss"
        The label of the ``loss`` column.
    extra : tuple of (str, str), default ()
        ``(history key, label)`` pairs shown after the loss when a row has the key.
    """

    def __init__(self, loss_label: str = "loss", extra: tuple[tuple[str, str], ...] = ()):
        self.loss_label, self.extra = loss_label, tuple(extra)
        self._progress = None
        self._task = None

    def on_stage_start(self, trainer) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("epoch {task.fields[ep]}/{task.total:.0f}"),
            TextColumn("{task.fields[metrics]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            transient=False,
        )
        self._progress.__enter__()
        self._task = self._progress.add_task(bar_description(trainer.stage), total=trainer.epochs, completed=trainer.epoch,
                                             metrics="", ep=trainer.epoch)

    def on_batch_end(self, trainer, epoch: int, step: int, n_steps: int) -> None:
        # every ~2 % of a long epoch, so it shows progress; short epochs move at their end
        if self._progress is not None and n_steps >= 50 and step % max(1, n_steps // 50) == 0:
            sums, count = getattr(trainer, "epoch_sums", None), getattr(trainer, "epoch_count", 0)
            running = f"  running {self.loss_label} {float(sums['loss']) / count:.4g}" if sums and count else ""
            self._progress.update(self._task, completed=epoch - 1 + step / n_steps, ep=epoch,
                                  metrics=f"batch {step}/{n_steps}{running}")

    def on_epoch_end(self, trainer, epoch: int, row: dict) -> None:
        if self._progress is None:
            return
        text = f"{self.loss_label} {row['loss']:.4g}"
        for key, label in (*self.extra, ("val_loss", "val")):
            if key in row:
                text += f"  {label} {row[key]:.4g}"
        self._progress.update(self._task, completed=epoch, metrics=text, ep=epoch)

    def on_stage_end(self, trainer) -> None:
        if self._progress is None:
            return
        try:
            if trainer.stop_reason:
                self._progress.console.print(f"[dim]{trainer.stop_reason}[/dim]")
        finally:
            self._progress.__exit__(None, None, None)
            self._progress = None


__all__ = ["Callback", "CallbackList", "Checkpoint", "EarlyStopping", "ProgressBar", "TimeBudget", "TrainingLoop",
           "bar_description", "progress_label", "scoped_callbacks", "use_callbacks"]
