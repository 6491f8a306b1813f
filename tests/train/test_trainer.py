import numpy as np
import pytest
import torch

from aekit.errors import ConfigError, RunFolderError, TrainingError
from aekit.models.autoencoder import AutoEncoderModel, ModelConfig
from aekit.train.trainer import CHECKPOINT_FILE, TrainConfig, Trainer, TrainingInterrupted


def model(seed=0):
    torch.manual_seed(seed)
    return AutoEncoderModel(ModelConfig(input_shape=(64,), hidden=(32,), latent_dim=4))


@pytest.fixture(scope="module")
def data(digits_flat):
    X = torch.tensor(digits_flat)
    return X[:1200], X[1200:1500]


def cfg(**kw):
    base = dict(epochs=6, batch_size=64, progress=False, seed=0)
    base.update(kw)
    return TrainConfig(**base)


def weights(m):
    return {k: v.clone() for k, v in m.state_dict().items()}


def same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_training_reduces_loss_and_records_history(data):
    m = model()
    hist = Trainer(cfg(epochs=10)).fit(m, *data)
    assert len(hist) == 10 and {"epoch", "loss", "val_loss", "lr", "seconds", "stage"} <= set(hist[0])
    assert hist[-1]["loss"] < 0.7 * hist[0]["loss"]


def test_seeded_training_is_reproducible(data):
    a, b = model(), model()
    Trainer(cfg()).fit(a, *data)
    Trainer(cfg()).fit(b, *data)
    assert same(weights(a), weights(b))
    c = model()
    Trainer(cfg(seed=1)).fit(c, *data)
    assert not same(weights(a), weights(c))


def test_resume_continues_exactly(tmp_path, data):
    straight = model()
    Trainer(cfg(epochs=6)).fit(straight, *data)
    part = model()
    Trainer(cfg(epochs=3), checkpoint_dir=tmp_path).fit(part, *data)
    # A new process would rebuild the model from scratch and resume from the checkpoint.
    resumed = model(seed=123)
    hist = Trainer(cfg(epochs=6), checkpoint_dir=tmp_path).fit(resumed, *data, resume=True)
    assert [r["epoch"] for r in hist] == [1, 2, 3, 4, 5, 6]
    assert same(weights(resumed), weights(straight))


def test_resume_without_checkpoint_is_a_clear_error(tmp_path, data):
    with pytest.raises(RunFolderError, match="no checkpoint"):
        Trainer(cfg(), checkpoint_dir=tmp_path).fit(model(), *data, resume=True)


def test_checkpoint_from_another_model_is_refused(tmp_path, data):
    Trainer(cfg(epochs=1), checkpoint_dir=tmp_path).fit(model(), *data)
    other = AutoEncoderModel(ModelConfig(input_shape=(64,), hidden=(16,), latent_dim=4))
    with pytest.raises(RunFolderError, match="do not match"):
        Trainer(cfg(epochs=2), checkpoint_dir=tmp_path).fit(other, *data, resume=True)


def test_corrupt_checkpoint_is_a_clear_error(tmp_path, data):
    (tmp_path / CHECKPOINT_FILE).write_bytes(b"garbage" * 10)
    with pytest.raises(RunFolderError, match="not a readable"):
        Trainer(cfg(), checkpoint_dir=tmp_path).fit(model(), *data, resume=True)


def test_early_stopping_restores_best_weights(data):
    m = model()
    # A huge learning rate makes the validation loss bounce; early stopping must keep the best epoch.
    t = Trainer(cfg(epochs=40, lr=0.05, patience=3))
    hist = t.fit(m, *data)
    best = min(r["val_loss"] for r in hist)
    assert t.best_epoch == min(hist, key=lambda r: r["val_loss"])["epoch"]
    from aekit.train.trainer import evaluate

    assert evaluate(m, data[1])["loss"] == pytest.approx(best, rel=1e-5)
    assert t.stopped_early or len(hist) == 40


class _Exploding(AutoEncoderModel):
    """Loss turns NaN from a given epoch on."""

    def __init__(self, explode_at_call):
        super().__init__(ModelConfig(input_shape=(64,), hidden=(16,), latent_dim=4))
        self.calls, self.explode_at = 0, explode_at_call

    def training_terms(self, x, generator=None):
        self.calls += 1
        terms = super().training_terms(x, generator)
        if self.calls >= self.explode_at:
            terms["loss"] = terms["loss"] * float("nan")
        return terms


def test_nan_loss_stops_with_clear_error_and_keeps_last_good_weights(tmp_path, data):
    m = _Exploding(explode_at_call=19 * 2 + 5)  # 19 batches per epoch: NaN in epoch 3
    t = Trainer(cfg(epochs=10), checkpoint_dir=tmp_path)
    with pytest.raises(TrainingError, match="became nan in epoch 3.*epoch 2"):
        t.fit(m, *data)
    assert all(torch.isfinite(v).all() for v in m.state_dict().values())
    assert len(t.history) == 2
    assert (tmp_path / CHECKPOINT_FILE).exists()


class _Interrupted(AutoEncoderModel):
    def __init__(self, at_call):
        super().__init__(ModelConfig(input_shape=(64,), hidden=(16,), latent_dim=4))
        self.calls, self.at = 0, at_call

    def training_terms(self, x, generator=None):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return super().training_terms(x, generator)


def test_ctrl_c_saves_checkpoint_and_resume_continues(tmp_path, data):
    torch.manual_seed(0)
    straight = _Interrupted(at_call=-1)
    Trainer(cfg(epochs=6, lr_schedule="cosine")).fit(straight, *data)
    torch.manual_seed(0)
    m = _Interrupted(at_call=19 * 3 + 4)  # during epoch 4
    with pytest.raises(TrainingInterrupted, match="after epoch 3; checkpoint saved in .*--resume") as e:
        Trainer(cfg(epochs=6, lr_schedule="cosine"), checkpoint_dir=tmp_path).fit(m, *data)
    assert e.value.resumable
    m2 = _Interrupted(at_call=-1)
    hist = Trainer(cfg(epochs=6, lr_schedule="cosine"), checkpoint_dir=tmp_path).fit(m2, *data, resume=True)
    assert [r["epoch"] for r in hist] == [1, 2, 3, 4, 5, 6]
    assert same(weights(m2), weights(straight))


@pytest.mark.parametrize("at_call, resumable", [(3, False), (19 * 2 + 4, True)])
def test_a_stop_by_torchrun_is_resumable_only_after_a_finished_epoch(tmp_path, data, at_call, resumable):
    from aekit.train.distributed import PeerFailure as Stop

    m = _Interrupted(at_call=-1)
    calls = {"n": 0}
    real = m.training_terms

    def terms(x, generator=None):
        calls["n"] += 1
        if calls["n"] == at_call:
            raise Stop("stopped by torchrun")
        return real(x, generator)

    m.training_terms = terms
    with pytest.raises(Stop) as e:
        Trainer(cfg(epochs=6), checkpoint_dir=tmp_path).fit(m, *data)
    assert e.value.resumable is resumable  # an --overwrite keeps the new run only when it can be continued


def test_ctrl_c_in_the_first_epoch_offers_no_resume(tmp_path, data):
    with pytest.raises(TrainingInterrupted) as e:
        Trainer(cfg(epochs=6), checkpoint_dir=tmp_path).fit(_Interrupted(at_call=3), *data)
    assert str(e.value) == "training interrupted before its first epoch finished" and not e.value.resumable


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd", "rmsprop", "adadelta", "adagrad"])
def test_optimizers_by_name(name, data):
    hist = Trainer(cfg(epochs=2, optimizer=name, lr=0.01 if name != "adadelta" else 1.0)).fit(model(), *data)
    assert np.isfinite(hist[-1]["loss"])


def test_schedules_and_clipping(data):
    hist = Trainer(cfg(epochs=4, lr_schedule="step:2:0.1", grad_clip=1.0)).fit(model(), *data)
    assert [r["lr"] for r in hist] == pytest.approx([1e-3, 1e-3, 1e-4, 1e-4])
    hist = Trainer(cfg(epochs=3, lr_schedule="plateau:1:0.5")).fit(model(), *data)
    assert len(hist) == 3


@pytest.mark.parametrize(
    "kw", [{"optimizer": "lbfgs-ish"}, {"lr": 0}, {"batch_size": 0}, {"lr_schedule": "zigzag"}, {"grad_clip": -1},
           {"lr_schedule": "step:2"}, {"dtype": "int8"}],
)
def test_bad_training_options(kw):
    with pytest.raises(ConfigError):
        TrainConfig(**kw)


def test_time_budget_stops_after_the_epoch_that_reaches_it(data):
    t = Trainer(cfg(epochs=50, max_seconds=1e-6))
    hist = t.fit(model(), *data)
    assert len(hist) == 1 and t.stopped_at_budget and hist[0]["train_seconds"] > 0
    with pytest.raises(ConfigError, match="max_seconds"):
        TrainConfig(max_seconds=0)
