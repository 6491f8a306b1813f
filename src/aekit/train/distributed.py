"""Data-parallel training under torchrun, on PyTorch's own engine (DistributedDataParallel).

`distributed_session` joins the process group torchrun describes (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``): gloo for CPU tensors, nccl for CUDA ones. The
Trainer then trains ONE model:

- every rank draws the same permutation of the rows each epoch (same seed) and each global batch
  of ``batch_size`` rows is split into ``world_size`` contiguous shards (`shard_batch`);
- the forward goes through the DDP wrapper (`TrainingTerms` makes ``training_terms`` its forward),
  so gradients are all-reduced (averaged) during backward. Each rank's loss is scaled by
  ``shard_rows × world_size / batch_rows`` so that the averaged gradient is exactly the gradient of
  the whole batch's mean loss, also for a last batch that does not divide evenly; a rank whose
  shard is empty computes on one row with weight 0 (it must still join the all-reduce). So 2 ranks
  train the weights 1 process trains with the same seed and global batch (up to float summation
  order). Terms computed from batch statistics (the KL sparsity penalty's mean activation,
  BatchNorm) see the shard, as in any DDP run; random terms (input noise, VAE sampling) draw from
  a per-rank generator seeded from the shared one, so they match 1 process in distribution only;
- epoch metrics and validation are reduced as sums and counts over all ranks and the result of
  rank 0 is used by everyone, and a stop request (early stopping, time budget) is rank 0's: the
  ranks always agree on when to stop;
- only rank 0 writes checkpoints and the run folder; on ``--resume`` rank 0 reads the checkpoint
  and sends it to the others (no shared file system is needed);
- a rank that dies makes the others stop with `PeerFailure` (a TrainingError: one line, the
  checkpoint kept), when a collective fails or when torchrun's agent stops them (SIGTERM).

Inference commands (``aekit encode``, ``aekit detect score``) run on rank 0 only; the other
ranks return at once, so one output is written.
"""
from __future__ import annotations

import contextlib
import datetime
import os
import re
import signal
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from aekit.errors import ConfigError, TrainingError

DEFAULT_TIMEOUT_S = 1800.0  # torch's own default for collectives


class PeerFailure(TrainingError):
    """Another process of the torchrun job failed (or the network did): this one stops too."""


def rank_and_world() -> tuple[int, int]:
    """(rank, world size) of this process: (0, 1) outside torch.distributed.

    Examples
    --------
    >>> rank_and_world()
    (0, 1)
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def is_writer() -> bool:
    """Whether this process writes outputs (rank 0; outside torchrun always).

    Examples
    --------
    >>> is_writer()
    True
    """
    return rank_and_world()[0] == 0


def launched_world_size() -> int:
    """``WORLD_SIZE`` as torchrun set it (1 when not launched by torchrun); ConfigError if malformed."""
    text = os.environ.get("WORLD_SIZE", "").strip()
    if not text:
        return 1
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"WORLD_SIZE={text!r} is not a positive integer (set by torchrun)")
    return int(text)


def _on_sigterm(signum, frame):
    raise PeerFailure("stopped by torchrun: another process of the job failed (see its error above); "
                      "the last checkpoint is kept, continue with --resume")


@contextlib.contextmanager
def distributed_session(timeout_s: float | None = None) -> Iterator[tuple[int, int]]:
    """Join torchrun's process group for the block (nothing outside torchrun); yields (rank, world).

    The backend is gloo for CPU tensors and, where CUDA is present, nccl for CUDA tensors
    (``cpu:gloo,cuda:nccl``). Collectives time out after `timeout_s` seconds (default
    ``$AEKIT_DIST_TIMEOUT`` or 1800). While the block runs, SIGTERM (torchrun's agent stopping the
    job when a rank failed) raises `PeerFailure`.

    Parameters
    ----------
    timeout_s : float, optional
        Collective timeout in seconds.

    Examples
    --------
    >>> with distributed_session() as (rank, world):
    ...     print(rank, world)
    0 1
    """
    world = launched_world_size()
    if world <= 1 or not torch.distributed.is_available() or torch.distributed.is_initialized():
        yield rank_and_world()
        return
    if timeout_s is None:
        timeout_s = float(os.environ.get("AEKIT_DIST_TIMEOUT", DEFAULT_TIMEOUT_S))
    backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
    if torch.cuda.is_available() and os.environ.get("LOCAL_RANK", "").isdigit():
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]) % torch.cuda.device_count())
    torch.distributed.init_process_group(backend=backend, timeout=datetime.timedelta(seconds=timeout_s))
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield rank_and_world()
    finally:
        signal.signal(signal.SIGTERM, previous)
        torch.distributed.destroy_process_group()


def is_collective_failure(exc: BaseException) -> bool:
    """Whether `exc` is a failed collective (a peer gone, a timeout), not an error of this rank."""
    if isinstance(exc, torch.distributed.DistError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and any(s in text for s in ("Gloo", "gloo", "NCCL", "Connection closed",
                                                                      "Connection reset"))


def first_sentence(exc: BaseException) -> str:
    """The gist of a backend's error: its first sentence, without the source-file prefix.

    Examples
    --------
    >>> first_sentence(RuntimeError("[gloo/pair.cc:553] Connection closed by peer [127.0.0.1]:91. This is ..."))
    'Connection closed by peer [127.0.0.1]:91'
    """
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"^\[[^\]]*\]\s*", "", text)
    return text.split(". ")[0].rstrip(".")[:200]


class TrainingTerms(nn.Module):
    """A model whose forward is its ``training_terms``, so that DDP can wrap the training step.

    Parameters
    ----------
    model : torch.nn.Module
        Has ``training_terms(x, generator[, observed=...])``.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x, generator, observed=None):
        if observed is None:
            return self.model.training_terms(x, generator)
        return self.model.training_terms(x, generator, observed=observed)


def wrap_ddp(model: nn.Module, device: torch.device) -> nn.Module:
    """`model`'s training step wrapped in DistributedDataParallel (parameters are rank 0's from here on)."""
    ids = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(TrainingTerms(model), device_ids=ids)


def shard_batch(idx: torch.Tensor, rank: int, world: int) -> tuple[torch.Tensor, float]:
    """This rank's rows of a global batch and the factor its mean loss is scaled by.

    The rows are split into `world` contiguous shards (sizes differ by at most one); with DDP's
    gradient averaging, factor = shard rows × world / batch rows makes the gradient that of the
    whole batch's mean loss. An empty shard gets the batch's first row with factor 0.

    Examples
    --------
    >>> shard_batch(torch.arange(5), 1, 2)
    (tensor([3, 4]), 0.8)
    >>> shard_batch(torch.arange(1), 1, 2)
    (tensor([0]), 0.0)
    """
    if world <= 1:
        return idx, 1.0
    part = torch.tensor_split(idx, world)[rank]
    if part.numel() == 0:
        return idx[:1], 0.0
    return part, part.numel() * world / idx.numel()


def rank_generator(seed: int, epoch: int, step: int, rank: int) -> torch.Generator:
    """A generator for one rank's random terms (noise, sampling) in one step, seeded from
    (seed, epoch, step, rank): ranks draw different noise, a resumed run draws the same, and the
    shared generator that draws the permutations is left alone (so a model without random terms
    sees the permutations of a 1-process run).

    Examples
    --------
    >>> a, b = rank_generator(0, 1, 0, 0), rank_generator(0, 1, 0, 1)
    >>> bool(torch.rand(1, generator=a) != torch.rand(1, generator=b))
    True
    """
    words = np.random.SeedSequence([int(seed), int(epoch), int(step), int(rank)]).generate_state(2, dtype=np.uint32)
    return torch.Generator(device="cpu").manual_seed((int(words[0]) << 31) ^ int(words[1]))


def all_sum(values: torch.Tensor) -> torch.Tensor:
    """Sum of `values` over all ranks, identical on every rank (rank 0's copy is broadcast, so
    that float rounding cannot make ranks disagree on a decision)."""
    if rank_and_world()[1] > 1:
        torch.distributed.all_reduce(values)
        torch.distributed.broadcast(values, src=0)
    return values


def agree_on_stop(loop) -> None:
    """Make rank 0's stop request (and reason) every rank's."""
    if rank_and_world()[1] <= 1:
        return
    box = [(loop.should_stop, loop.stop_reason)]
    torch.distributed.broadcast_object_list(box, src=0)
    loop.should_stop, loop.stop_reason = box[0]


def on_rank_zero(fn):
    """``fn()`` computed on rank 0, its result (or the exception it raised) on every rank.

    For reading a checkpoint once: no shared file system is needed, and an unreadable checkpoint
    is the same error on every rank instead of a hang. Outside torchrun it is ``fn()``.

    Examples
    --------
    >>> on_rank_zero(lambda: 6 * 7)
    42
    """
    if rank_and_world()[1] <= 1:
        return fn()
    box: list = [None]
    if is_writer():
        try:
            box[0] = (True, fn())
        except Exception as exc:
            box[0] = (False, exc)
    torch.distributed.broadcast_object_list(box, src=0)
    ok, value = box[0]
    if not ok:
        raise value
    return value


__all__ = ["DEFAULT_TIMEOUT_S", "PeerFailure", "TrainingTerms", "agree_on_stop", "all_sum", "distributed_session", "first_sentence",
           "is_collective_failure", "is_writer", "launched_world_size", "on_rank_zero", "rank_and_world",
           "rank_generator", "shard_batch", "wrap_ddp"]
