"""Presets: named configurations of the estimators (DESIGN.md "presets").

A preset is an estimator class and the parameters that differ from its defaults; a user's
parameters override the preset's. `aekit train --model NAME` and `Estimator.from_preset(NAME)`
read this table and nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from aekit.errors import ConfigError


@dataclass(frozen=True)
class Preset:
    """A named configuration: the estimator class's name and its parameters."""

    estimator: str
    params: dict = field(default_factory=dict)
    help: str = ""


PRESETS: dict[str, Preset] = {
    "ae": Preset("AutoEncoder", {}, "plain autoencoder"),
    "dae": Preset("AutoEncoder", {"noise": "gaussian:0.5"}, "denoising AE (gaussian noise 0.5)"),
    "sae": Preset("AutoEncoder", {"sparsity": "kl:0.05:3"}, "sparse AE (KL sparsity ρ = 0.05, β = 3)"),
    # Stacked autoencoders pretrained layer by layer, then fine-tuned end to end: Vincent et al.'s
    # stacked denoising AE and Hinton & Salakhutdinov's RBM-pretrained deep AE.
    "stacked": Preset("AutoEncoder", {"hidden": (256, 128), "latent_dim": 32, "activation": "sigmoid",
                                      "noise": "masking:0.25", "pretrain": "greedy"},
                      "stacked denoising AE: greedy layer-wise pretraining, masking 25 %"),
    "dbn": Preset("AutoEncoder", {"hidden": (256, 128), "latent_dim": 32, "activation": "sigmoid", "pretrain": "rbm"},
                  "stacked-RBM pretraining (Hinton & Salakhutdinov 2006)"),
    # The Keras convolutional denoiser: conv 32-32 with max-pooling, mirrored with up-sampling, BCE.
    "conv-ae": Preset("AutoEncoder", {"arch": "conv", "hidden": (32, 32), "latent_dim": None, "loss": "bce"},
                      "convolutional AE (conv 32-32, no dense code)"),
    "conv-dae": Preset("AutoEncoder", {"arch": "conv", "hidden": (32, 32), "latent_dim": None, "loss": "bce",
                                       "noise": "gaussian:0.5"},
                       "convolutional denoising AE (the Keras denoiser)"),
    # 1-D convolutional models for signals (N×C×T windows): strided convolutions with residual
    # blocks, fully convolutional; the AE's code is half the input's size, the DAE's is not narrowed
    # (the noise keeps it from learning the identity)
    "conv1d-ae": Preset("AutoEncoder", {"arch": "conv1d", "hidden": (32, 32, 16, 8), "latent_dim": None},
                        "1-D convolutional AE for signals (code: 8 channels at 1/16 of the length)"),
    "conv1d-dae": Preset("AutoEncoder", {"arch": "conv1d", "hidden": (32, 64, 64), "latent_dim": None,
                                         "noise": "gaussian:0.1"},
                         "1-D convolutional denoising AE for signals (gaussian noise 0.1)"),
    "vae": Preset("VariationalAutoEncoder", {"hidden": (256, 128), "latent_dim": 8}, "variational AE"),
    "conv-vae": Preset("VariationalAutoEncoder", {"arch": "conv", "hidden": (32, 64), "latent_dim": 8},
                       "convolutional VAE"),
    # Residual conv nets for colour images: four stride-2 stages of two GroupNorm residual blocks each
    # (a 32 px image gives a 2×2 map), a dense code of 128 (a 32×32×3 crop holds 3072 values).
    "resnet-ae": Preset("AutoEncoder", {"arch": "resnet", "hidden": (32, 64, 128, 128), "blocks": 2,
                                        "latent_dim": 128},
                        "residual conv AE for colour images (GroupNorm residual blocks, dense code 128)"),
    "resnet-vae": Preset("VariationalAutoEncoder", {"arch": "resnet", "hidden": (32, 64, 128, 128), "blocks": 2,
                                                    "latent_dim": 64, "likelihood": "gaussian"},
                         "residual conv VAE for colour images (Gaussian likelihood, z of 64)"),
    "cvae": Preset("VariationalAutoEncoder", {"hidden": (256, 128), "latent_dim": 8, "conditional": True},
                   "conditional VAE"),
    # the recipe RESULTS.md measured as `aekit train --model colorizer` (100 epochs, batch 128, lr 1e-3)
    "colorizer": Preset("Colorizer", {"epochs": 100, "batch_size": 128, "lr": 1e-3},
                        "L → ab colour prediction on colour photos"),
}


def estimator_classes() -> dict[str, type]:
    """The estimator classes a run folder or preset may name (an allow-list: nothing else is looked up)."""
    from aekit.estimators.autoencoder import AutoEncoder
    from aekit.estimators.colorizer import Colorizer
    from aekit.estimators.vae import VariationalAutoEncoder

    return {c.__name__: c for c in (AutoEncoder, VariationalAutoEncoder, Colorizer)}


def preset_class(name: str) -> type:
    """The estimator class of preset `name` (ConfigError naming the presets when unknown)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return estimator_classes()[PRESETS[name].estimator]


def make_preset(name: str, base: type | None = None, **params):
    """The estimator of preset `name` with `params` overriding the preset's.

    `base` is the class `from_preset` was called on: `AutoEncoder.from_preset("vae")` hands the
    VAE preset on to its class, `VariationalAutoEncoder.from_preset("ae")` is an error.
    """
    cls = preset_class(name)
    if base is not None and not issubclass(cls, base) and base.__name__ != "AutoEncoder":
        raise ConfigError(f"{name!r} is a {cls.__name__} preset, not a {base.__name__} preset")
    return cls(**{**PRESETS[name].params, **params})


__all__ = ["PRESETS", "Preset", "estimator_classes", "make_preset", "preset_class"]
