"""The one deterministic autoencoder every variant configures.

Variants are options, not copies: `noise` corrupts inputs in training (denoising AE),
`sparsity` adds a code penalty (sparse AE), `tied` shares transposed encoder weights,
`arch` picks the blocks. The trainer only calls `training_terms` and `validation_terms`.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
from torch import nn

from aekit.errors import AekitWarning, ConfigError
from aekit.models.losses import RECONSTRUCTION_LOSSES, parse_sparsity, reconstruction_loss
from aekit.nn.layers import activation, check_activation
from aekit.nn.conv import ConvDecoder, ConvEncoder
from aekit.nn.resnet import ResNetDecoder, ResNetEncoder
from aekit.nn.conv1d import Conv1dDecoder, Conv1dEncoder, conv1d_code_size
from aekit.nn.mlp import mlp_decoder, mlp_encoder

ARCHS = ("mlp", "conv", "conv1d", "resnet")


@dataclass
class ModelConfig:
    """Everything needed to rebuild the network (stored in the run folder's config.json).

    Variants are options of this one config (see the module docstring); it validates itself on
    construction.

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one sample: (D,) for rows, (C, H, W) for images, (C, T) for signals.
    arch : {"mlp", "conv", "conv1d", "resnet"}, default "mlp"
        Fully connected layers, convolution blocks (`aekit.nn.conv`; needs (C, H, W)), or
        strided 1-D convolutions with residual blocks (`aekit.nn.conv1d`; needs (C, T)); a
        conv1d model standardizes per channel, not per value. "resnet": strided convolutions
        with GroupNorm residual blocks for colour images (`aekit.nn.resnet`; needs (C, H, W)).
    hidden : tuple of int, default (256, 64)
        Hidden layer sizes from the input side (mlp), or channels per block (conv) or per stage (resnet).
    blocks : int, default 2
        Residual blocks per stage (arch="resnet" only; 0: strided convolutions only).
    latent_dim : int or None, default 2
        Code size; None (conv only) keeps the last feature map as the code.
    activation : str, default "relu"
        Activation of the hidden layers (see `aekit.nn.layers.activation`).
    code_activation : str, default "linear"
        Activation of the code ("sigmoid" for a KL sparsity penalty).
    output_activation : str, default "sigmoid"
        Activation of the output ("sigmoid" for data in [0, 1], "linear" otherwise).
    tied : bool, default False
        Decoder weights are the encoder's, transposed (mlp only).
    loss : {"mse", "bce", "ssim"}, default "mse"
        Reconstruction loss (`reconstruction_loss`; "bce" needs a sigmoid output, "ssim" images).
    noise : str or None, default None
        Input corruption in training, e.g. "masking:0.25" (`aekit.data.noise.parse_noise`).
    sparsity : str or None, default None
        Code penalty, "kl:ρ:β" or "l1:λ" (`aekit.models.losses.parse_sparsity`).
    standardize : bool, default False
        Learn a per-feature mean and standard deviation (data outside [0, 1]).
    value_range : tuple of float, default (0.0, 1.0)
        Range of the data: where noise is clipped, and SSIM's data range.

    Raises
    ------
    ConfigError
        An unknown option, or options that do not go together.

    Examples
    --------
    >>> cfg = ModelConfig(input_shape=(1, 8, 8), arch="conv", hidden=(8, 16), latent_dim=None)
    >>> cfg.n_features, cfg.code_size, cfg.image_shape
    (64, 64, (1, 8, 8))
    >>> ModelConfig.from_dict(cfg.to_dict()) == cfg
    True
    >>> ModelConfig(input_shape=(64,), sparsity="kl:0.05:3")
    Traceback (most recent call last):
    ...
    aekit.errors.ConfigError: a kl sparsity penalty needs sigmoid code units: set code_activation='sigmoid'
    """

    input_shape: tuple[int, ...]
    arch: str = "mlp"
    hidden: tuple[int, ...] = (256, 64)
    blocks: int = 2  # resnet only: residual blocks per stage
    latent_dim: int | None = 2  # conv only: None = no dense bottleneck (the Keras blog's denoiser)
    activation: str = "relu"
    code_activation: str = "linear"
    output_activation: str = "sigmoid"
    tied: bool = False
    loss: str = "mse"
    noise: str | None = None
    sparsity: str | None = None
    standardize: bool = False  # learn per-feature mean/std (data outside [0, 1])
    value_range: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        self.input_shape = tuple(int(s) for s in self.input_shape)
        self.hidden = tuple(int(h) for h in self.hidden)
        self.value_range = (float(self.value_range[0]), float(self.value_range[1]))
        self.validate()

    @property
    def n_features(self) -> int:
        """Values per sample: the product of `input_shape`."""
        return int(np.prod(self.input_shape))

    @property
    def code_size(self) -> int:
        """Length of the code `transform` returns."""
        if self.latent_dim is not None:
            return int(self.latent_dim)
        if self.arch == "conv1d":
            return conv1d_code_size(self.input_shape[1], self.hidden)
        c, h, w = self.input_shape
        m = 2 ** len(self.hidden)
        return self.hidden[-1] * (-(-h // m)) * (-(-w // m))

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        """(C, H, W) for image data, None for rows."""
        return tuple(self.input_shape) if len(self.input_shape) == 3 else None  # type: ignore[return-value]

    def validate(self) -> None:
        """Check the options together; raises ConfigError naming the first problem."""
        if not self.input_shape or any(s < 1 for s in self.input_shape):
            raise ConfigError(f"input_shape must be positive sizes, got {self.input_shape}")
        if self.arch not in ARCHS:
            raise ConfigError(f"unknown arch {self.arch!r}; choose one of {', '.join(ARCHS)}")
        if any(h < 1 for h in self.hidden):
            raise ConfigError(f"hidden layer sizes must be ≥ 1, got {self.hidden}")
        if self.latent_dim is None:
            if self.arch not in ("conv", "conv1d", "resnet"):
                raise ConfigError("latent_dim=None (no dense bottleneck) is only for arch='conv', 'conv1d' or 'resnet'")
        elif int(self.latent_dim) < 1:
            raise ConfigError(f"latent_dim must be ≥ 1, got {self.latent_dim}")
        if self.arch in ("conv", "resnet"):
            if self.image_shape is None:
                raise ConfigError(f"arch='{self.arch}' needs input_shape=(C, H, W), got {self.input_shape}")
            if self.tied:
                raise ConfigError("tied weights are implemented for arch='mlp' only")
            if not self.hidden:
                raise ConfigError(f"arch='{self.arch}' needs at least one convolution block: hidden=(32, 32)")
        if isinstance(self.blocks, bool) or not isinstance(self.blocks, (int, np.integer)) or self.blocks < 0:
            raise ConfigError(f"blocks (residual blocks per stage) must be an integer ≥ 0, got {self.blocks!r}")
        self.blocks = int(self.blocks)
        if self.arch == "conv1d":
            if len(self.input_shape) != 2:
                raise ConfigError(f"arch='conv1d' needs input_shape=(C, T) (channels, samples), got {self.input_shape}")
            if self.tied:
                raise ConfigError("tied weights are implemented for arch='mlp' only")
            if not self.hidden:
                raise ConfigError("arch='conv1d' needs at least one convolution stage: hidden=(32, 64)")
        for name in (self.activation, self.code_activation, self.output_activation):
            check_activation(name)
        if self.loss not in RECONSTRUCTION_LOSSES:
            raise ConfigError(f"unknown loss {self.loss!r}; choose one of {', '.join(RECONSTRUCTION_LOSSES)}")
        if self.loss == "bce" and self.output_activation != "sigmoid":
            raise ConfigError("the bce loss needs outputs in [0, 1]: use output_activation='sigmoid'")
        if self.loss == "ssim" and self.image_shape is None:
            raise ConfigError("the ssim loss needs image data: input_shape must be (C, H, W)")
        sparsity = parse_sparsity(self.sparsity)
        if sparsity is not None and sparsity.kind == "kl" and self.code_activation != "sigmoid":
            # KL(ρ‖ρ̂) treats code activations as probabilities: they must lie in (0, 1).
            raise ConfigError("a kl sparsity penalty needs sigmoid code units: set code_activation='sigmoid'")
        _parse_noise(self.noise)

    def to_dict(self) -> dict:
        """The fields as a JSON-ready dict (tuples as lists); `from_dict` reads it back."""
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        d["hidden"] = list(self.hidden)
        d["value_range"] = list(self.value_range)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        """The config stored in a run folder. Format 1 folders also held `kind` and an untyped
        `extra` dict of the family's options; those options are fields of the family's config now.

        Parameters
        ----------
        d : dict
            A dict written by `to_dict` (or by a format 1 run folder).

        Returns
        -------
        ModelConfig
            An instance of the class it is called on (a subclass reads its own fields).

        Raises
        ------
        ConfigError
            Not a dict, unknown fields, or invalid values.
        """
        if not isinstance(d, dict):
            raise ConfigError(f"a model config must be a JSON object, got {type(d).__name__}")
        d = dict(d)
        d.pop("kind", None)
        d.update(d.pop("extra", None) or {})
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"{cls.__name__} has no fields {sorted(unknown)}")
        try:
            return cls(**d)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"{cls.__name__}: {exc}") from None


def _parse_noise(spec: str | None):
    from aekit.data.noise import parse_noise

    return parse_noise(spec)


class AutoEncoderModel(nn.Module):
    """Encoder + decoder + loss terms. Inputs may be N×D or N×C×H×W; outputs have the input's shape.

    Parameters
    ----------
    config : ModelConfig
        The network and its variant options.

    Attributes
    ----------
    encoder, decoder : torch.nn.Module
        The blocks `config.arch` picks; the decoder gives logits.
    output_activation : torch.nn.Module
        Applied to the decoder's logits.
    input_shift, input_scale : torch.Tensor
        Per-feature standardization buffers (zeros and ones unless `set_standardization` ran).
    noise : aekit.data.noise.Noise or None
        The training corruption.
    sparsity : aekit.models.losses.Sparsity or None
        The code penalty.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> model = AutoEncoderModel(ModelConfig(input_shape=(6,), hidden=(4,), latent_dim=2, noise="masking:0.5"))
    >>> x = torch.rand(5, 6)
    >>> model.encode(x).shape, model(x).shape
    (torch.Size([5, 2]), torch.Size([5, 6]))
    >>> sorted(model.training_terms(x, torch.Generator().manual_seed(0)))
    ['loss', 'recon']
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        n = config.n_features
        if config.arch == "conv":
            self.encoder = ConvEncoder(config.image_shape, config.hidden, config.activation, config.latent_dim,
                                       config.code_activation)
            self.decoder = ConvDecoder(self.encoder, config.hidden, config.activation, config.latent_dim)
        elif config.arch == "resnet":
            self.encoder = ResNetEncoder(config.image_shape, config.hidden, config.blocks, config.activation,
                                         config.latent_dim, config.code_activation)
            self.decoder = ResNetDecoder(self.encoder, config.hidden, config.blocks, config.activation,
                                         config.latent_dim)
        elif config.arch == "conv1d":
            self.encoder = Conv1dEncoder(config.input_shape, config.hidden, config.activation, config.latent_dim,
                                         config.code_activation)
            self.decoder = Conv1dDecoder(self.encoder, config.hidden, config.activation, config.latent_dim)
        else:
            self.encoder = mlp_encoder(n, config.hidden, config.latent_dim, config.activation, config.code_activation)
            self.decoder = mlp_decoder(
                config.latent_dim, config.hidden, n, config.activation, tied_to=self.encoder if config.tied else None
            )
        self.output_activation = activation(config.output_activation)
        # Per-feature standardization learned from the training data (identity unless set).
        self.register_buffer("input_shift", torch.zeros(n))
        self.register_buffer("input_scale", torch.ones(n))
        self.noise = _parse_noise(config.noise)
        self.sparsity = parse_sparsity(config.sparsity)

    # -- data space <-> model space -------------------------------------------------------
    def set_standardization(self, X: torch.Tensor) -> None:
        """Store the per-feature mean and standard deviation of training data X (N × ...);
        features with std ≤ 1e-8 get scale 1. Used only when `config.standardize` is set."""
        flat = X.reshape(X.shape[0], -1)
        if self.config.arch == "conv1d":
            # one mean and std per channel, repeated along time: a signal's statistics do not
            # depend on where a window starts
            c, t = self.config.input_shape
            per_channel = flat.reshape(-1, c, t).transpose(0, 1).reshape(c, -1)
            self.input_shift.copy_(per_channel.mean(1).repeat_interleave(t))
            std = per_channel.std(1, unbiased=False).repeat_interleave(t)
            self.input_scale.copy_(torch.where(std > 1e-8, std, torch.ones_like(std)))
            return
        self.input_shift.copy_(flat.mean(0))
        std = flat.std(0, unbiased=False)
        self.input_scale.copy_(torch.where(std > 1e-8, std, torch.ones_like(std)))

    def to_model_space(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs as the first layer takes them: flat rows, standardized when the model standardizes."""
        flat = x.reshape(x.shape[0], -1)
        if self.config.standardize:
            flat = (flat - self.input_shift) / self.input_scale
        return flat

    def _to_data(self, out: torch.Tensor) -> torch.Tensor:
        if self.config.standardize:
            out = out * self.input_scale + self.input_shift
        return out

    # -- the network ------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The codes of N×D rows or N×C×H×W images, N × code size."""
        return self.encoder(self.to_model_space(x))

    def decode(self, z: torch.Tensor, shape: tuple[int, ...] | None = None) -> torch.Tensor:
        """Outputs (after the output activation, in data space) of codes z, reshaped to `shape`,
        or to N × input_shape by default."""
        out = self._to_data(self.output_activation(self.decoder(z)))
        return out.reshape(shape) if shape is not None else out.reshape(-1, *self.config.input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction of x, same shape as x."""
        return self.decode(self.encode(x), shape=x.shape)

    def reconstruct_image(self, x: torch.Tensor) -> torch.Tensor:
        """A fully convolutional model (arch='conv' or 'resnet', no dense bottleneck) applied to N×C×H×W
        images of any H, W; the standardization buffers are per pixel, so it requires none."""
        if self.config.arch not in ("conv", "resnet") or self.config.latent_dim is not None or self.config.standardize:
            raise ConfigError("only a convolutional model without a dense bottleneck accepts images of other sizes")
        hw = tuple(x.shape[-2:])
        logits = self.decoder(self.encoder(x, image_hw=hw), image_hw=hw)
        return self.output_activation(logits).reshape(x.shape)

    # -- what the trainer optimizes -----------------------------------------------------------
    def _terms(self, x_in: torch.Tensor, x_target: torch.Tensor,
               observed: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        code = self.encoder(self.to_model_space(x_in))
        logits = self.decoder(code)
        output = self.output_activation(logits)
        target = self.to_model_space(x_target)
        lo, hi = self.config.value_range
        recon = reconstruction_loss(
            self.config.loss, logits, output, target, self.config.image_shape, data_range=(hi - lo) or 1.0,
            mask=observed,
        )
        terms = {"loss": recon, "recon": recon}
        if self.sparsity is not None:
            # The sparse objective (Ng's CS294A notes) is E = Σᵢ(xᵢ−yᵢ)² + β·Σⱼ KL(ρ‖ρ̂ⱼ), with the error summed over the
            # D inputs; our reconstruction losses are means per value, so the penalty is divided by
            # D to keep that balance (β means what it means in Ng's notes and UFLDL).
            penalty = self.sparsity.penalty(code)
            terms["sparsity"] = penalty
            terms["loss"] = recon + penalty / self.config.n_features
        return terms

    def training_terms(self, x: torch.Tensor, generator: torch.Generator | None = None,
                       observed: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Loss terms for one batch; with noise, the input is corrupted afresh and the target is
        the clean x (Vincent et al.'s denoising loss L(x, g(f(x̃)))). `observed` (bool, x's shape)
        restricts the reconstruction loss to the observed values (a table's missing cells)."""
        x_in = x
        if self.noise is not None:
            x_in = self.noise(x, rng=generator, value_range=self.config.value_range)
        return self._terms(x_in, x, observed)

    def validation_terms(self, x: torch.Tensor, observed: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Loss terms for one batch without noise: "loss", "recon" (and "sparsity" with a penalty);
        `observed` as in `training_terms`."""
        return self._terms(x, x, observed)


def check_latent_size(config: ModelConfig) -> None:
    """Warn when a plain autoencoder is not undercomplete (it can then learn the identity).

    Parameters
    ----------
    config : ModelConfig
        Checked: a code at least as large as the input, with neither noise nor sparsity,
        gives an `AekitWarning`.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     check_latent_size(ModelConfig(input_shape=(4,), hidden=(8,), latent_dim=4))
    >>> [type(w.message).__name__ for w in caught]
    ['AekitWarning']
    """
    if config.code_size >= config.n_features and config.noise is None and config.sparsity is None:
        warnings.warn(
            f"the code ({config.code_size} values) is not smaller than the {config.n_features} input "
            "features: without noise or sparsity, the autoencoder can learn the identity map",
            AekitWarning,
            stacklevel=3,
        )


def count_parameters(model: nn.Module) -> int:
    """Number of values in a module's parameters (shared ones counted once).

    Parameters
    ----------
    model : torch.nn.Module

    Returns
    -------
    int

    Examples
    --------
    >>> count_parameters(nn.Linear(3, 2))   # 3·2 weights + 2 biases
    8
    """
    return sum(p.numel() for p in model.parameters())


def finite_or_nan(v: float) -> float:
    """`v`, or NaN when it is ±inf or NaN (for metrics written to JSON).

    Parameters
    ----------
    v : float

    Returns
    -------
    float

    Examples
    --------
    >>> finite_or_nan(0.5), finite_or_nan(float("inf"))
    (0.5, nan)
    """
    return v if math.isfinite(v) else float("nan")
