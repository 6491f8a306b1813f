"""AutoEncoderDetector on a time series: per-step scores, their alignment, the threshold, save /
load, and the bad inputs (a window too long, NaN, time order and gaps, other channels)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from aekit import AutoEncoder, AutoEncoderDetector
from aekit.errors import ConfigError, DataError
from aekit.estimators.series_detector import series_metrics


def make_series(n_steps=1200, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps)
    s1, s2 = np.sin(2 * np.pi * t / 20), np.sin(2 * np.pi * t / 7)
    X = np.stack([s1 + 0.5 * s2, s1 - 0.3 * s2, 0.7 * s2], 1) + 0.05 * rng.normal(size=(n_steps, 3))
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    df.insert(0, "time", t * 0.5)
    return df


class ZeroModel:
    """Reconstructs every window as zeros: a step's error is then its own standardized value²."""

    def get_params(self, deep=False):
        return {}

    def set_params(self, **params):
        return self

    def fit(self, X, y=None):
        return self

    def reconstruct(self, X):
        return np.zeros_like(X)


def small_model(**kw):
    return AutoEncoder(hidden=(32,), latent_dim=6, epochs=30, batch_size=32, random_state=0, **kw)


@pytest.fixture(scope="module")
def fitted():
    return AutoEncoderDetector(small_model(), window=20, hop=5, time_column="time", random_state=0).fit(make_series())


@pytest.mark.parametrize("window,hop", [(16, 4), (16, 5), (7, 7), (5, 1)])
def test_scores_are_per_step_and_aligned(window, hop):
    df = make_series(203)
    det = AutoEncoderDetector(ZeroModel(), window=window, hop=hop, time_column="time").fit(df)
    scaler = det.series_.scaler
    z = scaler.transform(df[["a", "b", "c"]].to_numpy().T.astype(np.float64))
    scores = det.decision_function(df)
    assert scores.shape == (203,)
    # every window covering a step reports that step's own error, so the mean over them is it
    np.testing.assert_allclose(scores, (z**2).mean(0), rtol=1e-5)
    det.set_params(score="max")
    np.testing.assert_allclose(det.decision_function(df), (z**2).max(0), rtol=1e-5)


def test_a_planted_spike_is_found_at_its_step(fitted):
    test = make_series(600, seed=1)
    test.loc[333, "b"] += 4.0
    scores = fitted.decision_function(test)
    assert int(np.argmax(scores)) == 333
    flagged = fitted.predict(test)
    assert flagged.shape == (600,) and flagged[333] == 1
    assert flagged.mean() < 0.05  # the rest of the series is normal data
    assert fitted.decision_scores_.shape == (1200,) and fitted.labels_.shape == (1200,)
    assert "held-out steps" in fitted.threshold_source_
    is_anomaly = np.zeros(600, bool)
    is_anomaly[333] = True
    m = series_metrics(scores, is_anomaly, fitted.threshold_)
    assert m["roc_auc"] == 1.0 and m["range_recall"] == 1.0


def test_contamination_threshold_on_training_steps():
    det = AutoEncoderDetector(ZeroModel(), window=16, contamination=0.1).fit(make_series(300))
    assert det.labels_.mean() == pytest.approx(0.1, abs=0.01)


def test_save_load_round_trip(fitted, tmp_path):
    run = fitted.save(tmp_path / "run")
    meta = json.loads((run / "detector.json").read_text())
    assert meta["series"]["channels"] == ["a", "b", "c"] and meta["series"]["time_column"] == "time"
    assert (meta["params"]["window"], meta["series"]["hop"]) == (20, 5)
    loaded = AutoEncoderDetector.load(run)
    test = make_series(300, seed=2)
    np.testing.assert_allclose(loaded.decision_function(test), fitted.decision_function(test), rtol=1e-6)
    assert loaded.threshold_ == fitted.threshold_
    np.testing.assert_allclose(loaded.series_.scaler.mean_, fitted.series_.scaler.mean_)


def test_a_broken_series_description_is_refused(fitted, tmp_path):
    run = fitted.save(tmp_path / "run")
    meta = json.loads((run / "detector.json").read_text())
    meta["series"]["scaler"]["std"] = [1.0]
    (run / "detector.json").write_text(json.dumps(meta))
    with pytest.raises(Exception, match="not a valid"):
        AutoEncoderDetector.load(run)


def test_a_window_longer_than_the_series():
    with pytest.raises(DataError, match=r"window \(500 steps\) is longer than the series \(300 steps\)"):
        AutoEncoderDetector(ZeroModel(), window=500).fit(make_series(300))
    det = AutoEncoderDetector(ZeroModel(), window=50, time_column="time").fit(make_series(300))
    with pytest.raises(DataError, match="fewer than the detector's window"):
        det.decision_function(make_series(30))
    with pytest.raises(DataError, match="calibration tail"):  # 20 % of 100 steps is shorter than one window
        AutoEncoderDetector(ZeroModel(), window=30).fit(make_series(100))


def test_nan_is_masked_not_scored():
    df = make_series(300)
    df.loc[100, "a"] = np.nan
    df.loc[150, ["a", "b", "c"]] = np.nan
    det = AutoEncoderDetector(ZeroModel(), window=16, time_column="time").fit(df)
    scores = det.decision_function(df)
    assert np.isnan(scores[150]) and np.isfinite(np.delete(scores, 150)).all()
    assert det.predict(df)[150] == 0


def test_time_order_and_gaps_follow_the_reader():
    df = make_series(300)
    back = df.copy()
    back.loc[10, "time"] = 1.0
    with pytest.raises(DataError, match="time column 'time' goes back at data row 11"):
        AutoEncoderDetector(ZeroModel(), window=16, time_column="time").fit(back)
    gap = df.drop(index=range(50, 55)).reset_index(drop=True)
    with pytest.raises(DataError, match="gap"):
        AutoEncoderDetector(ZeroModel(), window=16, time_column="time").fit(gap)
    det = AutoEncoderDetector(ZeroModel(), window=16, time_column="time", gaps="mask").fit(gap)
    scores = det.decision_function(gap)
    assert scores.shape == (300,) and np.isnan(scores[50:55]).all()


def test_scoring_a_series_with_other_channels(fitted):
    other = make_series(300).rename(columns={"b": "B"})
    with pytest.raises(DataError, match=r"column\(s\) \['b'\] not found"):
        fitted.decision_function(other)
    extra = make_series(300)
    extra["label"] = 0  # extra columns are ignored
    assert fitted.decision_function(extra).shape == (300,)


def test_bad_parameters():
    df = make_series(300)
    with pytest.raises(ConfigError, match="hop"):
        AutoEncoderDetector(ZeroModel(), window=8, hop=9).fit(df)
    with pytest.raises(ConfigError, match="not for series"):
        AutoEncoderDetector(ZeroModel(), window=8, score="ssim").fit(df)
    with pytest.raises(ConfigError, match="gaps"):
        AutoEncoderDetector(ZeroModel(), window=8, gaps="fill").fit(df)
    with pytest.raises(DataError, match="label column 'y' not found"):
        AutoEncoderDetector(ZeroModel(), window=8, label_column="y").fit(df)


def test_an_array_is_time_steps_by_channels():
    X = make_series(300)[["a", "b", "c"]].to_numpy()
    det = AutoEncoderDetector(ZeroModel(), window=16).fit(X)
    assert det.series_.channels == ["0", "1", "2"] and det.decision_function(X).shape == (300,)


def test_the_detector_graph_does_not_export_for_a_series(fitted, tmp_path):
    with pytest.raises(ConfigError, match="exports its model only"):
        fitted.export(tmp_path / "d.onnx")
