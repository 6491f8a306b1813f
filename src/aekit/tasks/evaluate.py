"""Test-split reconstruction error of a trained model beside PCA with the same latent size."""
from __future__ import annotations

import numpy as np

from aekit.data import Dataset
from aekit.metrics import reconstruction_errors
from aekit.models.pca import fit_pca, pca_reconstruct


def model_input(est, data: Dataset) -> np.ndarray:
    """The data in the layout the estimator was fitted on."""
    return data.X if getattr(est, "input_ndim_", 2) == 4 and data.X.ndim == 4 else data.flat()


def evaluate_reconstruction(est, train: Dataset, test: Dataset) -> dict:
    """Errors on `test` for the model and for PCA fitted on `train` with the model's latent size."""
    k = int(est.model_config_.code_size)  # PCA gets as many dimensions as the code (capped at D)
    recon = est.reconstruct(model_input(est, test))
    pca = fit_pca(train.flat(), k)
    pca_recon = pca_reconstruct(pca, test.flat())
    model_err = reconstruction_errors(test.flat(), recon)
    pca_err = reconstruction_errors(test.flat(), pca_recon)
    return {
        "data": test.name,
        "split": test.split,
        "n_test": len(test),
        "latent_dim": k,
        "model": model_err,
        "pca": {**pca_err, "n_components": int(pca.n_components_)},
        "model_vs_pca": model_err["mse_per_value"] / max(pca_err["mse_per_value"], 1e-300),
    }
