"""Colorization as a configuration of the convolutional autoencoder.

The model sees the lightness L of an image (CIE Lab, scaled to [0, 1]) and predicts its two
colour channels a, b (scaled by 1/AB_SCALE to about [-1, 1]): the Keras denoiser's conv blocks (Conv 3×3
+ ReLU + MaxPool, mirrored with up-sampling), with a 2-channel last layer and no dense
bottleneck, so it is fully convolutional and colorizes images of any size.

The prediction is `ab_offset + ab_gain · tanh(network)`. `ab_offset` (`ColorizerConfig`, default 0 =
grey) may be set by the Colorizer to the training photos' mean colour, so the network predicts
the residual from that constant colour (training starts near it: the residual is small at
initialization). `ab_gain` (default 1) is a confidence factor in [0, 1] the
Colorizer can fit afterwards on validation photos. The loss (`ab_loss`) is "mse" or
"huber" (δ = HUBER_DELTA).

Training data are N×3×H×W tensors of scaled Lab (`rgb_to_lab_scaled`); `_terms` takes channel
0 as the input and channels 1–2 as the target, so aekit's Trainer trains it unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from aekit.data.photos import AB_SCALE, L_SCALE
from aekit.errors import ConfigError
from aekit.models.autoencoder import AutoEncoderModel, ModelConfig

AB_LOSSES = ("mse", "huber")
HUBER_DELTA = 0.1  # scaled ab units: 11 units of a, b


@dataclass
class ColorizerConfig(ModelConfig):
    """A colorizer's network: the conv autoencoder on L with a 2-channel ab output.

    Takes every `ModelConfig` option (build it with `colorizer_config`, which sets the ones a
    colorizer needs: conv, 1 input channel, no dense code, tanh output) and these:

    Parameters
    ----------
    out_channels : int, default 2
        Predicted channels (a and b).
    l_scale, ab_scale : float, default L_SCALE, AB_SCALE
        The Lab scaling the model was trained with (L/100, ab/110).
    ab_offset : list of float, default [0.0, 0.0]
        The constant colour (scaled a, b) the network predicts a residual from; 0 = grey.
    ab_loss : {"mse", "huber"}, default "mse"
        Training loss on the scaled ab (Huber with δ = HUBER_DELTA).
    ab_gain : float, default 1.0
        Confidence factor in [0, 1] on the residual.

    Examples
    --------
    >>> cfg = colorizer_config(crop=16, hidden=(8, 8), ab_offset=(0.1, -0.2))
    >>> cfg.input_shape, cfg.latent_dim, cfg.ab_offset
    ((1, 16, 16), None, [0.1, -0.2])
    """

    out_channels: int = 2
    l_scale: float = L_SCALE
    ab_scale: float = AB_SCALE
    ab_offset: list = field(default_factory=lambda: [0.0, 0.0])  # run folders before ab_offset: grey
    ab_loss: str = "mse"
    ab_gain: float = 1.0

    def validate(self) -> None:
        """Check the base options and the colorizer's; raises ConfigError naming the first problem."""
        super().validate()
        if self.ab_loss not in AB_LOSSES:
            raise ConfigError(f"unknown colorizer loss {self.ab_loss!r}; choose one of {', '.join(AB_LOSSES)}")
        offset = [float(v) for v in np.asarray(self.ab_offset, np.float64).reshape(-1)]
        if len(offset) != int(self.out_channels) or not np.isfinite(offset).all():
            raise ConfigError(f"ab_offset must be {self.out_channels} finite numbers (scaled a, b), got {self.ab_offset!r}")
        self.ab_offset = offset
        if not 0.0 <= float(self.ab_gain) <= 1.0:
            raise ConfigError(f"ab_gain must be in [0, 1], got {self.ab_gain!r}")
        self.ab_gain = float(self.ab_gain)


def colorizer_config(crop: int = 32, hidden=(32, 64), activation: str = "relu", ab_offset=(0.0, 0.0),
                     ab_loss: str = "mse", ab_gain: float = 1.0) -> ColorizerConfig:
    """The config of a fully convolutional colorizer trained on square crops.

    Parameters
    ----------
    crop : int, default 32
        Side of the training crops (the model colorizes any size).
    hidden : sequence of int, default (32, 64)
        Channels of the convolution blocks.
    activation : str, default "relu"
        Activation of the blocks.
    ab_offset : sequence of float, default (0.0, 0.0)
        The constant colour (scaled a, b) the network predicts a residual from.
    ab_loss : {"mse", "huber"}, default "mse"
        Training loss.
    ab_gain : float, default 1.0
        Confidence factor in [0, 1].

    Returns
    -------
    ColorizerConfig

    Examples
    --------
    >>> cfg = colorizer_config(crop=24)
    >>> cfg.arch, cfg.input_shape, cfg.hidden, cfg.output_activation
    ('conv', (1, 24, 24), (32, 64), 'tanh')
    """
    return ColorizerConfig(
        input_shape=(1, int(crop), int(crop)), arch="conv", hidden=tuple(hidden), latent_dim=None,
        activation=activation, output_activation="tanh", loss="mse", ab_offset=list(np.asarray(ab_offset).ravel()),
        ab_loss=ab_loss, ab_gain=float(ab_gain),
    )


class ColorizerModel(AutoEncoderModel):
    """L → ab. The conv autoencoder with 1 input channel and 2 (tanh) output channels.

    Parameters
    ----------
    config : ColorizerConfig
        A fully convolutional config on 1-channel input, without standardization, noise or
        sparsity (as `colorizer_config` builds).

    Attributes
    ----------
    out_channels : int
        Predicted channels.
    ab_offset : torch.Tensor
        The constant colour, shape (1, out_channels, 1, 1); not in the state dict.
    ab_gain : float
        Factor on the network's tanh output.

    Examples
    --------
    >>> model = ColorizerModel(colorizer_config(crop=8, hidden=(4,), ab_offset=(0.1, -0.1), ab_gain=0.0))
    >>> with torch.no_grad():
    ...     ab = model.predict_ab(torch.rand(2, 1, 10, 12))   # any size; gain 0 gives the offset
    >>> ab.shape, [round(float(v), 2) for v in ab.mean((0, 2, 3))]
    (torch.Size([2, 2, 10, 12]), [0.1, -0.1])
    """

    def __init__(self, config: ColorizerConfig):
        if not isinstance(config, ColorizerConfig):
            raise ConfigError(f"a colorizer needs a ColorizerConfig, got {type(config).__name__}")
        if config.arch != "conv" or config.latent_dim is not None or config.input_shape[0] != 1:
            raise ConfigError("a colorizer is a fully convolutional model on 1-channel (L) input")
        if config.standardize or config.noise or config.sparsity:
            raise ConfigError("a colorizer takes no standardization, noise or sparsity")
        super().__init__(config)
        out_c = int(config.out_channels)
        last = self.decoder.features[-1]
        self.decoder.features[-1] = nn.Conv2d(last.in_channels, out_c, 3, padding=1)
        self.decoder.output_shape = (out_c, *config.input_shape[1:])
        self.out_channels = out_c
        offset = config.ab_offset
        # not in the state dict: the run folder's config.json holds it
        self.register_buffer("ab_offset", torch.tensor(offset, dtype=torch.float32).view(1, out_c, 1, 1),
                             persistent=False)
        self.ab_gain = config.ab_gain
        self.ab_loss = config.ab_loss

    def residual(self, L: torch.Tensor) -> torch.Tensor:
        """The network's tanh output (before the gain and the offset), N×2×H×W."""
        h, w = L.shape[-2:]
        z = self.encoder(L, image_hw=(h, w))
        return self.output_activation(self.decoder(z, image_hw=(h, w))).reshape(L.shape[0], self.out_channels, h, w)

    def predict_ab(self, L: torch.Tensor) -> torch.Tensor:
        """N×1×H×W scaled L (any H, W) → N×2×H×W scaled ab."""
        r = self.residual(L)
        if self.ab_gain != 1.0:
            r = r * self.ab_gain
        return r + self.ab_offset.to(r.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`predict_ab` of N×1×H×W scaled L."""
        return self.predict_ab(x)

    def _terms(self, x_in: torch.Tensor, x_target: torch.Tensor) -> dict[str, torch.Tensor]:
        pred = self.predict_ab(x_in)
        if self.ab_loss == "huber":
            loss = torch.nn.functional.huber_loss(pred, x_target, delta=HUBER_DELTA)
            return {"loss": loss, "recon": torch.mean((pred - x_target) ** 2).detach()}
        recon = torch.mean((pred - x_target) ** 2)
        return {"loss": recon, "recon": recon}

    def training_terms(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """x: N×3×H×W scaled Lab; each crop is flipped left-right with probability ½ (seeded)."""
        flip = torch.rand(x.shape[0], generator=generator).to(x.device) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        return self._terms(x[:, :1], x[:, 1:])

    def validation_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Loss terms ("loss", "recon": the ab mean squared error) on N×3×H×W scaled Lab, unflipped."""
        return self._terms(x[:, :1], x[:, 1:])


__all__ = ["AB_LOSSES", "AB_SCALE", "ColorizerConfig", "ColorizerModel", "HUBER_DELTA", "L_SCALE", "colorizer_config"]
