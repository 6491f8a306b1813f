"""AutoEncoderDetector(n_estimators=K): cross-fitted networks, out-of-fold threshold, run folders
with members/, exports that average the networks, and what is refused."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from aekit import AutoEncoder, AutoEncoderDetector
from aekit.errors import ConfigError, DataError, RunFolderError
from aekit.estimators.ensemble import MEMBERS_DIR, crossfit_folds
from aekit.estimators.robust import RobustAutoEncoder


def small(**kw):
    return AutoEncoder(hidden=(6,), latent_dim=2, epochs=3, random_state=0, **kw)


@pytest.fixture(scope="module")
def unit_rows():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(120, 2))
    return (1 / (1 + np.exp(-(Z @ rng.normal(size=(2, 8)))))).astype(np.float32)  # in [0, 1]: not standardized


@pytest.fixture(scope="module")
def ensemble(unit_rows):
    return AutoEncoderDetector(small(), score="mse", n_estimators=3, random_state=4).fit(unit_rows)


def member_mse(est, X) -> np.ndarray:
    return ((X.astype(np.float64) - est.reconstruct(X)) ** 2).mean(1)


def test_each_network_trains_without_its_fold_and_scores_only_that_fold_for_the_threshold(ensemble, unit_rows):
    folds = crossfit_folds(len(unit_rows), 3, seed=4)
    assert len(ensemble.estimators_) == 3 and ensemble.estimator_ is ensemble.estimators_[0]
    for k, fold in enumerate(folds):
        member = ensemble.estimators_[k]
        assert member.n_samples_seen_ == len(unit_rows) - len(fold)
        np.testing.assert_allclose(ensemble.calibration_scores_[fold], member_mse(member, unit_rows[fold]), rtol=1e-6)
    assert ensemble.threshold_ == np.quantile(ensemble.calibration_scores_, 0.99, method="higher")
    assert "out-of-fold" in ensemble.threshold_source_ and "3 networks" in ensemble.threshold_source_
    # the networks differ (own folds, own seeds), and the score is their mean
    seeds = [m.random_state for m in ensemble.estimators_]
    assert seeds == [0, 1, 2]
    parts = np.stack([member_mse(m, unit_rows) for m in ensemble.estimators_])
    assert np.ptp(parts, axis=0).max() > 0
    np.testing.assert_allclose(ensemble.decision_function(unit_rows), parts.mean(0), rtol=1e-6)


def test_one_network_keeps_the_held_out_calibration_part(unit_rows):
    det = AutoEncoderDetector(small(), score="mse", n_estimators=1, random_state=0).fit(unit_rows)
    assert len(det.estimators_) == 1 and len(det.calibration_scores_) == 24  # calibration_fraction 0.2
    assert "held-out" in det.threshold_source_


def test_auto_is_five_networks_for_the_table_default_and_one_otherwise(unit_rows):
    assert AutoEncoderDetector(random_state=0).fit(unit_rows).n_estimators_ == 5
    assert AutoEncoderDetector(RobustAutoEncoder(updates=20, random_state=0)).fit(unit_rows).n_estimators_ == 5
    assert AutoEncoderDetector(small()).fit(unit_rows).n_estimators_ == 1
    images = unit_rows[:, :4].reshape(-1, 1, 2, 2)
    assert AutoEncoderDetector(AutoEncoder(hidden=(4,), latent_dim=2, epochs=1), random_state=0).fit(images).n_estimators_ == 1


@pytest.mark.parametrize("value", [0, -2, 1.5, True, "five", None])
def test_a_bad_n_estimators_is_refused_before_training(value, unit_rows):
    with pytest.raises(ConfigError, match="n_estimators"):
        AutoEncoderDetector(small(), n_estimators=value).fit(unit_rows)


def test_too_few_rows_for_the_networks_say_so(unit_rows):
    with pytest.raises(DataError, match="too few for 8 cross-fitted networks"):
        AutoEncoderDetector(small(), n_estimators=8).fit(unit_rows[:12])


def test_a_time_series_detector_holds_one_network():
    with pytest.raises(ConfigError, match="time-series detector holds one network"):
        AutoEncoderDetector(window=8, n_estimators=3).fit(np.zeros((100, 2)))


def test_x_calib_and_contamination_still_set_the_threshold_of_an_ensemble(unit_rows):
    det = AutoEncoderDetector(small(), score="mse", n_estimators=2, random_state=0).fit(
        unit_rows[:100], X_calib=unit_rows[100:])
    np.testing.assert_allclose(det.calibration_scores_, det.decision_function(unit_rows[100:]))
    det = AutoEncoderDetector(small(), n_estimators=2, contamination=0.1, random_state=0).fit(unit_rows)
    assert abs(det.labels_.mean() - 0.1) < 0.02


def test_the_run_folder_holds_every_network_and_loads_to_the_same_scores(ensemble, unit_rows, tmp_path):
    run = ensemble.save(tmp_path / "det")
    assert sorted(p.name for p in (run / MEMBERS_DIR).iterdir()) == ["1", "2"]
    assert json.loads((run / "detector.json").read_text())["n_estimators"] == 3
    back = AutoEncoderDetector.load(run)
    assert back.n_estimators_ == 3
    np.testing.assert_array_equal(back.decision_function(unit_rows), ensemble.decision_function(unit_rows))
    # saved again with one network: the old members go
    AutoEncoderDetector(small(), score="mse", n_estimators=1, random_state=0).fit(unit_rows).save(run)
    assert not (run / MEMBERS_DIR).exists() and AutoEncoderDetector.load(run).n_estimators_ == 1


def test_a_missing_or_altered_member_is_refused(ensemble, tmp_path):
    run = ensemble.save(tmp_path / "det")
    weights = run / MEMBERS_DIR / "2" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(RunFolderError):
        AutoEncoderDetector.load(run)
    import shutil

    shutil.rmtree(run / MEMBERS_DIR / "2")
    with pytest.raises(RunFolderError, match="says 3 networks"):
        AutoEncoderDetector.load(run)


def test_a_tampered_network_count_is_refused(tmp_path, unit_rows):
    det = AutoEncoderDetector(RobustAutoEncoder(updates=20, random_state=0), n_estimators=2, random_state=0).fit(unit_rows)
    run = det.save(tmp_path / "det")
    meta = json.loads((run / "detector.json").read_text())
    assert len(meta["manifolds"]) == 2
    for bad in (0, "2", 3):
        (run / "detector.json").write_text(json.dumps({**meta, "n_estimators": bad}))
        with pytest.raises(RunFolderError):
            AutoEncoderDetector.load(run)


def test_tables_share_one_column_encoding_and_explanations_average_the_networks():
    rng = np.random.default_rng(1)
    n = 200
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.choice(["x", "y", "z"], n)})
    df["d"] = df["a"] * 2 + 0.1 * rng.normal(size=n)
    df.loc[5, "b"] = np.nan
    det = AutoEncoderDetector(RobustAutoEncoder(updates=200, random_state=0), n_estimators=3, random_state=0).fit(df)
    assert all(m.table_encoder_ is det.table_encoder_ for m in det.estimators_)  # learned once, on every row
    odd = df.head(20).copy()
    odd.loc[odd.index[:10], "d"] = odd["d"].iloc[:10] + 8  # d no longer follows a
    ex = det.explain(odd, top=4)
    assert np.allclose(ex.groupby("row")["share"].sum(), 1.0)
    named = ex[ex["rank"] == 1].set_index("row")["column"]
    assert (named.loc[odd.index[:10]].isin(["a", "d"])).all()
    wide = det.explain(odd, top=2, form="wide")
    np.testing.assert_allclose(wide["score"], det.decision_function(odd))


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_the_exported_ensemble_equals_the_detector(ensemble, unit_rows, tmp_path, fmt):
    pytest.importorskip("onnxruntime")
    import torch

    path = ensemble.export(tmp_path / f"det.{'onnx' if fmt == 'onnx' else 'pt'}", fmt)
    meta = json.loads(path.with_name(path.name + ".json").read_text())
    assert meta["n_estimators"] == 3 and len(set(meta["networks_weights_sha256"])) == 3
    assert meta["networks_weights_sha256"][0] == meta["weights_sha256"]
    X = np.vstack([unit_rows] * 3)[:257]
    for batch in (X[:1], X):
        if fmt == "onnx":
            import onnxruntime as ort

            score, label = ort.InferenceSession(str(path)).run(None, {"x": batch})
        else:
            score, label = (t.numpy() for t in torch.jit.load(str(path))(torch.from_numpy(batch)))
        assert np.abs(score - ensemble.decision_function(batch)).max() < 1e-4


def test_a_network_that_fails_leaves_no_half_built_ensemble(unit_rows, monkeypatch):
    from sklearn.exceptions import NotFittedError

    calls = []
    fit = AutoEncoder.fit

    def failing(self, X, *args, **kwargs):
        calls.append(len(X))
        if len(calls) == 2:
            raise DataError("the second network failed")
        return fit(self, X, *args, **kwargs)

    det = AutoEncoderDetector(small(), n_estimators=3, random_state=0)
    monkeypatch.setattr(AutoEncoder, "fit", failing)
    with pytest.raises(DataError, match="second network"):
        det.fit(unit_rows)
    with pytest.raises(NotFittedError):
        det.decision_function(unit_rows)


def test_each_network_s_progress_bar_says_which_network_it_is(unit_rows, capsys):
    AutoEncoderDetector(small(verbose=1), n_estimators=2, random_state=0).fit(unit_rows)
    out = "".join(capsys.readouterr())
    assert "network 1/2 train" in out and "network 2/2 train" in out
