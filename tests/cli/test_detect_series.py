"""`aekit detect fit --window` and `aekit detect score` on a small series CSV, through typer's
CliRunner, and `aekit report` on the run."""
from __future__ import annotations

import importlib
import json

import numpy as np
import pandas as pd
import pytest

from aekit.cli import app
from tests.support import runner

for module in ("aekit.cli.core", "aekit.cli.detect"):  # the commands register themselves when imported
    importlib.import_module(module)


@pytest.fixture(scope="module")
def series_csv(tmp_path_factory):
    rng = np.random.default_rng(0)
    t = np.arange(1000)
    s1, s2 = np.sin(2 * np.pi * t / 20), np.sin(2 * np.pi * t / 7)
    X = np.stack([s1 + 0.5 * s2, s1 - 0.3 * s2], 1) + 0.05 * rng.normal(size=(1000, 2))
    y = np.zeros(1000, int)
    X[900, 1] += 4.0
    X[940:960, 0] += 2.0
    y[900], y[940:960] = 1, 1
    df = pd.DataFrame({"time": t * 0.5, "a": X[:, 0], "b": X[:, 1], "y": y})
    path = tmp_path_factory.mktemp("series") / "series.csv"
    df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def fitted_run(series_csv):
    run = series_csv.parent / "run"
    result = runner.invoke(app, ["detect", "fit", "--data", str(series_csv), "--window", "16", "--hop", "4",
                                 "--time-column", "time", "--label-column", "y", "--out", str(run), "--quiet",
                                 "--hidden", "32", "--latent", "6", "--epochs", "20"])
    assert result.exit_code == 0, result.output
    return run


def test_fit_writes_a_series_detector(fitted_run):
    meta = json.loads((fitted_run / "detector.json").read_text())
    assert meta["series"]["channels"] == ["a", "b"]  # the time and label columns are not channels
    assert meta["series"]["window"] == 16 and meta["series"]["hop"] == 4
    assert len(np.load(fitted_run / "train_scores.npy")) == 800  # the first 80 % of the rows trained


def test_score_writes_a_score_per_step(fitted_run, series_csv, tmp_path):
    out = tmp_path / "scores.csv"
    result = runner.invoke(app, ["detect", "score", str(fitted_run), "--data", str(series_csv), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "range recall" in result.output
    scores = pd.read_csv(out)
    assert list(scores.columns) == ["step", "time", "score", "anomaly", "label"]
    assert len(scores) == 1000 and scores["time"].iloc[10] == 5.0
    assert int(scores["score"].idxmax()) == 900 and scores["anomaly"].iloc[900] == 1


def test_score_names_a_missing_channel(fitted_run, series_csv, tmp_path):
    pd.read_csv(series_csv).drop(columns="b").to_csv(tmp_path / "other.csv", index=False)
    result = runner.invoke(app, ["detect", "score", str(fitted_run), "--data", str(tmp_path / "other.csv"),
                                 "--out", str(tmp_path / "s.csv")])
    assert result.exit_code != 0
    assert "['b'] not found" in str(result.exception)


def test_fit_refuses_a_window_longer_than_the_series(series_csv, tmp_path):
    result = runner.invoke(app, ["detect", "fit", "--data", str(series_csv), "--window", "5000", "--out",
                                 str(tmp_path / "r"), "--quiet"])
    assert result.exit_code != 0
    assert "longer than the series" in str(result.exception)


def test_report_draws_the_series_with_its_scores(fitted_run):
    result = runner.invoke(app, ["report", str(fitted_run)])
    assert result.exit_code == 0, result.output
    assert (fitted_run / "series-scores.png").stat().st_size > 10_000
    html = (fitted_run / "report.html").read_text()
    assert "range recall" in html and "IsolationForest on windows" in html
