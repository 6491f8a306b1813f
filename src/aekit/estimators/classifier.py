"""Unsupervised pretraining, then supervised fine-tuning with few labels (Hinton & Salakhutdinov 2006;
Erhan et al. 2010).

`AutoEncoderClassifier` fits an autoencoder on every row of X (labelled or not), puts a softmax
layer on its encoder and trains that on the labelled rows: end to end (fine-tuning) or with the
encoder frozen. Rows labelled -1 are unlabelled, as in scikit-learn's semi-supervised estimators.

With few labels, fine-tuning alone uses the unlabelled rows only through the pretrained encoder,
and on the digits that did not beat logistic regression on the raw pixels (benchmarks/RESULTS.md).
So by default (`pseudo_labels="auto"`) a semi-supervised step follows: label spreading (Zhou et
al. 2004) over the k-nearest-neighbour graph of the pretrained codes — the image search of `aekit index`,
used to pass labels to similar images — gives every unlabelled row a class distribution; then
curriculum pseudo-labelling (Cascante-Bonilla et al. 2021): in round r of R, the most confident
r/R of the unlabelled rows, balanced over the predicted classes so that no class swamps the
others, join the labelled rows, and the classifier is trained again from the pretrained encoder
(so early mistakes are not baked in). After the first round the confidences average the graph's
distributions with the classifier's predictions. `pseudo_labels="self"` uses the classifier's own
predictions alone (classic self-training).
"""
from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
from torch import nn

from aekit.errors import AekitWarning, ConfigError, DataError
from aekit.estimators.autoencoder import AutoEncoder
from aekit.estimators.base import as_tensor, batched, check_finite, resolve_seed, store_params
from aekit.train.precision import resolve_device
from aekit.train.trainer import TrainConfig, Trainer

UNLABELLED = -1
PSEUDO_LABELS = (None, "auto", "self", "neighbours")


class EncoderClassifierNet(nn.Module):
    """encoder → standardized code → linear → class logits.

    The code is standardized with statistics of the pretraining data, so that the softmax layer
    starts on a sensible scale whatever the encoder's code activation.
    The trainer hands batches of [x | y] rows (the label in the last column), so that the one
    `Trainer` (seeding, early stopping, checkpoints) trains this model too.
    """

    def __init__(self, encoder_model: nn.Module, code_size: int, n_classes: int, freeze: bool):
        super().__init__()
        self.body = encoder_model
        self.freeze = freeze
        self.head = nn.Linear(code_size, n_classes)
        self.register_buffer("code_shift", torch.zeros(code_size))
        self.register_buffer("code_scale", torch.ones(code_size))
        if freeze:
            for p in self.body.parameters():
                p.requires_grad_(False)

    def set_code_standardization(self, codes: torch.Tensor) -> None:
        self.code_shift.copy_(codes.mean(0))
        std = codes.std(0, unbiased=False)
        self.code_scale.copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))

    def train(self, mode: bool = True):
        super().train(mode)
        if self.freeze:
            self.body.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        code = self.body.encode(x)
        return self.head((code - self.code_shift) / self.code_scale)

    def _terms(self, xy: torch.Tensor) -> dict[str, torch.Tensor]:
        x, y = xy[:, :-1], xy[:, -1].long()
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        return {"loss": loss, "error": (logits.argmax(1) != y).float().mean()}

    def training_terms(self, xy: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        return self._terms(xy)

    def validation_terms(self, xy: torch.Tensor) -> dict[str, torch.Tensor]:
        return self._terms(xy)


AUTO_BATCH = (16, 64)  # batch_size="auto": rows / 4 rounded down to a power of two, within these bounds
AUTO_ROWS_PER_BATCH = 4


def auto_batch_size(n_rows: int) -> int:
    """The classifier's batch_size="auto": rows / 4 rounded down to a power of two, within [16, 64]
    and at most the rows.

    With 10 labels per class on the digits (100 rows) the former fixed 64 made 2 steps an epoch
    and lost to logistic regression on 4 of 5 label draws; 16 won all 5 (benchmarks/RESULTS.md,
    "Defaults on small data"). From 256 rows on (the pseudo-label rounds) it is the former 64:
    smaller batches there cost a point with one label per class.

    Parameters
    ----------
    n_rows : int
        Rows trained on (at least 1).

    Returns
    -------
    int

    Examples
    --------
    >>> auto_batch_size(100), auto_batch_size(200), auto_batch_size(300), auto_batch_size(5)
    (16, 32, 64, 5)
    """
    n = max(1, int(n_rows))
    lo, hi = AUTO_BATCH
    target = max(1, n // AUTO_ROWS_PER_BATCH)
    return min(n, hi, max(lo, 1 << (target.bit_length() - 1)))


def few_labels(y, per_class: int, random_state=0) -> np.ndarray:
    """A copy of y with all but `per_class` randomly chosen labels of each class set to -1."""
    y = np.asarray(y)
    if per_class < 1:
        raise ConfigError(f"labels per class must be ≥ 1, got {per_class}")
    rng = np.random.default_rng(random_state)
    numeric = y.dtype.kind in "iub"
    out = np.full(y.shape, UNLABELLED if numeric else "-1", dtype=np.int64 if numeric else object)
    classes, counts = np.unique(y, return_counts=True)
    short = [(c, n) for c, n in zip(classes, counts) if n < per_class]
    if short:
        c, n = min(short, key=lambda t: t[1])
        raise DataError(f"{per_class} labels per class is more than class {c.tolist()!r} has ({n} samples)")
    for c in classes:
        idx = rng.choice(np.flatnonzero(y == c), per_class, replace=False)
        out[idx] = y[idx]
    return out


class AutoEncoderClassifier(ClassifierMixin, BaseEstimator):
    """A classifier that pretrains an autoencoder on all rows, then fine-tunes it on the labelled ones.

    Parameters
    ----------
    autoencoder : an `AutoEncoder` (or a non-conditional `VariationalAutoEncoder`). Unfitted (the
        default is ``AutoEncoder(hidden=(256, 128), latent_dim=32)``): a clone is fitted on all of X
        (labelled and unlabelled rows). Already fitted: its encoder is used as is (warm start).
    freeze : keep the encoder's weights fixed and train only the softmax layer.
    epochs, batch_size, optimizer, lr, weight_decay, lr_schedule, max_seconds : the supervised
        training (as for `AutoEncoder`; Adam by default). batch_size="auto" (the default) is
        `auto_batch_size` of the rows trained on: 16 up to 127 rows (10 labels per class of 10
        classes), 32 up to 255, then the former 64, so that few labels still make several steps an epoch.
    pseudo_labels : the semi-supervised step over the unlabelled rows (see the module doc):
        "neighbours" (label spreading over the k-nearest-neighbour graph of the pretrained codes
        gives the first round's labels; later rounds average them with the classifier's), "self"
        (the classifier's own predictions), None (plain fine-tuning), or "auto" (= "neighbours"
        when there are unlabelled rows).
    self_training_rounds : R, the number of pseudo-labelling rounds.
    validation_fraction : share of the labelled rows held out for early stopping (0: none, the
        usual choice when labels are few).
    random_state, device, verbose : as for `AutoEncoder`.
    """

    def __init__(self, autoencoder=None, *, freeze=False, epochs=100, batch_size="auto", optimizer="adam", lr=1e-3,
                 weight_decay=1e-4, lr_schedule=None, pseudo_labels="auto", self_training_rounds=3,
                 validation_fraction=0.0, patience=10, max_seconds=None, random_state=None, device="cpu", verbose=0):
        store_params(self, locals())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        return tags

    # -- fitting ---------------------------------------------------------------------------
    def _pretrained(self, X: np.ndarray, seed: int):
        ae = self.autoencoder
        if ae is None:
            ae = AutoEncoder(hidden=(256, 128), latent_dim=32, random_state=seed, device=self.device,
                             verbose=self.verbose)
        if not isinstance(ae, AutoEncoder):
            raise ConfigError(f"autoencoder must be an aekit AutoEncoder (or VariationalAutoEncoder), "
                              f"got {type(ae).__name__}")
        if hasattr(ae, "model_"):  # fitted: warm start from its encoder
            n_in = int(getattr(ae, "n_features_in_", ae.model_config_.n_features))
            n_x = int(np.prod(X.shape[1:]))  # X may be N×C×H×W images
            if n_in != n_x:
                raise DataError(f"the autoencoder's encoder takes {n_in} features, X has {n_x}")
            if getattr(ae.model_config_, "extra", {}).get("n_classes") or getattr(ae.model_, "n_classes", 0):
                raise ConfigError("a conditional VAE's encoder needs the label as input: it cannot classify")
            return ae
        ae = clone(ae)
        if ae.random_state is None:  # the classifier's seed makes the whole fit reproducible
            ae.set_params(random_state=seed)
        return ae.fit(X)

    def fit(self, X, y):
        """X: N×D (or N×C×H×W) rows; y: labels, -1 for unlabelled rows."""
        X_images = None
        if hasattr(X, "ndim") and X.ndim == 4:  # the autoencoder keeps the image shape; the softmax sees rows
            X_images = np.asarray(X)
            X = X_images.reshape(len(X), -1)
        try:
            X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], ensure_all_finite=False)
            y = column_or_1d(y, warn=True)
        except ValueError as exc:
            raise DataError(str(exc)) from None
        check_finite(X)
        try:
            target_type = type_of_target(y)
        except (TypeError, ValueError):
            target_type = "mixed"
        if target_type not in ("binary", "multiclass"):
            raise DataError(f"Unknown label type: y must hold class labels (integers, or strings with '-1' for "
                            f"unlabelled rows), got {target_type} targets")
        labelled = ~_is_unlabelled(y)
        try:
            classes = np.unique(y[labelled])
        except TypeError:
            raise DataError("y mixes strings and numbers: use string labels with '-1' for unlabelled rows, "
                            "or integer labels with -1") from None
        if len(classes) < 2:
            raise DataError(f"need labelled rows of at least 2 classes, got {len(classes)} "
                            f"class{'es' if len(classes) != 1 else ''} ({int(labelled.sum())} labelled rows)")
        self.classes_ = classes
        y_idx = np.searchsorted(classes, y[labelled])
        seed = resolve_seed(self.random_state)
        self.autoencoder_ = self._pretrained(X if X_images is None else X_images, seed)
        codes = self.autoencoder_.transform(X)  # once: for the code standardization and the neighbour graph
        start = self._initial_net(codes, seed)
        X_lab = X[labelled]
        X_val = y_val = None
        frac = float(self.validation_fraction)
        if not 0.0 <= frac < 1.0:
            raise ConfigError(f"validation_fraction must be in [0, 1), got {frac}")
        graph_labels = np.full(len(X), UNLABELLED)  # what label spreading may see: training labels only
        graph_labels[labelled] = y_idx
        if frac > 0:
            perm = np.random.default_rng(seed).permutation(len(X_lab))
            n_val = int(round(frac * len(X_lab)))
            if n_val < 1 or n_val >= len(X_lab):
                raise DataError(f"{len(X_lab)} labelled rows are too few for validation_fraction={frac:g}")
            graph_labels[np.flatnonzero(labelled)[perm[:n_val]]] = UNLABELLED
            X_val, y_val = X_lab[perm[:n_val]], y_idx[perm[:n_val]]
            X_lab, y_idx = X_lab[perm[n_val:]], y_idx[perm[n_val:]]
        history: list[dict] = []
        net, hist = self._train(copy.deepcopy(start), X_lab, y_idx, X_val, y_val, seed, "finetune",
                                epochs=int(self.epochs))
        history += hist
        self.n_pseudo_labels_ = 0
        mode = self._pseudo_mode(int((~labelled).sum()))
        if mode is not None:
            X_unl = X[~labelled]
            rounds = int(self.self_training_rounds)
            if rounds < 1:
                raise ConfigError(f"self_training_rounds must be ≥ 1, got {rounds}")
            spread = None
            if mode == "neighbours":
                spread = _label_spreading(codes, graph_labels,
                                          self.n_neighbors_for(len(X)), len(classes))[~labelled]
            steps = int(self.epochs) * math.ceil(len(X_lab) / self._batch(len(X_lab)))
            for r in range(1, rounds + 1):
                proba = _predict_proba(net, X_unl, resolve_device(self.device))
                if spread is not None:  # the neighbour graph's labels, and the classifier's as it improves
                    proba = spread if r == 1 else (spread + proba) / 2
                pick = _confident_balanced(proba, r / rounds, len(classes))
                X_r = np.concatenate([X_lab, X_unl[pick]])
                y_r = np.concatenate([y_idx, proba[pick].argmax(1)])
                # the same number of gradient steps as the labelled phase, at least 2 epochs
                epochs = max(2, math.ceil(steps / math.ceil(len(X_r) / self._batch(len(X_r)))))
                net, hist = self._train(copy.deepcopy(start), X_r, y_r, X_val, y_val, seed + r,
                                        f"pseudo-labels-{r}", epochs=epochs)
                history += hist
                self.n_pseudo_labels_ = int(len(pick))
        self.pseudo_labels_ = mode
        self.net_ = net.eval()
        self.history_ = history
        return self

    def _pseudo_mode(self, n_unlabelled: int) -> str | None:
        mode = self.pseudo_labels
        if mode not in PSEUDO_LABELS:
            raise ConfigError(f"pseudo_labels must be one of {PSEUDO_LABELS}, got {mode!r}")
        if mode == "auto":
            return "neighbours" if n_unlabelled else None
        if mode is not None and n_unlabelled == 0:
            warnings.warn(f"pseudo_labels={mode!r} needs unlabelled rows (y = -1); none were given", AekitWarning,
                          stacklevel=3)
            return None
        return mode

    @staticmethod
    def n_neighbors_for(n: int) -> int:
        return int(min(10, max(1, n - 1)))

    def _batch(self, n: int) -> int:
        if self.batch_size == "auto":
            return auto_batch_size(n)
        if isinstance(self.batch_size, str):
            raise ConfigError(f"batch_size must be a positive integer or 'auto', got {self.batch_size!r}")
        return max(1, min(int(self.batch_size), n))

    def _initial_net(self, codes: np.ndarray, seed: int) -> EncoderClassifierNet:
        ae = self.autoencoder_
        device = resolve_device(self.device)
        body = copy.deepcopy(ae.model_).to(device)
        code_size = int(ae.model_config_.code_size)
        with torch.random.fork_rng(devices=[]):  # a seeded softmax layer: fits are reproducible
            torch.manual_seed(seed)
            net = EncoderClassifierNet(body, code_size, len(self.classes_), bool(self.freeze)).to(device)
        net.set_code_standardization(torch.from_numpy(np.asarray(codes, dtype=np.float32)).to(device))
        return net

    def _train(self, net, X, y, X_val, y_val, seed: int, stage: str, epochs: int):
        cfg = TrainConfig(epochs=epochs, batch_size=self._batch(len(X)), optimizer=self.optimizer, lr=float(self.lr),
                          weight_decay=float(self.weight_decay), lr_schedule=self.lr_schedule,
                          early_stopping=X_val is not None, patience=int(self.patience), seed=seed, device=self.device,
                          progress=bool(self.verbose), checkpoint_every=0, max_seconds=self.max_seconds)
        trainer = Trainer(cfg, checkpoint_dir=None, stage=stage)
        xy = _rows(X, y)
        hist = trainer.fit(net, xy, None if X_val is None else _rows(X_val, y_val))
        return net, hist

    # -- predicting ------------------------------------------------------------------------
    def _input(self, X) -> np.ndarray:
        check_is_fitted(self, "net_")
        if hasattr(X, "ndim") and X.ndim == 4:
            X = np.asarray(X).reshape(len(X), -1)
        try:
            X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32], ensure_all_finite=False)
        except ValueError as exc:
            raise DataError(str(exc)) from None
        check_finite(X)
        return X

    def predict_proba(self, X) -> np.ndarray:
        X = self._input(X)  # checks fitted first
        return _predict_proba(self.net_, X, resolve_device(self.device))

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)  # checks fitted first
        return self.classes_[proba.argmax(1)]


def _is_unlabelled(y: np.ndarray) -> np.ndarray:
    if y.dtype.kind in "iuf":
        return y == UNLABELLED
    return np.asarray([str(v) == "-1" for v in y])


def _rows(X: np.ndarray, y: np.ndarray) -> torch.Tensor:
    return torch.cat([as_tensor(X), torch.as_tensor(np.asarray(y), dtype=torch.float32)[:, None]], 1)


def _predict_proba(net: nn.Module, X: np.ndarray, device) -> np.ndarray:
    net.eval()
    proba = batched(lambda xb: torch.softmax(net(xb).float(), 1), X, device)
    return proba.reshape(len(X), net.head.out_features)


def _label_spreading(codes: np.ndarray, y_all: np.ndarray, n_neighbors: int, n_classes: int | None = None
                     ) -> np.ndarray:
    """Class distributions of every row by label spreading (Zhou et al. 2004) over the kNN graph
    of the standardized codes."""
    from sklearn.semi_supervised import LabelSpreading

    Z = np.asarray(codes, dtype=np.float64)
    Z = (Z - Z.mean(0)) / np.where(Z.std(0) > 1e-8, Z.std(0), 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its convergence warning: the distributions are still usable
        ls = LabelSpreading(kernel="knn", n_neighbors=n_neighbors, alpha=0.2, max_iter=100).fit(Z, y_all)
    dist = np.nan_to_num(ls.label_distributions_, nan=1.0 / ls.label_distributions_.shape[1])
    n_classes = int(n_classes or dist.shape[1])
    full = np.zeros((len(dist), n_classes))  # a class whose only labels were held out gets no mass
    full[:, np.asarray(ls.classes_, dtype=int)] = dist
    return full


def _confident_balanced(proba: np.ndarray, fraction: float, n_classes: int) -> np.ndarray:
    """Indices of the most confident `fraction` of rows, the same quota for each predicted class."""
    quota = int(fraction * len(proba) / n_classes)
    pred, conf = proba.argmax(1), proba.max(1)
    picks = []
    for c in range(n_classes):
        idx = np.flatnonzero(pred == c)
        picks.append(idx[np.argsort(-conf[idx], kind="stable")[:quota]])
    return np.sort(np.concatenate(picks)) if picks else np.empty(0, np.int64)


__all__ = ["AUTO_BATCH", "AutoEncoderClassifier", "EncoderClassifierNet", "UNLABELLED", "auto_batch_size", "few_labels"]
