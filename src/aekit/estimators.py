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
from aekit.runs import CHECKPOINT_DIR, atomic_write_bytes, load_run, save_run
from aekit.train.pretrain import PretrainConfig, check_pretrain, pretrain
from aekit.train.trainer import TrainConfig, Trainer, _load_state_checked, evaluate

# Named configurations of the one model (DESIGN.md "presets").
PRESETS: dict[str, dict] = {
    "ae": {},
    "dae": {"noise": "gaussian:0.5"},
    "sae": {"sparsity": "kl:0.05:3"},
    # Stacked autoencoders pretrained layer by layer, then fine-tuned end to end (issue 5):
    # Vincent et al.'s stacked denoising AE and Hinton & Salakhutdinov's RBM-pretrained deep AE.
    "stacked": {"hidden": (256, 128), "latent_dim": 32, "activation": "sigmoid", "noise": "masking:0.25",
             "pretrain": "greedy"},
    "dbn": {"hidden": (256, 128), "latent_dim": 32, "activation": "sigmoid", "pretrain": "rbm"},
    # The seeds' Keras denoiser: conv 32-32 with max-pooling, mirrored with up-sampling, BCE.
    "conv-ae": {"arch": "conv", "hidden": (32, 32), "latent_dim": None, "loss": "bce"},
    "conv-dae": {"arch": "conv", "hidden": (32, 32), "latent_dim": None, "loss": "bce", "noise": "gaussian:0.5"},
    # Variational autoencoders (VariationalAutoEncoder; AutoEncoder.from_preset hands these on).
    "vae": {"hidden": (256, 128), "latent_dim": 8},
    "conv-vae": {"arch": "conv", "hidden": (32, 64), "latent_dim": 8},
    "cvae": {"hidden": (256, 128), "latent_dim": 8, "conditional": True},
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


def _store_params(est, params: dict) -> None:
    """Set each constructor argument as an attribute of the same name, unchanged (scikit-learn's
    rule for estimators; validation happens in fit)."""
    for name, value in params.items():
        if name not in ("self", "__class__"):
            setattr(est, name, value)


def batched(fn, X: np.ndarray, device, batch_size: int = 2048) -> np.ndarray:
    """fn over X in float32 batches on `device`, without gradients; the outputs as one array."""
    outs = []
    with torch.inference_mode():
        for s in range(0, len(X), batch_size):
            xb = torch.from_numpy(np.array(X[s : s + batch_size], dtype=np.float32)).to(device)
            outs.append(fn(xb).float().cpu().numpy())
    return np.concatenate(outs) if outs else np.empty((0,), np.float32)


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
    max_seconds : a training-time budget: training stops after the epoch in which it is reached
        (the best weights are still restored when validating).
    pretrain : None, "greedy" (one shallow autoencoder per layer, trained on the codes of the
        layer below, with this estimator's noise and sparsity: with noise="masking:0.25" it is
        Vincent et al.'s stacked denoising AE) or "rbm" (a stack of RBMs trained with CD-k and
        unrolled, Hinton & Salakhutdinov 2006; needs activation="sigmoid"). The deep model is then
        fine-tuned end to end for `epochs`. MLP only.
    pretrain_epochs : epochs per layer. pretrain_lr : None = `lr` (greedy) or H&S's 0.1/0.001 (rbm).
    cd_k : Gibbs steps per contrastive-divergence update; persistent_cd : persistent CD chains.
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
        max_seconds=None,
        pretrain=None,
        pretrain_epochs=10,
        pretrain_lr=None,
        cd_k=1,
        persistent_cd=False,
    ):
        _store_params(self, locals())  # every __init__ argument, as scikit-learn's get_params reads them

    @classmethod
    def from_preset(cls, name: str, **params) -> "AutoEncoder":
        if name not in PRESETS:
            raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        if name in VAE_PRESETS and not issubclass(cls, VariationalAutoEncoder):
            return VariationalAutoEncoder.from_preset(name, **params)
        return cls(**{**PRESETS[name], **params})

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # The network computes in float32 and returns float32 whatever the input dtype: results
        # are float32-exact, and claiming float64 would promise precision it does not have.
        tags.transformer_tags.preserves_dtype = ["float32"]
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
            device=self.device, progress=bool(self.verbose), max_seconds=self.max_seconds,
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
        pre_cfg = self._pretrain_config()
        if pre_cfg is not None:
            check_pretrain(config, pre_cfg)
        model = self._build_model(config, seed)
        if config.standardize:
            model.set_standardization(_tensor(X_train))
        model.to(self.device)
        checkpoint_dir = Path(run_dir) / CHECKPOINT_DIR if run_dir else None
        Xt, Xv = _tensor(X_train), None if X_val is None else _tensor(X_val)
        prior: list[dict] = []
        if pre_cfg is not None:
            prior, resume = _pretrain_or_resume(model, Xt, Xv, pre_cfg, train_cfg, checkpoint_dir, resume)
        trainer = Trainer(train_cfg, checkpoint_dir=checkpoint_dir, stage="finetune" if pre_cfg else "train")
        history = trainer.fit(model, Xt, Xv, resume=resume, history=prior)
        self.model_ = model.eval()
        self.model_config_ = config
        self.train_config_ = train_cfg
        self.history_ = history
        self.best_epoch_ = trainer.best_epoch
        self.n_epochs_ = sum(r.get("stage") == trainer.stage for r in history)  # fine-tuning epochs, not pretraining
        self._n_features_out = config.code_size
        self.input_ndim_ = 2 if self._fit_image_shape is None else 4
        del self._fit_image_shape
        return self

    def _pretrain_config(self) -> PretrainConfig | None:
        if self.pretrain is None or self.pretrain is False or str(self.pretrain).lower() == "none":
            return None
        return PretrainConfig(method=str(self.pretrain).lower(), epochs=int(self.pretrain_epochs),
                              lr=None if self.pretrain_lr is None else float(self.pretrain_lr),
                              cd_k=int(self.cd_k), persistent=bool(self.persistent_cd))

    def _validate_val(self, X_val, X) -> np.ndarray:
        X_val = np.asarray(X_val, dtype=np.float32)
        X_val = X_val.reshape(len(X_val), -1) if X_val.ndim == 4 else X_val
        if X_val.ndim != 2 or X_val.shape[1] != X.shape[1]:
            raise DataError(f"X_val has samples of shape {X_val.shape[1:]}, X has {X.shape[1:]}")
        check_finite(X_val, "X_val")
        return X_val

    # -- using the model ---------------------------------------------------------------------
    def _batches(self, X: np.ndarray, fn, batch_size: int = 2048) -> np.ndarray:
        return batched(fn, X, next(self.model_.parameters()).device, batch_size)

    def transform(self, X) -> np.ndarray:
        """The codes (N × latent_dim)."""
        check_is_fitted(self, "model_")
        X = self._validate(X, reset=False)
        return self._batches(X, self.model_.encode)

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
        return out

    def reconstruct(self, X) -> np.ndarray:
        """decoder(encoder(X)), in X's shape (N×D or N×C×H×W)."""
        check_is_fitted(self, "model_")
        shape = np.shape(X)
        X = self._validate(X, reset=False)
        return self._batches(X, self.model_).reshape(shape)

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


# -- the variational autoencoder ----------------------------------------------------------------
# Presets that name a VariationalAutoEncoder configuration (AutoEncoder.from_preset hands them on).
VAE_PRESETS = ("vae", "conv-vae", "cvae")


PRETRAINED_FILE = "pretrained.safetensors"


def _pretrain_or_resume(model, X_train, X_val, pre_cfg, train_cfg, checkpoint_dir, resume) -> tuple[list[dict], bool]:
    """Pretrain layer by layer, or on resume pick up where a killed run stopped: in fine-tuning
    (the trainer's checkpoint), or right after pretraining (pretrained.safetensors, written once
    every layer is done). Returns the pretraining history and whether the trainer should resume."""
    import json

    from safetensors import safe_open
    from safetensors.torch import save

    from aekit.errors import RunFolderError, TrainingError
    from aekit.train.trainer import CHECKPOINT_FILE, TrainingInterrupted

    saved = checkpoint_dir / PRETRAINED_FILE if checkpoint_dir is not None else None
    if resume and checkpoint_dir is not None and (checkpoint_dir / CHECKPOINT_FILE).exists():
        return [], True  # the fine-tuning checkpoint holds the weights and the whole history
    if resume and saved is not None and saved.exists():
        try:
            with safe_open(str(saved), framework="pt") as f:
                meta_text = f.metadata()["aekit_pretrain"]
                history = json.loads(meta_text)["history"]
                state = {k: f.get_tensor(k) for k in f.keys()}
        except Exception as exc:
            raise RunFolderError(f"{saved}: not a readable pretraining checkpoint ({exc})") from None
        made_by = json.loads(meta_text).get("method")
        if made_by != pre_cfg.method:
            raise RunFolderError(f"{saved} holds a stack pretrained with pretrain={made_by!r}, not {pre_cfg.method!r}: "
                                 "train into a new run folder, or pass the same pretrain option")
        _load_state_checked(model, state, saved)
        return history, False
    if resume:
        warnings.warn("no checkpoint from this run's pretraining was found: pretraining starts over",
                      AekitWarning, stacklevel=3)
    try:
        history = pretrain(model, X_train, X_val, pre_cfg, train_cfg)
    except (KeyboardInterrupt, TrainingInterrupted):
        raise TrainingError("interrupted during layer-wise pretraining: nothing of it was saved, and --resume "
                            "pretrains again") from None
    if saved is not None:
        atomic_write_bytes(saved, save({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()},
                                       metadata={"aekit_pretrain": json.dumps({"history": history,
                                                                               "method": pre_cfg.method})}))
    return history, False


def _is_binary(X: np.ndarray) -> bool:
    return bool(np.all((X == 0) | (X == 1)))


class VariationalAutoEncoder(AutoEncoder):
    """A variational autoencoder (Kingma & Welling 2014) with the AutoEncoder's front: the same
    fit / transform / save / load / run folder; `transform` returns the posterior mean μ.

    Parameters (besides AutoEncoder's hidden, latent_dim, activation, arch, input_shape and the
    training options)
    ----------
    likelihood : "bernoulli" (BCE with logits, summed over pixels; data in [0, 1]), "gaussian"
        (per-feature Gaussian), or "auto" (bernoulli for data in [0, 1], else gaussian).
    decoder_variance : gaussian only: "learned" (one log-variance per feature, shared by all
        samples, floored at 1e-3) or a fixed variance (a number).
    beta : weight of the KL term (β-VAE); 1 is the ELBO.
    warmup_epochs : β ramps linearly from 0 to `beta` over this many epochs (KL warm-up).
    free_bits : λ nats per latent dimension: the KL of each dimension (batch mean) is counted
        as at least λ (Kingma et al. 2016); 0 is off.
    binarize : "dynamic" (each batch Bernoulli-sampled afresh with the trainer's seeded generator),
        "static" (once, seeded), or None. Evaluation (`elbo`, `log_likelihood`) of a model trained
        with binarization binarizes its input too (seeded).
    conditional : a conditional VAE: one-hot labels join the encoder input and z; `fit(X, y)`
        needs y, and `transform`, `reconstruct`, `elbo`, `log_likelihood` take y.

    The training loss in `history_` is the objective per sample in nats: the negative ELBO
    when beta=1, warmup_epochs=0 and free_bits=0 ("neg_elbo" always holds the true negative ELBO;
    the validation loss is the true bound, so early stopping selects on it).
    """

    _kind = "vae"

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
        binarize=None,
        conditional=False,
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
        max_seconds=None,
    ):
        _store_params(self, locals())  # every __init__ argument, as scikit-learn's get_params reads them

    @classmethod
    def from_preset(cls, name: str, **params) -> "VariationalAutoEncoder":
        if name not in VAE_PRESETS:
            raise ConfigError(f"unknown VAE preset {name!r}; choose one of {', '.join(VAE_PRESETS)}")
        return cls(**{**PRESETS[name], **params})

    # -- configuration ---------------------------------------------------------------------
    def _resolve_config(self, X: np.ndarray) -> ModelConfig:
        from aekit.models.vae import vae_options

        if self.latent_dim is None:
            raise ConfigError("a VAE needs latent_dim (the size of z)")
        lo, hi = float(X.min()), float(X.max())
        unit = lo >= 0.0 and hi <= 1.0
        likelihood = self.likelihood
        if likelihood == "auto":
            likelihood = "bernoulli" if unit else "gaussian"
        if likelihood == "bernoulli" and not unit:
            raise ConfigError(
                f"the Bernoulli likelihood needs data in [0, 1]; X lies in [{lo:.3g}, {hi:.3g}] (use likelihood='gaussian')"
            )
        # The base resolver handles input shapes; feed it the settings of a plain model.
        self.output_activation, self.loss, self.sparsity, self.noise = (
            "sigmoid" if unit else "linear", "bce" if likelihood == "bernoulli" else "mse", None, None)
        self.code_activation, self.tied = "linear", False
        try:
            base = super()._resolve_config(X)
        finally:
            for name in ("output_activation", "loss", "sparsity", "noise", "code_activation", "tied"):
                self.__dict__.pop(name, None)
        extra = {
            "likelihood": likelihood,
            "decoder_variance": self.decoder_variance,
            "n_classes": len(self.classes_) if self.conditional else 0,
            "classes": [c.item() if hasattr(c, "item") else c for c in self.classes_] if self.conditional else None,
            "beta": float(self.beta),
            "warmup_epochs": int(self.warmup_epochs),
            "free_bits": float(self.free_bits),
            "binarize": self.binarize,
        }
        base.kind = "vae"
        base.extra = extra
        vae_options(base)
        return base

    def _build_model(self, config: ModelConfig, seed: int):
        from aekit.models.vae import VAEModel

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return VAEModel(config)

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
        if not self.model_config_.extra.get("n_classes"):
            if y is not None:
                raise ConfigError("labels were given, but this VAE is not conditional (conditional=False)")
            return X
        if y is None:
            raise ConfigError("this is a conditional VAE: pass the labels y as well")
        return np.concatenate([np.asarray(X, np.float32).reshape(len(X), -1), self._onehot(y, len(X))], 1)

    def _binarize_np(self, X: np.ndarray, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return (rng.random(X.shape, dtype=np.float32) < X).astype(np.float32)

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, X, y=None, *, X_val=None, y_val=None, run_dir=None, resume: bool = False):
        """Train on X (N×D or N×C×H×W); a conditional VAE also needs the labels y (and y_val
        with X_val). See AutoEncoder.fit for validation, run_dir and resume."""
        X = self._validate(X, reset=True)
        n = X.shape[0]
        if n < 2:
            raise DataError(f"a VAE needs at least 2 samples to fit, got {n} sample")
        if self.conditional:
            if y is None:
                raise ConfigError("a conditional VAE (conditional=True) needs the labels: fit(X, y)")
            y = np.asarray(y)
            if y.ndim != 1 or len(y) != n:
                raise DataError(f"y must hold one label per sample: {n} samples, labels of shape {y.shape}")
            self.classes_ = np.unique(y)
            if len(self.classes_) < 2:
                raise DataError(f"a conditional VAE needs at least 2 classes in y, got {self.classes_.tolist()}")
            if y_val is not None:
                y_val = np.asarray(y_val)
        else:
            y = y_val = None  # an unconditional VAE ignores labels (as transformers do)
        if self.binarize not in (None, "dynamic", "static"):
            raise ConfigError(f"binarize must be 'dynamic', 'static' or None, got {self.binarize!r}")
        seed = _seed(self.random_state)
        config = self._resolve_config(X)
        opts = config.extra
        if opts["likelihood"] == "bernoulli" and self.binarize is None and not _is_binary(X):
            warnings.warn(
                "grey-level data with the Bernoulli likelihood: the ELBO and log-likelihood it reports are "
                "not those of a true probability model unless the data is binarized (binarize='dynamic' or 'static')",
                AekitWarning,
                stacklevel=2,
            )
        if X.dtype != np.float32:
            X = X.astype(np.float32)
        train_cfg = self._train_config(seed)
        frac = float(self.validation_fraction)
        if not 0.0 <= frac < 1.0:
            raise ConfigError(f"validation_fraction must be in [0, 1), got {frac}")
        self.model_config_ = config  # _with_labels reads it
        if X_val is not None:
            X_val = self._validate_val(X_val, X)
            if self.conditional and y_val is None:
                raise ConfigError("a conditional VAE needs y_val with X_val")
            X_train, y_train = X, y
        else:
            n_val = int(round(n * frac))
            if frac > 0 and (n_val < 1 or n - n_val < 1):
                warnings.warn(
                    f"{n} samples are too few for a validation_fraction of {frac:g}: training without "
                    "validation or early stopping", AekitWarning, stacklevel=2,
                )
                n_val = 0
            perm = np.random.default_rng(seed).permutation(n)
            X_val = X[perm[:n_val]] if n_val else None
            y_val = y[perm[:n_val]] if n_val and y is not None else None
            X_train = X[perm[n_val:]] if n_val else X
            y_train = y[perm[n_val:]] if n_val and y is not None else y
        if self.binarize is not None:
            # static: the training set once; the validation set always once (a fixed binarization,
            # so the validation loss is the bound on one binary data set).
            if self.binarize == "static":
                X_train = self._binarize_np(X_train, seed)
            if X_val is not None:
                X_val = self._binarize_np(X_val, seed + 1)
        if train_cfg.batch_size > len(X_train):
            warnings.warn(
                f"batch_size={train_cfg.batch_size} is larger than the {len(X_train)} training samples; "
                f"using batches of {len(X_train)}", AekitWarning, stacklevel=2,
            )
        model = self._build_model(config, seed)
        if config.standardize:
            model.set_standardization(_tensor(X_train))
        model.to(self.device)
        trainer = Trainer(train_cfg, checkpoint_dir=Path(run_dir) / CHECKPOINT_DIR if run_dir else None)
        history = trainer.fit(
            model,
            _tensor(self._with_labels(X_train, y_train if self.conditional else None)),
            None if X_val is None else _tensor(self._with_labels(X_val, y_val if self.conditional else None)),
            resume=resume,
        )
        self.model_ = model.eval()
        self.train_config_ = train_cfg
        self.history_ = history
        self.best_epoch_ = trainer.best_epoch
        self.n_epochs_ = sum(r.get("stage") == trainer.stage for r in history)  # fine-tuning epochs, not pretraining
        self._n_features_out = config.code_size
        self.input_ndim_ = 2 if self._fit_image_shape is None else 4
        del self._fit_image_shape
        return self

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
        Xc = self._validate(X, reset=False)
        R = self.reconstruct(X, y).reshape(len(Xc), -1)
        return ((Xc.astype(np.float64) - R) ** 2).mean(1)

    def score(self, X, y=None) -> float:
        """Mean ELBO per sample in nats (higher is better)."""
        return float(self.elbo(X, y if self.conditional else None).mean())

    def _eval_input(self, X, y, binarize, seed: int, what: str) -> np.ndarray:
        """X checked (and Bernoulli-binarized with `seed` when asked), with labels joined."""
        check_is_fitted(self, "model_")
        X = self._validate(X, reset=False).astype(np.float32, copy=False)
        opts = self.model_config_.extra
        if binarize == "auto":
            binarize = opts.get("binarize") is not None
        if binarize:
            if opts["likelihood"] != "bernoulli":
                raise ConfigError("binarize is for the Bernoulli likelihood")
            X = self._binarize_np(X, seed)
        elif opts["likelihood"] == "bernoulli" and not _is_binary(X):
            warnings.warn(
                f"{what} of grey-level data under the Bernoulli likelihood is not a true log-likelihood "
                "(binarize the data: binarize=True, or train with binarize='dynamic')",
                AekitWarning,
                stacklevel=3,
            )
        return self._with_labels(X, y)

    def elbo(self, X, y=None, *, n_samples: int = 1, binarize="auto", random_state=0,
             batch_size: int = 1024, binarize_seed: int = 0) -> np.ndarray:
        """Per-sample ELBO in nats (β = 1, no free bits: the true bound): closed-form KL plus an
        `n_samples` Monte-Carlo estimate of E_q[log p(x|z)] (seeded by `random_state`).
        `binarize` ("auto": when the model was trained with binarization) Bernoulli-samples X
        first, seeded by `binarize_seed` (the same default in `log_likelihood`, so both see the
        same binary images)."""
        if int(n_samples) < 1:
            raise ConfigError(f"n_samples must be ≥ 1, got {n_samples}")
        seed = _seed(random_state)
        Xa = self._eval_input(X, y, binarize, int(binarize_seed), "the ELBO")
        g = torch.Generator(device="cpu").manual_seed(seed)
        return self._batches(Xa, lambda xb: self.model_.elbo(xb, g, int(n_samples)), batch_size).astype(np.float64)

    def log_likelihood(self, X, y=None, *, k: int = 5000, batch_size: int = 100, binarize="auto",
                       random_state=0, binarize_seed: int = 0) -> np.ndarray:
        """Per-sample importance-weighted estimate of log p(x) in nats (Burda et al. 2016):
        logsumexp_i [log p(x|z_i) + log p(z_i) − log q(z_i|x)] − log k, z_i ~ q(z|x), k samples
        per x, computed `batch_size` images at a time in chunks of samples that fit in memory.
        A lower bound of log p(x) that tightens with k; its mean is ≥ the ELBO's. `binarize` as
        in `elbo`; `random_state` seeds the samples z_i."""
        try:
            k = int(k)
        except (TypeError, ValueError):
            raise ConfigError(f"k must be a positive integer, got {k!r}") from None
        if k < 1:
            raise ConfigError(f"k (importance samples per image) must be ≥ 1, got {k}")
        if int(batch_size) < 1:
            raise ConfigError(f"batch_size must be ≥ 1, got {batch_size}")
        seed = _seed(random_state)
        Xa = self._eval_input(X, y, binarize, int(binarize_seed), "the log-likelihood")
        g = torch.Generator(device="cpu").manual_seed(seed)
        return self._batches(Xa, lambda xb: self.model_.log_likelihood(xb, k, g), int(batch_size)).astype(np.float64)

    def _shape_out(self, out: np.ndarray) -> np.ndarray:
        return out.reshape(len(out), -1) if self.input_ndim_ == 2 else out

    def sample(self, n: int = 1, y=None, random_state=None) -> np.ndarray:
        """n new samples: decoder means (Bernoulli: probabilities) of z ~ N(0, I). For a
        conditional VAE, y is one label or n labels (default: classes drawn uniformly)."""
        check_is_fitted(self, "model_")
        try:
            n = int(n)
        except (TypeError, ValueError):
            raise ConfigError(f"n must be a positive integer, got {n!r}") from None
        if n < 1:
            raise ConfigError(f"n (number of samples) must be ≥ 1, got {n}")
        seed = _seed(random_state)
        g = torch.Generator(device="cpu").manual_seed(seed)
        z = torch.randn(n, self.model_config_.code_size, generator=g).numpy()
        if self.model_config_.extra.get("n_classes") and y is None:
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

    def run_config(self, data: dict | None = None) -> dict:
        return super().run_config(data)

    @classmethod
    def load(cls, path, device: str = "cpu") -> "VariationalAutoEncoder":
        """Read a run folder written by `save` or by `aekit train --model vae`."""
        from aekit.errors import RunFolderError
        from aekit.models.vae import VAEModel
        from aekit.runs import read_history

        config, state = load_run(path, kind=cls._kind)
        try:
            est = cls(**{k: (tuple(v) if k in ("hidden", "input_shape") and v is not None else v)
                         for k, v in config["params"].items()})
            model_config = ModelConfig.from_dict(dict(config["model"]))
            model = VAEModel(model_config)
        except (TypeError, KeyError, ConfigError) as exc:
            raise RunFolderError(f"{path}: config.json does not describe a {cls.__name__} ({exc})") from None
        est.device = device
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
        if model_config.extra.get("n_classes"):
            est.classes_ = np.asarray(model_config.extra["classes"])
        return est


__all__ += ["VAE_PRESETS", "VariationalAutoEncoder"]


def load_estimator(run) -> AutoEncoder:
    """The estimator of a run folder, of the kind it holds (autoencoder or vae)."""
    from aekit.errors import RunFolderError
    from aekit.runs import read_json

    run = Path(run)
    if not run.is_dir():
        raise RunFolderError(f"{run}: no such run folder")
    kind = read_json(run / "config.json").get("kind")
    return VariationalAutoEncoder.load(run) if kind == "vae" else AutoEncoder.load(run)
