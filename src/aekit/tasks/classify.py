"""Few-label classification with a pretrained encoder, beside logistic regression (`aekit classify`)."""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from aekit.report.task_results import CLASSIFY_METHODS
from aekit.estimators.classifier import AutoEncoderClassifier, few_labels
from aekit.data import Dataset
from aekit.errors import ConfigError, DataError

# result columns, in the order tables and plots show them
METHODS = CLASSIFY_METHODS


def parse_counts(text: str) -> list[int]:
    try:
        counts = [int(t) for t in str(text).replace(" ", "").split(",") if t]
    except ValueError:
        raise ConfigError(f"--labels-per-class must be comma-separated integers like 1,10,100 (got {text!r})") from None
    if not counts or any(c < 1 for c in counts):
        raise ConfigError(f"--labels-per-class needs positive counts, got {text!r}")
    return counts


def _labelled(ds: Dataset, what: str) -> np.ndarray:
    if ds.y is None:
        raise DataError(f"the {what} split of {ds.name} has no labels: few-label classification needs labelled data")
    return np.asarray(ds.y)


def check_encoder_input(est, ds: Dataset) -> None:
    n_in = int(getattr(est, "n_features_in_", est.model_config_.n_features))
    n_data = int(np.prod(ds.sample_shape))
    if n_in != n_data:
        raise DataError(f"the run's encoder takes {n_in} input values per sample; {ds.name} samples have "
                        f"{n_data} (shape {tuple(ds.sample_shape)})")
    image_shape = getattr(est.model_config_, "image_shape", None)
    if getattr(est.model_config_, "arch", "mlp") == "conv" and tuple(ds.sample_shape) != tuple(image_shape):
        raise DataError(f"the run's convolutional encoder takes images of shape {tuple(image_shape)}; {ds.name} "
                        f"samples have shape {tuple(ds.sample_shape)}")


def few_label_curve(
    est,
    train: Dataset,
    test: Dataset,
    labels_per_class: Sequence[int],
    *,
    freeze: bool = False,
    pseudo_labels: str | None = "auto",
    epochs: int = 100,
    seed: int = 0,
    device: str = "cpu",
    progress: bool = False,
    log: Callable[[str], None] = print,
) -> dict:
    """Test accuracy for each count of labels per class: the fitted autoencoder `est`'s encoder with
    a softmax layer (with and without pseudo-labels on the unlabelled training rows), PCA codes of
    the code's size + logistic regression, and raw inputs + logistic regression. The labelled rows
    are drawn from the training split (seeded); every other training row is unlabelled."""
    from sklearn.linear_model import LogisticRegression

    from aekit.models.pca import fit_pca

    y_train, y_test = _labelled(train, "training"), _labelled(test, "test")
    check_encoder_input(est, train)
    # class indices: a class may be named -1, which the classifier reads as "unlabelled"
    names, y_train = np.unique(y_train, return_inverse=True)
    unknown = set(np.unique(y_test).tolist()) - set(names.tolist())
    if unknown:
        raise DataError(f"the test split has classes the training split lacks: {sorted(unknown)[:5]}")
    y_test = np.searchsorted(names, y_test)
    X, Xt = train.flat(), test.flat()
    code_size = int(est.model_config_.code_size)
    pca = fit_pca(X, min(code_size, X.shape[1], X.shape[0]))  # unsupervised, on all rows: as the autoencoder
    P, Pt = pca.transform(X), pca.transform(Xt)
    rows = []
    for n in labels_per_class:
        y_semi = few_labels(y_train, int(n), random_state=seed)
        lab = y_semi != -1
        row = {"labels_per_class": int(n), "n_labelled": int(lab.sum())}
        t0 = time.perf_counter()
        for name, mode in (("encoder + pseudo-labels", pseudo_labels), ("encoder fine-tuned", None)):
            if name == "encoder + pseudo-labels" and mode is None:
                continue
            clf = AutoEncoderClassifier(est, freeze=freeze, pseudo_labels=mode, epochs=epochs, random_state=seed,
                                        device=device, verbose=int(progress)).fit(X, y_semi)
            row[name] = float(clf.score(Xt, y_test))
        row["seconds"] = time.perf_counter() - t0
        for name, A, At in (("PCA + logistic regression", P, Pt), ("raw + logistic regression", X, Xt)):
            lr = LogisticRegression(max_iter=2000).fit(A[lab], y_train[lab])
            row[name] = float(lr.score(At, y_test))
        rows.append(row)
        log(f"{n} labels per class: " + ", ".join(f"{k} {row[k]:.3f}" for k in METHODS if k in row))
    return {"data": train.name, "n_train": len(X), "n_test": len(Xt), "code_size": code_size, "freeze": freeze,
            "pseudo_labels": pseudo_labels, "epochs": epochs, "seed": seed, "rows": rows}


def plot_curve(result: dict, path: str | Path, title: str | None = None) -> Path:
    """Test accuracy against labels per class (log axis), one line per method."""
    from aekit.report.figures import save_figure
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [r["labels_per_class"] for r in result["rows"]]
    for name, style in zip(METHODS, ("o-", "s--", "^-", "v:")):
        ys = [r.get(name) for r in result["rows"]]
        if all(v is not None for v in ys):
            ax.plot(xs, ys, style, label=name)
    ax.set_xscale("log")
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.set_xlabel("labelled samples per class")
    ax.set_ylabel("test accuracy")
    ax.set_title(title or f"{result['data']}: few-label classification (code size {result['code_size']})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


__all__ = ["METHODS", "check_encoder_input", "few_label_curve", "parse_counts", "plot_curve"]
