"""AutoEncoder.partial_fit: incremental training on chunks (scikit-learn's convention)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aekit import AutoEncoder
from aekit.errors import ConfigError, DataError, TrainingError


def low_rank(n: int, d: int = 12, seed: int = 0) -> np.ndarray:
    """Rows in [0, 1] on a 2-D curved surface: something an autoencoder can learn."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    W = np.random.default_rng(99).normal(size=(2, d))
    return (1 / (1 + np.exp(-(z @ W)))).astype(np.float32)


def small(**kw) -> AutoEncoder:
    return AutoEncoder(hidden=(16,), latent_dim=2, batch_size=32, lr=3e-3, random_state=0, **kw)


def adam_steps(ae: AutoEncoder) -> set[int]:
    return {int(s["step"]) for s in ae._partial_fit_state.optimizer.state.values()}


def test_partial_fit_over_chunks_learns():
    X = low_rank(1000)
    test = low_rank(300, seed=1)
    ae = small()
    errors = []
    for _ in range(3):
        for chunk in np.array_split(X, 5):
            ae.partial_fit(chunk)
        errors.append(-ae.score(test))
    losses = [r["loss"] for r in ae.history_]
    assert len(losses) == 15 and ae.n_samples_seen_ == 3000 and ae.n_epochs_ == 15
    assert losses[-1] < 0.5 * losses[0]  # training loss falls across calls
    assert errors[2] < errors[1] < errors[0]  # and held-out error with it
    assert all(r["stage"] == "partial_fit" for r in ae.history_)
    assert [r["epoch"] for r in ae.history_] == list(range(1, 16))


def test_optimizer_state_persists_across_calls():
    ae = small()
    chunks = np.array_split(low_rank(400), 4)  # 100 rows: 4 batches of 32 a call
    ae.partial_fit(chunks[0])
    state = ae._partial_fit_state
    assert adam_steps(ae) == {4}
    for c in chunks[1:]:
        ae.partial_fit(c)
    assert ae._partial_fit_state is state and adam_steps(ae) == {16} and state.steps == 16


def test_one_partial_fit_equals_one_epoch_of_the_incremental_trainer_only_once_built():
    """The first call resolves the model from the chunk as fit does: same config as fit on it."""
    X = low_rank(200)
    a = small().partial_fit(X)
    b = small(epochs=1, validation_fraction=0.0).fit(X)
    assert a.model_config_ == b.model_config_
    assert a.train_config_.batch_size == b.train_config_.batch_size == 32


def test_lr_schedule_steps_once_per_call():
    ae = small(lr_schedule="step:1:0.5")
    for c in np.array_split(low_rank(300), 3):
        ae.partial_fit(c)
    assert [r["lr"] for r in ae.history_] == pytest.approx([3e-3, 1.5e-3, 7.5e-4])


def test_feature_mismatch_is_a_data_error():
    ae = small().partial_fit(low_rank(50))
    with pytest.raises(DataError, match="X has 5 features, but AutoEncoder is expecting 12 features"):
        ae.partial_fit(low_rank(50)[:, :5])
    assert ae.n_samples_seen_ == 50 and len(ae.history_) == 1  # the failed call changed nothing


def test_chunk_outside_the_sigmoid_range_is_refused():
    ae = small().partial_fit(low_rank(50))
    assert ae.model_config_.output_activation == "sigmoid"
    with pytest.raises(DataError, match=r"this chunk lies in \[0.1, 3\].*sigmoid output"):
        ae.partial_fit(np.full((10, 12), 0.1, np.float32) + np.eye(10, 12, dtype=np.float32) * 2.9)


def test_standardization_is_fixed_from_the_first_chunk():
    rng = np.random.default_rng(0)
    first = rng.normal(5.0, 2.0, size=(400, 6)).astype(np.float32)
    ae = AutoEncoder(hidden=(8,), latent_dim=2, random_state=0).partial_fit(first)
    shift = ae.model_.input_shift.clone()
    ae.partial_fit(rng.normal(-5.0, 1.0, size=(400, 6)).astype(np.float32))
    np.testing.assert_allclose(shift.numpy(), first.mean(0), rtol=1e-5)
    assert np.array_equal(ae.model_.input_shift.numpy(), shift.numpy())


def test_partial_fit_then_save_and_load(tmp_path):
    X = low_rank(300)
    ae = small()
    for c in np.array_split(X, 3):
        ae.partial_fit(c)
    ae.save(tmp_path / "run")
    back = AutoEncoder.load(tmp_path / "run")
    np.testing.assert_array_equal(back.transform(X), ae.transform(X))
    assert back.n_samples_seen_ == 300 and back.n_epochs_ == 3 and len(back.history_) == 3
    back.partial_fit(X[:100])  # continues the loaded model (with a new optimizer)
    assert back.n_samples_seen_ == 400 and back.history_[-1]["epoch"] == 4
    assert not np.array_equal(back.transform(X), ae.transform(X))


def test_partial_fit_after_fit_continues_and_fit_starts_over():
    X = low_rank(300)
    ae = small(epochs=3).fit(X)
    before = ae.score(X)
    weights = {k: v.clone() for k, v in ae.model_.state_dict().items()}
    ae.partial_fit(X)
    assert ae.history_[-1]["epoch"] == 4 and ae.history_[-1]["stage"] == "partial_fit"
    assert ae.n_samples_seen_ == 600 and ae.score(X) != before
    assert any(not np.array_equal(weights[k], v) for k, v in ae.model_.state_dict().items())
    ae.fit(X)  # fit starts over: no partial_fit state, fit's own history
    assert not hasattr(ae, "_partial_fit_state") and ae.n_samples_seen_ == 300
    assert all(r["stage"] != "partial_fit" for r in ae.history_)


def test_pretrain_needs_fit():
    with pytest.raises(ConfigError, match="pretrain='greedy' needs the whole data"):
        small(pretrain="greedy").partial_fit(low_rank(50))


def test_image_chunks_keep_their_shape():
    rng = np.random.default_rng(0)
    imgs = rng.random((64, 1, 8, 8)).astype(np.float32)
    ae = AutoEncoder(arch="conv", hidden=(4,), latent_dim=2, random_state=0)
    ae.partial_fit(imgs[:32]).partial_fit(imgs[32:])
    assert ae.input_ndim_ == 4 and ae.reconstruct(imgs).shape == imgs.shape
    with pytest.raises(DataError, match=r"samples of shape \(1, 4, 16\)"):
        ae.partial_fit(imgs.reshape(64, 1, 4, 16))


def test_table_chunks_use_the_encoding_learned_on_the_first():
    rng = np.random.default_rng(0)

    def table(n):
        return pd.DataFrame({"a": rng.normal(size=n), "b": rng.choice(["x", "y"], n)})

    first = table(200)
    first.loc[3, "a"] = np.nan
    ae = AutoEncoder(hidden=(4,), latent_dim=2, random_state=0).partial_fit(first)
    encoder = ae.table_encoder_
    ae.partial_fit(table(200))
    assert ae.table_encoder_ is encoder and ae.n_samples_seen_ == 400
    assert ae.transform(table(5)).shape == (5, 2)


def test_nan_loss_keeps_the_weights_before_the_chunk():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 6)).astype(np.float32)  # linear output, standardized from this chunk
    ae = AutoEncoder(hidden=(8,), latent_dim=2, random_state=0).partial_fit(X)
    good = {k: v.clone() for k, v in ae.model_.state_dict().items()}
    steps = ae._partial_fit_state.steps
    with pytest.raises(TrainingError, match=r"loss became (nan|inf) in partial_fit pass 2; the weights from before"):
        ae.partial_fit(X * 1e30)  # squared errors beyond float32's range
    for k, v in ae.model_.state_dict().items():
        assert np.array_equal(v.numpy(), good[k].numpy()), k
    assert len(ae.history_) == 1 and ae.n_samples_seen_ == 100 and ae._partial_fit_state.steps == steps
    ae.partial_fit(X)  # and training goes on
    assert ae.history_[-1]["epoch"] == 2


def test_robust_autoencoder_winsorizes_each_chunk(monkeypatch):
    from aekit.estimators import robust

    seen = []
    real = robust.winsorize_bounds
    monkeypatch.setattr(robust, "winsorize_bounds", lambda X, k: seen.append(len(X)) or real(X, k))
    rng = np.random.default_rng(0)
    ae = robust.RobustAutoEncoder(random_state=0)
    for chunk in np.array_split(rng.normal(size=(300, 9)), 3):
        ae.partial_fit(chunk)
    assert seen == [100, 100, 100] and ae.model_config_.latent_dim == 3
