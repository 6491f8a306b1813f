"""The estimators' fit template and inference on a `aekit.data.sources.RowSource` (data on disk).

`BaseAutoEncoder.fit(source)` follows the same steps as on an array, each done without loading
the data:

- one chunked pass finds the data's range and whether it is binary; a three-row *probe* array
  with that range, binariness and sample shape stands in for X wherever the template looks at
  the data as a whole (feature count, image shape, the family's config: output activation,
  likelihood, standardization), so those decisions are the ones the in-RAM path makes;
- the validation rows are held out by index with the same seeded permutation as in memory and
  read into RAM (at most `VALIDATION_CAP_BYTES` of them are evaluated; the rest stay out of
  training either way, as in memory);
- the per-feature standardization (when the family standardizes) is computed in chunks over the
  training rows;
- the trainer reads the training rows batch by batch (`aekit.train.batches`), in the order of the
  same seeded permutation: a streaming fit and an in-memory fit with the same seed train the same
  weights (up to float rounding in the standardization, when there is one).

Inference (`transform`, `reconstruct`, `reconstruction_error`, `score`) on a source walks it in
chunks (`aekit.data.sources.RowView` slices like an array).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch

from aekit.data.limits import check_batch_fits
from aekit.data.sources import RowSource, RowView, block_rows, is_row_source, map_chunks
from aekit.errors import AekitWarning, ConfigError, DataError
from aekit.estimators.sizing import auto_training_size, validation_rows

VALIDATION_CAP_BYTES = 64 << 20  # float32 validation rows read into RAM for a streamed fit
INFERENCE_BATCH = 2048  # rows per model call when the estimators transform, reconstruct or score


ARRAY_BLOCK_ROWS = 4 * INFERENCE_BATCH  # rows per block when per-row results of an array are computed


def row_blocks(fn, n: int) -> np.ndarray:
    """``fn(start, stop)`` over rows 0…n of an array in memory, `ARRAY_BLOCK_ROWS` at a time,
    concatenated. Per-row errors and scores are computed this way: one call over a large array
    spent most of its time faulting in float64 temporaries of the whole array (13–19× slower on
    100,000 MNIST-size rows, with the same numbers; blocks are whole inference batches)."""
    if n <= ARRAY_BLOCK_ROWS:
        return fn(0, n)
    return np.concatenate([fn(i, min(n, i + ARRAY_BLOCK_ROWS)) for i in range(0, n, ARRAY_BLOCK_ROWS)])


def inference_blocks(fn, source: RowSource) -> np.ndarray:
    """`map_chunks` for inference: blocks of whole `INFERENCE_BATCH`-row batches when the memory
    budget holds one, so the model meets the rows in the batches it would in memory (the same
    numbers to the bit); under a smaller budget, smaller blocks (the same up to float rounding)."""
    whole = block_rows(source.n_features) >= INFERENCE_BATCH
    return map_chunks(fn, source, multiple=INFERENCE_BATCH if whole else 1)


class SourceScan:
    """What one pass over a source learns: its minimum, maximum and whether every value is 0 or 1."""

    def __init__(self, source: RowSource) -> None:
        lo, hi, binary = np.inf, -np.inf, True
        for _, block in source.iter_chunks():  # blocks within the memory budget
            lo, hi = min(lo, float(block.min())), max(hi, float(block.max()))
            if binary:
                binary = bool(np.all((block == 0) | (block == 1)))
        if hasattr(source, "drop_pages"):
            source.drop_pages()
        self.low, self.high, self.binary = lo, hi, binary

    def probe(self, sample_shape: tuple[int, ...]) -> np.ndarray:
        """Three samples of `sample_shape` whose minimum, maximum and binariness are the source's."""
        mid = 0.5 * (self.low + self.high)
        if self.binary:  # only 0s and 1s: the middle row repeats one of them
            mid = self.low
        values = np.array([self.low, self.high, mid], dtype=np.float32)
        return np.broadcast_to(values.reshape(3, *([1] * len(sample_shape))), (3, *sample_shape)).copy()


def check_streamable(est, config) -> None:
    """Refuse what a streamed fit cannot do, before any training (ConfigError saying what to do)."""
    pretrain = getattr(est, "pretrain", None)
    if pretrain not in (None, False) and str(pretrain).lower() != "none":
        raise ConfigError("layer-wise pretraining (pretrain=...) needs the data in memory; train without it on a "
                          "streaming source, or raise the memory budget")
    if getattr(config, "binarize", None) == "static":
        raise ConfigError("binarize='static' binarizes the whole training set once in memory; use 'dynamic' "
                          "on a streaming source")
    if getattr(config, "n_classes", 0):
        raise ConfigError("a conditional model trains on labels; streaming sources carry no labels")


def capped_rows(n: int, n_features: int) -> int:
    """How many of `n` validation rows fit `VALIDATION_CAP_BYTES` (at least one)."""
    return max(1, min(n, VALIDATION_CAP_BYTES // max(1, 4 * int(n_features))))


def set_standardization(model, X, n_features: int) -> None:
    """The model's per-feature standardization from training data X: a tensor (the model's own
    `set_standardization`) or a source, walked in chunks in file order (float64 moments merged
    chunk by chunk; conv1d models pool each channel over time, as the model does)."""
    if not is_row_source(X):
        model.set_standardization(X[:, :n_features])
        return
    count, mean, m2 = 0, np.zeros(n_features), np.zeros(n_features)
    rows = np.sort(X.rows) if isinstance(X, RowView) and X.rows is not None else None
    parent = X.parent if rows is not None else X
    step = block_rows(n_features)
    for start in range(0, len(X), step):
        index = rows[start : start + step] if rows is not None else np.arange(start, min(len(X), start + step))
        block = parent.read(index).reshape(len(index), -1)[:, :n_features].astype(np.float64)
        b_mean = block.mean(0)
        b_m2 = ((block - b_mean) ** 2).sum(0)
        total = count + len(block)
        delta = b_mean - mean
        mean = mean + delta * (len(block) / total)
        m2 = m2 + b_m2 + delta**2 * (count * len(block) / total)
        count = total
    var = m2 / count
    if getattr(model.config, "arch", "mlp") == "conv1d":
        c, t = model.config.input_shape
        ch_mean = mean.reshape(c, t).mean(1)
        ch_var = (var + mean**2).reshape(c, t).mean(1) - ch_mean**2
        mean, var = np.repeat(ch_mean, t), np.repeat(np.maximum(ch_var, 0.0), t)
    std = torch.from_numpy(np.sqrt(var)).float()
    model.input_shift.copy_(torch.from_numpy(mean).float())
    model.input_scale.copy_(torch.where(std > 1e-8, std, torch.ones_like(std)))


def validated_source(est, X: RowSource) -> RowView:
    """A source as the flat rows a fitted estimator takes, its sample shape checked."""
    shape = tuple(getattr(est.model_config_, "input_shape", ()))
    if X.n_features != est.n_features_in_:
        raise DataError(f"{X.name}: samples of {X.n_features} values, the model was fitted on {est.n_features_in_}")
    if X.is_image and tuple(X.sample_shape) != shape:
        raise DataError(f"{X.name}: samples of shape {X.sample_shape}, the model was fitted on {shape}")
    return X if isinstance(X, RowView) and X.flat else RowView(X, flat=True)


class StreamedFit:
    """What `BaseAutoEncoder` does on a source instead of an array: its fit template (the same
    steps, each without loading the data) and the reconstruction error in chunks. A mixin of the
    estimator base: it calls the template's own steps (`_validate`, `_resolve_config`,
    `_fit_model`, ...), which `BaseAutoEncoder` defines."""

    def _fit_source(self, source: RowSource, y=None, *, X_val=None, run_dir=None, resume: bool = False,
                    table_encoder=None):
        """`BaseAutoEncoder.fit` on a source (see the module's text); returns the estimator."""
        if table_encoder is not None:
            raise ConfigError("table_encoder is for tables: pass X as a pandas DataFrame")
        if y is not None:
            raise ConfigError(f"{type(self).__name__}.fit on a streaming source takes no labels (y)")
        self.__dict__.pop("table_encoder_", None)
        n = len(source)
        if n < 2:
            raise DataError(f"{type(self).__name__} needs at least 2 samples to fit, got {n} sample")
        scan = SourceScan(source)
        probe = self._validate(scan.probe(source.sample_shape), reset=True)  # n_features_in_, the image shape
        self._check_labels(None, n)
        from aekit.estimators.base import resolve_seed

        seed = resolve_seed(self.random_state)
        config = self._resolve_config(probe, None)
        check_streamable(self, config)
        self.model_config_ = config
        X_train, X_val = self._hold_out_source(RowView(source, flat=True), X_val, seed)
        batch = auto_training_size(len(X_train), self.epochs, self.batch_size, self.patience)[1]
        check_batch_fits(min(batch, len(X_train)), 4 * source.n_features)  # a batch is read into memory
        if X_val is not None:  # the family's preparation of validation rows (a VAE's fixed binarization)
            X_val = self._training_arrays(X_val[:1], None, X_val, None, seed)[1]
        self._fit_model(config, X_train, X_val, seed, run_dir, resume, observed=None)
        self.input_ndim_ = 2 if self._fit_image_shape is None else 1 + len(self._fit_image_shape)
        del self._fit_image_shape
        return self

    def _hold_out_source(self, source: RowView, X_val, seed: int) -> tuple[RowView, np.ndarray | None]:
        """(training rows as a view, validation rows in RAM or None): the in-memory template's
        split (`BaseAutoEncoder._hold_out`), by index."""
        frac = float(self.validation_fraction)
        if not 0.0 <= frac < 1.0:
            raise ConfigError(f"validation_fraction must be in [0, 1), got {frac}")
        if X_val is not None:
            if is_row_source(X_val):
                if X_val.n_features != source.n_features:
                    raise DataError(f"X_val has samples of shape {X_val.sample_shape}, "
                                    f"X has {source.parent.sample_shape}")
                X_val = RowView(X_val, flat=True)[: capped_rows(len(X_val), source.n_features)]
            return source, self._validate_val(X_val, np.empty((0, source.n_features), np.float32))
        n = len(source)
        n_val = validation_rows(n, frac, stacklevel=4)
        if not n_val:
            return source, None
        perm = np.random.default_rng(seed).permutation(n)
        val, tr = perm[:n_val], perm[n_val:]
        kept = capped_rows(n_val, source.n_features)
        if kept < n_val:
            warnings.warn(f"{n_val} validation rows held out; the first {kept} of them (about "
                          f"{VALIDATION_CAP_BYTES >> 20} MiB) are read into memory for early stopping",
                          AekitWarning, stacklevel=4)
        # read in file order (fewer seeks), then put back in the permutation's order
        head = val[:kept]
        order = np.argsort(head, kind="stable")
        rows = np.empty((kept, source.n_features), np.float32)
        rows[order] = source.read(head[order])
        return RowView(source, tr), rows

    def _source_reconstruction_error(self, X: RowSource) -> np.ndarray:
        """Mean squared error per value of each row of a source (N,), a block at a time (`inference_blocks`)."""
        def errors(block: np.ndarray) -> np.ndarray:
            recon = self._batches(block, self.model_).reshape(len(block), -1)
            return ((block.astype(np.float64) - recon) ** 2).mean(1)

        return inference_blocks(errors, validated_source(self, X))


__all__ = ["ARRAY_BLOCK_ROWS", "INFERENCE_BATCH", "VALIDATION_CAP_BYTES", "SourceScan", "StreamedFit",
           "check_streamable", "inference_blocks", "row_blocks", "set_standardization", "validated_source"]
