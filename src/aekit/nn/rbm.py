"""Restricted Boltzmann machines, trained by contrastive divergence, for stacked-RBM pretraining.

The source tutorials (ch. 5.1, feature-extraction autoencoders) describe the recipe without formulas:
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

Training (CD-k, persistent CD) is in the train layer: ``aekit.train.rbm.train_rbm``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from aekit.errors import ConfigError

VISIBLE_UNITS = ("bernoulli", "gaussian")
HIDDEN_UNITS = ("bernoulli", "linear")
RBM_UNITS = {"visible": VISIBLE_UNITS, "hidden": HIDDEN_UNITS}


class RBM(nn.Module):
    """A restricted Boltzmann machine; see the module docstring for the energy functions.

    ``weight`` has the shape of ``nn.Linear(n_visible, n_hidden).weight`` so a trained RBM can be
    copied into an encoder layer (weight, hidden_bias) and its transpose into the decoder
    (visible_bias). Calling the module gives E[h|v].

    Parameters
    ----------
    n_visible : int
        Visible units (input features), ≥ 1.
    n_hidden : int
        Hidden units, ≥ 1.
    visible : {"bernoulli", "gaussian"}, default "bernoulli"
        Visible unit type (Gaussian units assume standardized data).
    hidden : {"bernoulli", "linear"}, default "bernoulli"
        Hidden unit type ("linear" for the code layer of a stack, as in H&S 2006).
    init_std : float, default 0.01
        Standard deviation of the initial weights (biases start at zero).

    Attributes
    ----------
    weight : torch.nn.Parameter
        W, shape (n_hidden, n_visible).
    hidden_bias : torch.nn.Parameter
        c, shape (n_hidden,).
    visible_bias : torch.nn.Parameter
        b, shape (n_visible,).

    Examples
    --------
    >>> rbm = RBM(6, 3, init_std=0.0)
    >>> v = torch.ones(2, 6)
    >>> rbm(v)                          # E[h|v] = σ(0) with zero weights
    tensor([[0.5000, 0.5000, 0.5000],
            [0.5000, 0.5000, 0.5000]], grad_fn=<SigmoidBackward0>)
    >>> rbm.free_energy(v)              # −3 log 2
    tensor([-2.0794, -2.0794], grad_fn=<SubBackward0>)
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
        """E[h|v], shape (N, n_hidden) (the same as `hidden_mean`)."""
        return self.hidden_mean(v)

    def sample_hidden(self, v: torch.Tensor,
                      generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(E[h|v], a sample of h|v), each of shape (N, n_hidden); `generator` is the random source."""
        mean = self.hidden_mean(v)
        return mean, sample_units(mean, self.hidden == "bernoulli", generator)

    def visible_mean(self, h: torch.Tensor) -> torch.Tensor:
        """E[v|h]: σ(h W + b) for Bernoulli visible units, h W + b for Gaussian ones."""
        a = torch.addmm(self.visible_bias, h, self.weight) if h.dim() == 2 else h @ self.weight + self.visible_bias
        return torch.sigmoid(a) if self.visible == "bernoulli" else a

    def sample_visible(self, h: torch.Tensor,
                       generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(E[v|h], a sample of v|h), each of shape (N, n_visible); `generator` is the random source."""
        mean = self.visible_mean(h)
        return mean, sample_units(mean, self.visible == "bernoulli", generator)

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
        """v after `steps` full Gibbs steps v → h → v, every state sampled.

        Parameters
        ----------
        v : torch.Tensor
            Starting visible states, shape (N, n_visible).
        steps : int, default 1
            Gibbs steps, ≥ 0 (0 returns `v`).
        generator : torch.Generator, optional
            The random source.

        Returns
        -------
        torch.Tensor
            Visible samples, shape (N, n_visible).

        Examples
        --------
        >>> rbm = RBM(4, 2)
        >>> g = torch.Generator().manual_seed(0)
        >>> s = rbm.gibbs(torch.ones(3, 4), steps=2, generator=g)
        >>> s.shape, bool(((s == 0) | (s == 1)).all())
        (torch.Size([3, 4]), True)
        """
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


def sample_units(mean: torch.Tensor, bernoulli: bool, generator: torch.Generator | None = None) -> torch.Tensor:
    """A sample of units with the given means: Bernoulli(mean), or mean + unit-variance Gaussian noise.

    Parameters
    ----------
    mean : torch.Tensor
        E[units | other layer].
    bernoulli : bool
        Binary units (else real-valued ones with unit variance).
    generator : torch.Generator, optional
        The random source.

    Returns
    -------
    torch.Tensor
        Same shape and dtype as `mean`.

    Examples
    --------
    >>> import torch
    >>> sample_units(torch.tensor([0.0, 1.0]), bernoulli=True)
    tensor([0., 1.])
    """
    if bernoulli:
        return torch.bernoulli(mean, generator=generator)
    return mean + torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)


__all__ = ["HIDDEN_UNITS", "RBM", "RBM_UNITS", "VISIBLE_UNITS", "sample_units"]
