"""The batches of one training epoch, from a tensor in memory or from a row source on disk.

The trainer draws one seeded permutation per epoch and cuts it into global batches; under
torchrun each rank keeps its shard of every batch (`aekit.train.distributed.shard_batch`).
`EpochBatches` turns that list of index batches into the tensors of the training steps:

- in memory: ``X.index_select(0, idx)`` on the device (the fast path);
- a `aekit.data.sources.RowSource` with ``num_workers == 0``: ``source.read(idx)`` in this
  process, then one host-to-device copy (pinned memory and a non-blocking copy on CUDA);
- a source with ``num_workers > 0``: the same reads in a ``torch.utils.data.DataLoader`` over
  the epoch's index batches (``batch_size=None``), workers reading ahead while the model trains.
  An exception in a worker ends the run as one `DataError` carrying the worker's message (which
  names the file), not a worker traceback.

The same permutation and shards give the same rows in every path, so a streaming run and an
in-memory run with the same seed train the same weights.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from aekit.data.sources import RowSource, is_row_source
from aekit.errors import ConfigError, DataError
from aekit.train.distributed import shard_batch
from aekit.train.precision import to_device

PREFETCH_FACTOR = 4  # index batches each DataLoader worker reads ahead


class WorkerFailure:
    """What a DataLoader worker returns instead of raising: the error's type and message
    (a worker's exception would otherwise reach the trainer wrapped in a worker traceback)."""

    def __init__(self, exc: BaseException) -> None:
        self.kind = type(exc).__name__
        self.message = str(exc)
        self.is_data_error = isinstance(exc, DataError)

    def as_error(self, source: RowSource) -> DataError:
        """One DataError with the worker's own message (a DataError already names the file)."""
        if self.is_data_error:
            return DataError(self.message)
        return DataError(f"{source.name}: reading a batch failed in a DataLoader worker ({self.kind}: {self.message})")


class IndexBatchDataset(torch.utils.data.Dataset):
    """A map-style dataset whose item i is ``source.read(batches[i])`` as a float32 tensor
    (or a `WorkerFailure`)."""

    def __init__(self, source: RowSource, batches: list[np.ndarray]) -> None:
        self.source, self.batches = source, batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int):
        try:
            return torch.from_numpy(self.source.read(self.batches[i]))
        except Exception as exc:  # returned, not raised: see WorkerFailure
            return WorkerFailure(exc)


def epoch_index_batches(perm: torch.Tensor, batch_size: int, rank: int, world: int) -> list[tuple[torch.Tensor, float]]:
    """This rank's (rows, loss factor) of each global batch of `perm`, in order.

    Examples
    --------
    >>> [(b.tolist(), w) for b, w in epoch_index_batches(torch.arange(5), 2, 0, 1)]
    [([0, 1], 1.0), ([2, 3], 1.0), ([4], 1.0)]
    """
    return [shard_batch(perm[start : start + batch_size], rank, world) for start in range(0, perm.shape[0], batch_size)]


class EpochBatches:
    """The training inputs of one epoch's steps, in step order.

    Parameters
    ----------
    X : torch.Tensor or RowSource
        The training data: a tensor already on the device, or a source on disk.
    batches : list of (torch.Tensor, float)
        The rows of each step (`epoch_index_batches`); with a tensor, on its device.
    device : torch.device
        Where the steps run.
    dtype : torch.dtype
        The training dtype.

    Examples
    --------
    >>> X = torch.arange(12.0).reshape(6, 2)
    >>> batches = epoch_index_batches(torch.tensor([5, 0, 3, 1, 2, 4]), 4, 0, 1)
    >>> [xb[:, 0].tolist() for xb in EpochBatches(X, batches, torch.device("cpu"), torch.float32)]
    [[10.0, 0.0, 6.0, 2.0], [4.0, 8.0]]
    """

    def __init__(self, X, batches: list[tuple[torch.Tensor, float]], device: torch.device, dtype: torch.dtype) -> None:
        self.X, self.batches, self.device, self.dtype = X, batches, torch.device(device), dtype

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[torch.Tensor]:
        X = self.X
        if not is_row_source(X):
            for idx, _ in self.batches:
                yield X.index_select(0, idx)
            return
        index = [idx.cpu().numpy() for idx, _ in self.batches]
        if X.num_workers <= 0:
            for idx in index:
                yield self._to_device(torch.from_numpy(X.read(idx)))
            return
        yield from self._from_workers(X, index)

    def _to_device(self, xb: torch.Tensor) -> torch.Tensor:
        return to_device(xb, self.device, self.dtype)

    def _from_workers(self, source: RowSource, index: list[np.ndarray]) -> Iterator[torch.Tensor]:
        cuda = self.device.type == "cuda"
        loader = torch.utils.data.DataLoader(
            IndexBatchDataset(source, index), batch_size=None, shuffle=False, num_workers=int(source.num_workers),
            pin_memory=cuda, prefetch_factor=PREFETCH_FACTOR,
        )
        for xb in loader:
            if isinstance(xb, WorkerFailure):
                raise xb.as_error(source)
            # pinned by the loader on CUDA: the copy overlaps the previous step
            yield xb.to(self.device, self.dtype, non_blocking=cuda)


def check_training_data(X, observed) -> None:
    """Refuse what the streaming path cannot do: masks of observed cells (tables with missing
    values are encoded in memory) and an empty source."""
    if is_row_source(X):
        if observed is not None:
            raise ConfigError("observed-value masks need the training data in memory, not a streaming source")
        if len(X) == 0:
            raise DataError(f"{X.name}: no training samples")


def first_sample(X) -> torch.Tensor:
    """One training sample as a (1, ...) float tensor on the host (for sizing decisions)."""
    if is_row_source(X):
        return torch.from_numpy(X.read(np.arange(1)))
    return X[:1]


def validation_tensor(X_val, device: torch.device, dtype: torch.dtype) -> torch.Tensor | None:
    """Validation data on the device: a source is read whole (validation is a small share of
    the rows; the estimators cap it); None or empty gives None."""
    if X_val is None or len(X_val) == 0:
        return None
    if is_row_source(X_val):
        X_val = torch.from_numpy(X_val.read_all())
    return to_device(X_val, device, dtype)


@torch.inference_mode()
def evaluate(model: nn.Module, X: torch.Tensor, batch_size: int = 1024,
             observed: torch.Tensor | None = None) -> dict[str, float]:
    """Mean of each of `model`'s validation terms over X, in batches of `batch_size`, in eval mode;
    with `observed` (a bool mask of X's shape), each batch's mask goes to ``validation_terms``.

    Examples
    --------
    >>> import torch
    >>> from aekit.models.autoencoder import AutoEncoderModel, ModelConfig
    >>> model = AutoEncoderModel(ModelConfig(input_shape=(4,), hidden=(3,), latent_dim=2))
    >>> sorted(evaluate(model, torch.rand(10, 4), batch_size=4))
    ['loss', 'recon']
    """
    was_training = model.training
    model.eval()
    sums: dict[str, torch.Tensor] = {}
    for start in range(0, X.shape[0], batch_size):
        xb = X[start : start + batch_size]
        terms = (model.validation_terms(xb) if observed is None
                 else model.validation_terms(xb, observed=observed[start : start + batch_size]))
        for k, v in terms.items():
            d = v.detach().float() * xb.shape[0]
            sums[k] = sums[k] + d if k in sums else d
    model.train(was_training)
    return {k: float(v) / X.shape[0] for k, v in sums.items()}


__all__ = [
    "EpochBatches", "IndexBatchDataset", "WorkerFailure", "check_training_data", "epoch_index_batches", "evaluate",
    "first_sample", "validation_tensor",
]
