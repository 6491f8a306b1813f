"""Trainer callbacks: hook order, rows extended by a callback, stop requests, and the built-in
callbacks (early stopping, time budget, checkpoint, progress bar) behaving as before."""
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

import aekit.train
from aekit.errors import ConfigError, TrainingError
from aekit.models.autoencoder import AutoEncoderModel, ModelConfig
from aekit.nn.rbm import RBM
from aekit.train.callbacks import (
    Callback,
    CallbackList,
    Checkpoint,
    EarlyStopping,
    ProgressBar,
    TimeBudget,
    use_callbacks,
)
from aekit.train.checkpoint import METADATA_KEY
from aekit.train.rbm import RBMTrainer, train_rbm
from aekit.train.trainer import CHECKPOINT_FILE, TrainConfig, Trainer, TrainingInterrupted, evaluate


def model(seed=0):
    torch.manual_seed(seed)
    return AutoEncoderModel(ModelConfig(input_shape=(64,), hidden=(16,), latent_dim=4))


@pytest.fixture(scope="module")
def data(digits_flat):
    X = torch.tensor(digits_flat)
    return X[:256], X[256:384]


def cfg(**kw):
    base = dict(epochs=3, batch_size=128, progress=False, seed=0)
    base.update(kw)
    return TrainConfig(**base)


def weights(m):
    return {k: v.clone() for k, v in m.state_dict().items()}


def same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


class Recorder(Callback):
    def __init__(self):
        self.calls = []

    def on_stage_start(self, trainer):
        self.calls.append(("stage_start", trainer.stage, trainer.epoch))

    def on_epoch_start(self, trainer, epoch):
        self.calls.append(("epoch_start", trainer.stage, epoch))

    def on_batch_end(self, trainer, epoch, step, n_steps):
        self.calls.append(("batch_end", trainer.stage, epoch, step, n_steps))

    def on_epoch_end(self, trainer, epoch, row):
        assert row is trainer.history[-1] and row["epoch"] == epoch == trainer.epoch
        self.calls.append(("epoch_end", trainer.stage, epoch))

    def on_stage_end(self, trainer):
        self.calls.append(("stage_end", trainer.stage, trainer.epoch, type(trainer.error).__name__))


class AddKey(Callback):
    """Adds the validation loss times two to every row (a stand-in for a per-epoch evaluation)."""

    def on_epoch_end(self, trainer, epoch, row):
        row["double_val"] = 2 * evaluate(trainer.model, trainer.X_val)["loss"]


class StopAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, trainer, epoch, row):
        if epoch == self.epoch:
            trainer.stop(f"asked to stop at epoch {epoch}")


def test_hooks_are_called_in_order_over_two_stages(data):
    rec = Recorder()
    # 256 rows in batches of 128: two steps an epoch
    Trainer(cfg(epochs=2), stage="pretrain", callbacks=[rec]).fit(model(), *data)
    history = Trainer(cfg(epochs=1), stage="finetune", callbacks=[rec]).fit(model(), *data)
    assert rec.calls == [
        ("stage_start", "pretrain", 0),
        ("epoch_start", "pretrain", 1), ("batch_end", "pretrain", 1, 1, 2), ("batch_end", "pretrain", 1, 2, 2),
        ("epoch_end", "pretrain", 1),
        ("epoch_start", "pretrain", 2), ("batch_end", "pretrain", 2, 1, 2), ("batch_end", "pretrain", 2, 2, 2),
        ("epoch_end", "pretrain", 2),
        ("stage_end", "pretrain", 2, "NoneType"),
        ("stage_start", "finetune", 0),
        ("epoch_start", "finetune", 1), ("batch_end", "finetune", 1, 1, 2), ("batch_end", "finetune", 1, 2, 2),
        ("epoch_end", "finetune", 1),
        ("stage_end", "finetune", 1, "NoneType"),
    ]
    assert [r["stage"] for r in history] == ["finetune"]


def test_built_in_callbacks_come_from_the_config_in_the_documented_order(tmp_path):
    user = Callback()
    t = Trainer(cfg(max_seconds=60, progress=True), checkpoint_dir=tmp_path, callbacks=[user])
    scoped = Callback()
    with use_callbacks(scoped):
        installed = t.install_callbacks()
    assert [type(c) for c in installed] == [EarlyStopping, TimeBudget, Callback, Callback, Checkpoint, ProgressBar]
    assert installed[2] is user and installed[3] is scoped
    bare = Trainer(cfg(early_stopping=False)).install_callbacks()
    assert bare == []
    with pytest.raises(ConfigError, match="Callback instances"):
        Trainer(cfg(), callbacks=[lambda *a: None])


def test_a_callback_adds_a_key_to_every_row_and_the_checkpoint_keeps_it(tmp_path, data):
    history = Trainer(cfg(epochs=3), checkpoint_dir=tmp_path, callbacks=[AddKey()]).fit(model(), *data)
    assert all(r["double_val"] == pytest.approx(2 * r["val_loss"], rel=1e-6) for r in history)
    with safe_open(str(tmp_path / CHECKPOINT_FILE), framework="pt") as f:
        saved = json.loads(f.metadata()[METADATA_KEY])["history"]
    assert [r["double_val"] for r in saved] == [r["double_val"] for r in history]


def test_a_callback_stops_training_and_the_progress_bar_says_why(data, capsys):
    t = Trainer(cfg(epochs=10, progress=True), callbacks=[StopAt(2)])
    history = t.fit(model(), *data)
    assert [r["epoch"] for r in history] == [1, 2]
    assert t.should_stop and t.stop_reason == "asked to stop at epoch 2"
    assert not t.stopped_early and not t.stopped_at_budget
    assert "asked to stop at epoch 2" in capsys.readouterr().out
    # the request is cleared when the trainer fits again
    t.callbacks = []
    assert len(t.fit(model(), *data)) == 10 and not t.should_stop


def test_early_stopping_restores_the_best_weights_before_user_callbacks_see_the_end(data):
    seen = {}

    class AtEnd(Callback):
        def on_stage_end(self, trainer):
            seen["val"] = evaluate(trainer.model, trainer.X_val)["loss"]

    # A huge learning rate makes the validation loss bounce; the best epoch must come back.
    t = Trainer(cfg(epochs=40, lr=0.05, patience=2, batch_size=32), callbacks=[AtEnd()])
    history = t.fit(model(), *data)
    best = min(history, key=lambda r: r["val_loss"])
    assert t.stopped_early and len(history) < 40 and t.stop_reason.startswith("early stop")
    assert t.best_epoch == best["epoch"] and len(history) == best["epoch"] + 2
    assert seen["val"] == pytest.approx(best["val_loss"], rel=1e-5)


def test_time_budget_counts_training_time_and_yields_to_early_stopping(data):
    class Slow(Callback):  # batch hooks run inside the epoch's training time, epoch hooks outside it
        def on_batch_end(self, trainer, epoch, step, n_steps):
            time.sleep(0.2)

        def on_epoch_end(self, trainer, epoch, row):
            time.sleep(0.5)

    t = Trainer(cfg(epochs=10, batch_size=256, max_seconds=0.3, early_stopping=False), callbacks=[Slow()])
    history = t.fit(model(), *data)
    assert len(history) == 2 and t.stopped_at_budget and not t.stopped_early
    assert 0.2 <= history[0]["train_seconds"] < 0.3 <= history[0]["train_seconds"] + history[1]["train_seconds"]
    # min_delta so large that epoch 2 cannot improve: patience 1 stops there, as the budget would
    t = Trainer(cfg(epochs=10, batch_size=256, max_seconds=0.3, patience=1, min_delta=1e9), callbacks=[Slow()])
    history = t.fit(model(), *data)
    assert len(history) == 2 and t.stopped_early and not t.stopped_at_budget


def test_ctrl_c_in_a_callback_checkpoints_and_resume_is_bit_identical(tmp_path, data):
    # checkpoint_every=0: the only checkpoint is the one written when Ctrl-C ends the stage
    straight = model()
    plain = Trainer(cfg(epochs=5, lr_schedule="cosine", batch_size=64), callbacks=[AddKey()]).fit(straight, *data)

    class CtrlC(Callback):
        def on_batch_end(self, trainer, epoch, step, n_steps):
            if epoch == 3 and step == 2:
                raise KeyboardInterrupt

    rec = Recorder()
    m = model()
    with pytest.raises(TrainingInterrupted, match="after epoch 2"):
        Trainer(cfg(epochs=5, lr_schedule="cosine", batch_size=64, checkpoint_every=0), checkpoint_dir=tmp_path,
                callbacks=[AddKey(), CtrlC(), rec]).fit(m, *data)
    assert rec.calls[-1] == ("stage_end", "train", 2, "KeyboardInterrupt")
    resumed = model(seed=123)  # a new process rebuilds the model and resumes
    history = Trainer(cfg(epochs=5, lr_schedule="cosine", batch_size=64), checkpoint_dir=tmp_path,
                      callbacks=[AddKey()]).fit(resumed, *data, resume=True)
    assert same(weights(resumed), weights(straight))
    drop = ("seconds", "train_seconds")
    assert [{k: v for k, v in r.items() if k not in drop} for r in history] == \
        [{k: v for k, v in r.items() if k not in drop} for r in plain]


def test_nan_guard_ends_the_stage_with_the_error_and_a_checkpoint(tmp_path, data):
    class Poison(Callback):  # the weights turn NaN during epoch 2
        def on_batch_end(self, trainer, epoch, step, n_steps):
            if epoch == 2:
                with torch.no_grad():
                    next(trainer.model.parameters()).fill_(float("nan"))

    rec = Recorder()
    m = model()
    with pytest.raises(TrainingError, match="epoch 2; the weights of epoch 1 were kept"):
        Trainer(cfg(epochs=4, checkpoint_every=0), checkpoint_dir=tmp_path, callbacks=[Poison(), rec]).fit(m, *data)
    assert rec.calls[-1] == ("stage_end", "train", 1, "TrainingError")
    assert all(torch.isfinite(v).all() for v in m.state_dict().values())
    with safe_open(str(tmp_path / CHECKPOINT_FILE), framework="pt") as f:
        assert json.loads(f.metadata()[METADATA_KEY])["epoch"] == 1


def test_every_stage_end_runs_even_when_one_raises():
    ended = []

    class Boom(Callback):
        def on_stage_end(self, trainer):
            raise RuntimeError("boom")

    class Ends(Callback):
        def on_stage_end(self, trainer):
            ended.append(True)

    with pytest.raises(RuntimeError, match="boom"):
        CallbackList([Boom(), Ends()]).on_stage_end(None)
    assert ended == [True]


def test_rbm_trainer_takes_callbacks_and_shows_its_columns(digits_flat, capsys):
    X = torch.tensor(digits_flat[:200])
    rec = Recorder()
    torch.manual_seed(0)
    history = train_rbm(RBM(64, 8), X, epochs=5, batch_size=100, stage="rbm-1", progress=True,
                        callbacks=[rec, StopAt(2)])
    assert [r["epoch"] for r in history] == [1, 2]
    assert rec.calls[:4] == [("stage_start", "rbm-1", 0), ("epoch_start", "rbm-1", 1),
                             ("batch_end", "rbm-1", 1, 1, 2), ("batch_end", "rbm-1", 1, 2, 2)]
    assert rec.calls[-1] == ("stage_end", "rbm-1", 2, "NoneType")
    out = capsys.readouterr().out
    assert "recon" in out and "PL" in out and "asked to stop at epoch 2" in out


def test_use_callbacks_reaches_trainers_started_inside_the_block(digits_flat, data):
    rec = Recorder()
    with use_callbacks(rec):
        Trainer(cfg(epochs=1)).fit(model(), *data)
        RBMTrainer(epochs=1, progress=False, stage="rbm-1").fit(RBM(64, 4), torch.tensor(digits_flat[:100]))
    Trainer(cfg(epochs=1)).fit(model(), *data)  # outside the block: not called
    assert [c for c in rec.calls if c[0] == "stage_start"] == [("stage_start", "train", 0),
                                                               ("stage_start", "rbm-1", 0)]


def test_the_rbm_module_does_not_import_the_train_layer():
    code = "import sys, aekit.nn.rbm; print(sorted(m for m in sys.modules if m.startswith('aekit.train')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_train_modules_stay_under_600_lines():
    for path in Path(aekit.train.__file__).parent.glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) < 600, path.name


def test_doctests():
    import doctest

    import aekit.nn.rbm
    import aekit.train.callbacks
    import aekit.train.checkpoint
    import aekit.train.rbm
    import aekit.train.trainer

    for module in (aekit.train.callbacks, aekit.train.checkpoint, aekit.train.trainer, aekit.train.rbm, aekit.nn.rbm):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__
