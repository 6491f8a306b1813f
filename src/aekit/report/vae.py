"""Pictures and the report section of a variational autoencoder.

    sample_grid      64 decoder means of z ~ N(0, I) (of one class for a conditional VAE)
    latent_map       for a 2-D latent: the decoder's output over a grid of the prior's quantiles
                     Φ⁻¹(linspace(0.05, 0.95, n)) in each axis, as one big image (after Kingma &
                     Welling 2014, figure 4)
    latent_scatter   the test set's posterior means coloured by label, beside PCA's
    vae_section      likelihoods, loss curves, samples, latent map and scatter
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from aekit.data import Dataset
from aekit.errors import ConfigError, DataError
from aekit.evaluation import evaluate_vae, model_input
from aekit.models.pca import fit_pca
from aekit.report import figures
from aekit.report.facts import facts_table
from aekit.report.latent_map import latent_map_html
from aekit.report.grid import save_image_grid
from aekit.report.html import Section, Table

LATENT_MAP_QUANTILES = (0.05, 0.95)


def require_vae(est, what: str = "this"):
    """The estimator, if it is a VAE; ConfigError saying how to train one otherwise.

    Parameters
    ----------
    est : object
        A fitted estimator.
    what : str, default "this"
        What needs the VAE, for the message.

    Returns
    -------
    object
        `est`.

    Examples
    --------
    >>> require_vae(object(), "sampling")
    Traceback (most recent call last):
    ...
    aekit.errors.ConfigError: sampling needs a variational autoencoder (train one with --model vae, conv-vae or cvae)
    """
    if getattr(est, "_kind", None) != "vae":
        raise ConfigError(f"{what} needs a variational autoencoder (train one with --model vae, conv-vae or cvae)")
    return est


def is_conditional(est) -> bool:
    """True for a conditional VAE (its config has classes).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from aekit.models.vae import VAEConfig
    >>> is_conditional(SimpleNamespace(model_config_=VAEConfig(input_shape=(4,), n_classes=3)))
    True
    """
    return bool(getattr(est.model_config_, "n_classes", 0))


def as_images(est, arr: np.ndarray) -> np.ndarray:
    """Model outputs as N×C×H×W images (flat rows of square size are taken as grey images).

    Parameters
    ----------
    est : object
        A fitted estimator (its ``model_config_.image_shape``).
    arr : ndarray
        Outputs, N first.

    Returns
    -------
    ndarray

    Raises
    ------
    DataError
        Rows that are neither of the config's image shape nor square.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from aekit.models.vae import VAEConfig
    >>> est = SimpleNamespace(model_config_=VAEConfig(input_shape=(64,)))
    >>> as_images(est, np.zeros((3, 64))).shape
    (3, 1, 8, 8)
    """
    arr = np.asarray(arr)
    shape = est.model_config_.image_shape
    if shape is not None:
        return arr.reshape(len(arr), *shape)
    d = arr.reshape(len(arr), -1).shape[1]
    side = int(round(np.sqrt(d)))
    if side * side != d:
        raise DataError(f"the model's samples ({d} values each) are not images; no picture can be drawn")
    return arr.reshape(len(arr), 1, side, side)


def _value_range(est) -> tuple[float, float]:
    return tuple(est.model_config_.value_range)  # type: ignore[return-value]


def check_label(est, label):
    """A label for sampling: only for a conditional VAE, and one of its classes.

    Parameters
    ----------
    est : object
        A fitted VAE.
    label : object or None
        The label asked for, matched to the classes by its text (so "3" finds 3).

    Returns
    -------
    object or None
        The matching class, or None when `label` is None.

    Raises
    ------
    ConfigError
        A label for an unconditional VAE.
    DataError
        A label that is not one of the classes.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from aekit.models.vae import VAEConfig
    >>> est = SimpleNamespace(model_config_=VAEConfig(input_shape=(4,), n_classes=2), classes_=np.array([3, 7]))
    >>> int(check_label(est, "7"))
    7
    """
    if label is None:
        return None
    if not is_conditional(est):
        raise ConfigError("a label was given, but this VAE is not conditional: train one with --model cvae "
                          "(conditional=True) to draw samples of a chosen class")
    classes = np.asarray(est.classes_)
    match = classes[classes.astype(str) == str(label)]
    if not len(match):
        raise DataError(f"label {label!r} is not one of the classes the model was trained on: {classes.tolist()}")
    return match[0]


def sample_grid(est, path, n: int = 64, label=None, random_state=0, ncols: int | None = None) -> Path:
    """n samples (decoder means of z ~ N(0, I)) as one PNG grid.

    Parameters
    ----------
    est : object
        A fitted VAE on image data (or square flat rows).
    path : str or os.PathLike
        The PNG file.
    n : int, default 64
        Samples drawn.
    label : object or None, default None
        A conditional VAE's class to draw (see `check_label`).
    random_state : int or None, default 0
        Seed of z.
    ncols : int or None, default None
        Tiles per row.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile
    >>> from aekit import VariationalAutoEncoder
    >>> X = (np.random.default_rng(0).random((32, 16)) > 0.5).astype(np.float32)   # 4×4 images
    >>> vae = VariationalAutoEncoder(hidden=(8,), latent_dim=2, epochs=1, batch_size=16, random_state=0).fit(X)
    >>> sample_grid(vae, Path(tempfile.mkdtemp()) / "samples.png", n=4).name
    'samples.png'
    """
    require_vae(est, "sampling")
    label = check_label(est, label)
    imgs = as_images(est, est.sample(n, y=label, random_state=random_state))
    return save_image_grid(imgs, path, ncols=ncols, value_range=_value_range(est))


def latent_map_images(est, n: int = 15, label=None) -> np.ndarray:
    """Decoder means over an n×n grid of the prior's quantiles (2-D latent); row 0 is the top
    (largest z₂), column 0 the left (smallest z₁). n²×C×H×W.

    Parameters
    ----------
    est : object
        A fitted VAE with a 2-D latent space.
    n : int, default 15
        Points per axis, ≥ 2.
    label : object or None, default None
        A conditional VAE's class (default: its first).

    Returns
    -------
    ndarray

    Raises
    ------
    ConfigError
        Not a VAE, a latent space that is not 2-D, or n < 2.

    Examples
    --------
    >>> from aekit import VariationalAutoEncoder
    >>> X = (np.random.default_rng(0).random((32, 16)) > 0.5).astype(np.float32)
    >>> vae = VariationalAutoEncoder(hidden=(8,), latent_dim=2, epochs=1, batch_size=16, random_state=0).fit(X)
    >>> latent_map_images(vae, n=3).shape
    (9, 1, 4, 4)
    """
    from scipy.stats import norm

    require_vae(est, "a latent map")
    if est.model_config_.code_size != 2:
        raise ConfigError(f"a latent map needs a 2-D latent space; this model has latent_dim={est.model_config_.code_size}")
    if int(n) < 2:
        raise ConfigError(f"a latent map needs at least 2 points per axis, got {n}")
    q = norm.ppf(np.linspace(*LATENT_MAP_QUANTILES, int(n)))
    z1, z2 = np.meshgrid(q, q[::-1])
    Z = np.column_stack([z1.ravel(), z2.ravel()]).astype(np.float32)
    y = None
    if is_conditional(est):
        label = check_label(est, label) if label is not None else np.asarray(est.classes_)[0]
        y = np.full(len(Z), label)
    elif label is not None:
        check_label(est, label)
    return as_images(est, est.inverse_transform(Z, y))


def latent_map(est, path, n: int = 15, label=None) -> Path:
    """The latent map as one big image (n×n tiles, like figure 5.71), written to the PNG `path`;
    `n` and `label` as for `latent_map_images`. Returns the path."""
    imgs = latent_map_images(est, n, label)
    return save_image_grid(imgs, path, ncols=int(n), value_range=_value_range(est))


def latent_scatter(est, test: Dataset, path, train: Dataset | None = None) -> Path:
    """Posterior means of the test set coloured by label (beside PCA when `train` is given).

    Parameters
    ----------
    est : object
        A fitted VAE.
    test : Dataset
        The samples shown (a conditional VAE encodes them with their labels).
    path : str or os.PathLike
        The PNG file.
    train : Dataset or None, default None
        Fits the PCA panel.

    Returns
    -------
    pathlib.Path
    """
    codes = est.transform(model_input(est, test), test.y if is_conditional(est) else None)
    panels = {"VAE posterior mean μ": codes}
    if train is not None:
        panels["PCA (2 components)"] = fit_pca(train.flat(), 2).transform(test.flat())
    return figures.latent_scatter(panels, test.y, path, classes=test.classes)


def likelihood_table(m: dict) -> Table:
    """The ELBO and the importance-weighted log-likelihood, in nats per sample.

    Parameters
    ----------
    m : dict
        `aekit.evaluation.evaluate_vae`'s result: "elbo", "elbo_subset", "log_likelihood",
        "n_test", "n_ll", "k" and optionally "note".

    Returns
    -------
    Table

    Examples
    --------
    >>> m = {"elbo": -90.1, "elbo_subset": -90.4, "log_likelihood": -86.9, "n_test": 10000, "n_ll": 1000, "k": 200}
    >>> [row[1] for row in likelihood_table(m).rows]
    [-90.1, -90.4, -86.9]
    """
    rows = [[f"ELBO ({m['n_test']} test samples)", m["elbo"]],
            [f"ELBO (the {m['n_ll']} samples below)", m["elbo_subset"]],
            [f"log p(x), importance-weighted, k = {m['k']} ({m['n_ll']} samples)", m["log_likelihood"]]]
    baselines = m.get("likelihood_baselines") or {}
    rows += [[f"baseline: exact log p(x) of {name}, fitted on the training data ({m['n_ll']} samples)", v]
             for name, v in baselines.items()]
    caption = "ELBO ≤ log p(x); the k-sample estimate tightens with k. "
    if baselines:
        best = max(baselines, key=baselines.get)
        caption += ("The baselines are simple density models of the same data (higher is better): "
                    + (f"the VAE's log p(x) is below that of {best}, so it has learned less about the data than that "
                       "model. " if m["log_likelihood"] < baselines[best] else "the VAE's log p(x) is above them. "))
    return Table(["nats per sample", "value"], rows, caption=(caption + (m.get("note") or "")).strip())


def vae_section(name: str, est, train: Dataset, test: Dataset, fig_dir: Path, slug: str, metrics: dict | None = None,
                text: str = "") -> Section:
    """A report section for a VAE: likelihoods, loss curves, samples, latent map (2-D) and scatter.

    Parameters
    ----------
    name : str
        The section's heading.
    est : object
        A fitted VAE.
    train, test : Dataset
        The training split (for PCA) and the split measured and shown.
    fig_dir : pathlib.Path
        Where the figures are written.
    slug : str
        File-name stem of the figures.
    metrics : dict or None, default None
        `evaluate_vae`'s result; computed (k = 200) when None.
    text : str, default ""
        A paragraph under the heading.

    Returns
    -------
    Section
        Non-image data get no sample pictures.
    """
    fig_dir = Path(fig_dir)
    m = metrics or evaluate_vae(est, train, test, k=200)
    sec = Section(name, text=[text] if text else [])
    sec.tables += [facts_table(est, m), likelihood_table(m)]
    if getattr(est, "history_", None):
        sec.figures.append((figures.loss_curves(est.history_, fig_dir / f"{slug}-loss.png", name),
                            "Negative ELBO per sample in nats (solid: training objective, dashed: validation)."))
    try:
        label = np.asarray(est.classes_)[0] if is_conditional(est) else None
        grid = sample_grid(est, fig_dir / f"{slug}-samples.png", 64, label=label, random_state=0, ncols=8)
        sec.figures.append((grid, "64 samples: decoder means (pixel probabilities) of z ~ N(0, I)"
                            + (f", label {label}." if label is not None else ".")))
        if est.model_config_.code_size == 2:
            sec.figures.append((latent_map(est, fig_dir / f"{slug}-latent-map.png", 20, label=label),
                                "Latent map: the decoder's output over a 20×20 grid of the prior's quantiles "
                                "(Φ⁻¹ of 0.05 … 0.95 on each axis; z₁ left to right, z₂ bottom to top)."))
    except DataError:
        pass  # not image data: no pictures of samples
    if test.y is not None:
        sec.figures.append((latent_scatter(est, test, fig_dir / f"{slug}-latent.png", train),
                            "Test set: posterior means μ beside PCA's first two components, coloured by label."))
    codes = est.transform(model_input(est, test), test.y if is_conditional(est) else None)
    sec.blocks.append(latent_map_html(f"LatentMap-{slug}", codes, labels=test.y, classes=test.classes, images=test.X,
                                      image_shape=test.sample_shape if test.is_image else None,
                                      value_range=test.value_range, title=f"{name}: interactive map of the posterior means μ"))
    return sec



__all__ = ["as_images", "check_label", "is_conditional", "latent_map", "latent_map_images", "latent_scatter",
           "likelihood_table", "require_vae", "sample_grid", "vae_section"]
