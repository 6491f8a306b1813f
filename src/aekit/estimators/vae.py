"""`VariationalAutoEncoder`: a VAE (Kingma & Welling 2014) with the AutoEncoder's front.

The same fit / transform / save / load and run folder as `AutoEncoder` (both stand on
`BaseAutoEncoder`); `transform` returns the posterior mean μ, and the VAE adds the ELBO, an
importance-weighted log-likelihood, sampling and interpolation.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from aekit.data.sources import is_row_source, map_chunks
from aekit.errors import AekitWarning, ConfigError, DataError
from aekit.estimators.base import CodeTransformer, check_finite, resolve_seed, store_params, with_training_parameters
from aekit.estimators.streaming import row_blocks, validated_source
from aekit.models.vae import VAEConfig, VAEModel
from aekit.specs import positive_int
from aekit.data.limits import check_memory


def is_binary(X: np.ndarray) -> bool:
    """Whether every value of X is 0 or 1."""
    return bool(np.all((X == 0) | (X == 1)))


def bernoulli_binarize(X: np.ndarray, seed) -> np.ndarray:
    """Bernoulli-sample grey levels in [0, 1] into 0/1 with `seed` (the binarization the VAE's
    training and likelihoods use); `seed` may be a NumPy Generator, which then goes on to the next
    block's numbers (blocks of rows binarized in turn equal the whole array binarized at once).

    Examples
    --------
    >>> bernoulli_binarize(np.array([[0.0, 1.0, 0.5]]), 0)[0, :2]
    array([0., 1.], dtype=float32)
    """
    rng = np.random.default_rng(seed)
    return (rng.random(X.shape, dtype=np.float32) < X).astype(np.float32)


@with_training_parameters
class VariationalAutoEncoder(CodeTransformer):
    """A variational autoencoder as a scikit-learn transformer.

    The code is a Gaussian posterior q(z|x) = N(μ, diag σ²); training maximizes the ELBO
    (−KL(q ‖ N(0, I)) + E_q[log p(x|z)]). The training loss in `history_` is the objective per
    sample in nats: the negative ELBO when beta=1, warmup_epochs=0 and free_bits=0 ("neg_elbo"
    always holds the true negative ELBO; the validation loss is the true bound, so early
    stopping selects on it).

    Parameters
    ----------
    hidden : tuple of int, default=(256, 64)
        Sizes of the encoder's hidden layers (conv: channels of each block); the decoder mirrors them.
    latent_dim : int, default=8
        Size of z (the output features of `transform`).
    activation : str, default="relu"
        Hidden-layer activation: relu, sigmoid, tanh, elu, gelu, ...
    likelihood : str, default="auto"
        Decoder likelihood: bernoulli (data in [0, 1]), gaussian (per-feature), or auto
        (bernoulli for data in [0, 1], else gaussian).
    decoder_variance : str or float, default="learned"
        Gaussian only: learned (one log-variance per feature, floored at 1e-3) or a fixed variance.
    beta : float, default=1.0
        Weight of the KL term (β-VAE); 1 is the ELBO.
    warmup_epochs : int, default=0
        KL warm-up: β ramps linearly from 0 over this many epochs.
    free_bits : float, default=0.0
        Free bits, nats per latent dimension (Kingma et al. 2016); 0 is off.
    binarize : str or None, default="auto"
        Bernoulli binarization of the training data: dynamic (each batch sampled afresh),
        static (once, seeded), None (train on the values as they are), or auto (dynamic for
        grey-level data under the Bernoulli likelihood, whose ELBO is otherwise not that of a
        probability model; None for binary data and the Gaussian likelihood). Evaluation of a
        model trained with binarization binarizes its input too.
    conditional : bool, default=False
        A conditional VAE: one-hot labels join the encoder input and z; `fit(X, y)` needs y.
    arch : str, default="mlp"
        Blocks: mlp, conv, or resnet (strided convolutions with GroupNorm residual blocks, for
        colour images; `hidden` are the stages' channels).
    blocks : int, default=2
        resnet: residual blocks per stage.
    input_shape : tuple of int or None, default=None
        (C, H, W) of flat image rows; inferred from 4-D X.
    {training_parameters}

    Attributes
    ----------
    model_ : VAEModel
        The trained network.
    model_config_ : VAEConfig
        The resolved configuration.
    classes_ : ndarray
        A conditional VAE's classes.
    history_, best_epoch_, n_epochs_, n_features_in_, input_ndim_ :
        As in `AutoEncoder`.

    Examples
    --------
    >>> import numpy as np
    >>> from aekit import VariationalAutoEncoder
    >>> X = (np.random.default_rng(0).random((64, 12)) > 0.5).astype(np.float32)
    >>> vae = VariationalAutoEncoder(hidden=(8,), latent_dim=2, epochs=2, random_state=0).fit(X)
    >>> vae.transform(X).shape, vae.sample(3, random_state=0).shape
    ((64, 2), (3, 12))
    """

    _kind = "vae"
    _model_class = VAEModel
    _config_class = VAEConfig

    def __init__(
        self,
        hidden=(256, 64),
        latent_dim=8,
        *,
        activation="relu",
        likelihood="auto",
        decoder_variance="learned",
        beta=1.0,
        warmup_epochs=0,
        free_bits=0.0,
        binarize="auto",
        conditional=False,
        arch="mlp",
        blocks=2,
        input_shape=None,
        **training,
    ):
        store_params(self, locals())  # every argument, as scikit-learn's get_params reads them

    # -- the family's part of the fit template ---------------------------------------------------
    def _check_labels(self, y, n: int):
        if not self.conditional:
            return None  # an unconditional VAE ignores labels (as transformers do)
        if y is None:
            raise ConfigError("a conditional VAE (conditional=True) needs the labels: fit(X, y)")
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != n:
            raise DataError(f"y must hold one label per sample: {n} samples, labels of shape {y.shape}")
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise DataError(f"a conditional VAE needs at least 2 classes in y, got {self.classes_.tolist()}")
        return y

    def _resolve_config(self, X: np.ndarray, y=None) -> VAEConfig:
        if self.latent_dim is None:
            raise ConfigError("a VAE needs latent_dim (the size of z)")
        if self.binarize not in (None, "auto", "dynamic", "static"):
            raise ConfigError(f"binarize must be 'auto', 'dynamic', 'static' or None, got {self.binarize!r}")
        lo, hi = float(X.min()), float(X.max())
        unit = lo >= 0.0 and hi <= 1.0
        likelihood = self.likelihood
        if likelihood == "auto":
            likelihood = "bernoulli" if unit else "gaussian"
        if likelihood == "bernoulli" and not unit:
            raise ConfigError(
                f"the Bernoulli likelihood needs data in [0, 1]; X lies in [{lo:.3g}, {hi:.3g}] (use likelihood='gaussian')"
            )
        binarize = self.binarize
        if binarize == "auto":
            binarize = "dynamic" if likelihood == "bernoulli" and not is_binary(X) else None
        if likelihood == "bernoulli" and binarize is None and not is_binary(X):
            warnings.warn(
                "grey-level data with the Bernoulli likelihood: the ELBO and log-likelihood it reports are "
                "not those of a true probability model unless the data is binarized (binarize 'dynamic' or "
                "'static', the default 'auto')",
                AekitWarning, stacklevel=4,
            )
        hidden = (self.hidden,) if isinstance(self.hidden, int) else tuple(self.hidden)
        classes = [c.item() if hasattr(c, "item") else c for c in self.classes_] if self.conditional else None
        return VAEConfig(
            input_shape=self._input_shape(X), arch=self.arch, hidden=hidden, blocks=self.blocks,
            latent_dim=int(self.latent_dim),
            activation=self.activation, code_activation="linear", output_activation="sigmoid" if unit else "linear",
            loss="bce" if likelihood == "bernoulli" else "mse", standardize=not unit,
            value_range=(0.0, 1.0) if unit else (lo, hi), likelihood=likelihood,
            decoder_variance=self.decoder_variance, n_classes=len(classes) if classes else 0, classes=classes,
            beta=self.beta, warmup_epochs=self.warmup_epochs, free_bits=self.free_bits, binarize=binarize,
        )

    def _training_arrays(self, X_train, y_train, X_val, y_val, seed: int):
        X_train = X_train.astype(np.float32, copy=False)
        # static: the training set once; the validation set always once (a fixed binarization,
        # so the validation loss is the bound on one binary data set).
        if self.model_config_.binarize == "static":
            X_train = bernoulli_binarize(X_train, seed)
        if X_val is not None and self.model_config_.binarize is not None:
            X_val = bernoulli_binarize(X_val, seed + 1)
        return (self._with_labels(X_train, y_train),
                None if X_val is None else self._with_labels(X_val, y_val))

    def fit(self, X, y=None, *, X_val=None, y_val=None, run_dir=None, resume: bool = False):
        """Train on X (N×D or N×C×H×W); a conditional VAE also needs the labels y (and y_val
        with X_val). See AutoEncoder.fit for validation, run_dir and resume."""
        return super().fit(X, y, X_val=X_val, y_val=y_val, run_dir=run_dir, resume=resume)

    def _restore_fitted(self, fitted: dict, model_config) -> None:
        super()._restore_fitted(fitted, model_config)
        if model_config.n_classes:
            self.classes_ = np.asarray(model_config.classes)

    # -- labels ----------------------------------------------------------------------------
    def _onehot(self, y, n: int) -> np.ndarray:
        """One-hot rows of y over the trained classes (N × K); DataError for unknown labels."""
        classes = np.asarray(self.classes_)
        y = np.asarray(y)
        if y.ndim == 0:
            y = np.full(n, y.item())
        if y.ndim != 1 or len(y) != n:
            raise DataError(f"y must hold one label per sample: {n} samples, labels of shape {y.shape}")
        idx = np.searchsorted(classes, y)
        idx = np.clip(idx, 0, len(classes) - 1)
        bad = classes[idx] != y
        if bad.any():
            raise DataError(
                f"label {y[bad][0]!r} is not one of the classes the model was trained on: {classes.tolist()}"
            )
        out = np.zeros((n, len(classes)), np.float32)
        out[np.arange(n), idx] = 1.0
        return out

    def _with_labels(self, X: np.ndarray, y) -> np.ndarray:
        """X, or X‖onehot(y) for a conditional model (y then required)."""
        if not self.model_config_.n_classes:
            if y is not None:
                raise ConfigError("labels were given, but this VAE is not conditional (conditional=False)")
            return X
        if y is None:
            raise ConfigError("this is a conditional VAE: pass the labels y as well")
        return np.concatenate([np.asarray(X, np.float32).reshape(len(X), -1), self._onehot(y, len(X))], 1)


    def fit_transform(self, X, y=None, **fit_params):
        return self.fit(X, y, **fit_params).transform(X, y if self.conditional else None)

    # -- using the model ---------------------------------------------------------------------
    def _prepared(self, X, y) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = self._validate(X, reset=False)
        return self._with_labels(X, y)

    def transform(self, X, y=None) -> np.ndarray:
        """Posterior means μ (N × latent_dim); a conditional VAE needs y."""
        dtype = np.asarray(X).dtype if np.asarray(X).dtype in (np.float32, np.float64) else np.float32
        return self._batches(self._prepared(X, y), self.model_.encode).astype(dtype, copy=False)

    def inverse_transform(self, X, y=None) -> np.ndarray:
        """Decoder means of codes z (a conditional VAE needs y)."""
        check_is_fitted(self, "model_")
        Z = np.asarray(X)
        if Z.ndim != 2 or Z.shape[1] != self.model_config_.code_size:
            raise DataError(f"codes must be N×{self.model_config_.code_size}, got shape {Z.shape}")
        check_finite(Z, "codes")
        out = self._batches(self._with_labels(Z.astype(np.float32), y), self.model_.decode)
        if self.input_ndim_ == 2:
            out = out.reshape(len(out), -1)
        return out

    def reconstruct(self, X, y=None) -> np.ndarray:
        """Decoder mean at the posterior mean, in X's shape."""
        shape = np.shape(X)
        dtype = np.asarray(X).dtype if np.asarray(X).dtype in (np.float32, np.float64) else np.float32
        return self._batches(self._prepared(X, y), self.model_).reshape(shape).astype(dtype, copy=False)

    def reconstruction_error(self, X, y=None) -> np.ndarray:
        check_is_fitted(self, "model_")
        if is_row_source(X) and not self.conditional:  # data on disk: read and scored in chunks
            return self._source_reconstruction_error(X)
        Xc = self._validate(X, reset=False)
        R = self.reconstruct(X, y).reshape(len(Xc), -1)
        return row_blocks(lambda start, stop: ((Xc[start:stop].astype(np.float64) - R[start:stop]) ** 2).mean(1),
                          len(Xc))

    def score(self, X, y=None) -> float:
        """Mean ELBO per sample in nats (higher is better)."""
        return float(self.elbo(X, y if self.conditional else None).mean())

    def _per_sample(self, X, y, fn, batch_size: int, binarize, binarize_seed: int, what: str) -> np.ndarray:
        """fn(batch) over X's rows, `batch_size` at a time, as float64: X checked, Bernoulli-binarized
        with `binarize_seed` when asked ("auto": when the model was trained with binarization), labels
        joined. Rows left on disk (a source) are read a block of whole batches at a time; with one
        binarization stream and fn's one generator they draw the same numbers as in memory."""
        check_is_fitted(self, "model_")
        config = self.model_config_
        if binarize == "auto":
            binarize = config.binarize is not None
        if binarize and config.likelihood != "bernoulli":
            raise ConfigError("binarize is for the Bernoulli likelihood")
        stream, grey = np.random.default_rng(int(binarize_seed)), []

        def prepared(block: np.ndarray) -> np.ndarray:
            block = block.astype(np.float32, copy=False)
            if binarize:
                return bernoulli_binarize(block, stream)
            if config.likelihood == "bernoulli" and not grey and not is_binary(block):
                grey.append(True)
            return block

        if is_row_source(X):
            if self.conditional:
                raise ConfigError(f"{what} of a conditional VAE needs each row's label; data on disk carries none: "
                                  "pass an array with y")
            out = map_chunks(lambda block: self._batches(prepared(block), fn, batch_size), validated_source(self, X),
                             multiple=batch_size)
        else:
            out = self._batches(self._with_labels(prepared(self._validate(X, reset=False)), y), fn, batch_size)
        if grey:
            warnings.warn(f"{what} of grey-level data under the Bernoulli likelihood is not a true log-likelihood "
                          "(binarize the data: binarize=True, or train with binarize='dynamic')", AekitWarning,
                          stacklevel=3)
        return out.astype(np.float64)

    def elbo(self, X, y=None, *, n_samples: int = 1, binarize="auto", random_state=0,
             batch_size: int = 1024, binarize_seed: int = 0) -> np.ndarray:
        """Per-sample ELBO in nats (β = 1, no free bits: the true bound): closed-form KL plus an
        `n_samples` Monte-Carlo estimate of E_q[log p(x|z)] (seeded by `random_state`).
        `binarize` ("auto": when the model was trained with binarization) Bernoulli-samples X
        first, seeded by `binarize_seed` (the same default in `log_likelihood`, so both see the
        same binary images). X may be data on disk (a RowSource): the same values as in memory."""
        n_samples = positive_int(n_samples, "n_samples")
        g = torch.Generator(device="cpu").manual_seed(resolve_seed(random_state))
        return self._per_sample(X, y, lambda xb: self.model_.elbo(xb, g, int(n_samples)),
                                positive_int(batch_size, "batch_size"), binarize, binarize_seed, "the ELBO")

    def log_likelihood(self, X, y=None, *, k: int = 5000, batch_size: int = 100, binarize="auto",
                       random_state=0, binarize_seed: int = 0) -> np.ndarray:
        """Per-sample importance-weighted estimate of log p(x) in nats (Burda et al. 2016):
        logsumexp_i [log p(x|z_i) + log p(z_i) − log q(z_i|x)] − log k, z_i ~ q(z|x), k samples
        per x, computed `batch_size` images at a time in chunks of samples that fit in memory.
        A lower bound of log p(x) that tightens with k; its mean is ≥ the ELBO's. `binarize` as
        in `elbo`; `random_state` seeds the samples z_i. X may be data on disk, as in `elbo`."""
        k = positive_int(k, "k", "importance samples per image")
        g = torch.Generator(device="cpu").manual_seed(resolve_seed(random_state))
        return self._per_sample(X, y, lambda xb: self.model_.log_likelihood(xb, k, g),
                                positive_int(batch_size, "batch_size"), binarize, binarize_seed, "the log-likelihood")

    def _shape_out(self, out: np.ndarray) -> np.ndarray:
        return out.reshape(len(out), -1) if self.input_ndim_ == 2 else out

    def sample(self, n: int = 1, y=None, random_state=None) -> np.ndarray:
        """n new samples: decoder means (Bernoulli: probabilities) of z ~ N(0, I). For a
        conditional VAE, y is one label or n labels (default: classes drawn uniformly)."""
        check_is_fitted(self, "model_")
        n = positive_int(n, "n", "number of samples")
        # z and the decoder's output, float32: refuse what cannot fit before allocating it
        config = self.model_config_
        check_memory(4 * n * (config.code_size + config.n_features + config.n_classes), "VariationalAutoEncoder.sample",
                     f"n={n} samples of {config.n_features} values need")
        seed = resolve_seed(random_state)
        g = torch.Generator(device="cpu").manual_seed(seed)
        z = torch.randn(n, self.model_config_.code_size, generator=g).numpy()
        if self.model_config_.n_classes and y is None:
            y = np.asarray(self.classes_)[np.random.default_rng(seed).integers(0, len(self.classes_), n)]
        return self._shape_out(self._batches(self._with_labels(z, y), self.model_.decode))

    def interpolate(self, x_a, x_b, steps: int = 8, y=None) -> np.ndarray:
        """Decoder means along the straight line between the posterior means of x_a and x_b
        (`steps` points, ends included). A conditional VAE needs y (one label, used throughout)."""
        check_is_fitted(self, "model_")
        if int(steps) < 2:
            raise ConfigError(f"steps must be ≥ 2, got {steps}")
        pair = np.stack([np.asarray(x_a, dtype=np.float32), np.asarray(x_b, dtype=np.float32)])
        ya = None if y is None else np.full(2, np.asarray(y).item())
        za, zb = self.transform(pair, ya)
        t = np.linspace(0.0, 1.0, int(steps), dtype=np.float32)[:, None]
        Z = (1 - t) * za[None] + t * zb[None]
        yz = None if y is None else np.full(len(Z), np.asarray(y).item())
        return self._shape_out(self._batches(self._with_labels(Z.astype(np.float32), yz), self.model_.decode))


__all__ = ["VariationalAutoEncoder", "bernoulli_binarize", "is_binary"]
