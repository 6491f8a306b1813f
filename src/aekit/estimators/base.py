"""The base every aekit estimator stands on: the fit template and the run folder.

`BaseAutoEncoder.fit` is one template for every network the toolkit trains::

    validate X (and y) → resolve a typed model config → hold out validation data →
    prepare the training arrays → build the model → optional pretraining → Trainer → fitted attributes

A family fills in a few methods (`_resolve_config`, `_model_class`, and where it needs them
`_check_labels`, `_training_arrays`, `_pretrain`), as PyOD's `BaseDeepLearningDetector` has its
models do; `save` and `load` write and read a run folder through `aekit.runs.RunRecord` for
every family alike.
"""
from __future__ import annotations

import inspect
import typing
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from aekit.data.dataset import warn_raw_pixels
from aekit.data.sources import is_row_source
from aekit.errors import AekitWarning, ConfigError, DataError, RunFolderError
from aekit.estimators.sizing import AUTO, auto_training_size, validation_rows
from aekit.estimators.streaming import INFERENCE_BATCH, StreamedFit, set_standardization, validated_source
from aekit.estimators.tabular import fit_table_encoder, is_table, load_table_encoder, save_table_encoder
from aekit.models.autoencoder import ModelConfig
from aekit.runs import RunRecord
from aekit.train.checkpoint import CHECKPOINT_FILE, check_state, checkpoint_train_config, load_state_checked
from aekit.train.callbacks import use_callbacks
from aekit.train.distributed import is_writer
from aekit.train.precision import check_device, to_device
from aekit.train.tracking import resolve_loggers, tracking_run
from aekit.train.trainer import TrainConfig, Trainer, evaluate


# -- helpers the estimators share ------------------------------------------------------------------
def check_finite(X: np.ndarray, what: str = "X") -> None:
    """DataError naming how many values and rows of X are NaN or infinite."""
    if X.size and not np.isfinite(X).all():
        bad = ~np.isfinite(X.reshape(len(X), -1))
        rows = np.flatnonzero(bad.any(1))
        raise DataError(
            f"{what} contains NaN or inf: {int(bad.sum())} values in {len(rows)} rows (first row {int(rows[0])})"
        )


def as_tensor(X: np.ndarray) -> torch.Tensor:
    """A float32 tensor owning its memory (inputs may be read-only memmaps)."""
    return torch.from_numpy(np.array(X, dtype=np.float32))


# The training parameters the network estimators share, with their defaults and documentation;
# `with_training_parameters` adds them to an estimator's signature and docstring.
TRAINING_PARAMETERS = {
    "epochs": AUTO, "batch_size": AUTO, "optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0, "lr_schedule": None,
    "grad_clip": None, "validation_fraction": 0.1, "early_stopping": True, "patience": AUTO, "random_state": None,
    "device": "cpu", "precision": "32", "verbose": 0, "max_seconds": None, "logger": None,
}
# Parameters that say where results are reported, not what is learned: not stored in config.json.
NOT_STORED = ("logger",)
TRAINING_DOC = """\
    epochs : int or "auto", default="auto"
        Maximum training epochs (early stopping may end sooner); "auto": enough for 20,000
        gradient steps, within [100, 1000] (`aekit.estimators.sizing.auto_training_size`).
    batch_size : int or "auto", default="auto"
        Mini-batch size; "auto": training rows / 32 rounded down to a power of two, within
        [16, 128] and at most the rows.
    optimizer : str, default="adam"
        adam, adamw, sgd, rmsprop, adadelta or adagrad.
    lr : float, default=1e-3
        Learning rate.
    weight_decay : float, default=0.0
        L2 weight decay.
    lr_schedule : str or None, default=None
        cosine, step:EVERY:GAMMA, exponential:GAMMA or plateau.
    grad_clip : float or None, default=None
        Clip the global gradient norm to this value.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping (0: no validation).
    early_stopping : bool, default=True
        Stop after `patience` epochs without validation improvement and restore the best weights.
    patience : int or "auto", default="auto"
        Epochs without validation improvement before early stopping; "auto": as many as make
        1,000 gradient steps, within [10, 50], when epochs is "auto" too (else 10).
    random_state : int, RandomState or None, default=None
        Seed for initialization, shuffling, noise and sampling (CPU runs are reproducible).
    device : str, default="cpu"
        Torch device: auto (CUDA when present, else cpu), cpu, cuda, cuda:N, mps. Under torchrun
        "cuda" and "auto" mean the process's own GPU (cuda:LOCAL_RANK).
    precision : str, default="32"
        32, bf16-mixed (autocast in bfloat16; CPU and recent GPUs) or 16-mixed (autocast in
        float16 with loss scaling; GPU only). Weights and the optimizer stay float32.
    verbose : int, default=0
        1 shows a progress bar.
    max_seconds : float or None, default=None
        Training-time budget: training stops after the epoch in which it is reached.
    logger : str, TrackingLogger, list of those, or None, default=None
        Experiment tracking: "tensorboard", "mlflow", "csv" ("mlflow:URI" for a tracking server,
        "tensorboard:DIR" / "csv:DIR" for another folder), a logger object of
        `aekit.train.tracking` (e.g. ``MLflowLogger(tracking_uri=..., experiment=...)``) or a
        list of those. Each epoch's losses and learning rate and the config are logged, inside
        the run folder by default; logging does not change training.
"""


def with_training_parameters(cls):
    """Class decorator: the estimator's `__init__(..., **training)` takes TRAINING_PARAMETERS as
    keyword arguments, shown in its signature (which scikit-learn's get_params reads) and, where
    its docstring says ``{training_parameters}``, in its documentation."""
    init = cls.__init__
    sig = inspect.signature(init)
    own = [p for p in sig.parameters.values() if p.kind != inspect.Parameter.VAR_KEYWORD]
    shared = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
              for name, default in TRAINING_PARAMETERS.items()]
    init.__signature__ = sig.replace(parameters=[*own, *shared])
    if cls.__doc__:
        cls.__doc__ = cls.__doc__.replace("    {training_parameters}\n", TRAINING_DOC)
    return cls


def store_params(est, params: dict) -> None:
    """Set each constructor argument as an attribute of the same name, unchanged (scikit-learn's
    rule for estimators; validation happens in fit). `training` holds the shared training
    parameters given (see `with_training_parameters`); the others take their defaults."""
    for name, value in params.items():
        if name == "training":
            unknown = sorted(set(value) - set(TRAINING_PARAMETERS))
            if unknown:
                raise TypeError(f"{type(est).__name__}.__init__() got an unexpected keyword argument {unknown[0]!r}")
            for key, default in TRAINING_PARAMETERS.items():
                setattr(est, key, value.get(key, default))
        elif name not in ("self", "__class__"):
            setattr(est, name, value)


def batched(fn, X: np.ndarray, device, batch_size: int = INFERENCE_BATCH) -> np.ndarray:
    """fn over X in float32 batches on `device`, without gradients; the outputs as one array."""
    outs = []
    with torch.inference_mode():
        for s in range(0, len(X), batch_size):
            xb = to_device(torch.from_numpy(np.array(X[s : s + batch_size], dtype=np.float32)), device)
            outs.append(fn(xb).float().cpu().numpy())
    return np.concatenate(outs) if outs else np.empty((0,), np.float32)


def resolve_seed(random_state) -> int:
    """An int seed from None (fresh), a RandomState or an int."""
    if random_state is None:
        return int(np.random.default_rng().integers(0, 2**31 - 1))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)) or random_state < 0:
        raise ConfigError(f"random_state must be None, a RandomState or an integer ≥ 0, got {random_state!r}")
    return int(random_state)


def json_params(params: dict) -> dict:
    """Constructor arguments as JSON values (tuples become lists; a RandomState is not stored)."""
    out = {}
    for k, v in params.items():
        if isinstance(v, tuple):
            v = list(v)
        elif isinstance(v, np.random.RandomState):
            v = None
        out[k] = v
    return out


# Training options that may change on --resume (more epochs, another budget, another device).
RESUMABLE_CHANGES = ("epochs", "max_seconds", "progress", "num_threads", "device", "checkpoint_every")


def check_resume_options(checkpoint, train_cfg: TrainConfig) -> None:
    """Refuse to resume a checkpoint with other training options than it was written with (the
    history would say one learning rate while the config records another), listing them."""
    saved = checkpoint_train_config(checkpoint)
    if saved is None:
        return
    now = train_cfg.to_dict()
    changed = [f"{k} {saved[k]!r} → {now[k]!r}" for k in sorted(now)
               if k in saved and k not in RESUMABLE_CHANGES and saved[k] != now[k]]
    if changed:
        raise ConfigError("--resume with other training options than the checkpoint's: " + "; ".join(changed)
                          + ". Resume with the same options (only epochs, max_seconds and the device may change), "
                            "or start again with --overwrite")


# -- the base estimator ----------------------------------------------------------------------------
class BaseAutoEncoder(StreamedFit, BaseEstimator):
    """What every network estimator shares: the fit template, batched inference, save and load.

    Subclasses set `_kind` (the run folder's kind), `_model_class` (the torch module built from a
    config) and `_config_class` (the typed config stored in the run folder), and implement
    `_resolve_config(X, y)`. Fitted attributes: `model_`, `model_config_`, `train_config_`,
    `history_`, `best_epoch_`, `n_epochs_`, `n_features_in_`, `input_ndim_`.
    """

    _kind: typing.ClassVar[str] = ""
    _config_class: typing.ClassVar[type] = ModelConfig
    _model_class: typing.ClassVar[type]
    # Constructor arguments stored in old run folders that this class no longer takes, with a note.
    _tuple_params: typing.ClassVar[tuple[str, ...]] = ("hidden", "input_shape")
    # Whether fit takes a DataFrame as a table (`aekit.estimators.tabular`): the family's model
    # accepts an `observed` mask in its loss terms. Other families read DataFrames as arrays.
    _accepts_tables: typing.ClassVar[bool] = False

    @classmethod
    def from_preset(cls, name: str, **params):
        """The estimator of a named preset (`aekit.estimators.PRESETS`) with `params` overriding it;
        on `AutoEncoder` any preset, on another class one of that class's presets."""
        from aekit.estimators.presets import make_preset

        return make_preset(name, base=cls, **params)

    # -- input handling ---------------------------------------------------------------------
    def _validate(self, X, reset: bool) -> np.ndarray:
        """Checked float array, always N×D: image batches N×C×H×W are flattened here so that
        `n_features_in_` counts values (and 2-D rows of the same size are accepted later). An
        estimator fitted on a table encodes DataFrames by column name. A row source (data on disk)
        is checked and returned as a flat view that reads in chunks (`aekit.estimators.streaming`)."""
        if not reset and is_row_source(X):
            return validated_source(self, X)
        if not reset and is_table(X) and getattr(self, "table_encoder_", None) is not None:
            X = self.table_encoder_.transform(X).X
        elif not reset:
            warn_raw_pixels(X, getattr(self.model_config_, "value_range", None))
        if hasattr(X, "ndim") and getattr(X, "ndim", 0) in (3, 4):  # N×C×T signals, N×C×H×W images
            image_shape = tuple(int(s) for s in X.shape[1:])
            X = np.asarray(X).reshape(X.shape[0], -1)
        else:
            image_shape = None
        try:
            X = validate_data(self, X, reset=reset, dtype=[np.float64, np.float32], ensure_all_finite=False,
                              ensure_min_features=1)
        except ValueError as exc:
            if isinstance(exc, DataError):
                raise
            raise DataError(str(exc)) from None
        check_finite(X)
        if reset:
            self._fit_image_shape = image_shape
        elif image_shape is not None and image_shape != tuple(self.model_config_.input_shape):
            raise DataError(f"X has samples of shape {image_shape}, the model was fitted on "
                            f"{tuple(self.model_config_.input_shape)}")
        return X

    def _validate_masked(self, X) -> tuple[np.ndarray, np.ndarray | None]:
        """Checked rows and, for a DataFrame given to an estimator fitted on a table, the observed
        mask of the encoded values (None otherwise: every value counts)."""
        if is_table(X) and getattr(self, "table_encoder_", None) is not None:
            X, observed = self.table_encoder_.transform(X)
            return self._validate(X, reset=False), observed
        return self._validate(X, reset=False), None

    def _validate_val(self, X_val, X) -> np.ndarray:
        X_val = np.asarray(X_val, dtype=np.float32)
        X_val = X_val.reshape(len(X_val), -1) if X_val.ndim in (3, 4) else X_val
        if X_val.ndim != 2 or X_val.shape[1] != X.shape[1]:
            raise DataError(f"X_val has samples of shape {X_val.shape[1:]}, X has {X.shape[1:]}")
        check_finite(X_val, "X_val")
        return X_val

    def _input_shape(self, X: np.ndarray) -> tuple[int, ...]:
        """The model's sample shape: the images' (C, H, W), `input_shape`, or flat rows."""
        image_shape = getattr(self, "_fit_image_shape", None)
        given = getattr(self, "input_shape", None)
        if image_shape is not None:
            if given is not None and tuple(given) != image_shape:
                raise ConfigError(f"input_shape={tuple(given)} does not match X's samples {image_shape}")
            return image_shape
        if given is not None:
            shape = tuple(int(s) for s in given)
            if int(np.prod(shape)) != X.shape[1]:
                raise ConfigError(f"input_shape={shape} holds {int(np.prod(shape))} values but X has {X.shape[1]} features")
            return shape
        if getattr(self, "arch", "mlp") == "conv1d":
            return (1, X.shape[1])  # flat rows for a 1-D conv model: one channel of D samples
        if getattr(self, "arch", "mlp") == "conv":
            # Flat rows for a conv model: square grey images when the size allows, else 1×1×D strips.
            side = int(round(np.sqrt(X.shape[1])))
            return (1, side, side) if side * side == X.shape[1] else (1, 1, X.shape[1])
        return (X.shape[1],)

    # -- what a family fills in (and `_resolve_config(X, y) -> ModelConfig`, which each family that
    # uses the fit template defines) ---------------------------------------------------------
    def _check_labels(self, y, n: int):
        """The labels the family trains with (None: an unsupervised family ignores y)."""
        return None

    def _training_arrays(self, X_train, y_train, X_val, y_val, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The rows the trainer sees (a conditional VAE joins the labels, binarization...)."""
        return X_train, X_val

    def _pretrain(self, model, X_train, X_val, train_cfg, run: RunRecord | None, resume: bool
                  ) -> tuple[list[dict], bool, str]:
        """Pretraining before the trainer: (its history, whether the trainer resumes, the trainer's stage)."""
        return [], resume, "train"

    def _train_config(self, seed: int) -> TrainConfig:
        """The trainer's settings; epochs / batch_size / patience "auto" resolved from the training
        rows (`auto_training_size`; before the data is known, as for large data)."""
        rows = getattr(self, "_n_train_rows", None)
        epochs, batch_size, patience = auto_training_size(rows if rows is not None else 10**9, self.epochs,
                                                          self.batch_size, self.patience)
        return TrainConfig(  # TrainConfig checks every value (ConfigError naming the argument)
            epochs=epochs, batch_size=batch_size, optimizer=getattr(self, "optimizer", "adam"),
            lr=self.lr, weight_decay=self.weight_decay, lr_schedule=getattr(self, "lr_schedule", None),
            grad_clip=getattr(self, "grad_clip", None), early_stopping=bool(self.early_stopping),
            patience=patience, seed=seed, device=self.device, precision=getattr(self, "precision", "32"),
            progress=bool(self.verbose),
            max_seconds=getattr(self, "max_seconds", None), num_threads=getattr(self, "num_threads", None),
        )

    # -- checks that need no data -----------------------------------------------------------------
    def check_params(self) -> None:
        """Check the options that need no data (training options, option strings, the seed), so that
        a command can refuse them before it loads data or touches a run folder; `fit` checks the rest."""
        self._train_config(resolve_seed(self.random_state))
        resolve_loggers(getattr(self, "logger", None))
        for name in ("noise", "sparsity"):
            if getattr(self, name, None) is not None:
                from aekit.data.noise import parse_noise
                from aekit.models.losses import parse_sparsity

                (parse_noise if name == "noise" else parse_sparsity)(getattr(self, name))

    def check_resume(self, run_dir) -> None:
        """Refuse to resume the run in `run_dir` with other training options than its checkpoint's.

        Before the data is loaded, batch_size / patience "auto" are taken as the checkpoint resolved
        them (fit checks them again against the data)."""
        path = RunRecord(run_dir).checkpoint_dir / CHECKPOINT_FILE
        cfg = self._train_config(resolve_seed(self.random_state))
        saved = checkpoint_train_config(path) or {}
        for name in ("batch_size", "patience"):
            if getattr(self, "_n_train_rows", None) is None and getattr(self, name) == AUTO and name in saved:
                setattr(cfg, name, int(saved[name]))
        check_resume_options(path, cfg)

    # -- the fit template -----------------------------------------------------------------------
    def fit(self, X, y=None, *, X_val=None, y_val=None, run_dir=None, resume: bool = False, table_encoder=None):
        """Train on X (N×D or N×C×H×W, or a DataFrame for a family that takes tables).

        A fraction `validation_fraction` is held out for early stopping unless X_val is given.
        With `run_dir`, checkpoints go to run_dir/checkpoint and `resume=True` continues from the
        last one. Families that train on labels (a conditional VAE) take y (and y_val with X_val).
        A DataFrame is encoded by a `TableEncoder` learned on it (`table_encoder`: an unfitted one
        whose options to use), and the loss counts only its observed cells. X may also be a
        `aekit.data.sources.RowSource` (data on disk, read batch by batch: `aekit.estimators.streaming`).
        """
        if is_row_source(X):
            return self._fit_source(X, y, X_val=X_val, run_dir=run_dir, resume=resume, table_encoder=table_encoder)
        observed = obs_val = None
        if is_table(X) and self._accepts_tables:
            self.table_encoder_, (X, observed) = fit_table_encoder(X, table_encoder)
            if X_val is not None:
                if not is_table(X_val):
                    raise DataError("X is a table (a DataFrame), so X_val must be one too")
                X_val, obs_val = self.table_encoder_.transform(X_val)
        elif table_encoder is not None:
            raise ConfigError("table_encoder is for tables: pass X as a pandas DataFrame")
        else:
            self.__dict__.pop("table_encoder_", None)  # a refit on arrays forgets an earlier table
        X = self._validate(X, reset=True)
        n = X.shape[0]
        if n < 2:
            raise DataError(f"{type(self).__name__} needs at least 2 samples to fit, got {n} sample")
        y = self._check_labels(y, n)
        seed = resolve_seed(self.random_state)
        config = self._resolve_config(X, y)
        self.model_config_ = config
        if observed is None:
            X_train, y_train, X_val, y_val = self._hold_out(X, y, X_val, y_val, seed)
            masks = None
        else:  # the mask is held out with its rows, as labels are (a family that takes tables has none)
            X_train, obs_train, X_val, obs_val = self._hold_out(X, observed, X_val, obs_val, seed)
            y_train = y_val = None
            masks = (obs_train, obs_val)
        X_train, X_val = self._training_arrays(X_train, y_train, X_val, y_val, seed)
        self._fit_model(config, X_train, X_val, seed, run_dir, resume, observed=masks)
        self.input_ndim_ = 2 if self._fit_image_shape is None else 1 + len(self._fit_image_shape)
        del self._fit_image_shape
        return self

    def _hold_out(self, X, y, X_val, y_val, seed: int):
        """(X_train, y_train, X_val, y_val): the given validation data, or a seeded share of X."""
        frac = float(self.validation_fraction)
        if not 0.0 <= frac < 1.0:
            raise ConfigError(f"validation_fraction must be in [0, 1), got {frac}")
        if X_val is not None:
            if y is not None and y_val is None:
                raise ConfigError(f"{type(self).__name__} trains on labels: pass y_val with X_val")
            return X, y, self._validate_val(X_val, X), (None if y is None else np.asarray(y_val))
        n = len(X)
        n_val = validation_rows(n, frac, stacklevel=3)
        if not n_val:
            return X, y, None, None
        perm = np.random.default_rng(seed).permutation(n)
        val, tr = perm[:n_val], perm[n_val:]
        return X[tr], None if y is None else y[tr], X[val], None if y is None else y[val]

    def _build_model(self, config: ModelConfig, seed: int) -> torch.nn.Module:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self._model_class(config)

    def _fit_model(self, config: ModelConfig, X_train: np.ndarray, X_val: np.ndarray | None, seed: int,
                   run_dir, resume: bool, observed: tuple | None = None) -> None:
        """Build the model, pretrain if the family does, train; set the fitted attributes.
        `observed`: the (training, validation) masks of a table's observed cells."""
        self._n_train_rows = len(X_train)  # what "auto" training sizes are resolved from
        loggers = resolve_loggers(getattr(self, "logger", None))
        try:
            # The loggers see every stage, pretraining too; a session `aekit train` opened stays open.
            with tracking_run(loggers, run_dir, resume=resume) as tracking, use_callbacks(*loggers):
                tracking.log_params({"estimator": type(self).__name__, "params": self._stored_params(),
                                     "model": config.to_dict(), "train": self._train_config(seed).to_dict()})
                self._train_model(config, X_train, X_val, seed, run_dir, resume, observed)
        finally:
            del self._n_train_rows

    def _train_model(self, config, X_train, X_val, seed, run_dir, resume, observed=None) -> None:
        train_cfg = self._train_config(seed)
        if train_cfg.batch_size > len(X_train):
            warnings.warn(f"batch_size={train_cfg.batch_size} is larger than the {len(X_train)} training samples; "
                          f"using batches of {len(X_train)}", AekitWarning, stacklevel=4)
        model = self._build_model(config, seed)
        Xt = X_train if is_row_source(X_train) else as_tensor(X_train)  # a source streams
        Xv = None if X_val is None or not len(X_val) else as_tensor(X_val)
        if getattr(config, "standardize", False):
            set_standardization(model, Xt, config.n_features)
        model.to(train_cfg.device)  # "auto" and, under torchrun, "cuda" resolved to this process's device
        run = RunRecord(run_dir) if run_dir else None
        if resume and run is not None and is_writer():  # under torchrun rank 0 reads the checkpoint
            self.check_resume(run.path)
        prior, resume, stage = self._pretrain(model, Xt, Xv, train_cfg, run, resume)
        trainer = Trainer(train_cfg, checkpoint_dir=run.checkpoint_dir if run else None, stage=stage)
        masks = {} if observed is None else {
            "observed": torch.from_numpy(np.asarray(observed[0], dtype=bool)),
            "observed_val": None if Xv is None else torch.from_numpy(np.asarray(observed[1], dtype=bool))}
        history = trainer.fit(model, Xt, Xv, resume=resume, history=prior, **masks)
        self.model_ = model.eval()
        self.train_config_ = train_cfg
        self.history_ = history
        self.best_epoch_ = trainer.best_epoch
        self.n_epochs_ = sum(r.get("stage") == trainer.stage for r in history)  # this stage's epochs, not pretraining

    # -- using the model ------------------------------------------------------------------------
    def _batches(self, X: np.ndarray, fn, batch_size: int = INFERENCE_BATCH) -> np.ndarray:
        return batched(fn, X, next(self.model_.parameters()).device, batch_size)

    def validation_loss(self, X) -> dict[str, float]:
        """The model's validation terms (the loss it was trained on, without noise) over X."""
        check_is_fitted(self, "model_")
        X = self._validate(X, reset=False)
        return evaluate(self.model_, as_tensor(X))

    # -- run folders ----------------------------------------------------------------------------
    def _stored_params(self) -> dict:
        """The constructor arguments config.json records, as JSON values (not where logs go)."""
        return json_params({k: v for k, v in self.get_params().items() if k not in NOT_STORED})

    def run_config(self, data: dict | None = None) -> dict:
        """The config.json of this fitted estimator's run folder."""
        check_is_fitted(self, "model_")
        return {
            "kind": self._kind,
            "estimator": type(self).__name__,
            "params": self._stored_params(),
            "model": self.model_config_.to_dict(),
            "train": self.train_config_.to_dict(),
            "fitted": self._fitted_record(),
            "data": data or {},
        }

    def _fitted_record(self) -> dict:
        return {"n_features_in": int(self.n_features_in_), "input_ndim": int(self.input_ndim_),
                "best_epoch": int(self.best_epoch_), "n_epochs": int(self.n_epochs_)}

    def save(self, path, *, data: dict | None = None, metrics: dict | None = None) -> Path:
        """Write a run folder: config.json, model.safetensors, history.csv (+ metrics.json)."""
        check_is_fitted(self, "model_")
        run = RunRecord(path).save(self.run_config(data), self.model_.state_dict(), metrics=metrics,
                                   history=self.history_)
        save_table_encoder(self, run)  # table_encoder.json, for an estimator fitted on a table
        return run

    def export(self, path, format: str = "onnx", part: str | None = None, *, opset: int | None = None,
               metadata: dict | None = None) -> Path:
        """Write one forward path of the fitted model as an ONNX or TorchScript file, with the
        preprocessing inside and JSON metadata beside it (`aekit.estimators.export`).

        Parameters
        ----------
        path : str or Path
            The file to write; the metadata goes to ``path + ".json"``.
        format : {"onnx", "torchscript"}, default "onnx"
        part : {"encoder", "decoder", "autoencoder"} ("colorizer" for a Colorizer) or None
            None: the encoder (a Colorizer's colorizer).
        opset : int or None
            ONNX opset (default 18).
        metadata : dict or None
            Extra entries for the metadata.

        Returns
        -------
        Path
            The written file.

        Examples
        --------
        >>> import numpy as np, tempfile, os, torch
        >>> from aekit import AutoEncoder
        >>> X = np.random.default_rng(0).random((32, 6)).astype(np.float32)
        >>> ae = AutoEncoder(hidden=(4,), latent_dim=2, epochs=1, random_state=0).fit(X)
        >>> path = ae.export(os.path.join(tempfile.mkdtemp(), "ae.pt"), "torchscript", part="autoencoder")
        >>> recon = torch.jit.load(path)(torch.from_numpy(X)).detach().numpy()
        >>> bool(np.abs(recon - ae.reconstruct(X)).max() < 1e-4)
        True
        """
        from aekit.estimators.export import export_estimator

        return export_estimator(self, path, format, part, opset=opset, metadata=metadata)

    @classmethod
    def _params_from_config(cls, params: dict) -> dict:
        """Constructor arguments from a stored config's "params" (JSON lists back to tuples)."""
        return {k: (tuple(v) if k in cls._tuple_params and v is not None else v) for k, v in params.items()}

    @classmethod
    def load(cls, path, device: str = "cpu"):
        """Read a run folder written by `save` or by the CLI (`aekit train`)."""
        run = RunRecord(path)
        config, state = run.load(kind=cls._kind)
        try:
            est = cls(**cls._params_from_config(dict(config["params"])))
            model_config = cls._config_class.from_dict(config["model"])
            with torch.device("meta"):  # shapes only: a tampered config cannot make it allocate
                probe = cls._model_class(model_config)
        except (TypeError, KeyError, ValueError, ConfigError) as exc:
            raise RunFolderError(f"{path}: config.json does not describe a {cls.__name__} ({exc})") from None
        check_state(probe, state, run.weights_path)  # the weights' shapes, before building the model
        model = cls._model_class(model_config)
        load_state_checked(model, state, run.weights_path)
        est.device = str(check_device(device))
        est.model_ = model.to(est.device).eval()
        est.model_config_ = model_config
        est.train_config_ = TrainConfig.from_dict(config.get("train", {}))
        est.history_ = run.history()
        fitted = config.get("fitted", {})
        est.best_epoch_ = int(fitted.get("best_epoch", 0))
        est.n_epochs_ = int(fitted.get("n_epochs", len(est.history_)))
        est._restore_fitted(fitted, model_config)
        encoder = load_table_encoder(run.path)
        if encoder is not None:
            est.table_encoder_ = encoder
        return est

    def _restore_fitted(self, fitted: dict, model_config: ModelConfig) -> None:
        """Fitted attributes beyond the model (a family with others extends this)."""
        self.n_features_in_ = int(fitted.get("n_features_in", model_config.n_features))
        self.input_ndim_ = int(fitted.get("input_ndim", 2))


class CodeTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseAutoEncoder):
    """A network estimator that is a scikit-learn transformer: X → codes (`transform`), codes → X
    (`inverse_transform`), with `code_size` output features."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # The network computes in float32 and returns float32 whatever the input dtype: results
        # are float32-exact, and claiming float64 would promise precision it does not have.
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        return tags

    def fit(self, X, y=None, **fit_params):
        super().fit(X, y, **fit_params)
        self._n_features_out = self.model_config_.code_size
        return self

    def _restore_fitted(self, fitted: dict, model_config: ModelConfig) -> None:
        super()._restore_fitted(fitted, model_config)
        self._n_features_out = model_config.code_size


__all__ = ["CodeTransformer", "TRAINING_DOC", "TRAINING_PARAMETERS", "BaseAutoEncoder", "as_tensor", "batched", "check_finite", "json_params",
           "resolve_seed", "store_params", "with_training_parameters"]
