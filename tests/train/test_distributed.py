"""DistributedDataParallel under torchrun, on the CPU with gloo: 2 processes train the weights 1
process trains (same seed, same global batch), only rank 0 writes, a dead rank stops the others
with one clear line and --resume continues."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from aekit.errors import ConfigError, TrainingError
from aekit.models.autoencoder import AutoEncoderModel, ModelConfig
from aekit.train.distributed import (
    distributed_session,
    first_sentence,
    is_collective_failure,
    launched_world_size,
    on_rank_zero,
    rank_generator,
    shard_batch,
)
from aekit.train.trainer import TrainConfig, Trainer

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
TIMEOUT_S = 180  # each launch takes ~15 s on 2 busy cores; a hang must fail the test, not the suite

# Trains a small autoencoder with a partial last batch (101 rows in batches of 20: the last
# batch's single row leaves rank 1's shard empty) and validation data; rank 0 alone asks to stop
# after epoch 3 (the ranks must agree). Writes each rank's weights and history.
TRAIN_SCRIPT = textwrap.dedent('''
    import json, sys
    import torch
    from aekit.models.autoencoder import AutoEncoderModel, ModelConfig
    from aekit.train.callbacks import Callback
    from aekit.train.distributed import distributed_session
    from aekit.train.trainer import TrainConfig, Trainer

    class StopOnRankZero(Callback):
        def on_epoch_end(self, trainer, epoch, row):
            if trainer.rank == 0 and epoch == 3:
                trainer.stop("rank 0 says so")

    def train(out):
        with distributed_session() as (rank, world):
            torch.manual_seed(0)
            X = torch.rand(101, 12, generator=torch.Generator().manual_seed(1))
            X_val = torch.rand(17, 12, generator=torch.Generator().manual_seed(2))
            model = AutoEncoderModel(ModelConfig(input_shape=(12,), hidden=(8,), latent_dim=3))
            trainer = Trainer(TrainConfig(epochs=6, batch_size=20, lr=1e-2, grad_clip=5.0, progress=False),
                              callbacks=[StopOnRankZero()])
            history = trainer.fit(model, X, X_val)
            torch.save(model.state_dict(), f"{out}/weights-{rank}-of-{world}.pt")
            with open(f"{out}/history-{rank}-of-{world}.json", "w") as f:
                json.dump(history, f)

    if __name__ == "__main__":
        train(sys.argv[1])
''')

# Runs the aekit command line with a callback that kills rank 1 when epoch 2 starts.
DIE_SCRIPT = textwrap.dedent('''
    import os, sys
    from aekit.cli import main
    from aekit.train.callbacks import Callback, use_callbacks

    class DieOnRankOne(Callback):
        def on_epoch_start(self, trainer, epoch):
            if trainer.rank == 1 and epoch == 2:
                os._exit(3)

    with use_callbacks(DieOnRankOne()):
        main(sys.argv[1:])
''')


def launch(args, cwd, timeout=TIMEOUT_S) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR",
                                                             "MASTER_PORT")}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


def test_two_gloo_processes_train_the_weights_of_one_process(tmp_path):
    script = tmp_path / "train_ddp.py"
    script.write_text(TRAIN_SCRIPT)
    done = launch([*TORCHRUN, str(script), str(tmp_path)], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    launch([sys.executable, str(script), str(tmp_path)], cwd=tmp_path).check_returncode()

    w0, w1 = (torch.load(tmp_path / f"weights-{r}-of-2.pt") for r in (0, 1))
    single = torch.load(tmp_path / "weights-0-of-1.pt")
    assert max_difference(w0, w1) == 0.0  # one model: DDP keeps the ranks' weights identical
    assert max_difference(w0, single) < 1e-4
    h0, h1, h_single = (json.loads((tmp_path / f"history-{name}.json").read_text())
                        for name in ("0-of-2", "1-of-2", "0-of-1"))
    assert [r["epoch"] for r in h0] == [r["epoch"] for r in h1] == [1, 2, 3]  # rank 0's stop, on both ranks
    for a, b, s in zip(h0, h1, h_single):
        assert a["loss"] == b["loss"] and a["val_loss"] == b["val_loss"]  # reduced metrics, the same everywhere
        assert a["loss"] == pytest.approx(s["loss"], rel=1e-5) and a["val_loss"] == pytest.approx(s["val_loss"],
                                                                                                   rel=1e-5)


def test_sharded_losses_give_the_whole_batch_gradient():
    """What DDP computes for 3 ranks (the mean of their scaled shard gradients) is the gradient of
    the whole batch's mean loss, for a batch that does not divide evenly and one with an empty shard."""
    torch.manual_seed(0)
    model = AutoEncoderModel(ModelConfig(input_shape=(6,), hidden=(5,), latent_dim=2))
    X = torch.rand(40, 6)
    g = torch.Generator().manual_seed(0)
    for rows in (torch.arange(7), torch.arange(2)):
        model.zero_grad()
        model.training_terms(X[rows], g)["loss"].backward()
        whole = [p.grad.clone() for p in model.parameters()]
        averaged = [torch.zeros_like(p) for p in model.parameters()]
        for rank in range(3):
            idx, weight = shard_batch(rows, rank, 3)
            model.zero_grad()
            (model.training_terms(X[idx], g)["loss"] * weight).backward()
            for acc, p in zip(averaged, model.parameters()):
                acc += p.grad / 3
        for a, b in zip(whole, averaged):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_shards_cover_the_batch_once():
    rows = torch.randperm(23)
    parts = [shard_batch(rows, r, 4) for r in range(4)]
    assert torch.equal(torch.cat([p for p, _ in parts]), rows)
    assert sum(w for _, w in parts) == pytest.approx(4.0)


def test_rank_generators_differ_by_rank_and_repeat_by_step():
    draw = lambda *key: torch.rand(3, generator=rank_generator(*key))  # noqa: E731
    assert torch.equal(draw(0, 2, 5, 1), draw(0, 2, 5, 1))
    assert not torch.equal(draw(0, 2, 5, 0), draw(0, 2, 5, 1))
    assert not torch.equal(draw(0, 2, 5, 0), draw(0, 2, 6, 0))


def test_outside_torchrun_nothing_is_distributed(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with distributed_session() as (rank, world):
        assert (rank, world) == (0, 1)
        assert not torch.distributed.is_initialized()
    assert on_rank_zero(lambda: "read once") == "read once"
    with pytest.raises(ValueError):
        on_rank_zero(lambda: int("x"))


@pytest.mark.parametrize("value", ["two", "0", "-1"])
def test_malformed_world_size_is_a_config_error(monkeypatch, value):
    monkeypatch.setenv("WORLD_SIZE", value)
    with pytest.raises(ConfigError, match="WORLD_SIZE"):
        launched_world_size()


def test_backend_errors_are_told_apart_from_the_rank_s_own():
    gloo = RuntimeError("[../gloo/transport/tcp/pair.cc:553] Connection closed by peer [127.0.0.1]:9913. More")
    assert is_collective_failure(gloo)
    assert first_sentence(gloo) == "Connection closed by peer [127.0.0.1]:9913"
    assert not is_collective_failure(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not is_collective_failure(TrainingError("the training loss became nan"))


@pytest.mark.slow
def test_a_dead_rank_stops_the_other_and_resume_continues(tmp_path):
    """Rank 1 dies when epoch 2 starts: rank 0 stops with one line naming the checkpoint of epoch 1
    (no hang); `torchrun ... --resume` finishes the run, which equals 1 process's uninterrupted
    run; `torchrun ... aekit encode` writes one output; `aekit detect fit` is refused."""
    die = tmp_path / "die.py"
    die.write_text(DIE_SCRIPT)
    args = ["train", "--data", "digits", "--train-size", "200", "--epochs", "4", "--hidden", "16", "--latent", "4",
            "--quiet"]
    failed = launch([*TORCHRUN, str(die), *args, "--out", "ddp"], cwd=tmp_path)
    assert failed.returncode != 0
    lines = [ln for ln in failed.stderr.splitlines() + failed.stdout.splitlines() if ln.startswith("error:")]
    assert lines, failed.stderr[-3000:]
    assert "another process of the torchrun job" in lines[0] and "epoch 1" in lines[0] and "--resume" in lines[0]
    assert (tmp_path / "ddp" / "checkpoint" / "checkpoint.safetensors").exists()
    assert not (tmp_path / "ddp" / "model.safetensors").exists()

    resumed = launch([*TORCHRUN, "-m", "aekit", *args, "--out", "ddp", "--resume"], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed.stdout.count("trained 4 epochs") == 1  # rank 0 reports, once
    single = launch([sys.executable, "-m", "aekit", *args, "--out", "single"], cwd=tmp_path)
    assert single.returncode == 0, single.stderr[-3000:]
    from safetensors.torch import load_file

    assert max_difference(load_file(tmp_path / "ddp" / "model.safetensors"),
                          load_file(tmp_path / "single" / "model.safetensors")) < 1e-4

    encoded = launch([*TORCHRUN, "-m", "aekit", "encode", "ddp", "--out", "codes.npy"], cwd=tmp_path)
    assert encoded.returncode == 0, encoded.stderr[-3000:]
    assert encoded.stdout.count("wrote") == 1
    assert np.load(tmp_path / "codes.npy").shape[1] == 4

    refused = launch([*TORCHRUN, "-m", "aekit", "detect", "fit", "--out", "det"], cwd=tmp_path)
    assert refused.returncode != 0 and "does not run under torchrun" in refused.stderr
    assert not (tmp_path / "det").exists()
