"""Colorization as a configuration of the convolutional autoencoder.

The model sees the lightness L of an image (CIE Lab, scaled to [0, 1]) and predicts its two
colour channels a, b (scaled by 1/AB_SCALE to about [-1, 1]): the seeds' conv blocks (Conv 3×3
+ ReLU + MaxPool, mirrored with up-sampling), with a 2-channel last layer and no dense
bottleneck, so it is fully convolutional and colorizes images of any size.

The prediction is `ab_offset + ab_gain · tanh(network)`. `ab_offset` (config.extra, default 0 =
grey) may be set by the Colorizer to the training photos' mean colour, so the network predicts
the residual from that constant colour (training starts near it: the residual is small at
initialization). `ab_gain` (default 1) is a confidence factor in [0, 1] the
Colorizer can fit afterwards on validation photos. The loss (extra["ab_loss"]) is "mse" or
"huber" (δ = HUBER_DELTA).

Training data are N×3×H×W tensors of scaled Lab (`rgb_to_lab_scaled`); `_terms` takes channel
0 as the input and channels 1–2 as the target, so aekit's Trainer trains it unchanged.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from aekit.errors import ConfigError, DataError
from aekit.models.autoencoder import AutoEncoderModel, ModelConfig

L_SCALE = 100.0  # L in [0, 100] → [0, 1]
AB_SCALE = 110.0  # a, b in about [-110, 110] → [-1, 1]
KIND = "colorizer"
AB_LOSSES = ("mse", "huber")
HUBER_DELTA = 0.1  # scaled ab units: 11 units of a, b


def colorizer_config(crop: int = 32, hidden=(32, 64), activation: str = "relu", ab_offset=(0.0, 0.0),
                     ab_loss: str = "mse", ab_gain: float = 1.0) -> ModelConfig:
    if ab_loss not in AB_LOSSES:
        raise ConfigError(f"unknown colorizer loss {ab_loss!r}; choose one of {', '.join(AB_LOSSES)}")
    offset = [float(v) for v in np.asarray(ab_offset, np.float64).reshape(-1)]
    if len(offset) != 2 or not np.isfinite(offset).all():
        raise ConfigError(f"ab_offset must be two finite numbers (scaled a, b), got {ab_offset!r}")
    if not 0.0 <= float(ab_gain) <= 1.0:
        raise ConfigError(f"ab_gain must be in [0, 1], got {ab_gain!r}")
    return ModelConfig(
        input_shape=(1, int(crop), int(crop)), arch="conv", hidden=tuple(hidden), latent_dim=None,
        activation=activation, output_activation="tanh", loss="mse", kind=KIND,
        extra={"out_channels": 2, "l_scale": L_SCALE, "ab_scale": AB_SCALE, "ab_offset": offset, "ab_loss": ab_loss,
               "ab_gain": float(ab_gain)},
    )


class ColorizerModel(AutoEncoderModel):
    """L → ab. The conv autoencoder with 1 input channel and 2 (tanh) output channels."""

    def __init__(self, config: ModelConfig):
        if config.arch != "conv" or config.latent_dim is not None or config.input_shape[0] != 1:
            raise ConfigError("a colorizer is a fully convolutional model on 1-channel (L) input")
        if config.standardize or config.noise or config.sparsity:
            raise ConfigError("a colorizer takes no standardization, noise or sparsity")
        super().__init__(config)
        out_c = int(config.extra.get("out_channels", 2))
        last = self.decoder.features[-1]
        self.decoder.features[-1] = nn.Conv2d(last.in_channels, out_c, 3, padding=1)
        self.decoder.output_shape = (out_c, *config.input_shape[1:])
        self.out_channels = out_c
        offset = config.extra.get("ab_offset", [0.0] * out_c)  # run folders before ab_offset: grey
        if len(offset) != out_c:
            raise ConfigError(f"ab_offset has {len(offset)} values for {out_c} output channels")
        # not in the state dict: the run folder's config.json holds it
        self.register_buffer("ab_offset", torch.tensor(offset, dtype=torch.float32).view(1, out_c, 1, 1),
                             persistent=False)
        self.ab_gain = float(config.extra.get("ab_gain", 1.0))
        self.ab_loss = config.extra.get("ab_loss", "mse")
        if self.ab_loss not in AB_LOSSES:
            raise ConfigError(f"unknown colorizer loss {self.ab_loss!r}; choose one of {', '.join(AB_LOSSES)}")

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
        return self._terms(x[:, :1], x[:, 1:])


# -- colour spaces (scikit-image) -----------------------------------------------------------------
def as_rgb_float(image: np.ndarray) -> np.ndarray:
    """H×W×3 float64 in [0, 1] from uint8 / float / RGBA input."""
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise DataError(f"expected an H×W×3 colour image, got shape {a.shape}")
    a = a[..., :3]
    if a.dtype == np.uint8:
        return a.astype(np.float64) / 255.0
    if a.dtype == np.uint16:
        return a.astype(np.float64) / 65535.0
    return np.clip(a.astype(np.float64), 0.0, 1.0)


def rgb_to_lab_scaled(rgb: np.ndarray) -> np.ndarray:
    """H×W×3 RGB → 3×H×W float32: L/100, a/110, b/110."""
    from skimage.color import rgb2lab

    lab = rgb2lab(as_rgb_float(rgb))
    out = np.empty((3, *lab.shape[:2]), np.float32)
    out[0] = lab[..., 0] / L_SCALE
    out[1:] = lab[..., 1:].transpose(2, 0, 1) / AB_SCALE
    return out


def lab_scaled_to_rgb(L: np.ndarray, ab: np.ndarray | None = None) -> np.ndarray:
    """Scaled L (H×W) and ab (2×H×W, None = grey) → H×W×3 RGB float in [0, 1]."""
    from skimage.color import lab2rgb

    lab = np.zeros((*L.shape, 3), np.float64)
    lab[..., 0] = np.clip(L, 0.0, 1.0) * L_SCALE
    if ab is not None:
        lab[..., 1:] = np.asarray(ab, np.float64).transpose(1, 2, 0) * AB_SCALE
    return np.clip(lab2rgb(lab), 0.0, 1.0)


def lightness(image: np.ndarray) -> tuple[np.ndarray, bool]:
    """Scaled L (H×W float32) of a grey (H×W, H×W×1) or colour (H×W×3/4) image, and whether
    the image was in colour. A grey value g is the L of the RGB colour (g, g, g)."""
    from skimage.color import rgb2lab

    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim == 3 and a.shape[2] == 2:  # grey + alpha
        a = a[..., 0]
    if a.ndim == 2:
        g = a.astype(np.float64) / 255.0 if a.dtype == np.uint8 else np.clip(a.astype(np.float64), 0.0, 1.0)
        L = rgb2lab(np.repeat(g[..., None], 3, axis=2))[..., 0]
        return (L / L_SCALE).astype(np.float32), False
    if a.ndim == 3 and a.shape[2] in (3, 4):
        return rgb_to_lab_scaled(a)[0], True
    raise DataError(f"expected a grey (H×W) or colour (H×W×3) image, got shape {a.shape}")


__all__ = ["AB_LOSSES", "AB_SCALE", "ColorizerModel", "L_SCALE", "colorizer_config", "lab_scaled_to_rgb", "lightness",
           "rgb_to_lab_scaled"]
