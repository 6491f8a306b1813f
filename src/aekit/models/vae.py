"""The variational autoencoder: the code becomes a Gaussian posterior q(z|x) = N(μ, diag σ²).

    ELBO(x) = −KL(q(z|x) ‖ N(0, I)) + E_q[log p(x|z)]           (Kingma & Welling 2014)
    KL      = −½ Σⱼ (1 + log σⱼ² − μⱼ² − σⱼ²)                   (closed form)
    z       = μ + σ·ε, ε ~ N(0, I)                               (reparameterization)
    log p(x|z) = Σᵢ [xᵢ log yᵢ + (1−xᵢ) log(1−yᵢ)]               (Bernoulli, from the logits)
               or Σᵢ log N(xᵢ; yᵢ, s²ᵢ)                          (Gaussian)

It reuses the core's blocks (MLP, conv or resnet encoder body, mirrored decoder); its configuration
`VAEConfig` is the core's `ModelConfig` with the VAE's typed options:

    likelihood        "bernoulli" or "gaussian"
    decoder_variance  gaussian only: "learned" (one log s² per feature, shared by all samples,
                      floored at MIN_VARIANCE so that constant pixels cannot make the density
                      infinite) or a fixed number s²
    n_classes         0, or K for a conditional VAE: one-hot labels are concatenated to the
                      encoder input (MLP; for conv, to the flattened feature maps) and to z
    beta, warmup_epochs, free_bits, binarize   training objective options (see `VAEModel`)

A conditional model takes rows x‖onehot(y) (N × (D+K)) wherever it takes x, so the shared
trainer, which only hands over batches of rows, needs no change.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from aekit.errors import ConfigError
from dataclasses import dataclass

from aekit.models.autoencoder import ModelConfig
from aekit.nn.conv import ConvDecoder, ConvEncoder
from aekit.nn.resnet import ResNetDecoder, ResNetEncoder
from aekit.nn.layers import activation
from aekit.nn.mlp import mlp_decoder, mlp_encoder

LIKELIHOODS = ("bernoulli", "gaussian")
BINARIZE = ("dynamic", "static")
MIN_VARIANCE = 1e-3  # floor of a learned Gaussian decoder variance (model space)
LOG_2PI = math.log(2 * math.pi)


@dataclass
class VAEConfig(ModelConfig):
    """A VAE's network and objective (stored in the run folder's config.json).

    Takes every `ModelConfig` option (``latent_dim`` is the size of z; ``tied``, ``noise``
    and ``sparsity`` are not used) and the VAE's own:

    Parameters
    ----------
    likelihood : {"bernoulli", "gaussian"}, default "bernoulli"
        p(x|z); Bernoulli needs ``output_activation="sigmoid"``.
    decoder_variance : "learned" or float, default "learned"
        Gaussian likelihood: one learned log s² per feature, or a fixed s² > 0.
    n_classes : int, default 0
        K ≥ 2 for a conditional VAE (one-hot labels joined to the encoder input and z), or 0.
    classes : list or None, default None
        The labels of a conditional VAE, in one-hot order.
    beta : float, default 1.0
        Weight of the KL term (β-VAE), ≥ 0.
    warmup_epochs : int, default 0
        Epochs over which the KL weight rises linearly from 0 to `beta`.
    free_bits : float, default 0.0
        λ: the least KL, in nats per latent dimension, the objective charges (0 = off).
    binarize : {"dynamic", "static"} or None, default None
        Bernoulli only: "dynamic" samples binary inputs afresh each batch (the VAE anchor's
        protocol); "static" is a fixed binarization done by the caller.

    Examples
    --------
    >>> cfg = VAEConfig(input_shape=(784,), hidden=(200, 200), latent_dim=50, binarize="dynamic")
    >>> cfg.likelihood, cfg.beta, VAEConfig.from_dict(cfg.to_dict()) == cfg
    ('bernoulli', 1.0, True)
    """

    likelihood: str = "bernoulli"
    decoder_variance: str | float = "learned"
    n_classes: int = 0
    classes: list | None = None
    beta: float = 1.0
    warmup_epochs: int = 0
    free_bits: float = 0.0
    binarize: str | None = None

    def validate(self) -> None:
        """Check the base options and the VAE's; raises ConfigError naming the first problem."""
        super().validate()
        if self.likelihood not in LIKELIHOODS:
            raise ConfigError(f"unknown likelihood {self.likelihood!r}; choose one of {', '.join(LIKELIHOODS)}")
        dv = self.decoder_variance
        if dv != "learned":
            try:
                dv = float(dv)
            except (TypeError, ValueError):
                raise ConfigError(f"decoder_variance must be 'learned' or a positive number, got {dv!r}") from None
            if not (dv > 0 and math.isfinite(dv)):
                raise ConfigError(f"decoder_variance must be 'learned' or a positive number, got {dv!r}")
            self.decoder_variance = dv
        self.n_classes = int(self.n_classes)
        if self.n_classes < 0 or self.n_classes == 1:
            raise ConfigError(f"a conditional VAE needs at least 2 classes, got {self.n_classes}")
        self.beta, self.free_bits, self.warmup_epochs = float(self.beta), float(self.free_bits), int(self.warmup_epochs)
        if not (self.beta >= 0 and math.isfinite(self.beta)):
            raise ConfigError(f"beta must be a finite number ≥ 0, got {self.beta}")
        if self.warmup_epochs < 0:
            raise ConfigError(f"warmup_epochs must be ≥ 0, got {self.warmup_epochs}")
        if not self.free_bits >= 0:
            raise ConfigError(f"free_bits must be ≥ 0 nats per latent dimension, got {self.free_bits}")
        if self.binarize not in (None, *BINARIZE):
            raise ConfigError(f"binarize must be 'dynamic', 'static' or None, got {self.binarize!r}")
        if self.binarize is not None and self.likelihood != "bernoulli":
            raise ConfigError("binarize is for the Bernoulli likelihood: set likelihood='bernoulli'")
        if self.likelihood == "bernoulli" and self.output_activation != "sigmoid":
            raise ConfigError("the Bernoulli likelihood needs output_activation='sigmoid' (data in [0, 1])")
        if self.latent_dim is None:
            raise ConfigError("a VAE needs a latent_dim (the size of z)")
        if self.tied:
            raise ConfigError("tied weights are not implemented for the VAE")


def kl_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, 1)) per latent dimension: −½(1 + log σ² − μ² − σ²).

    Parameters
    ----------
    mu : torch.Tensor
        Posterior means μ.
    logvar : torch.Tensor
        Posterior log variances log σ², broadcastable with `mu`.

    Returns
    -------
    torch.Tensor
        The KL of each dimension, in nats, shaped like `mu`.

    Examples
    --------
    >>> kl_normal(torch.tensor([1.0, 2.0]), torch.zeros(2))     # ½μ² at σ = 1
    tensor([0.5000, 2.0000])
    """
    return -0.5 * (1.0 + logvar - mu.pow(2) - logvar.exp())


class VAEModel(nn.Module):
    """Gaussian-posterior encoder (μ and log σ² heads) + decoder + the ELBO's terms.

    Training objective per sample (what the trainer minimizes, in nats):
        −E_q[log p(x|z)] + β_t · Σⱼ max(λ, KLⱼ)
    with β_t ramping linearly from 0 to `beta` over `warmup_epochs` (β_t = β·min(1, epoch/warmup)),
    KLⱼ the batch-mean KL of latent dimension j and λ = `free_bits` (Kingma et al. 2016; 0 = off).
    With β = 1, no warm-up and no free bits this is exactly the negative ELBO; the true negative
    ELBO is always reported too ("neg_elbo"), and validation uses only the true bound.

    Parameters
    ----------
    config : VAEConfig
        The network, likelihood and objective.

    Attributes
    ----------
    encoder, decoder : torch.nn.Module
        The core's blocks; the decoder takes z (‖ one-hot) and gives logits.
    mu_head, logvar_head : torch.nn.Linear
        μ and log σ² of q(z|x) from the encoder's features.
    decoder_logvar : torch.Tensor
        Gaussian likelihood only: log s² per feature (a parameter when learned).
    beta_now : float
        The KL weight of the current epoch (see `on_epoch_start`).

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> vae = VAEModel(VAEConfig(input_shape=(6,), hidden=(8,), latent_dim=2))
    >>> x = torch.rand(4, 6)
    >>> vae.encode(x).shape, vae.decode(torch.zeros(3, 2)).shape
    (torch.Size([4, 2]), torch.Size([3, 6]))
    >>> terms = vae.training_terms(x, torch.Generator().manual_seed(0))
    >>> sorted(terms), bool(torch.isclose(terms["neg_elbo"], terms["recon"] + terms["kl"]))
    (['kl', 'loss', 'neg_elbo', 'recon'], True)
    """

    def __init__(self, config: VAEConfig):
        super().__init__()
        if not isinstance(config, VAEConfig):
            raise ConfigError(f"a VAE needs a VAEConfig, got {type(config).__name__}")
        self.config = config
        n, L, K = config.n_features, int(config.latent_dim), config.n_classes
        self.n_features, self.latent_dim, self.n_classes = n, L, K
        if config.arch in ("conv", "resnet"):
            if config.arch == "conv":
                self.encoder = ConvEncoder(config.image_shape, config.hidden, config.activation, None, "linear")
                self.decoder = ConvDecoder(self.encoder, config.hidden, config.activation, L + K)
            else:
                self.encoder = ResNetEncoder(config.image_shape, config.hidden, config.blocks, config.activation,
                                             None, "linear")
                self.decoder = ResNetDecoder(self.encoder, config.hidden, config.blocks, config.activation, L + K)
            feat = self.encoder.code_channels * self.encoder.code_hw[0] * self.encoder.code_hw[1]
            head_in = feat + K  # conv: the one-hot joins the flattened feature maps
        else:
            if config.hidden:
                self.encoder = mlp_encoder(n + K, config.hidden[:-1], config.hidden[-1], config.activation,
                                           config.activation)
                head_in = config.hidden[-1]
            else:
                self.encoder = nn.Identity()
                head_in = n + K
            self.decoder = mlp_decoder(L + K, config.hidden, n, config.activation)
        self.mu_head = nn.Linear(head_in, L)
        self.logvar_head = nn.Linear(head_in, L)
        self.output_activation = activation(config.output_activation)
        self.register_buffer("input_shift", torch.zeros(n))
        self.register_buffer("input_scale", torch.ones(n))
        if self.config.likelihood == "gaussian":
            if self.config.decoder_variance == "learned":
                self.decoder_logvar = nn.Parameter(torch.zeros(n))
            else:
                self.register_buffer("decoder_logvar", torch.full((n,), math.log(self.config.decoder_variance)))
        self.beta_now = 0.0 if self.config.warmup_epochs > 0 else float(self.config.beta)

    def set_standardization(self, X: torch.Tensor) -> None:
        """Store the per-feature mean and standard deviation of training data X (N × ...);
        features with std ≤ 1e-8 get scale 1. Used only when `config.standardize` is set."""
        flat = X.reshape(X.shape[0], -1)
        self.input_shift.copy_(flat.mean(0))
        std = flat.std(0, unbiased=False)
        self.input_scale.copy_(torch.where(std > 1e-8, std, torch.ones_like(std)))

    # -- schedule hook (called by the trainer at the start of each epoch, 0-based) ------------
    def on_epoch_start(self, epoch: int) -> None:
        """Set `beta_now` for `epoch` (0-based): β·min(1, epoch / warmup_epochs), or β."""
        warm = self.config.warmup_epochs
        self.beta_now = float(self.config.beta) * (min(1.0, epoch / warm) if warm > 0 else 1.0)

    # -- pieces ---------------------------------------------------------------------------------
    def split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Rows x (or x‖onehot for a conditional model) → (x N×D, onehot N×K or None)."""
        x = x.reshape(x.shape[0], -1)
        if self.n_classes:
            return x[:, : self.n_features], x[:, self.n_features :]
        return x, None

    def to_model_space(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs as the encoder takes them: standardized when the model standardizes."""
        return (x - self.input_shift) / self.input_scale if self.config.standardize else x

    def posterior(self, x: torch.Tensor, c: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """μ and log σ² of q(z|x) (x already split, data space)."""
        h = self.to_model_space(x)
        if self.config.arch in ("conv", "resnet"):
            h = self.encoder(h)
            if c is not None:
                h = torch.cat([h, c], 1)
        else:
            if c is not None:
                h = torch.cat([h, c], 1)
            h = self.encoder(h)
        return self.mu_head(h), self.logvar_head(h).clamp(-30.0, 20.0)

    def decoder_logits(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder's logits for codes z (N × L) and one-hot labels c (N × K, or None)."""
        return self.decoder(torch.cat([z, c], 1) if c is not None else z)

    def mean(self, logits: torch.Tensor) -> torch.Tensor:
        """The decoder's mean in data space (probabilities for the Bernoulli likelihood)."""
        out = self.output_activation(logits)
        if self.config.standardize:
            out = out * self.input_scale + self.input_shift
        return out

    def log_px(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x|z) summed over features, per row, in nats (data space)."""
        if self.config.likelihood == "bernoulli":
            return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
        target = self.to_model_space(x)
        mean = self.output_activation(logits)
        logvar = self.decoder_logvar.clamp(min=math.log(MIN_VARIANCE))
        ll = -0.5 * (LOG_2PI + logvar + (target - mean).pow(2) * torch.exp(-logvar)).sum(-1)
        if self.config.standardize:  # change of variables back to data space
            ll = ll - self.input_scale.log().sum()
        return ll

    # -- the interface the estimator and trainer use -------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Posterior mean μ (what `transform` returns)."""
        return self.posterior(*self.split(x))[0]

    def decode(self, z: torch.Tensor, shape: tuple[int, ...] | None = None) -> torch.Tensor:
        """Decoder mean of z (rows z‖onehot for a conditional model)."""
        if self.n_classes:
            z, c = z[:, : self.latent_dim], z[:, self.latent_dim :]
        else:
            c = None
        out = self.mean(self.decoder_logits(z, c))
        return out.reshape(shape) if shape is not None else out.reshape(-1, *self.config.input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Deterministic reconstruction: the decoder mean at the posterior mean, shaped like x's data."""
        xs, c = self.split(x)
        mu, _ = self.posterior(xs, c)
        return self.mean(self.decoder_logits(mu, c)).reshape(-1, *self.config.input_shape)

    def _noise(self, shape, generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
        dev = generator.device if generator is not None else like.device
        return torch.randn(shape, generator=generator, device=dev, dtype=like.dtype).to(like.device)

    def binarize(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """A binary sample of x: each value is 1 with probability x (x in [0, 1])."""
        dev = generator.device if generator is not None else x.device
        u = torch.rand(x.shape, generator=generator, device=dev, dtype=x.dtype).to(x.device)
        return (u < x).to(x.dtype)

    def _terms(self, x: torch.Tensor, generator: torch.Generator | None, beta: float, free_bits: float
               ) -> dict[str, torch.Tensor]:
        xs, c = self.split(x)
        mu, logvar = self.posterior(xs, c)
        z = mu + torch.exp(0.5 * logvar) * self._noise(mu.shape, generator, mu)
        log_px = self.log_px(self.decoder_logits(z, c), xs)
        kl = kl_normal(mu, logvar)  # N × L
        recon = -log_px.mean()
        kl_sample = kl.sum(1).mean()
        kl_term = kl.mean(0).clamp(min=free_bits).sum() if free_bits > 0 else kl_sample
        neg_elbo = recon + kl_sample
        return {"loss": recon + beta * kl_term, "neg_elbo": neg_elbo, "recon": recon, "kl": kl_sample}

    def training_terms(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """The objective for one batch, with ε (and dynamic binarization) drawn from `generator`:
        "loss" (what is minimized), "neg_elbo", "recon" (−E_q[log p(x|z)]) and "kl", batch means."""
        if self.config.binarize == "dynamic":
            xs, c = self.split(x)
            xs = self.binarize(xs, generator)
            x = torch.cat([xs, c], 1) if c is not None else xs
        return self._terms(x, generator, self.beta_now, float(self.config.free_bits))

    def validation_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The true bound (β = 1, no free bits), with a fixed ε so epochs compare fairly."""
        g = torch.Generator(device="cpu").manual_seed(0)
        terms = self._terms(x, g, 1.0, 0.0)
        terms["loss"] = terms["neg_elbo"]
        return terms

    # -- evaluation ------------------------------------------------------------------------------
    def elbo(self, x: torch.Tensor, generator: torch.Generator | None, n_samples: int = 1) -> torch.Tensor:
        """Per-row ELBO: closed-form KL and an n_samples Monte-Carlo E_q[log p(x|z)]."""
        xs, c = self.split(x)
        mu, logvar = self.posterior(xs, c)
        std = torch.exp(0.5 * logvar)
        rec = torch.zeros(xs.shape[0], dtype=mu.dtype, device=mu.device)
        for _ in range(int(n_samples)):
            z = mu + std * self._noise(mu.shape, generator, mu)
            rec = rec + self.log_px(self.decoder_logits(z, c), xs)
        return rec / n_samples - kl_normal(mu, logvar).sum(1)

    def log_weights(self, x: torch.Tensor, k: int, generator: torch.Generator | None,
                    max_elements: int = 1 << 23) -> torch.Tensor:
        """log w_i = log p(x|z_i) + log p(z_i) − log q(z_i|x), z_i ~ q(z|x); B × k, computed in
        chunks of samples so that B·chunk·D stays below `max_elements`."""
        return torch.cat(list(self.log_weight_chunks(x, k, generator, max_elements)), 1)

    def log_weight_chunks(self, x: torch.Tensor, k: int, generator: torch.Generator | None,
                           max_elements: int = 1 << 23):
        """The log weights of `log_weights`, chunk by chunk (B × m each): memory independent of k."""
        xs, c = self.split(x)
        mu, logvar = self.posterior(xs, c)
        std = torch.exp(0.5 * logvar)
        B, L = mu.shape
        chunk = max(1, min(k, max_elements // max(1, B * max(self.n_features, L))))
        for s in range(0, k, chunk):
            m = min(chunk, k - s)
            eps = self._noise((B, m, L), generator, mu)
            z = mu[:, None] + std[:, None] * eps
            log_q = -0.5 * (eps.pow(2) + LOG_2PI + logvar[:, None]).sum(-1)
            log_pz = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
            cc = None if c is None else c[:, None].expand(B, m, c.shape[1]).reshape(B * m, -1)
            logits = self.decoder_logits(z.reshape(B * m, L), cc)
            xr = xs[:, None].expand(B, m, xs.shape[1]).reshape(B * m, -1)
            yield self.log_px(logits, xr).reshape(B, m) + log_pz - log_q

    def log_likelihood(self, x: torch.Tensor, k: int, generator: torch.Generator | None) -> torch.Tensor:
        """Importance-weighted estimate of log p(x) per row: logsumexp_i log w_i − log k.

        Parameters
        ----------
        x : torch.Tensor
            Rows (x‖onehot for a conditional model), N × D.
        k : int
            Importance samples per row (k = 1 gives a one-sample ELBO).
        generator : torch.Generator or None
            The random source of the samples.

        Returns
        -------
        torch.Tensor
            log p(x) in nats, shape (N,); never below the ELBO in expectation.

        Examples
        --------
        >>> _ = torch.manual_seed(0)
        >>> vae = VAEModel(VAEConfig(input_shape=(6,), hidden=(8,), latent_dim=2))
        >>> x = torch.bernoulli(torch.full((3, 6), 0.5))
        >>> with torch.no_grad():
        ...     ll = vae.log_likelihood(x, k=50, generator=torch.Generator().manual_seed(0))
        ...     elbo = vae.elbo(x, torch.Generator().manual_seed(0), n_samples=50)
        >>> ll.shape, bool((ll >= elbo - 0.1).all())
        (torch.Size([3]), True)
        """
        # a running log-sum-exp over chunks of samples: memory does not grow with k
        total = None
        for w in self.log_weight_chunks(x, k, generator):
            part = torch.logsumexp(w, 1)
            total = part if total is None else torch.logaddexp(total, part)
        return total - math.log(k)


__all__ = ["LIKELIHOODS", "VAEConfig", "VAEModel", "kl_normal"]
