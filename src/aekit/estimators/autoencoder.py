"""`AutoEncoder`: the deterministic autoencoder as a scikit-learn transformer.

`AutoEncoder(latent_dim=16).fit(X).transform(X)` drops into a Pipeline where PCA stood;
`save(path)` writes a run folder and `AutoEncoder.load(path)` reads one (also one that
`aekit train` wrote). `partial_fit(chunk)` trains one pass a chunk, for data that comes in
pieces (`aekit.train.incremental`).
"""
from __future__ import annotations

import dataclasses
import json
import warnings

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from aekit.errors import AekitWarning, ConfigError, DataError, RunFolderError, TrainingError
from aekit.models.autoencoder import AutoEncoderModel, ModelConfig, check_latent_size
from aekit.models.losses import parse_sparsity
from aekit.estimators.base import (CodeTransformer, as_tensor, check_finite, resolve_seed, store_params,
                                   with_training_parameters)
from aekit.estimators.tabular import fit_table_encoder, is_table, observed_mean
from aekit.runs import RunRecord, atomic_write_bytes
from aekit.train.checkpoint import load_state_checked
from aekit.train.incremental import IncrementalTrainer
from aekit.train.pretrain import PretrainConfig, check_pretrain, pretrain
from aekit.train.trainer import CHECKPOINT_FILE, TrainingInterrupted

PRETRAINED_FILE = "pretrained.safetensors"

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
        Denoising training: gaussian:σ, masking:ν, salt-pepper:ν, or file:FOLDER:snr=DB (additive
        noise from the folder's WAV recordings at that SNR; snr=LOW:HIGH draws it per sample).
    sparsity : str or None, default=None
        Code penalty: kl:ρ:β (KL(ρ‖ρ̂)·β) or l1:λ.
    arch : str, default="mlp"
        Blocks: mlp, conv (convolution + max-pooling blocks, mirrored with up-sampling), or
        conv1d (strided 1-D convolutions with residual blocks, for N×C×T signals; flat rows are
        one channel), or resnet (strided convolutions with GroupNorm residual blocks, for colour
        images; `hidden` are the stages' channels).
    blocks : int, default=2
        resnet: residual blocks per stage.
    input_shape : tuple of int or None, default=None
        (C, H, W) of flat image rows, (C, T) of flat signal rows; inferred from 4-D or 3-D X.
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
    n_samples_seen_ : int
        Samples given to `fit` (all its rows, once) and to every `partial_fit` call since.

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
    _accepts_tables = True
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
        blocks=2,
        input_shape=None,
        pretrain=None,
        pretrain_epochs="auto",
        pretrain_lr=None,
        cd_k=1,
        persistent_cd=False,
        **training,
    ):
        store_params(self, locals())  # every argument, as scikit-learn's get_params reads them

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
            input_shape=input_shape, arch=self.arch, hidden=hidden, blocks=self.blocks,
            latent_dim=None if self.latent_dim is None else int(self.latent_dim),
            activation=self.activation, code_activation=code_act, output_activation=out_act,
            tied=bool(self.tied), loss=loss, noise=self.noise, sparsity=self.sparsity,
            # a table's encoding already put its columns on one scale (standard units, one-hot 0/1)
            standardize=not unit and getattr(self, "table_encoder_", None) is None,
            value_range=(0.0, 1.0) if unit else (lo, hi),
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

    def fit(self, X, y=None, *, X_val=None, run_dir=None, resume: bool = False, table_encoder=None):
        """Train on X (N×D or N×C×H×W, or a pandas DataFrame); y is ignored.

        A fraction `validation_fraction` is held out for early stopping unless X_val is given.
        With `run_dir`, checkpoints go to run_dir/checkpoint and `resume=True` continues from the
        last one (after pretraining: from the pretrained stack).

        A DataFrame is a table: a `TableEncoder` (with the options of `table_encoder`, an unfitted
        one, if given; a fitted one is used as it is) is learned on it and kept as ``table_encoder_`` (saved as
        table_encoder.json); numeric columns are standardized, categorical and boolean ones
        one-hot, missing cells imputed with an indicator. The loss counts only observed cells
        (layer-wise pretraining, if any, sees the imputed values). Later, DataFrames are encoded
        by column name; numeric arrays are taken as already encoded.
        """
        self.__dict__.pop("_partial_fit_state", None)  # fit starts over: partial_fit's optimizer is dropped
        super().fit(X, None, X_val=X_val, run_dir=run_dir, resume=resume, table_encoder=table_encoder)
        self.n_samples_seen_ = len(X) if hasattr(X, "__len__") else len(np.asarray(X))  # array-likes too
        return self

    def partial_fit(self, X, y=None):
        """One pass (epoch) of training over the chunk X; y is ignored. scikit-learn's convention
        for data that comes in pieces: call it once per chunk, as often as needed.

        The first call (on an unfitted estimator) builds the model from the chunk's shape and the
        parameters, exactly as `fit` would, and resolves what `fit` resolves from the data from
        this first chunk: the output ("auto": sigmoid when the chunk lies in [0, 1]), the
        per-feature standardization of a linear-output model (the chunk's mean and standard
        deviation, then fixed: later chunks are scaled with it, since moving it would change
        what the trained weights compute), "auto" batch_size, and a table's column encoding
        when X is a DataFrame. Each call then trains one shuffled pass over X in batches of
        `batch_size`, with the same optimizer state kept across calls (Adam's moments and step
        count) and the learning-rate schedule stepped once per call
        (`aekit.train.incremental.IncrementalTrainer`). No validation data is held out, there
        is no early stopping, and `epochs` is not used (it still sets a cosine schedule's
        period). The trainer's callbacks, loggers and torchrun are not used either.

        After `fit` (or `load`), partial_fit continues training the fitted model, with a new
        optimizer (fit's optimizer state is not kept); `fit` after partial_fit starts over.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W), or DataFrame
            One chunk, with the same number of features (the same image shape) as the first.
        y : None
            Ignored.

        Returns
        -------
        AutoEncoder
            self.

        Raises
        ------
        DataError
            A chunk with another number of features or sample shape than the model's, NaN or
            inf values, or values outside [0, 1] for a model with a sigmoid output.
        ConfigError
            ``pretrain`` on the first call (layer-wise pretraining needs the whole data: use fit).
        TrainingError
            The loss became NaN or infinite (the weights before the chunk are kept).

        Examples
        --------
        >>> import numpy as np
        >>> from aekit import AutoEncoder
        >>> rng = np.random.default_rng(0)
        >>> ae = AutoEncoder(hidden=(8,), latent_dim=2, random_state=0)
        >>> for chunk in np.array_split(rng.random((300, 10)), 3):
        ...     _ = ae.partial_fit(chunk)
        >>> ae.n_samples_seen_, len(ae.history_), ae.transform(chunk).shape
        (300, 3, (100, 2))
        """
        from aekit.estimators.streaming import is_row_source

        if is_row_source(X):
            raise DataError("partial_fit takes one chunk of rows in memory (an array or a DataFrame), not a "
                            f"{type(X).__name__}: pass the source to fit(), which streams it, or read its rows "
                            "in chunks (source.read(np.arange(start, stop))) and pass each to partial_fit")
        observed = None
        state = getattr(self, "_partial_fit_state", None)
        if not hasattr(self, "model_"):
            if is_table(X):
                self.table_encoder_, (X, observed) = fit_table_encoder(X)
            X = self._start_partial_fit(X)
        else:
            if is_table(X) and getattr(self, "table_encoder_", None) is not None:
                X, observed = self.table_encoder_.transform(X)
            X = self._validate(X, reset=False)
            self._check_chunk_range(X)
        if state is None:  # the first call, or the first after fit / load
            device = str(next(self.model_.parameters()).device)  # load(path, device) may have moved it
            if device != self.train_config_.device:
                self.train_config_ = dataclasses.replace(self.train_config_, device=device)
            state = IncrementalTrainer(self.model_, self.train_config_, first_epoch=int(self.n_epochs_))
            self._partial_fit_state = state
        mask = None if observed is None else torch.from_numpy(np.asarray(observed, dtype=bool))
        # each chunk prepared as fit prepares its training rows (RobustAutoEncoder winsorizes it)
        X_train, _ = self._training_arrays(X, None, None, None, int(self.train_config_.seed))
        row = state.partial_fit(as_tensor(X_train), mask)
        self.history_ = [*self.history_, row]
        self.n_epochs_ = self.best_epoch_ = state.epoch  # the model holds the last pass's weights
        self.n_samples_seen_ = int(getattr(self, "n_samples_seen_", 0)) + len(X)
        return self

    def _start_partial_fit(self, X) -> np.ndarray:
        """Validate the first chunk and build the model from it, as fit does; the chunk as rows."""
        X = self._validate(X, reset=True)
        if self._pretrain_config() is not None:
            raise ConfigError(f"pretrain={self.pretrain!r} needs the whole data at once: train with fit, or use "
                              "partial_fit without pretraining")
        seed = resolve_seed(self.random_state)
        config = self._resolve_config(X)
        self._n_train_rows = len(X)  # "auto" training sizes from the first chunk
        try:
            train_cfg = self._train_config(seed)
        finally:
            del self._n_train_rows
        model = self._build_model(config, seed)
        if config.standardize:
            model.set_standardization(as_tensor(X[:, : config.n_features]))
        self.model_ = model.eval()
        self.model_config_, self.train_config_ = config, train_cfg
        self.history_, self.best_epoch_, self.n_epochs_, self.n_samples_seen_ = [], 0, 0, 0
        self.input_ndim_ = 2 if self._fit_image_shape is None else 1 + len(self._fit_image_shape)
        del self._fit_image_shape
        self._n_features_out = config.code_size
        return X

    def _check_chunk_range(self, X: np.ndarray) -> None:
        """A model with a sigmoid output (or the bce loss) was built for data in [0, 1]."""
        config = self.model_config_
        if config.output_activation != "sigmoid" and config.loss != "bce":
            return
        lo, hi = float(X.min()), float(X.max())
        if lo < 0.0 or hi > 1.0:
            raise DataError(f"this chunk lies in [{lo:.3g}, {hi:.3g}], but the model has a sigmoid output (or the "
                            "bce loss) for data in [0, 1], chosen from the first chunk: scale the data to [0, 1], or "
                            "start over with output_activation='linear'")

    def _fitted_record(self) -> dict:
        record = super()._fitted_record()
        if hasattr(self, "n_samples_seen_"):
            record["n_samples_seen"] = int(self.n_samples_seen_)
        return record

    def _restore_fitted(self, fitted: dict, model_config: ModelConfig) -> None:
        super()._restore_fitted(fitted, model_config)
        if "n_samples_seen" in fitted:
            self.n_samples_seen_ = int(fitted["n_samples_seen"])

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
        """decoder(encoder(X)), in X's shape (N×D or N×C×H×W); for a table, the reconstruction of
        its encoded features (N × ``table_encoder_.n_features_out_``)."""
        check_is_fitted(self, "model_")
        shape = np.shape(X)
        X = self._validate(X, reset=False)
        out = self._batches(X, self.model_)
        return out.reshape(X.shape) if getattr(self, "table_encoder_", None) is not None else out.reshape(shape)

    def reconstruction_error(self, X) -> np.ndarray:
        """Mean squared error per value, for each sample (N,); for a table, the mean over its
        observed (not missing) encoded values."""
        check_is_fitted(self, "model_")
        from aekit.estimators.streaming import is_row_source, row_blocks

        if is_row_source(X):  # data on disk: read and scored in chunks
            return self._source_reconstruction_error(X)
        X, observed = self._validate_masked(X)

        def errors(start: int, stop: int) -> np.ndarray:
            block = X[start:stop]
            sq = (block.astype(np.float64) - self._batches(block, self.model_).reshape(len(block), -1)) ** 2
            return sq.mean(1) if observed is None else observed_mean(np.where(observed[start:stop], sq, 0.0),
                                                                     observed[start:stop])

        return row_blocks(errors, len(X))  # a block at a time: no float64 temporaries of the whole array

    def score(self, X, y=None) -> float:
        """Negative mean reconstruction error (mean squared error per value): higher is better."""
        check_is_fitted(self, "model_")
        return -float(self.reconstruction_error(X).mean())




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


__all__ = ["AutoEncoder", "PRETRAINED_FILE"]
