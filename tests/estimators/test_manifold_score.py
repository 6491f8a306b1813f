"""score="mse+code": the reconstruction error plus the distance along the manifold (ManifoldScore)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from aekit import AutoEncoder, AutoEncoderDetector
from aekit.errors import ConfigError, RunFolderError
from aekit.estimators.manifold_score import PARTS, ManifoldScore


def plane_rows(seed: int = 0, n: int = 400, d: int = 8):
    """Rows near a 2-D plane in 8-D: (rows, the plane's basis)."""
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(2, d))
    return rng.normal(size=(n, 2)) @ basis + 0.05 * rng.normal(size=(n, d)), basis


def linear_detector(score: str, X, seed: int = 0) -> AutoEncoderDetector:
    # a linear network maps a row far out along the plane onto the plane exactly: no reconstruction error
    model = AutoEncoder(hidden=(), latent_dim=2, activation="linear", epochs=20, batch_size=32, lr=1e-2,
                        random_state=seed)
    return AutoEncoderDetector(model, score=score, random_state=seed).fit(X)


@pytest.fixture(scope="module")
def plane():
    X, basis = plane_rows()
    return X, basis, linear_detector("mse+code", X), linear_detector("mse", X)


def test_parts_are_log_ratios_to_the_training_medians():
    rng = np.random.default_rng(1)
    codes, decoder = rng.normal(size=(500, 3)), rng.normal(size=(3, 6))
    errors = rng.chisquare(6, size=500) / 6
    ms = ManifoldScore.fit(errors, codes, codes @ decoder, random_state=0)
    parts = ms.parts(errors, codes, codes @ decoder)
    assert set(parts) == set(PARTS)
    for p in PARTS:  # each part is 0 at the training rows' median: none dominates by its scale
        assert abs(np.median(parts[p])) < 1e-3
    np.testing.assert_allclose(ms.score(errors, codes, codes @ decoder), sum(parts.values()))
    # doubling a row's reconstruction error adds log 2 to its score, whatever the error's scale
    np.testing.assert_allclose(ms.score(2 * errors, codes, codes @ decoder) - ms.score(errors, codes, codes @ decoder),
                               np.log(2))


def test_code_part_is_robust_to_outliers_in_the_training_codes():
    rng = np.random.default_rng(2)
    codes = np.vstack([rng.normal(size=(450, 2)), rng.normal(size=(50, 2)) + 40.0])  # 10 % far away
    ms = ManifoldScore.fit(np.ones(500), codes, codes, random_state=0)
    np.testing.assert_allclose(ms.code_location, 0.0, atol=0.3)  # a plain mean would sit near 4
    assert ms.raw_parts([1.0], [[40.0, 40.0]], [[40.0, 40.0]])["code"][0] > 100


def test_far_along_the_manifold_is_flagged_where_reconstruction_error_is_not(plane):
    X, basis, det, plain = plane
    far = (np.array([[6.0, -6.0]]) @ basis).astype(np.float32)  # on the plane, 6 standard deviations out
    rng = np.random.default_rng(3)
    normal = rng.normal(size=(200, 2)) @ basis + 0.05 * rng.normal(size=(200, X.shape[1]))
    # the plain error: the planted row is not above the normal rows (the network reconstructs it)
    assert plain.decision_function(far)[0] < np.quantile(plain.decision_function(normal), 0.99)
    # the score with the code part puts it above every normal row
    assert det.decision_function(far)[0] > det.decision_function(normal).max()
    assert det.predict(far)[0] == 1


def test_save_load_round_trip(plane, tmp_path):
    X, _, det, _ = plane
    run = det.save(tmp_path / "run")
    state = json.loads((run / "detector.json").read_text())["manifold"]
    assert set(state) == {"code_location", "code_precision", "reconstruction_center", "medians"}
    back = AutoEncoderDetector.load(run)
    assert back.score == "mse+code"
    np.testing.assert_allclose(back.decision_function(X[:50]), det.decision_function(X[:50]), rtol=1e-6, atol=1e-9)
    assert back.threshold_ == det.threshold_


def test_load_refuses_a_broken_state(plane, tmp_path):
    run = plane[2].save(tmp_path / "run")
    meta = json.loads((run / "detector.json").read_text())
    meta["manifold"]["code_precision"] = [[1.0]]  # not k × k
    (run / "detector.json").write_text(json.dumps(meta))
    with pytest.raises(RunFolderError, match="manifold"):
        AutoEncoderDetector.load(run)
    del meta["manifold"]
    (run / "detector.json").write_text(json.dumps(meta))
    with pytest.raises(RunFolderError, match="manifold"):
        AutoEncoderDetector.load(run)


def test_the_detector_exports_with_its_statistics_inside(plane, tmp_path):
    import onnxruntime as ort

    X, basis, det, _ = plane
    far = np.vstack([X[:20], np.array([[6.0, -6.0]]) @ basis]).astype(np.float32)
    path = det.export(tmp_path / "det.onnx")
    score, label = ort.InferenceSession(str(path)).run(None, {"x": far})
    np.testing.assert_allclose(score, det.decision_function(far), rtol=1e-4, atol=1e-4)
    assert label[-1] == 1  # the row far along the manifold is flagged by the file alone


def test_the_graph_piece_is_the_library_arithmetic():
    import torch

    from aekit.estimators.export_scores import ManifoldScoreGraph

    rng = np.random.default_rng(5)
    codes, R = rng.normal(size=(300, 3)), rng.normal(size=(300, 4))
    errors = rng.chisquare(4, size=300) / 4
    ms = ManifoldScore.fit(errors, codes, R, random_state=0)
    errors[0], codes[1] = 0.0, ms.code_location  # a zero part is floored (TINY), as in the library
    got = ManifoldScoreGraph(ms)(*(torch.from_numpy(a) for a in (errors, codes, R))).numpy()
    np.testing.assert_allclose(got, ms.score(errors, codes, R), rtol=1e-12, atol=1e-9)


def test_an_unknown_score_is_refused():
    with pytest.raises(ConfigError, match=r"unknown score 'mse\+codes'"):
        AutoEncoderDetector(score="mse+codes").fit(np.zeros((50, 3)))


def test_tables_with_missing_cells_and_explain():
    X, _ = plane_rows(seed=4, n=300, d=5)
    df = pd.DataFrame(X, columns=list("abcde"))
    df["kind"] = np.where(np.arange(300) % 3 == 0, "x", "y")
    df.loc[5, "b"] = np.nan
    model = AutoEncoder(hidden=(8,), latent_dim=2, epochs=20, batch_size=32, random_state=0)
    det = AutoEncoderDetector(model, score="mse+code", random_state=0).fit(df)
    scores = det.decision_function(df)
    assert np.isfinite(scores).all()
    wide = det.explain(df.head(10), top=3, form="wide")  # the shares: the reconstruction part's
    np.testing.assert_allclose(wide["score"], scores[:10])
    long = det.explain(df.head(10), top=3)
    assert long.groupby("row")["share"].sum().between(0.0, 1.0 + 1e-9).all()


def test_large_tables_estimate_the_code_covariance_on_a_seeded_draw():
    rng = np.random.default_rng(6)
    codes = rng.normal(size=(3000, 2)) * [1.0, 3.0]
    errors, R = rng.chisquare(3, size=3000) / 3, codes @ rng.normal(size=(2, 4))
    full = ManifoldScore.fit(errors, codes, R, random_state=0)
    drawn = ManifoldScore.fit(errors, codes, R, random_state=0, max_rows=500)
    assert not np.array_equal(drawn.code_location, full.code_location)  # a draw, not every row
    np.testing.assert_allclose(drawn.code_location, full.code_location, atol=0.3)
    np.testing.assert_allclose(np.linalg.inv(drawn.code_precision), np.linalg.inv(full.code_precision), rtol=0.1, atol=0.1)
    # the medians still come from every row: each part is 0 at the median of all of them
    assert all(abs(np.median(p)) < 1e-3 for p in drawn.parts(errors, codes, R).values())
    again = ManifoldScore.fit(errors, codes, R, random_state=0, max_rows=500)
    np.testing.assert_array_equal(again.code_precision, drawn.code_precision)  # seeded
