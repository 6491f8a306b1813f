"""`AutoEncoder`: the deterministic autoencoder as a scikit-learn transformer.

`AutoEncoder(latent_dim=16).fit(X).transform(X)` drops into a Pipeline where PCA stood;
`save(path)` writes a run folder and `AutoEncoder.load(path)` reads one (also one that
`aekit train` wrote).
"""
from __future__ import annotations

import copy
import json
import math
import warnings

import numpy as np
from sklearn.utils.validation import check_is_fitted

from aekit.errors import AekitWarning, ConfigError, DataError, RunFolderError, TrainingError
from aekit.models.autoencoder import AutoEncoderModel, ModelConfig, check_latent_size
from aekit.models.losses import parse_sparsity
from aekit.estimators.base import (CodeTransformer, check_finite, check_resume_options, resolve_seed, store_params,
                                   with_training_parameters)
from aekit.runs import RunRecord, atomic_write_bytes
from aekit.train.checkpoint import checkpoint_train_config, load_state_checked
from aekit.train.pretrain import PretrainConfig, check_pretrain, pretrain
from aekit.train.trainer import CHECKPOINT_FILE, TrainingInterrupted

PRETRAINED_FILE = "pretrained.safetensors"

# The data-size rule behind epochs="auto" and batch_size="auto" (see `auto_training_size`; the
# measurements that chose these numbers are in benchmarks/RESULTS.md, "Defaults on small data").
AUTO_ROWS_PER_BATCH = 32  # batch ≈ training rows / 32, so that an epoch has about 32 steps or more
AUTO_MIN_BATCH, AUTO_MAX_BATCH = 16, 128
AUTO_MIN_STEPS = 20_000  # "auto" epochs give at least this many gradient steps (early stopping ends sooner)
AUTO_MIN_EPOCHS, AUTO_MAX_EPOCHS = 100, 1000
AUTO_PATIENCE_STEPS = 1000  # "auto" patience waits about this many steps without improvement
AUTO_MIN_PATIENCE, AUTO_MAX_PATIENCE = 10, 50
AUTO = "auto"
AUTO_SIZE_DEFAULTS = {"epochs": AUTO, "batch_size": AUTO, "patience": AUTO}


def auto_training_size(n_rows: int, epochs="auto", batch_size="auto", patience="auto") -> tuple[int, int, int]:
    """Resolve ``epochs``, ``batch_size`` and ``patience`` given as "auto" for `n_rows` training rows.

    The rule (an `AutoEncoder`'s default): the batch is ``n_rows / 32`` rounded down to a power of
    two, kept within [16, 128] and never larger than the data; the epochs are as many as give
    20,000 gradient steps, kept within [100, 1000] (early stopping usually ends sooner); the
    early-stopping patience is as many epochs as make 1,000 steps, kept within [10, 50], when the
    epochs are "auto" too, and 10 (the former default) when a number of epochs is given: a
    detector trained for a set budget on contaminated rows scored worse with the longer patience
    (ROC-AUC 0.814 against 0.828 on the breast-cancer table of benchmarks/anomaly.py). Large
    data thus gets the former defaults (batch 128, 100 epochs, patience 10) and small data, where
    an epoch is a handful of steps, smaller batches, more epochs and more patience: on the digits
    (1,131 training rows) batch 32, 556 epochs, patience 28. A number given for any of them is
    kept (only "auto" is resolved); a given batch still counts in the steps per epoch.

    Parameters
    ----------
    n_rows : int
        Training rows (after the validation share is held out); at least 1.
    epochs : int or "auto", default="auto"
        Maximum epochs, or "auto" for the rule.
    batch_size : int or "auto", default="auto"
        Mini-batch size, or "auto" for the rule.
    patience : int or "auto", default="auto"
        Early-stopping patience in epochs, or "auto" for the rule.

    Returns
    -------
    (epochs, batch_size, patience) : tuple of int
        Each at least 1 when "auto" (a given number is returned as given).

    Examples
    --------
    >>> auto_training_size(1131)
    (556, 32, 28)
    >>> auto_training_size(10)
    (1000, 10, 50)
    >>> auto_training_size(10_000_000)
    (100, 128, 10)
    >>> auto_training_size(1131, epochs=20)
    (20, 32, 10)
    """
    n = int(n_rows)
    if n < 1:
        raise DataError(f"the data-size rule needs at least 1 training row, got {n}")
    if batch_size == AUTO:
        target = max(1, n // AUTO_ROWS_PER_BATCH)
        batch = min(AUTO_MAX_BATCH, max(AUTO_MIN_BATCH, 1 << (target.bit_length() - 1)), n)
    elif isinstance(batch_size, str):
        raise ConfigError(f"batch_size must be a positive integer or 'auto', got {batch_size!r}")
    else:
        batch = batch_size
    steps_per_epoch = math.ceil(n / max(1, min(int(batch), n)))
    given_epochs = epochs != AUTO
    if epochs == AUTO:
        epochs = min(AUTO_MAX_EPOCHS, max(AUTO_MIN_EPOCHS, math.ceil(AUTO_MIN_STEPS / steps_per_epoch)))
    elif isinstance(epochs, str):
        raise ConfigError(f"epochs must be an integer ≥ 0 or 'auto', got {epochs!r}")
    if patience == AUTO and not given_epochs:
        patience = min(AUTO_MAX_PATIENCE, max(AUTO_MIN_PATIENCE, math.ceil(AUTO_PATIENCE_STEPS / steps_per_epoch)))
    elif patience == AUTO:  # a given epoch budget keeps the former patience (see the docstring)
        patience = AUTO_MIN_PATIENCE
    elif isinstance(patience, str):
        raise ConfigError(f"patience must be a positive integer or 'auto', got {patience!r}")
    return epochs, batch, patience


@with_training_parameters
class AutoEncoder(CodeTransformer):
    """A deterministic autoencoder as a scikit-learn transformer.

    One model that every variant configures: plain, deep, tied, denoising, sparse,
    convolutional, and stacked (greedy or RBM pretraining, then fine-tuning). Data in [0, 1]
    gets a sigmoid output; other data is standardized per feature (learned on the training
    data) and decoded with a linear output.

    Parameters
    ----------
    hidden : tuple of int, default=(256, 64)
        Sizes of the encoder's hidden layers (conv: channels of each block); the decoder mirrors them.
    latent_dim : int or None, default=8
        Size of the code (the output features of `transform`); None (conv only) keeps a fully
        convolutional model without a dense code.
    activation : str, default="relu"
        Hidden-layer activation: relu, sigmoid, tanh, elu, gelu, ...
    code_activation : str, default="auto"
        Code activation: "auto" (linear, or sigmoid with kl sparsity) or a name.
    output_activation : str, default="auto"
        "auto" (sigmoid when the training data lies in [0, 1], else linear with per-feature
        standardization), or a name.
    tied : bool, default=False
        Share the transposed encoder weights in the decoder.
    loss : str, default="auto"
        Reconstruction loss: mse, bce (data in [0, 1]) or ssim (images); "auto" is mse.
    noise : str or None, default=None
        Denoising training: gaussian:σ, masking:ν or salt-pepper:ν.
    sparsity : str or None, default=None
        Code penalty: kl:ρ:β (KL(ρ‖ρ̂)·β) or l1:λ.
    arch : str, default="mlp"
        Blocks: mlp, or conv (convolution + max-pooling blocks, mirrored with up-sampling).
    input_shape : tuple of int or None, default=None
        (C, H, W) of flat image rows; inferred from 4-D X.
    {training_parameters}
    pretrain : str or None, default=None
        Layer-wise pretraining before fine-tuning: greedy (one shallow autoencoder per layer,
        with this estimator's noise and sparsity; with noise="masking:0.25" Vincent et al.'s
        stacked denoising AE) or rbm (stacked RBMs trained with CD-k and unrolled, Hinton &
        Salakhutdinov 2006; needs activation="sigmoid"). MLP only.
    pretrain_epochs : int or "auto", default="auto"
        Pretraining epochs per layer; "auto": enough for 600 updates, within [10, 50]
        (`aekit.train.pretrain.auto_pretrain_epochs`: 50 per RBM on the digits, 10 on MNIST).
    pretrain_lr : float or None, default=None
        Pretraining learning rate (None: `lr` for greedy, 0.1 / 0.001 for RBMs).
    cd_k : int, default=1
        RBM: Gibbs steps per contrastive-divergence update (CD-k).
    persistent_cd : bool, default=False
        RBM: persistent contrastive divergence chains.

    Attributes
    ----------
    model_ : torch.nn.Module
        The trained network.
    model_config_ : ModelConfig
        The resolved network configuration (stored in the run folder).
    train_config_ : TrainConfig
        The trainer's settings.
    history_ : list of dict
        One row per epoch and stage (loss terms, validation terms, learning rate, seconds).
    best_epoch_ : int
        The epoch whose weights the model holds (with early stopping).
    n_epochs_ : int
        Fine-tuning epochs run (pretraining not counted).
    n_features_in_ : int
        Values per sample seen in fit.
    input_ndim_ : int
        2 for flat rows, 4 for images (N×C×H×W).

    Examples
    --------
    >>> import numpy as np
    >>> from aekit import AutoEncoder
    >>> X = np.random.default_rng(0).random((64, 10))
    >>> ae = AutoEncoder(hidden=(8,), latent_dim=2, epochs=3, random_state=0).fit(X)
    >>> ae.transform(X).shape
    (64, 2)
    >>> ae.reconstruct(X).shape
    (64, 10)
    """

    _kind = "autoencoder"
    _model_class = AutoEncoderModel
    _n_train_rows: int | None = None  # set while fitting: what epochs/batch_size "auto" are resolved from

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
        pretrain=None,
        pretrain_epochs="auto",
        pretrain_lr=None,
        cd_k=1,
        persistent_cd=False,
        **training,
    ):
        training = {**AUTO_SIZE_DEFAULTS, **training}  # this class's own defaults of two shared parameters
        store_params(self, locals())  # every argument, as scikit-learn's get_params reads them

    # -- the data-size rule -----------------------------------------------------------------------
    def _train_config(self, seed: int):
        """The trainer's settings, with epochs / batch_size / patience "auto" resolved from the training rows
        (`auto_training_size`); before the data is known (checking options) "auto" stands for the
        rule's large-data values."""
        n = self._n_train_rows
        resolved = copy.copy(self)  # the base builds the TrainConfig (checking every value) from attributes
        resolved.epochs, resolved.batch_size, resolved.patience = auto_training_size(
            n if n is not None else 10**9, self.epochs, self.batch_size, self.patience)
        return super(AutoEncoder, resolved)._train_config(seed)

    def _fit_model(self, config, X_train, X_val, seed, run_dir, resume) -> None:
        self._n_train_rows = len(X_train)
        try:
            super()._fit_model(config, X_train, X_val, seed, run_dir, resume)
        finally:
            del self._n_train_rows

    def check_resume(self, run_dir) -> None:
        """Refuse to resume the run in `run_dir` with other training options than its checkpoint's.

        Before the data is loaded, batch_size / patience "auto" are taken as the checkpoint resolved them
        (fit checks it again against the data)."""
        path = RunRecord(run_dir).checkpoint_dir / CHECKPOINT_FILE
        cfg = self._train_config(resolve_seed(self.random_state))
        saved = checkpoint_train_config(path) or {}
        for name in ("batch_size", "patience"):
            if self._n_train_rows is None and getattr(self, name) == AUTO and name in saved:
                setattr(cfg, name, int(saved[name]))
        check_resume_options(path, cfg)

    # -- the family's part of the fit template ---------------------------------------------------
    def _resolve_config(self, X: np.ndarray, y=None) -> ModelConfig:
        input_shape = self._input_shape(X)
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
        config = ModelConfig(
            input_shape=input_shape, arch=self.arch, hidden=hidden,
            latent_dim=None if self.latent_dim is None else int(self.latent_dim),
            activation=self.activation, code_activation=code_act, output_activation=out_act,
            tied=bool(self.tied), loss=loss, noise=self.noise, sparsity=self.sparsity,
            standardize=not unit, value_range=(0.0, 1.0) if unit else (lo, hi),
        )
        check_latent_size(config)
        pre_cfg = self._pretrain_config()
        if pre_cfg is not None:
            check_pretrain(config, pre_cfg)
        return config

    def _pretrain_config(self) -> PretrainConfig | None:
        if self.pretrain is None or self.pretrain is False or str(self.pretrain).lower() == "none":
            return None
        return PretrainConfig(method=str(self.pretrain).lower(), epochs=self.pretrain_epochs,
                              lr=None if self.pretrain_lr is None else float(self.pretrain_lr),
                              cd_k=int(self.cd_k), persistent=bool(self.persistent_cd))

    def _pretrain(self, model, X_train, X_val, train_cfg, run: RunRecord | None, resume: bool):
        """Layer-wise pretraining, or on resume pick up where a killed run stopped: in fine-tuning
        (the trainer's checkpoint), or right after pretraining (pretrained.safetensors, written once
        every layer is done)."""
        pre_cfg = self._pretrain_config()
        if pre_cfg is None:
            return [], resume, "train"
        saved = run.checkpoint_dir / PRETRAINED_FILE if run is not None else None
        if resume and run is not None and (run.checkpoint_dir / CHECKPOINT_FILE).exists():
            return [], True, "finetune"  # the fine-tuning checkpoint holds the weights and the whole history
        if resume and saved is not None and saved.exists():
            return read_pretrained(model, saved, pre_cfg.method), False, "finetune"
        if resume:
            warnings.warn("no checkpoint from this run's pretraining was found: pretraining starts over",
                          AekitWarning, stacklevel=4)
        try:
            history = pretrain(model, X_train, X_val, pre_cfg, train_cfg)
        except (KeyboardInterrupt, TrainingInterrupted):
            raise TrainingError("interrupted during layer-wise pretraining: nothing of it was saved, and --resume "
                                "pretrains again") from None
        if saved is not None:
            write_pretrained(model, saved, history, pre_cfg.method)
        return history, False, "finetune"

    def fit(self, X, y=None, *, X_val=None, run_dir=None, resume: bool = False):
        """Train on X (N×D or N×C×H×W); y is ignored.

        A fraction `validation_fraction` is held out for early stopping unless X_val is given.
        With `run_dir`, checkpoints go to run_dir/checkpoint and `resume=True` continues from the
        last one (after pretraining: from the pretrained stack).
        """
        return super().fit(X, None, X_val=X_val, run_dir=run_dir, resume=resume)

    # -- using the model -------------------------------------------------------------------------
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
        return out.reshape(len(out), -1) if self.input_ndim_ == 2 else out

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


def _auto_size_signature(cls):
    """Show AUTO_SIZE_DEFAULTS in the signature (scikit-learn reads defaults there) and the docstring."""
    sig = cls.__init__.__signature__
    cls.__init__.__signature__ = sig.replace(parameters=[
        p.replace(default=AUTO_SIZE_DEFAULTS[p.name]) if p.name in AUTO_SIZE_DEFAULTS else p
        for p in sig.parameters.values()])
    for old_doc, new_doc in AUTO_SIZE_DOC.items():
        if old_doc not in cls.__doc__:
            raise RuntimeError(f"the shared training documentation changed: update AUTO_SIZE_DOC ({old_doc.strip()!r})")
        cls.__doc__ = cls.__doc__.replace(old_doc, new_doc)
    return cls


AUTO_SIZE_DOC = {
    "    epochs : int, default=100\n        Maximum training epochs (early stopping may end sooner).\n":
        "    epochs : int or \"auto\", default=\"auto\"\n        Maximum training epochs (early stopping may end "
        "sooner); \"auto\": enough for 20,000 gradient\n        steps, within [100, 1000] (`auto_training_size`).\n",
    "    batch_size : int, default=128\n        Mini-batch size.\n":
        "    batch_size : int or \"auto\", default=\"auto\"\n        Mini-batch size; \"auto\": training rows / 32 "
        "rounded down to a power of two, within\n        [16, 128] and at most the rows (`auto_training_size`).\n",
    "    patience : int, default=10\n        Epochs without validation improvement before early stopping.\n":
        "    patience : int or \"auto\", default=\"auto\"\n        Epochs without validation improvement before early "
        "stopping; \"auto\": as many as make\n        1,000 gradient steps, within [10, 50], with epochs=\"auto\" (else 10; "
        "`auto_training_size`).\n",
}
_auto_size_signature(AutoEncoder)


# -- the pretrained stack, kept for resuming ---------------------------------------------------------
def write_pretrained(model, path, history: list[dict], method: str) -> None:
    """The stack after layer-wise pretraining, with its history (safetensors, atomically)."""
    from safetensors.torch import save

    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    atomic_write_bytes(path, save(state, metadata={"aekit_pretrain": json.dumps({"history": history,
                                                                                 "method": method})}))


def read_pretrained(model, path, method: str) -> list[dict]:
    """Load a pretrained stack into `model`; its pretraining history."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads(f.metadata()["aekit_pretrain"])
            state = {k: f.get_tensor(k) for k in f.keys()}
        history = list(meta["history"])
    except Exception as exc:
        raise RunFolderError(f"{path}: not a readable pretraining checkpoint ({exc})") from None
    if meta.get("method") != method:
        raise RunFolderError(f"{path} holds a stack pretrained with pretrain={meta.get('method')!r}, not {method!r}: "
                             "train into a new run folder, or pass the same pretrain option")
    load_state_checked(model, state, path)
    return history


__all__ = ["AUTO_SIZE_DEFAULTS", "AutoEncoder", "PRETRAINED_FILE", "auto_training_size"]
