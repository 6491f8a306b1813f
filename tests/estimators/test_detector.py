"""AutoEncoderDetector: the PyOD-style API, thresholds, bad input, CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

import aekit.cli
from aekit import AutoEncoder, AutoEncoderDetector
from aekit.metrics import detection_metrics
from aekit.errors import ConfigError, DataError, RunFolderError


@pytest.fixture(scope="module")
def cancer():
    d = load_breast_cancer()
    rng = np.random.default_rng(0)
    normal, anomalous = d.data[d.target == 1], d.data[d.target == 0]  # malignant = anomaly
    idx = rng.permutation(len(normal))
    test = np.vstack([normal[idx[250:]], anomalous[rng.choice(len(anomalous), 20, replace=False)]])
    labels = np.r_[np.zeros(len(normal) - 250), np.ones(20)]
    return normal[idx[:250]], test, labels


@pytest.fixture(scope="module")
def fitted(cancer):
    return AutoEncoderDetector(AutoEncoder(hidden=(32, 16), latent_dim=6, epochs=80, random_state=0),
                               random_state=0).fit(cancer[0])


def test_pyod_api_and_it_finds_malignant_tumours(fitted, cancer):
    _, test, labels = cancer
    scores = fitted.decision_function(test)
    assert scores.shape == (len(test),)
    assert fitted.decision_scores_.shape == (250,) and fitted.labels_.shape == (250,)
    assert set(np.unique(fitted.predict(test))) <= {0, 1}
    proba = fitted.predict_proba(test)
    assert proba.shape == (len(test), 2) and np.allclose(proba.sum(1), 1) and (proba >= 0).all()
    m = detection_metrics(scores, labels, fitted.threshold_)
    assert m["roc_auc"] > 0.8  # IsolationForest-level separation on this classic set
    # Scores are standardized reconstruction errors: scaling one feature's units changes nothing.
    assert fitted.estimator_.model_config_.standardize


def test_threshold_holds_its_false_positive_rate(digits_flat):
    from sklearn.datasets import load_digits

    y = load_digits().target
    normal = digits_flat[y < 5]
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(normal))
    train, held = normal[idx[:700]], normal[idx[700:]]
    det = AutoEncoderDetector(AutoEncoder(hidden=(32,), latent_dim=8, epochs=40, random_state=0), fpr=0.05,
                              random_state=0).fit(train)
    fpr = det.predict(held).mean()
    assert fpr < 0.15, fpr  # near 5 % on unseen normal data (small sample: loose bound)
    assert det.predict(digits_flat[y >= 5]).mean() > fpr


def test_contamination_uses_the_training_percentile(cancer):
    det = AutoEncoderDetector(AutoEncoder(hidden=(16,), latent_dim=4, epochs=5, random_state=0),
                              contamination=0.1, random_state=0).fit(cancer[0])
    assert det.labels_.mean() == pytest.approx(0.1, abs=0.01)


def test_bad_input(fitted, cancer):
    with pytest.raises(DataError, match="30"):
        fitted.decision_function(cancer[1][:, :10])
    bad = cancer[1][:5].copy()
    bad[2, 3] = np.nan
    with pytest.raises(DataError, match="NaN"):
        fitted.decision_function(bad)
    fitted.set_params(nan_policy="flag")
    try:
        s = fitted.decision_function(bad)
        assert np.isinf(s[2]) and np.isfinite(np.delete(s, 2)).all() and fitted.predict(bad)[2] == 1
    finally:
        fitted.set_params(nan_policy="raise")
    for kw in ({"contamination": 0.7}, {"contamination": 0}, {"fpr": 1.0}, {"fpr": 0}, {"score": "nope"}):
        with pytest.raises(ConfigError):
            AutoEncoderDetector(**kw).fit(cancer[0])
    with pytest.raises(ConfigError, match="VariationalAutoEncoder"):
        AutoEncoderDetector(AutoEncoder(epochs=1), score="elbo").fit(cancer[0])


def test_save_load(fitted, cancer, tmp_path):
    run = fitted.save(tmp_path / "det")
    again = AutoEncoderDetector.load(run)
    np.testing.assert_allclose(again.decision_function(cancer[1]), fitted.decision_function(cancer[1]), rtol=1e-6)
    assert again.threshold_ == fitted.threshold_
    (run / "detector.json").unlink()
    with pytest.raises(RunFolderError, match="no detector.json"):
        AutoEncoderDetector.load(run)
    with pytest.raises(RunFolderError, match="det-gone: no such run folder"):  # not "no detector.json"
        AutoEncoderDetector.load(tmp_path / "det-gone")


def test_cli_fit_and_score_images(tmp_path, capsys):
    run = tmp_path / "det"
    with pytest.raises(SystemExit) as e:
        aekit.cli.main(["detect", "fit", "--normal-label", "0,1,2,3,4", "--hidden", "32", "--latent", "8",
                        "--epochs", "30", "--out", str(run), "--quiet"])
    assert e.value.code == 0
    with pytest.raises(SystemExit) as e:
        aekit.cli.main(["detect", "score", str(run), "--out", str(tmp_path / "s")])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "ROC-AUC" in out
    m = json.loads((tmp_path / "s" / "metrics.json").read_text())
    assert m["roc_auc"] > 0.7
    for name in ("scores.csv", "score-histogram.png", "roc.png", "most-anomalous.png"):
        assert (tmp_path / "s" / name).exists(), name
    lines = (tmp_path / "s" / "scores.csv").read_text().splitlines()
    assert lines[0] == "index,score,anomaly_predicted,label,anomaly_true" and len(lines) == 360
    with pytest.raises(SystemExit) as e:
        aekit.cli.main(["detect", "fit", "--normal-label", "42", "--out", str(tmp_path / "x")])
    assert e.value.code == 2 and "no samples with label [42]" in capsys.readouterr().err
