"""The detector's default model for tables (RobustAutoEncoder): why it is the default, and that it keeps."""
from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from aekit import AutoEncoder, AutoEncoderDetector
from aekit.errors import ConfigError
from aekit.estimators.robust import RobustAutoEncoder, auto_latent_dim, winsorize_bounds


def clustered_outliers(seed: int = 0, n: int = 500, d: int = 12, share: float = 0.08):
    """Rows near a 3-D plane in 12-D, and a tight cluster of outliers 8 standard deviations out in two
    columns, both in the training rows (8 %) and the test rows: a network that trains to convergence
    learns to reconstruct the cluster, and then no longer flags it."""
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(3, d))

    def normal(m):
        return rng.normal(size=(m, 3)) @ W + 0.3 * rng.normal(size=(m, d))

    ref = normal(2000)
    sd = ref.std(0)
    centre = ref.mean(0) + 8 * sd[0] * np.eye(d)[0] - 8 * sd[1] * np.eye(d)[1]
    k = int(n * share)
    X_train = np.vstack([normal(n - k), centre + 0.3 * rng.normal(size=(k, d))])
    X_test = np.vstack([normal(300), centre + 0.3 * rng.normal(size=(30, d))])
    return X_train, X_test, np.r_[np.zeros(300), np.ones(30)]


@pytest.fixture(scope="module")
def table():
    return clustered_outliers()


@pytest.fixture(scope="module")
def default_detector(table):
    return AutoEncoderDetector(random_state=0).fit(table[0])


def test_the_default_for_tables_is_the_robust_autoencoder(default_detector, table):
    est = default_detector.estimator_
    assert isinstance(est, RobustAutoEncoder)
    assert est.model_config_.latent_dim == auto_latent_dim(12) == 4
    # 1,000 updates of batch 32 on the rows left after the calibration share: a budget, not convergence
    rows = len(table[0]) - int(round(0.2 * len(table[0])))
    assert est.n_epochs_ == math.ceil(1000 / math.ceil(rows / 32))


def test_default_beats_a_converged_plain_autoencoder_on_planted_outliers(default_detector, table):
    X_train, X_test, y = table
    plain = AutoEncoderDetector(AutoEncoder(hidden=(64, 32), latent_dim=8, epochs=200, batch_size=32,
                                            early_stopping=False, random_state=0), random_state=0).fit(X_train)
    auc_default = roc_auc_score(y, default_detector.decision_function(X_test))
    auc_plain = roc_auc_score(y, plain.decision_function(X_test))
    assert auc_default > 0.9
    assert auc_default > auc_plain + 0.15, (auc_default, auc_plain)


def test_the_default_round_trips_through_its_run_folder(default_detector, table, tmp_path):
    run = default_detector.save(tmp_path / "det")
    again = AutoEncoderDetector.load(run)
    assert isinstance(again.estimator_, RobustAutoEncoder)
    assert again.estimator_.get_params() == default_detector.estimator_.get_params()
    np.testing.assert_array_equal(again.decision_function(table[1]), default_detector.decision_function(table[1]))
    assert again.threshold_ == default_detector.threshold_


def test_images_keep_the_image_default():
    X = np.random.default_rng(0).random((60, 1, 4, 4)).astype(np.float32)
    det = AutoEncoderDetector(random_state=0).fit(X)
    assert type(det.estimator_) is AutoEncoder and det.estimator_.model_config_.latent_dim == 8


def test_winsorizing_clips_training_rows_only_in_columns_that_spread():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=300), (rng.random(300) < 0.1).astype(float)])  # a rare 0/1 column
    X[0, 0] = 50.0
    low, high = winsorize_bounds(X, 3.0)
    clipped = np.clip(X, low, high)
    assert clipped[0, 0] < 5 and np.isinf(low[1]) and np.array_equal(clipped[:, 1], X[:, 1])
    # the fitted model's standardization saw the clipped column: its scale ignores the outlier
    ae = RobustAutoEncoder(updates=5, batch_size=32, validation_fraction=0.0, random_state=0).fit(X)
    assert float(ae.model_.input_scale[0]) < 1.5
    ae_raw = RobustAutoEncoder(winsorize=None, updates=5, batch_size=32, validation_fraction=0.0,
                               random_state=0).fit(X)
    assert float(ae_raw.model_.input_scale[0]) > 2.5


def test_auto_latent_stays_a_bottleneck():
    assert [auto_latent_dim(d) for d in (2, 3, 8, 36, 274)] == [1, 2, 3, 6, 16]
    assert all(auto_latent_dim(d) < d for d in range(2, 400))


@pytest.mark.parametrize("params, message", [({"winsorize": -1.0}, "winsorize"), ({"updates": 0}, "updates"),
                                             ({"winsorize": float("nan")}, "winsorize")])
def test_bad_options_are_named(params, message):
    with pytest.raises(ConfigError, match=message):
        RobustAutoEncoder(**params, random_state=0).fit(np.random.default_rng(0).normal(size=(40, 5)))


def test_given_epochs_are_kept():
    ae = RobustAutoEncoder(epochs=2, batch_size=8, random_state=0).fit(np.random.default_rng(0).normal(size=(40, 5)))
    assert ae.n_epochs_ == 2
