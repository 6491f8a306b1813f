"""IncrementalTrainer: one pass a chunk, optimizer and schedule kept across chunks."""
from __future__ import annotations

import pytest
import torch

from aekit.errors import TrainingError
from aekit.models.autoencoder import AutoEncoderModel, ModelConfig
from aekit.train.incremental import IncrementalTrainer
from aekit.train.trainer import TrainConfig, Trainer


def model() -> AutoEncoderModel:
    torch.manual_seed(0)
    return AutoEncoderModel(ModelConfig(input_shape=(8,), hidden=(6,), latent_dim=2))


def test_one_chunk_is_one_epoch_of_the_trainer():
    """Same seed, same data: one partial_fit pass equals one epoch of Trainer.fit, bit for bit."""
    X = torch.rand(96, 8)
    cfg = TrainConfig(epochs=1, batch_size=16, early_stopping=False, progress=False, seed=3)
    a, b = model(), model()
    Trainer(cfg).fit(a, X)
    row = IncrementalTrainer(b, cfg).partial_fit(X)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k
    assert row["epoch"] == 1 and row["n_samples"] == 96 and row["lr"] == cfg.lr


def test_adam_state_and_schedule_carry_over():
    net = model()
    inc = IncrementalTrainer(net, TrainConfig(batch_size=10, lr=0.01, lr_schedule="exponential:0.5", progress=False))
    inc.partial_fit(torch.rand(25, 8))  # 3 batches
    inc.partial_fit(torch.rand(7, 8))  # 1 batch
    steps = {int(s["step"]) for s in inc.optimizer.state.values()}
    assert steps == {4} and inc.steps == 4 and inc.epoch == 2
    assert inc.optimizer.param_groups[0]["lr"] == pytest.approx(0.0025)


def test_empty_chunk():
    with pytest.raises(TrainingError, match="empty chunk"):
        IncrementalTrainer(model(), TrainConfig(progress=False)).partial_fit(torch.zeros(0, 8))


def test_the_callers_denormal_mode_is_restored():
    from aekit.train.precision import flushes_denormals

    torch.set_flush_denormal(False)
    IncrementalTrainer(model(), TrainConfig(progress=False)).partial_fit(torch.rand(8, 8))
    assert not flushes_denormals()


def test_trainer_and_rbm_give_the_floating_point_mode_back():
    """fit() flushes subnormals while it trains (speed) and restores the caller's mode after, as
    partial_fit does: code after a fit (hypothesis, for one) must see subnormal floats."""
    import numpy as np

    from aekit.estimators import AutoEncoder
    from aekit.nn.rbm import RBM
    from aekit.train.precision import flushes_denormals
    from aekit.train.rbm import RBMTrainer

    assert not flushes_denormals()
    AutoEncoder(hidden=(4,), latent_dim=2, epochs=1, random_state=0).fit(np.random.default_rng(0).random((20, 6)))
    assert not flushes_denormals()
    RBMTrainer(epochs=1).fit(RBM(6, 3), torch.rand(20, 6))
    assert not flushes_denormals()
