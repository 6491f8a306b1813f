"""Restricted Boltzmann machines, trained by contrastive divergence, for stacked-RBM pretraining.

The course notes (seeds, ch. 5.1 "특징 추출 오토인코더") describe the recipe without formulas:
train RBMs one layer at a time (점진적 RBM 학습, "stacked RBM"), copy the trained stack
symmetrically into an autoencoder (encoder W, decoder Wᵀ) and fine-tune it with
backpropagation. This module supplies the RBM half, following Hinton & Salakhutdinov,
"Reducing the dimensionality of data with neural networks", Science 2006, and Hinton's
"A practical guide to training restricted Boltzmann machines" (UTML TR 2010-003).

An RBM with visible units v (n_visible), hidden units h (n_hidden), weights W (n_hidden ×
n_visible, the layout of ``nn.Linear(n_visible, n_hidden).weight``), visible bias b and hidden
bias c has the energy

    bernoulli visible, bernoulli hidden:  E(v, h) = -b·v - c·h - hᵀW v           v, h ∈ {0, 1}
    gaussian  visible, bernoulli hidden:  E(v, h) = ‖v - b‖²/2 - c·h - hᵀW v     unit-variance v
    bernoulli visible, linear hidden:     E(v, h) = -b·v + ‖h - c‖²/2 - hᵀW v     h ∈ ℝ (H&S's code layer)
    gaussian  visible, linear hidden:     E(v, h) = ‖v - b‖²/2 + ‖h - c‖²/2 - hᵀW v

and p(v, h) ∝ exp(-E). The conditionals factorize: E[h|v] = σ(Wv + c) for Bernoulli hidden
units and Wv + c (with unit-variance Gaussian noise) for linear ones; E[v|h] = σ(Wᵀh + b) or
Wᵀh + b. Gaussian visible units assume standardized data (unit variance per column), as in
H&S, which fixes every σ_i = 1.

The free energy F(v) = -log Σ_h exp(-E(v, h)) is, with a_j = c_j + W_j·v,

    bernoulli hidden:  F(v) = V(v) - Σ_j log(1 + exp(a_j))
    linear hidden:     F(v) = V(v) - Σ_j (a_j² - c_j²)/2

where V(v) = -b·v (Bernoulli visible) or ‖v - b‖²/2 (Gaussian visible). The linear case
integrates each hidden unit out with the Gaussian integral ∫ exp(-(h - c)²/2 + h·a') dh =
√(2π) exp(((c + a')² - c²)/2); the v-independent constant (n_hidden/2)·log 2π is left out, so
exp(-F(v)) = (2π)^(-n_hidden/2) ∫ exp(-E(v, h)) dh exactly. (With Gaussian visible *and* linear
hidden units the model is normalizable only while every singular value of W is below 1; F is
still exact as an unnormalized free energy.)

``train_rbm`` runs CD-k or persistent CD (Tieleman 2008) with SGD, momentum 0.5 → 0.9 after
five epochs and L2 weight decay 2e-4 on W, H&S's settings.
"""
from __future__ import annotations

import math
import numbers
import time

import torch
import torch.nn.functional as F
from torch import nn

from aekit.errors import ConfigError, DataError, TrainingError
from aekit.train.trainer import _Progress  # the trainer's progress bar, with the RBM's columns

VISIBLE_UNITS = ("bernoulli", "gaussian")
HIDDEN_UNITS = ("bernoulli", "linear")
RBM_UNITS = {"visible": VISIBLE_UNITS, "hidden": HIDDEN_UNITS}
MOMENTUM_SWITCH_EPOCH = 5  # first momentum for epochs 1-5, then the second (H&S 2006)
PL_ROWS = 1000  # rows of the training set whose pseudo-likelihood is reported each epoch


def default_lr(visible: str, hidden: str) -> float:
    """H&S's learning rates: 0.1 between Bernoulli layers, 0.001 when either side is real-valued."""
    return 0.1 if visible == "bernoulli" and hidden == "bernoulli" else 0.001


class RBM(nn.Module):
    """A restricted Boltzmann machine; see the module docstring for the energy functions.

    ``weight`` has the shape of ``nn.Linear(n_visible, n_hidden).weight`` so a trained RBM can be
    copied into an encoder layer (weight, hidden_bias) and its transpose into the decoder
    (visible_bias). Calling the module gives E[h|v].
    """

    def __init__(self, n_visible: int, n_hidden: int, visible: str = "bernoulli", hidden: str = "bernoulli",
                 init_std: float = 0.01):
        super().__init__()
        for name, value in (("n_visible", n_visible), ("n_hidden", n_hidden)):
            if isinstance(value, bool) or int(value) != value or int(value) < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        visible, hidden = str(visible).lower(), str(hidden).lower()
        if visible not in VISIBLE_UNITS:
            raise ConfigError(f"unknown visible unit type {visible!r}; choose one of {', '.join(VISIBLE_UNITS)}")
        if hidden not in HIDDEN_UNITS:
            raise ConfigError(f"unknown hidden unit type {hidden!r}; choose one of {', '.join(HIDDEN_UNITS)}")
        if not (math.isfinite(init_std) and init_std >= 0):
            raise ConfigError(f"init_std must be ≥ 0, got {init_std}")
        self.n_visible, self.n_hidden = int(n_visible), int(n_hidden)
        self.visible, self.hidden = visible, hidden
        self.weight = nn.Parameter(torch.randn(self.n_hidden, self.n_visible) * float(init_std))
        self.hidden_bias = nn.Parameter(torch.zeros(self.n_hidden))
        self.visible_bias = nn.Parameter(torch.zeros(self.n_visible))

    # --- conditionals -------------------------------------------------------------------
    def hidden_pre(self, v: torch.Tensor) -> torch.Tensor:
        """The hidden pre-activation W v + c, shape (N, n_hidden)."""
        return F.linear(v, self.weight, self.hidden_bias)

    def hidden_mean(self, v: torch.Tensor) -> torch.Tensor:
        """E[h|v]: σ(v Wᵀ + c) for Bernoulli hidden units, v Wᵀ + c for linear ones."""
        a = self.hidden_pre(v)
        return torch.sigmoid(a) if self.hidden == "bernoulli" else a

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return self.hidden_mean(v)

    def sample_hidden(self, v: torch.Tensor,
                      generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(E[h|v], a sample of h|v)."""
        mean = self.hidden_mean(v)
        return mean, _sample(mean, self.hidden == "bernoulli", generator)

    def visible_mean(self, h: torch.Tensor) -> torch.Tensor:
        """E[v|h]: σ(h W + b) for Bernoulli visible units, h W + b for Gaussian ones."""
        a = torch.addmm(self.visible_bias, h, self.weight) if h.dim() == 2 else h @ self.weight + self.visible_bias
        return torch.sigmoid(a) if self.visible == "bernoulli" else a

    def sample_visible(self, h: torch.Tensor,
                       generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(E[v|h], a sample of v|h)."""
        mean = self.visible_mean(h)
        return mean, _sample(mean, self.visible == "bernoulli", generator)

    # --- energies and scores ------------------------------------------------------------
    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """F(v) = -log Σ_h exp(-E(v, h)), shape (N,); exact for all four unit combinations
        (for linear hidden units up to the constant (n_hidden/2)·log 2π, see the module docstring)."""
        a = self.hidden_pre(v)
        if self.visible == "bernoulli":
            vis = -(v @ self.visible_bias)
        else:
            vis = 0.5 * (v - self.visible_bias).pow(2).sum(-1)
        if self.hidden == "bernoulli":
            hid = F.softplus(a).sum(-1)
        else:
            hid = 0.5 * (a.pow(2) - self.hidden_bias.pow(2)).sum(-1)
        return vis - hid

    def pseudo_likelihood(self, v: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Stochastic log pseudo-likelihood per row, shape (N,), as scikit-learn's
        ``BernoulliRBM.score_samples``: flip one random visible unit i per row (v_i → 1 - v_i) and
        return n_visible · log σ(F(ṽ) - F(v)). Bernoulli visible units only."""
        if self.visible != "bernoulli":
            raise ConfigError("pseudo_likelihood needs Bernoulli visible units; this RBM has "
                              f"{self.visible} visible units (use reconstruction_error instead)")
        n = v.shape[0]
        idx = torch.randint(0, self.n_visible, (n,), generator=generator, device=v.device)
        rows = torch.arange(n, device=v.device)
        flipped = v.clone()
        flipped[rows, idx] = 1 - flipped[rows, idx]
        return self.n_visible * F.logsigmoid(self.free_energy(flipped) - self.free_energy(v))

    def gibbs(self, v: torch.Tensor, steps: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
        """v after `steps` full Gibbs steps v → h → v, every state sampled."""
        if int(steps) < 0:
            raise ConfigError(f"steps must be ≥ 0, got {steps}")
        for _ in range(int(steps)):
            _, h = self.sample_hidden(v, generator)
            _, v = self.sample_visible(h, generator)
        return v

    def reconstruction_error(self, v: torch.Tensor) -> torch.Tensor:
        """Mean squared error per value of one mean-field up-down pass v → E[h|v] → E[v|·], shape (N,)."""
        return (v - self.visible_mean(self.hidden_mean(v))).pow(2).mean(-1)

    def extra_repr(self) -> str:
        return f"n_visible={self.n_visible}, n_hidden={self.n_hidden}, visible={self.visible!r}, hidden={self.hidden!r}"


def _sample(mean: torch.Tensor, bernoulli: bool, generator: torch.Generator | None) -> torch.Tensor:
    if bernoulli:
        return torch.bernoulli(mean, generator=generator)
    return mean + torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)


# ----------------------------------------------------------------------------------------
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


def train_rbm(rbm: RBM, X: torch.Tensor, *, epochs: int = 10, batch_size: int = 100, lr: float | None = None,
              momentum: tuple[float, float] = (0.5, 0.9), weight_decay: float = 2e-4, k: int = 1,
              persistent: bool = False, seed: int = 0, progress: bool = True, stage: str = "rbm",
              X_val: torch.Tensor | None = None) -> list[dict]:
    """Train `rbm` in place by contrastive divergence; returns one history row per epoch.

    CD-k: the negative chain starts from a hidden sample of the batch and runs k Gibbs steps.
    Persistent CD (``persistent=True``): one fantasy chain per batch row, started from the first
    batch's hidden samples and carried across batches and epochs. Positive statistics use
    E[h|v] of the data; the last negative hidden step uses E[h|v⁻] too (Hinton's guide §3). For
    CD the last negative visible state is E[v|h] (H&S's code); intermediate and persistent
    visible states are samples, so the fantasy chains stay true Gibbs chains.

    Updates are SGD with momentum — ``momentum[0]`` for the first five epochs, then
    ``momentum[1]`` — on the batch-mean gradient, with L2 weight decay on W only.
    ``lr=None`` picks 0.1 for Bernoulli-Bernoulli and 0.001 when either layer is real-valued.
    Training happens on X's device (the RBM is moved there) in the RBM's dtype, seeded by
    `seed` with its own generator; the weight initialisation is the RBM's (global torch seed).

    History rows: {"stage", "epoch" (1-based), "loss": mean reconstruction error over the epoch's
    batches (as each batch was before its update), "pseudo_likelihood": mean PL on a fixed subset of
    ≤ 1000 training rows with fixed flips (Bernoulli visible only), "val_loss" (with a non-empty X_val), "lr",
    "seconds"}. Metrics stay on the device until one host sync per epoch.

    Raises DataError for unusable data, ConfigError for bad arguments and TrainingError (with the
    weights of the last finite epoch restored) when the weights become NaN/inf.
    """
    _check_args(epochs, batch_size, lr, momentum, weight_decay, k)
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
    epochs, k = int(epochs), int(k)
    lr = float(lr) if lr is not None else default_lr(rbm.visible, rbm.hidden)
    n = X.shape[0]
    batch_size = min(int(batch_size), n)
    eval_batch = max(batch_size, 1024)
    torch.set_flush_denormal(True)  # sigmoid tails produce denormals that slow CPU matmuls

    generator = torch.Generator(device=device).manual_seed(int(seed))
    pl_generator = torch.Generator(device=device)
    bernoulli_visible = rbm.visible == "bernoulli"
    hidden_bernoulli = rbm.hidden == "bernoulli"
    pl_rows = None
    if bernoulli_visible:
        pl_generator.manual_seed(int(seed) + 1)
        pl_rows = X.index_select(0, torch.randperm(n, generator=pl_generator, device=device)[:PL_ROWS])

    W, c, b = rbm.weight, rbm.hidden_bias, rbm.visible_bias
    params = (W, c, b)
    incs = [torch.zeros_like(p) for p in params]
    chains: torch.Tensor | None = None  # persistent hidden states, one per batch row
    good = [p.detach().clone() for p in params]
    history: list[dict] = []
    bar = _Progress(enabled=progress, total=epochs, start=0, stage=stage, loss_label="recon",
                    extra=(("pseudo_likelihood", "PL"),))
    with torch.no_grad(), bar:
        for epoch in range(epochs):
            t0 = time.perf_counter()
            mom = float(momentum[0] if epoch < MOMENTUM_SWITCH_EPOCH else momentum[1])
            perm = torch.randperm(n, generator=generator, device=device)
            err_sum = torch.zeros((), device=device, dtype=X.dtype)
            n_steps = -(-n // batch_size)
            for step, start in enumerate(range(0, n, batch_size)):
                bar.step(epoch, step, n_steps)
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
                        h = _sample(hn, hidden_bernoulli, generator)
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

            metrics = [err_sum / (n * rbm.n_visible), torch.isfinite(W).all().to(X.dtype)
                       * torch.isfinite(c).all() * torch.isfinite(b).all()]
            if pl_rows is not None:
                pl_generator.manual_seed(int(seed) + 2)  # the same flips every epoch
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
            history.append(row)
            bar.update(epoch + 1, row)
            for p, g in zip(params, good):
                g.copy_(p)
    return history
