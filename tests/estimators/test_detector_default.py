"""The detector's default model for tables (RobustAutoEncoder) and its default score ("auto": mse+code
for that model, mse otherwise): why they are the defaults, and that they keep."""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from aekit import AutoEncoder, AutoEncoderDetector
from aekit.errors import ConfigError, RunFolderError
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
    meta = json.loads((run / "detector.json").read_text())  # the parameter as given, the score in use beside it
    assert meta["params"]["score"] == "auto" and meta["score"] == again.score_ == "mse+code"


def test_the_default_score_is_mse_code_for_the_table_default_only(default_detector):
    assert default_detector.score == "auto" and default_detector.score_ == "mse+code"
    X = np.random.default_rng(1).normal(size=(80, 5))
    given = AutoEncoderDetector(AutoEncoder(hidden=(4,), latent_dim=2, epochs=1), random_state=0).fit(X)
    assert given.score_ == "mse"  # a model the caller gives: not what mse+code was measured with
    robust = AutoEncoderDetector(RobustAutoEncoder(updates=20), random_state=0).fit(X)
    assert robust.score_ == "mse+code"
    explicit = AutoEncoderDetector(score="mse", random_state=0).fit(X)
    assert explicit.score_ == "mse" and not hasattr(explicit, "manifold_")


def test_the_default_exports_with_its_score(default_detector, table, tmp_path):
    import onnxruntime as ort

    x = np.ascontiguousarray(table[1], dtype=np.float32)
    path = default_detector.export(tmp_path / "det.onnx")
    score, label = ort.InferenceSession(str(path)).run(None, {"x": x})
    want = default_detector.decision_function(x)
    assert np.abs(score - want).max() <= 1e-4
    away = np.abs(want - default_detector.threshold_) > 1e-4
    assert (label[away] == default_detector.predict(x)[away]).all()


def test_old_run_folders_keep_their_score(tmp_path):
    """A folder written before "auto" (params.score "mse", no resolved score) loads and scores with mse."""
    v1 = Path(__file__).resolve().parents[1] / "fixtures" / "runs_v1" / "detector"
    det = AutoEncoderDetector.load(v1)
    assert det.score == det.score_ == "mse" and not hasattr(det, "manifold_")
    X = np.random.default_rng(0).random((5, det.n_features_in_)).astype(np.float32)
    est = det.estimator_
    scale = est.model_.input_scale.numpy() if est.model_config_.standardize else 1.0
    mse = (((X - est.reconstruct(X)) / scale) ** 2).mean(1)
    np.testing.assert_allclose(det.decision_function(X), mse, rtol=1e-5)
    run = shutil.copytree(v1, tmp_path / "auto")
    meta = json.loads((run / "detector.json").read_text())
    meta["params"]["score"] = "auto"  # "auto" without the score it resolved to: refused, named
    (run / "detector.json").write_text(json.dumps(meta))
    with pytest.raises(RunFolderError, match="score 'auto' needs the resolved score"):
        AutoEncoderDetector.load(run)


def test_images_keep_the_image_default():
    X = np.random.default_rng(0).random((60, 1, 4, 4)).astype(np.float32)
    det = AutoEncoderDetector(random_state=0).fit(X)
    assert type(det.estimator_) is AutoEncoder and det.estimator_.model_config_.latent_dim == 8
    assert det.score_ == "mse"  # "auto": images keep the reconstruction error (mse+code is measured on tables)


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
