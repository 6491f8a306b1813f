"""Training restricted Boltzmann machines by contrastive divergence (the RBM half of stacked-RBM
pretraining; the model itself, with its energies and samplers, is aekit.nn.rbm.RBM).

`RBMTrainer` runs CD-k or persistent CD (Tieleman 2008) with SGD, momentum 0.5 → 0.9 after five
epochs and L2 weight decay 2e-4 on W, Hinton & Salakhutdinov's settings (Science 2006; Hinton's
"A practical guide to training restricted Boltzmann machines", UTML TR 2010-003). It is a
`TrainingLoop`, so the trainer's callbacks work on it: the progress bar (with the reconstruction
and pseudo-likelihood columns), user callbacks and those of a `use_callbacks` block.
"""
from __future__ import annotations

import math
import numbers
import time
from collections.abc import Sequence

import torch

from aekit.errors import ConfigError, DataError, TrainingError
from aekit.nn.rbm import RBM, sample_units
from aekit.train.callbacks import Callback, CallbackList, ProgressBar, TrainingLoop, scoped_callbacks
from aekit.train.precision import flushes_denormals

MOMENTUM_SWITCH_EPOCH = 5  # first momentum for epochs 1-5, then the second (H&S 2006)
PL_ROWS = 1000  # rows of the training set whose pseudo-likelihood is reported each epoch


def default_lr(visible: str, hidden: str) -> float:
    """H&S's learning rates: 0.1 between Bernoulli layers, 0.001 when either side is real-valued.

    Parameters
    ----------
    visible : str
        "bernoulli" or "gaussian".
    hidden : str
        "bernoulli" or "linear".

    Returns
    -------
    float

    Examples
    --------
    >>> default_lr("bernoulli", "bernoulli"), default_lr("gaussian", "bernoulli")
    (0.1, 0.001)
    """
    return 0.1 if visible == "bernoulli" and hidden == "bernoulli" else 0.001


class RBMTrainer(TrainingLoop):
    """Trains an RBM in place by contrastive divergence; `fit` returns one history row per epoch.

    CD-k: the negative chain starts from a hidden sample of the batch and runs k Gibbs steps.
    Persistent CD (``persistent=True``): one fantasy chain per batch row, started from the first
    batch's hidden samples and carried across batches and epochs. Positive statistics use
    E[h|v] of the data; the last negative hidden step uses E[h|v⁻] too (Hinton's guide §3). For
    CD the last negative visible state is E[v|h] (H&S's code); intermediate and persistent
    visible states are samples, so the fantasy chains stay true Gibbs chains.

    Updates are SGD with momentum — ``momentum[0]`` for the first five epochs, then
    ``momentum[1]`` — on the batch-mean gradient, with L2 weight decay on W only.
    Training happens on X's device (the RBM is moved there) in the RBM's dtype, seeded by
    `seed` with its own generator; the weight initialisation is the RBM's (global torch seed).

    Parameters
    ----------
    epochs : int, default 10
        Passes over the data.
    batch_size : int, default 100
        Rows per update (at most the number of rows).
    lr : float, optional
        Learning rate; None picks 0.1 for Bernoulli-Bernoulli and 0.001 when either layer is
        real-valued (`default_lr`).
    momentum : tuple of (float, float), default (0.5, 0.9)
        Momentum for the first five epochs, then after them; each in [0, 1).
    weight_decay : float, default 2e-4
        L2 weight decay on W.
    k : int, default 1
        Gibbs steps per update.
    persistent : bool, default False
        Persistent CD instead of CD-k.
    seed : int, default 0
        Seeds the sampling and the shuffling.
    progress : bool, default True
        Show a progress bar.
    stage : str, default "rbm"
        The stage's name in the history rows.
    callbacks : sequence of Callback, default ()
        Called before the progress bar (aekit.train.callbacks explains the hooks; a callback may
        stop training with ``trainer.stop(reason)``).

    Notes
    -----
    History rows: {"stage", "epoch" (1-based), "loss": mean reconstruction error over the epoch's
    batches (as each batch was before its update), "pseudo_likelihood": mean PL on a fixed subset
    of ≤ 1000 training rows with fixed flips (Bernoulli visible only), "val_loss" (with a non-empty
    X_val), "lr", "seconds"}, and what callbacks add. Metrics stay on the device until one host
    sync per epoch.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> rbm = RBM(6, 3)
    >>> history = RBMTrainer(epochs=2, batch_size=4, progress=False).fit(rbm, torch.rand(20, 6))
    >>> [row["epoch"] for row in history], sorted(history[0])
    ([1, 2], ['epoch', 'loss', 'lr', 'pseudo_likelihood', 'seconds', 'stage'])
    """

    def __init__(self, *, epochs: int = 10, batch_size: int = 100, lr: float | None = None,
                 momentum: tuple[float, float] = (0.5, 0.9), weight_decay: float = 2e-4, k: int = 1,
                 persistent: bool = False, seed: int = 0, progress: bool = True, stage: str = "rbm",
                 callbacks: Sequence[Callback] = ()):
        _check_args(epochs, batch_size, lr, momentum, weight_decay, k)
        super().__init__(stage, callbacks)
        self.epochs, self.batch_size, self.k = int(epochs), int(batch_size), int(k)
        self.lr = float(lr) if lr is not None else None
        self.momentum = (float(momentum[0]), float(momentum[1]))
        self.weight_decay, self.persistent = float(weight_decay), bool(persistent)
        self.seed, self.progress = int(seed), bool(progress)

    def install_callbacks(self) -> list[Callback]:
        """The callbacks of one `fit`, in calling order: this trainer's `callbacks`, those of
        enclosing `use_callbacks` blocks, then the progress bar (``progress``).

        Returns
        -------
        list of Callback
        """
        bar = [ProgressBar(loss_label="recon", extra=(("pseudo_likelihood", "PL"),))] if self.progress else []
        return [*self.callbacks, *scoped_callbacks(), *bar]

    def fit(self, rbm: RBM, X, X_val=None) -> list[dict]:
        """Train `rbm` in place.

        Parameters
        ----------
        rbm : RBM
            The machine to train.
        X : torch.Tensor or array-like
            Training rows × n_visible; in [0, 1] for Bernoulli visible units, standardized for
            Gaussian ones.
        X_val : torch.Tensor or array-like, optional
            Validation rows; adds "val_loss" (mean reconstruction error). Empty means none.

        Returns
        -------
        list of dict
            The history (see the class notes).

        Raises
        ------
        DataError
            Unusable data.
        ConfigError
            Not an RBM.
        TrainingError
            The weights or metrics became NaN/inf (the weights of the last finite epoch are restored).
        """
        if not isinstance(rbm, RBM):
            raise ConfigError(f"train_rbm needs an RBM, got {type(rbm).__name__}")
        X = _check_data(rbm, X, "X")
        device = X.device
        rbm.to(device)
        X = X.to(dtype=rbm.weight.dtype)
        if X_val is not None and len(X_val) == 0:  # an empty validation split means none (as in the trainer)
            X_val = None
        if X_val is not None:
            X_val = _check_data(rbm, X_val, "X_val").to(device)
        self.model, self.history, self.epoch = rbm, [], 0
        self.reset_stop()
        callbacks = CallbackList(self.install_callbacks())
        flushing = flushes_denormals()
        torch.set_flush_denormal(True)  # sigmoid tails produce denormals that slow CPU matmuls
        try:
            with torch.no_grad():
                callbacks.on_stage_start(self)
                self._train(rbm, X, X_val, callbacks)
        except BaseException as exc:
            self.error = exc
            callbacks.on_stage_end(self)
            raise
        finally:
            torch.set_flush_denormal(flushing)  # the caller's floating-point mode back
        callbacks.on_stage_end(self)
        return self.history

    def _train(self, rbm: RBM, X: torch.Tensor, X_val: torch.Tensor | None, callbacks: CallbackList) -> None:
        device, seed, stage, k, persistent = X.device, self.seed, self.stage, self.k, self.persistent
        momentum, weight_decay = self.momentum, self.weight_decay
        lr = self.lr if self.lr is not None else default_lr(rbm.visible, rbm.hidden)
        n = X.shape[0]
        batch_size = min(self.batch_size, n)
        eval_batch = max(batch_size, 1024)

        generator = torch.Generator(device=device).manual_seed(seed)
        pl_generator = torch.Generator(device=device)
        bernoulli_visible = rbm.visible == "bernoulli"
        hidden_bernoulli = rbm.hidden == "bernoulli"
        pl_rows = None
        if bernoulli_visible:
            pl_generator.manual_seed(seed + 1)
            pl_rows = X.index_select(0, torch.randperm(n, generator=pl_generator, device=device)[:PL_ROWS])

        W, c, b = rbm.weight, rbm.hidden_bias, rbm.visible_bias
        params = (W, c, b)
        incs = [torch.zeros_like(p) for p in params]
        chains: torch.Tensor | None = None  # persistent hidden states, one per batch row
        good = [p.detach().clone() for p in params]
        for epoch in range(self.epochs):
            if self.should_stop:
                break
            callbacks.on_epoch_start(self, epoch + 1)
            t0 = time.perf_counter()
            mom = momentum[0] if epoch < MOMENTUM_SWITCH_EPOCH else momentum[1]
            perm = torch.randperm(n, generator=generator, device=device)
            err_sum = torch.zeros((), device=device, dtype=X.dtype)
            n_steps = -(-n // batch_size)
            for step, start in enumerate(range(0, n, batch_size)):
                v0 = X.index_select(0, perm[start : start + batch_size])
                m = v0.shape[0]
                h0, h_sample = rbm.sample_hidden(v0, generator)
                # reconstruction error of the batch before the update (one mean-field pass)
                err_sum += (v0 - rbm.visible_mean(h0)).pow(2).sum()
                if persistent:
                    if chains is None:  # the first batch is full: batch_size ≤ n
                        chains = h_sample.clone()
                    h = chains[:m]
                else:
                    h = h_sample
                for step_k in range(k):
                    last = step_k == k - 1
                    vn = rbm.visible_mean(h) if last and not persistent else rbm.sample_visible(h, generator)[1]
                    hn = rbm.hidden_mean(vn)
                    if not last or persistent:
                        h = sample_units(hn, hidden_bernoulli, generator)
                if persistent:
                    chains[:m] = h
                scale = lr / m
                # W: <h v>_data - <h v>_model - wd W
                gW = h0.t() @ v0
                gW.addmm_(hn.t(), vn, alpha=-1.0)
                incs[0].mul_(mom).add_(gW, alpha=scale).add_(W, alpha=-lr * weight_decay)
                incs[1].mul_(mom).add_(h0.sum(0) - hn.sum(0), alpha=scale)
                incs[2].mul_(mom).add_(v0.sum(0) - vn.sum(0), alpha=scale)
                for p, inc in zip(params, incs):
                    p.add_(inc)
                callbacks.on_batch_end(self, epoch + 1, step + 1, n_steps)

            metrics = [err_sum / (n * rbm.n_visible), torch.isfinite(W).all().to(X.dtype)
                       * torch.isfinite(c).all() * torch.isfinite(b).all()]
            if pl_rows is not None:
                pl_generator.manual_seed(seed + 2)  # the same flips every epoch
                metrics.append(rbm.pseudo_likelihood(pl_rows, pl_generator).mean())
            if X_val is not None:
                metrics.append(_mean_over(rbm.reconstruction_error, X_val, eval_batch))
            values = torch.stack([x.to(X.dtype) for x in metrics]).tolist()  # the epoch's one host sync
            loss, finite = values[0], values[1]
            if not finite or not all(math.isfinite(x) for x in values):
                for p, g in zip(params, good):
                    p.copy_(g)
                what = "the weights" if not finite else "the metrics"
                hint = "" if bernoulli_visible and hidden_bernoulli else (
                    " — real-valued layers need small ones such as 0.001, on standardized data")
                kept = f"the weights after epoch {epoch}" if epoch else "the initial weights"
                raise TrainingError(
                    f"RBM training ({stage}) diverged: {what} became NaN or infinite in epoch {epoch + 1}; "
                    f"{kept} were restored. Lower the learning rate (now {lr:g}){hint}."
                )
            row = {"stage": stage, "epoch": epoch + 1, "loss": loss}
            i = 2
            if pl_rows is not None:
                row["pseudo_likelihood"] = values[i]
                i += 1
            if X_val is not None:
                row["val_loss"] = values[i]
            row["lr"] = lr
            row["seconds"] = time.perf_counter() - t0
            self.history.append(row)
            for p, g in zip(params, good):
                g.copy_(p)
            self.epoch = epoch + 1
            callbacks.on_epoch_end(self, epoch + 1, row)


def train_rbm(rbm: RBM, X, *, epochs: int = 10, batch_size: int = 100, lr: float | None = None,
              momentum: tuple[float, float] = (0.5, 0.9), weight_decay: float = 2e-4, k: int = 1,
              persistent: bool = False, seed: int = 0, progress: bool = True, stage: str = "rbm",
              X_val=None, callbacks: Sequence[Callback] = ()) -> list[dict]:
    """Train `rbm` in place by contrastive divergence: ``RBMTrainer(...).fit(rbm, X, X_val)``.

    Parameters
    ----------
    rbm : RBM
        The machine to train.
    X : torch.Tensor or array-like
        Training rows × n_visible.
    epochs, batch_size, lr, momentum, weight_decay, k, persistent, seed, progress, stage, callbacks
        As `RBMTrainer` (defaults 10, 100, None, (0.5, 0.9), 2e-4, 1, False, 0, True, "rbm", ()).
    X_val : torch.Tensor or array-like, optional
        Validation rows (adds "val_loss").

    Returns
    -------
    list of dict
        One history row per epoch (see `RBMTrainer`).

    Raises
    ------
    DataError
        Unusable data.
    ConfigError
        Bad arguments.
    TrainingError
        The weights became NaN/inf (the weights of the last finite epoch are restored).

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> rbm = RBM(6, 3)
    >>> X = (torch.rand(40, 6) > 0.5).float()
    >>> history = train_rbm(rbm, X, epochs=3, batch_size=10, progress=False)
    >>> history[-1]["loss"] < history[0]["loss"]
    True
    """
    trainer = RBMTrainer(epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum, weight_decay=weight_decay,
                         k=k, persistent=persistent, seed=seed, progress=progress, stage=stage, callbacks=callbacks)
    return trainer.fit(rbm, X, X_val)


def _check_data(rbm: RBM, X, name: str) -> torch.Tensor:
    if not isinstance(X, torch.Tensor):
        try:
            X = torch.as_tensor(X)
        except (TypeError, ValueError, RuntimeError) as e:
            raise DataError(f"{name} cannot be converted to a tensor: {e}") from None
    if X.dim() != 2:
        raise DataError(f"{name} must be a 2-D matrix (rows × {rbm.n_visible} columns), got shape {tuple(X.shape)}")
    if X.shape[0] == 0:
        raise DataError(f"{name} is empty (0 rows)")
    if X.shape[1] != rbm.n_visible:
        raise DataError(f"{name} has {X.shape[1]} columns but the RBM has {rbm.n_visible} visible units")
    if X.is_complex():
        raise DataError(f"{name} is complex; an RBM needs real values")
    X = X.to(dtype=rbm.weight.dtype)
    finite = torch.isfinite(X)
    if rbm.visible == "bernoulli":
        lo, hi, ok = torch.stack([X.nan_to_num(0.0).min(), X.nan_to_num(0.0).max(), finite.all().to(X.dtype)]).tolist()
    else:
        ok, lo, hi = float(finite.all()), 0.0, 1.0
    if not ok:
        bad = int((~finite).sum())
        raise DataError(f"{name} contains {bad} NaN or infinite value(s); remove or impute them before training")
    if lo < 0 or hi > 1:
        raise DataError(
            f"{name} has values outside [0, 1] (min {lo:.4g}, max {hi:.4g}) but the RBM has Bernoulli visible units, "
            "which model probabilities; scale the data to [0, 1], or standardize it and use visible='gaussian'"
        )
    return X


def _check_args(epochs, batch_size, lr, momentum, weight_decay, k) -> None:
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("k", k)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or int(value) != value or int(value) < 1:
            raise ConfigError(f"{name} must be an integer ≥ 1, got {value!r}")
    if lr is not None and not (isinstance(lr, numbers.Real) and math.isfinite(lr) and lr > 0):
        raise ConfigError(f"learning rate must be > 0, got {lr!r}")
    try:
        m0, m1 = (float(m) for m in momentum)
    except (TypeError, ValueError):
        raise ConfigError(f"momentum must be a pair (initial, final), got {momentum!r}") from None
    if not (0 <= m0 < 1 and 0 <= m1 < 1):
        raise ConfigError(f"momentum values must lie in [0, 1), got {momentum!r}")
    if not (isinstance(weight_decay, numbers.Real) and math.isfinite(weight_decay) and weight_decay >= 0):
        raise ConfigError(f"weight_decay must be ≥ 0, got {weight_decay!r}")


def _mean_over(fn, X: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Mean of the per-row tensor fn(xb) over X, batched, as a device scalar (no host sync)."""
    total = torch.zeros((), device=X.device, dtype=X.dtype)
    for start in range(0, X.shape[0], batch_size):
        total = total + fn(X[start : start + batch_size]).sum()
    return total / X.shape[0]


__all__ = ["MOMENTUM_SWITCH_EPOCH", "PL_ROWS", "RBMTrainer", "default_lr", "train_rbm"]
