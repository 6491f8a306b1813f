"""aekit's estimators: scikit-learn-style fronts over the models and the trainer.

    base         BaseAutoEncoder: the fit template, batched inference, save / load
    autoencoder  AutoEncoder (plain, deep, tied, denoising, sparse, conv, stacked)
    vae          VariationalAutoEncoder (ELBO, log-likelihood, sampling; conditional)
    colorizer    Colorizer (L → ab on colour photos)
    classifier   AutoEncoderClassifier (encoder + softmax, few labels)
    detector     AutoEncoderDetector (PyOD-style anomaly detection over any of the above)
    presets      named configurations (ae, dae, sae, stacked, dbn, conv-*, vae, cvae, colorizer)
"""
from aekit.estimators.autoencoder import AutoEncoder
from aekit.estimators.base import BaseAutoEncoder
from aekit.estimators.classifier import AutoEncoderClassifier
from aekit.estimators.colorizer import Colorizer
from aekit.estimators.detector import AutoEncoderDetector, detector_model
from aekit.estimators.presets import PRESETS, Preset, make_preset
from aekit.estimators.vae import VariationalAutoEncoder

__all__ = ["PRESETS", "AutoEncoder", "AutoEncoderClassifier", "AutoEncoderDetector", "BaseAutoEncoder", "Colorizer",
           "Preset", "VariationalAutoEncoder", "detector_model", "make_preset"]
