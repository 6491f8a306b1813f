"""`aekit demo`: the family trained on the built-in digits, one report beside PCA."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from aekit.estimators import AutoEncoder
from aekit.report.run_report import ReportEntry, build_report
from aekit.tasks.evaluate import evaluate_reconstruction
from aekit.tasks.train import data_record, load_splits

# (name, run-folder slug, estimator parameters, what the entry shows)
DEMO_MODELS: list[tuple[str, str, dict, str]] = [
    ("AE, 2-D code", "ae-2d", {"hidden": (128, 64), "latent_dim": 2},
     "An undercomplete autoencoder squeezing the 64 pixels into 2 numbers: its code can be drawn directly, "
     "beside PCA's first two components."),
    ("AE, 8-D code", "ae-8d", {"hidden": (128, 64), "latent_dim": 8},
     "The same network with an 8-D code, against PCA with 8 components: the non-linear encoder keeps more of "
     "each image than the best linear projection of the same size."),
    ("Tied AE, 8-D code", "tied-8d", {"hidden": (128, 64), "latent_dim": 8, "tied": True},
     "Tied weights: the decoder reuses the transposed encoder matrices (W′ = Wᵀ), halving the weights."),
]


def run_demo(
    out: str | Path = "runs/demo",
    *,
    epochs: int = 150,
    seed: int = 0,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> tuple[Path, dict]:
    out = Path(out)
    train, val, test = load_splits("digits", seed=seed)
    log(f"digits: {len(train)} train / {len(val)} validation / {len(test)} test images of 8×8 pixels")
    entries, summary = [], {}
    for name, slug, params, text in DEMO_MODELS:
        t0 = time.perf_counter()
        est = AutoEncoder(**params, epochs=epochs, batch_size=64, lr=2e-3, patience=20, random_state=seed,
                          verbose=int(progress))
        est.fit(train.X, X_val=val.X)
        metrics = evaluate_reconstruction(est, train, test)
        metrics["train_seconds"] = time.perf_counter() - t0
        est.save(out / slug, data=data_record("digits", None, seed, train), metrics=metrics)
        log(f"{name}: test MSE {metrics['model']['mse_per_value']:.4f} vs PCA-{metrics['latent_dim']} "
            f"{metrics['pca']['mse_per_value']:.4f} ({metrics['train_seconds']:.0f} s) → {out / slug}")
        entries.append(ReportEntry(name, est, metrics, text, slug=slug))
        summary[name] = metrics
    path = build_report(
        out / "report.html", entries, train, test, title="aekit demo: autoencoders beside PCA on the digits",
        intro="Each model is trained on the training split (validation split for early stopping) and measured on the "
        "held-out test split, always beside PCA with the same number of dimensions: PCA is the linear encoder an "
        "autoencoder must beat.",
    )
    return path, summary
