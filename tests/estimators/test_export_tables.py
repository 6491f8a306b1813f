"""Models fitted on tables export too: the graph takes the encoded table and its observed mask,
the column encoding is in the metadata, and onnxruntime's scores equal the detector's on raw
DataFrames (missing cells and unseen categories included), on batches of 1 and 257 rows, for the
mean squared error and for score="mse+code" (the table default's), in ONNX and TorchScript."""
from __future__ import annotations

import json

import warnings

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
import torch

from aekit import AutoEncoder, AutoEncoderDetector
from aekit.data.tabular import TableEncoder
from aekit.estimators.export import export_estimator, metadata_path


def table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = rng.normal(size=n)
    df = pd.DataFrame({"a": t + 0.1 * rng.normal(size=n), "b": 2 * t + rng.normal(size=n) * 0.2,
                       "c": rng.exponential(size=n) * 10, "kind": rng.choice(["x", "y", "z"], size=n)})
    df.loc[rng.random(n) < 0.1, "b"] = np.nan  # missing cells
    return df


@pytest.fixture(scope="module")
def fitted():
    train = table(400, 0)
    det = AutoEncoderDetector(AutoEncoder(hidden=(16,), latent_dim=2, epochs=3, random_state=0), random_state=0)
    return det.fit(train), AutoEncoder(hidden=(16,), latent_dim=2, epochs=3, random_state=0).fit(train)


@pytest.fixture(scope="module")
def fitted_code():
    """score="mse+code" on the same table: the code's robust centre and precision matrix, the median
    reconstruction and the parts' medians go into the graph."""
    det = AutoEncoderDetector(AutoEncoder(hidden=(16,), latent_dim=2, epochs=3, random_state=0), score="mse+code",
                              random_state=0)
    return det.fit(table(400, 0))


def encoded(meta: dict, df: pd.DataFrame):
    enc = TableEncoder.from_json(meta["table_encoder"]).transform(df)
    x, observed = enc
    return np.asarray(x, np.float32), np.asarray(observed, bool)


@pytest.mark.parametrize("n", [1, 257])
def test_table_detector_scores_match_on_raw_tables(fitted, tmp_path, n):
    det, _ = fitted
    path = export_estimator(det, tmp_path / "det.onnx")
    meta = json.loads(metadata_path(path).read_text())
    assert [t["name"] for t in meta["inputs"]] == ["x", "observed"] and meta["input_columns"] == ["a", "b", "c", "kind"]
    df = table(n, 5)
    if n > 1:
        df.loc[3, "kind"] = "never seen"  # an unseen category is scored through the unseen slot
        df.loc[4, ["a", "c"]] = np.nan
    x, observed = encoded(meta, df)
    score, label = ort.InferenceSession(str(path)).run(None, {"x": x, "observed": observed})
    want = det.decision_function(df)
    assert np.abs(score - want).max() < 1e-4
    away = np.abs(want - det.threshold_) > 1e-4
    assert (label[away] == det.predict(df)[away]).all()


def test_table_autoencoder_codes_match(fitted, tmp_path):
    _, ae = fitted
    path = export_estimator(ae, tmp_path / "enc.onnx")
    meta = json.loads(metadata_path(path).read_text())
    df = table(257, 7)
    x, _ = encoded(meta, df)
    codes = ort.InferenceSession(str(path)).run(None, {"x": x})[0]
    assert np.abs(codes - ae.transform(df)).max() < 1e-4


def raw_rows(n: int) -> pd.DataFrame:
    df = table(n, 5)
    if n > 1:
        df.loc[3, "kind"] = "never seen"
        df.loc[4, ["a", "c"]] = np.nan
        df.loc[6, ["a", "b", "c"]] = np.nan  # only the category observed
    return df


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("n", [1, 257])
def test_mse_code_detector_scores_match_on_raw_tables(fitted_code, tmp_path, fmt, n):
    det = fitted_code
    path = export_estimator(det, tmp_path / ("det.onnx" if fmt == "onnx" else "det.pt"), fmt)
    meta = json.loads(metadata_path(path).read_text())
    assert meta["score"] == "mse+code" and meta["threshold"] == det.threshold_
    df = raw_rows(n)
    x, observed = encoded(meta, df)
    if fmt == "onnx":
        score, label = ort.InferenceSession(str(path)).run(None, {"x": x, "observed": observed})
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = torch.jit.load(str(path))(torch.from_numpy(x), torch.from_numpy(observed))
        score, label = (t.numpy() for t in out)
    want = det.decision_function(df)
    assert score.dtype == np.float64 and np.abs(score - want).max() < 1e-4
    away = np.abs(want - det.threshold_) > 1e-4
    assert away.mean() > 0.9 and (label[away] == det.predict(df)[away]).all()
