"""The scikit-learn front over models + trainer.

`AutoEncoder(latent_dim=16).fit(X).transform(X)` drops into a Pipeline where PCA stood;
`save(path)` writes a run folder and `AutoEncoder.load(path)` reads one (also one that
`aekit train` wrote).
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from aekit import __version__
from aekit.errors import AekitWarning, ConfigError, DataError
from aekit.models.autoencoder import AutoEncoderModel, ModelConfig, check_latent_size
from aekit.models.losses import parse_sparsity
from aekit.runs import CHECKPOINT_DIR, load_run, save_run
from aekit.train.trainer import TrainConfig, Trainer, _load_state_checked, evaluate

# Named configurations of the one model (DESIGN.md "presets").
PRESETS: dict[str, dict] = {
    "ae": {},
    "dae": {"noise": "gaussian:0.5"},
    "sae": {"sparsity": "kl:0.05:3"},
    # The seeds' Keras denoiser: conv 32-32 with max-pooling, mirrored with up-sampling, BCE.
    "conv-ae": {"arch": "conv", "hidden": (32, 32), "latent_dim": None, "loss": "bce"},
    "conv-dae": {"arch": "conv", "hidden": (32, 32), "latent_dim": None, "loss": "bce", "noise": "gaussian:0.5"},
}


def check_finite(X: np.ndarray, what: str = "X") -> None:
    if X.size and not np.isfinite(X).all():
        bad = ~np.isfinite(X.reshape(len(X), -1))
        rows = np.flatnonzero(bad.any(1))
        raise DataError(
            f"{what} contains NaN or inf: {int(bad.sum())} values in {len(rows)} rows (first row {int(rows[0])})"
        )


def _tensor(X: np.ndarray) -> torch.Tensor:
    """A float32 tensor owning its memory (inputs may be read-only memmaps)."""
    return torch.from_numpy(np.array(X, dtype=np.float32))


def _seed(random_state) -> int:
    if random_state is None:
        return int(np.random.default_rng().integers(0, 2**31 - 1))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    return int(random_state)


class AutoEncoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """A deterministic autoencoder as a scikit-learn transformer.

    Parameters
    ----------
    hidden : sizes of the encoder's hidden layers; the decoder mirrors them.
    latent_dim : size of the code (the number of output features of `transform`).
    activation : hidden-layer activation by name (relu, sigmoid, tanh, elu, gelu, ...).
    code_activation : "auto" (linear, or sigmoid when sparsity is kl), or a name.
    output_activation : "auto" (sigmoid when the training data lies in [0, 1], else linear
        with per-feature standardization learned from the training data), or a name.
    tied : share the transposed encoder weights in the decoder.
    loss : "mse", "bce" (data in [0, 1]) or "ssim" (image data); "auto" is mse.
    noise : denoising training, "gaussian:σ", "masking:ν" or "salt-pepper:ν".
    sparsity : code penalty, "kl:ρ:β" or "l1:λ".
    arch : "mlp", or "conv" (convolution blocks; `hidden` then lists the channels of each
        block, and latent_dim=None keeps the seeds' fully convolutional model).
    input_shape : (C, H, W) for flat image rows; inferred from 4-D X.
    epochs, batch_size, optimizer, lr, weight_decay, lr_schedule, grad_clip : training.
    validation_fraction : held out for early stopping (0 disables validation).
    early_stopping, patience : stop after `patience` epochs without improvement and restore
        the best weights.
    random_state : seed for initialization, shuffling and noise (CPU runs are reproducible).
    device : "cpu", "cuda", ... ; verbose : 1 shows a progress bar.
    """

    _kind = "autoencoder"

    def __init__(
        self,
        hidden=(256, 64),
        latent_dim=8,
        *,
        activation="relu",
        code_activation="auto",
        output_activation="auto",
        tied=False,
        loss="auto",
        noise=None,
        sparsity=None,
        arch="mlp",
        input_shape=None,
        epochs=100,
        batch_size=128,
        optimizer="adam",
        lr=1e-3,
        weight_decay=0.0,
        lr_schedule=None,
        grad_clip=None,
        validation_fraction=0.1,
        early_stopping=True,
        patience=10,
        random_state=None,
        device="cpu",
        verbose=0,
    ):
        self.hidden = hidden
        self.latent_dim = latent_dim
        self.activation = activation
        self.code_activation = code_activation
        self.output_activation = output_activation
        self.tied = tied
        self.loss = loss
        self.noise = noise
        self.sparsity = sparsity
        self.arch = arch
        self.input_shape = input_shape
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.grad_clip = grad_clip
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.patience = patience
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    @classmethod
    def from_preset(cls, name: str, **params) -> "AutoEncoder":
        if name not in PRESETS:
            raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **params})

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        return tags

    # -- input handling ----------------------------------------------------------------------
    def _validate(self, X, reset: bool) -> np.ndarray:
        """Checked float array, always N×D: image batches N×C×H×W are flattened here so that
        `n_features_in_` counts values (and 2-D rows of the same size are accepted later)."""
        if hasattr(X, "ndim") and getattr(X, "ndim", 0) == 4:
            image_shape = tuple(int(s) for s in X.shape[1:])
            X = np.asarray(X).reshape(X.shape[0], -1)
        else:
            image_shape = None
        try:
            X = validate_data(
                self, X, reset=reset, dtype=[np.float64, np.float32], ensure_all_finite=False,
                ensure_min_features=1,
            )
        except ValueError as exc:
            if isinstance(exc, DataError):
                raise
            raise DataError(str(exc)) from None
        check_finite(X)
        if reset:
            self._fit_image_shape = image_shape
        elif image_shape is not None and image_shape != tuple(self.model_config_.input_shape):
            raise DataError(
                f"X has samples of shape {image_shape}, the model was fitted on {tuple(self.model_config_.input_shape)}"
            )
        return X

    def _resolve_config(self, X: np.ndarray) -> ModelConfig:
        image_shape = getattr(self, "_fit_image_shape", None)
        if image_shape is not None:
            input_shape = image_shape
            if self.input_shape is not None and tuple(self.input_shape) != input_shape:
                raise ConfigError(f"input_shape={tuple(self.input_shape)} does not match X's samples {input_shape}")
        elif self.input_shape is not None:
            input_shape = tuple(int(s) for s in self.input_shape)
            if int(np.prod(input_shape)) != X.shape[1]:
                raise ConfigError(
                    f"input_shape={input_shape} holds {int(np.prod(input_shape))} values but X has {X.shape[1]} features"
                )
        elif self.arch == "conv":
            # Flat rows for a conv model: square grey images when the size allows, else 1×1×D strips.
            side = int(round(np.sqrt(X.shape[1])))
            input_shape = (1, side, side) if side * side == X.shape[1] else (1, 1, X.shape[1])
        else:
            input_shape = (X.shape[1],)
        lo, hi = float(X.min()), float(X.max())
        unit = lo >= 0.0 and hi <= 1.0
        out_act = self.output_activation
        if out_act == "auto":
            out_act = "sigmoid" if unit else "linear"
        if out_act == "sigmoid" and not unit:
            raise ConfigError(f"a sigmoid output needs data in [0, 1]; X lies in [{lo:.3g}, {hi:.3g}]")
        loss = "mse" if self.loss == "auto" else self.loss
        if loss == "bce" and not unit:
            raise ConfigError(f"the bce loss needs data in [0, 1]; X lies in [{lo:.3g}, {hi:.3g}] (use loss='mse')")
        sparsity = parse_sparsity(self.sparsity)
        code_act = self.code_activation
        if code_act == "auto":
            code_act = "sigmoid" if sparsity is not None and sparsity.kind == "kl" else "linear"
        hidden = (self.hidden,) if isinstance(self.hidden, int) else tuple(self.hidden)
        return ModelConfig(
            input_shape=input_shape,
            arch=self.arch,
            hidden=hidden,
            latent_dim=None if self.latent_dim is None else int(self.latent_dim),
            activation=self.activation,
            code_activation=code_act,
            output_activation=out_act,
            tied=bool(self.tied),
            loss=loss,
            noise=self.noise,
            sparsity=self.sparsity,
            standardize=not unit,
            value_range=(0.0, 1.0) if unit else (lo, hi),
        )

    def _train_config(self, seed: int) -> TrainConfig:
        return TrainConfig(
            epochs=int(self.epochs), batch_size=int(self.batch_size), optimizer=self.optimizer, lr=float(self.lr),
            weight_decay=float(self.weight_decay), lr_schedule=self.lr_schedule, grad_clip=self.grad_clip,
            early_stopping=bool(self.early_stopping), patience=int(self.patience), seed=seed,
            device=self.device, progress=bool(self.verbose),
        )

    def _build_model(self, config: ModelConfig, seed: int) -> AutoEncoderModel:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return AutoEncoderModel(config)

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, X, y=None, *, X_val=None, run_dir=None, resume: bool = False):
        """Train on X (N×D or N×C×H×W). A fraction `validation_fraction` is held out for early
        stopping unless X_val is given. With `run_dir`, checkpoints go to run_dir/checkpoint and
        `resume=True` continues from the last one."""
        X = self._validate(X, reset=True)
        n = X.shape[0]
        if n < 2:
            raise DataError(f"an autoencoder needs at least 2 samples to fit, got {n} sample")
        seed = _seed(self.random_state)
        config = self._resolve_config(X)
        check_latent_size(config)
        train_cfg = self._train_config(seed)
        frac = float(self.validation_fraction)
        if not 0.0 <= frac < 1.0:
            raise ConfigError(f"validation_fraction must be in [0, 1), got {frac}")
        if X_val is not None:
            X_val = self._validate_val(X_val, X)
            X_train = X
        else:
            n_val = int(round(n * frac))
            if frac > 0 and (n_val < 1 or n - n_val < 1):
                warnings.warn(
                    f"{n} samples are too few for a validation_fraction of {frac:g}: training without "
                    "validation or early stopping",
                    AekitWarning,
                    stacklevel=2,
                )
                n_val = 0
            perm = np.random.default_rng(seed).permutation(n)
            X_val = X[perm[:n_val]] if n_val else None
            X_train = X[perm[n_val:]] if n_val else X
        if train_cfg.batch_size > len(X_train):
            warnings.warn(
                f"batch_size={train_cfg.batch_size} is larger than the {len(X_train)} training samples; "
                f"using batches of {len(X_train)}",
                AekitWarning,
                stacklevel=2,
            )
        model = self._build_model(config, seed)
        if config.standardize:
            model.set_standardization(_tensor(X_train))
        model.to(self.device)
        trainer = Trainer(train_cfg, checkpoint_dir=Path(run_dir) / CHECKPOINT_DIR if run_dir else None)
        history = trainer.fit(
            model,
            _tensor(X_train),
            None if X_val is None else _tensor(X_val),
            resume=resume,
        )
        self.model_ = model.eval()
        self.model_config_ = config
        self.train_config_ = train_cfg
        self.history_ = history
        self.best_epoch_ = trainer.best_epoch
        self.n_epochs_ = len(history)
        self._n_features_out = config.code_size
        self.input_ndim_ = 2 if self._fit_image_shape is None else 4
        del self._fit_image_shape
        return self

    def _validate_val(self, X_val, X) -> np.ndarray:
        X_val = np.asarray(X_val, dtype=np.float32)
        X_val = X_val.reshape(len(X_val), -1) if X_val.ndim == 4 else X_val
        if X_val.ndim != 2 or X_val.shape[1] != X.shape[1]:
            raise DataError(f"X_val has samples of shape {X_val.shape[1:]}, X has {X.shape[1:]}")
        check_finite(X_val, "X_val")
        return X_val

    # -- using the model ---------------------------------------------------------------------
    def _batches(self, X: np.ndarray, fn, batch_size: int = 2048) -> np.ndarray:
        model = self.model_
        dev = next(model.parameters()).device
        outs = []
        with torch.inference_mode():
            for s in range(0, len(X), batch_size):
                xb = torch.from_numpy(np.array(X[s : s + batch_size], dtype=np.float32)).to(dev)
                outs.append(fn(xb).float().cpu().numpy())
        return np.concatenate(outs) if outs else np.empty((0,), np.float32)

    def transform(self, X) -> np.ndarray:
        """The codes (N × latent_dim)."""
        check_is_fitted(self, "model_")
        X = self._validate(X, reset=False)
        return self._batches(X, self.model_.encode).astype(X.dtype, copy=False)

    def inverse_transform(self, X) -> np.ndarray:
        """Decode codes back to data space (N×D, or N×C×H×W when fitted on images)."""
        check_is_fitted(self, "model_")
        Z = np.asarray(X)
        if Z.ndim != 2 or Z.shape[1] != self.model_config_.code_size:
            raise DataError(f"codes must be N×{self.model_config_.code_size}, got shape {Z.shape}")
        check_finite(Z, "codes")
        out = self._batches(Z.astype(np.float32), self.model_.decode)
        if self.input_ndim_ == 2:
            out = out.reshape(len(out), -1)
        return out.astype(Z.dtype if Z.dtype in (np.float32, np.float64) else np.float32, copy=False)

    def reconstruct(self, X) -> np.ndarray:
        """decoder(encoder(X)), in X's shape (N×D or N×C×H×W)."""
        check_is_fitted(self, "model_")
        shape = np.shape(X)
        X = self._validate(X, reset=False)
        return self._batches(X, self.model_).reshape(shape).astype(X.dtype, copy=False)

    def reconstruction_error(self, X) -> np.ndarray:
        """Mean squared error per value, for each sample (N,)."""
        check_is_fitted(self, "model_")
        X = self._validate(X, reset=False)
        R = self._batches(X, self.model_).reshape(len(X), -1)
        return ((X.astype(np.float64) - R) ** 2).mean(1)

    def score(self, X, y=None) -> float:
        """Negative mean reconstruction error (mean squared error per value): higher is better."""
        check_is_fitted(self, "model_")
        return -float(self.reconstruction_error(X).mean())

    def validation_loss(self, X) -> dict[str, float]:
        check_is_fitted(self, "model_")
        X = self._validate(X, reset=False)
        return evaluate(self.model_, _tensor(X))

    # -- run folders -----------------------------------------------------------------------
    def _json_params(self) -> dict:
        params = self.get_params()
        for k, v in params.items():
            if isinstance(v, tuple):
                params[k] = list(v)
            elif isinstance(v, np.random.RandomState):
                params[k] = None
        return params

    def run_config(self, data: dict | None = None) -> dict:
        check_is_fitted(self, "model_")
        return {
            "kind": self._kind,
            "estimator": type(self).__name__,
            "params": self._json_params(),
            "model": self.model_config_.to_dict(),
            "train": self.train_config_.to_dict(),
            "fitted": {"n_features_in": int(self.n_features_in_), "input_ndim": int(self.input_ndim_),
                       "best_epoch": int(self.best_epoch_), "n_epochs": int(self.n_epochs_)},
            "data": data or {},
        }

    def save(self, path, *, data: dict | None = None, metrics: dict | None = None) -> Path:
        """Write a run folder: config.json, model.safetensors, history.csv (+ metrics.json)."""
        check_is_fitted(self, "model_")
        return save_run(
            path, config=self.run_config(data), state=self.model_.state_dict(), metrics=metrics, history=self.history_
        )

    @classmethod
    def load(cls, path, device: str = "cpu") -> "AutoEncoder":
        """Read a run folder written by `save` or by `aekit train`."""
        config, state = load_run(path, kind=cls._kind)
        from aekit.runs import read_history

        try:
            est = cls(**{k: (tuple(v) if k in ("hidden", "input_shape") and v is not None else v)
                         for k, v in config["params"].items()})
            model_config = ModelConfig.from_dict(dict(config["model"]))
        except (TypeError, KeyError) as exc:
            from aekit.errors import RunFolderError

            raise RunFolderError(f"{path}: config.json does not describe a {cls.__name__} ({exc})") from None
        est.device = device
        model = AutoEncoderModel(model_config)
        _load_state_checked(model, state, Path(path) / "model.safetensors")
        est.model_ = model.to(device).eval()
        est.model_config_ = model_config
        est.train_config_ = TrainConfig.from_dict(config.get("train", {}))
        est.history_ = read_history(Path(path) / "history.csv")
        fitted = config.get("fitted", {})
        est.n_features_in_ = int(fitted.get("n_features_in", model_config.n_features))
        est.input_ndim_ = int(fitted.get("input_ndim", 2))
        est.best_epoch_ = int(fitted.get("best_epoch", 0))
        est.n_epochs_ = int(fitted.get("n_epochs", len(est.history_)))
        est._n_features_out = model_config.code_size
        return est


__all__ = ["AutoEncoder", "PRESETS", "__version__"]
