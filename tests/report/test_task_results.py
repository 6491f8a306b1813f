"""`aekit report RUN` shows every task run on the folder, and every report shows its baselines
(issue 16, item 5); quick-run limits on denoise and index build (item 9)."""
import json

import numpy as np
import pytest

from aekit.data import load
from aekit.estimators import AutoEncoder, VariationalAutoEncoder
from aekit.evaluation import bernoulli_mixture_loglik, detector_baselines, evaluate_vae, likelihood_baselines
from aekit.runs import RunRecord

from tests.support import run_cli


@pytest.fixture(scope="module")
def dae_run(tmp_path_factory):
    import aekit.cli

    root = tmp_path_factory.mktemp("tasks")
    with pytest.raises(SystemExit) as e:
        aekit.cli.main(["train", "--model", "dae", "--data", "digits", "--hidden", "32", "--latent", "8", "--epochs",
                        "3", "--out", str(root / "dae"), "--quiet"])
    assert e.value.code == 0
    return root


def test_report_lists_denoise_classify_and_search_results(dae_run, capsys):
    run = dae_run / "dae"
    assert run_cli(["denoise", run, "--limit", "40"], capsys)[0] == 0
    assert run_cli(["classify", run, "--labels-per-class", "2", "--quiet", "--epochs", "2"], capsys)[0] == 0
    assert run_cli(["index", "build", run, "--out", dae_run / "idx", "--limit", "200"], capsys)[0] == 0
    code, out, _ = run_cli(["index", "query", dae_run / "idx", "--data", "digits", "--limit", "5"], capsys)
    assert code == 0
    tasks = [e["task"] for e in RunRecord(run).recorded_tasks()]
    assert tasks == ["denoise", "classify", "search"]
    assert run_cli(["report", run], capsys)[0] == 0
    html = (run / "report.html").read_text(encoding="utf-8")
    for heading in ("Denoising (gaussian:0.5)", "Few-label classification", "Similar-image search"):
        assert heading in html
    assert "PCA-8 (best size on validation)" in html and "raw + logistic regression" in html
    assert html.count("data:image/png;base64") >= 4  # the tasks' grids are in the page, not links


def test_a_task_run_again_into_the_same_folder_replaces_its_entry(dae_run, capsys):
    run = dae_run / "dae"
    assert run_cli(["denoise", run, "--limit", "30", "--noise", "masking:0.3"], capsys)[0] == 0
    entries = [e for e in RunRecord(run).recorded_tasks() if e["task"] == "denoise"]
    assert len(entries) == 1 and entries[0]["noise"] == "masking:0.3"


def test_a_deleted_task_folder_drops_out_of_the_report(tmp_path):
    rec = RunRecord(tmp_path)
    (tmp_path / "gone").mkdir()
    rec.record_task("denoise", tmp_path / "gone")
    assert len(rec.recorded_tasks()) == 1
    (tmp_path / "gone").rmdir()
    assert rec.recorded_tasks() == []


def test_a_corrupt_task_list_is_ignored_with_a_warning(tmp_path):
    from aekit.errors import AekitWarning

    (tmp_path / "tasks.json").write_text("{not json")
    with pytest.warns(AekitWarning, match="not a task list"):
        assert RunRecord(tmp_path).recorded_tasks() == []


def test_limits_are_checked(dae_run, capsys):
    run = dae_run / "dae"
    code, _, err = run_cli(["denoise", run, "--limit", "0"], capsys)
    assert code == 2 and "--limit" in err and "Traceback" not in err
    code, out, _ = run_cli(["denoise", run, "--limit", "100000", "--out", dae_run / "all"], capsys)
    assert code == 0 and "more than the 359 samples" in out
    code, _, err = run_cli(["index", "build", run, "--out", dae_run / "i0", "--limit", "0"], capsys)
    assert code == 2 and "--limit" in err


def test_detect_score_stands_beside_pca_and_isolation_forest(tmp_path, capsys):
    code = run_cli(["detect", "fit", "--data", "digits", "--normal-label", "0,1,2,3,4", "--hidden", "32",
                    "--latent", "8", "--epochs", "3", "--out", tmp_path / "det", "--quiet"], capsys)[0]
    assert code == 0
    code, out, _ = run_cli(["detect", "score", tmp_path / "det"], capsys)
    assert code == 0 and "IsolationForest" in out and "PCA-8 reconstruction error" in out
    m = json.loads((tmp_path / "det" / "scores" / "metrics.json").read_text())
    assert set(m["baselines"]) == {"PCA-8 reconstruction error", "IsolationForest"}
    assert all(0.5 < b["roc_auc"] <= 1 for b in m["baselines"].values())  # digits 5–9 are found by both
    assert run_cli(["report", tmp_path / "det"], capsys)[0] == 0
    html = (tmp_path / "det" / "report.html").read_text(encoding="utf-8")
    assert "IsolationForest, fitted on the same training rows" in html and "Anomaly scores: digits test" in html


def test_detector_baselines_standardize_tables_but_not_images():
    rng = np.random.default_rng(0)
    normal = rng.normal(size=(300, 3)) * np.array([1000.0, 1.0, 1.0])  # one wide column
    test = np.vstack([normal[:50], normal[:50] + np.array([6000.0, 0.0, 0.0])])  # anomalies: 6σ in the wide column
    truth = np.r_[np.zeros(50), np.ones(50)].astype(bool)
    table = detector_baselines(normal, test, truth, 1)["PCA-1 reconstruction error"]["roc_auc"]
    raw = detector_baselines(normal, test, truth, 1, image=True)["PCA-1 reconstruction error"]["roc_auc"]
    # raw units: the one component is the wide column, so a shift along it leaves no residual
    assert raw < 0.7 < table


def test_bernoulli_mixture_is_an_exact_likelihood():
    rng = np.random.default_rng(0)
    X = (rng.random((400, 6)) < 0.3).astype(np.float32)
    one = bernoulli_mixture_loglik(X, X, 1)
    p = (X.sum(0) + 1) / (len(X) + 2)
    exact = (X * np.log(p) + (1 - X) * np.log1p(-p)).sum(1).mean()
    assert one == pytest.approx(exact, rel=1e-6)
    assert bernoulli_mixture_loglik(X, X, 5) >= one - 1e-6  # more components fit the training data at least as well


def test_vae_report_shows_likelihood_baselines():
    train, test = load("digits", split="train"), load("digits", split="test")
    est = VariationalAutoEncoder(hidden=(32,), latent_dim=2, epochs=2, random_state=0).fit(train.X)
    m = evaluate_vae(est, train, test, k=5)
    names = sorted(m["likelihood_baselines"])
    assert names == ["1 Bernoulli component", "10 Bernoulli components"]
    assert m["likelihood_baselines"]["10 Bernoulli components"] > m["likelihood_baselines"]["1 Bernoulli component"]
    from aekit.report.vae import likelihood_table

    table = likelihood_table(m)
    assert any("baseline: exact log p(x) of 10 Bernoulli components" in r[0] for r in table.rows)
    # two epochs learn less than a mixture of ten: the caption says so
    assert "has learned less about the data" in table.caption


def test_gaussian_vae_baseline_is_in_data_space():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 4)).astype(np.float32) * np.array([10.0, 1.0, 0.1, 1.0], np.float32)
    est = VariationalAutoEncoder(hidden=(8,), latent_dim=2, likelihood="gaussian", epochs=1, random_state=0).fit(X)
    from aekit.data import Dataset

    b = likelihood_baselines(est, Dataset(X, None, "t", (float(X.min()), float(X.max())), split="train"), X[:200])
    # one diagonal Gaussian of independent normals: the entropy of N(0, s²) per column, summed
    expected = -sum(0.5 * np.log(2 * np.pi * np.e * s**2) for s in (10.0, 1.0, 0.1, 1.0))
    assert b["1 diagonal Gaussian"] == pytest.approx(expected, abs=0.1)


def test_ae_reports_keep_working_without_tasks(tmp_path, capsys):
    train = load("digits", split="train")
    AutoEncoder(hidden=(16,), latent_dim=2, epochs=1).fit(train.X).save(
        tmp_path / "r", data={"source": "digits", "split_seed": 0})
    code, _, err = run_cli(["report", tmp_path / "r"], capsys)
    assert code == 0, err


def test_a_table_detector_report_stands_beside_the_baselines(tmp_path, capsys):
    import pandas as pd

    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(400, 6)), columns=[f"c{i}" for i in range(6)])
    df["label"] = 0
    df.loc[:39, "c0"] += 8  # 10 % outlying rows
    df.loc[:39, "label"] = 1
    df.to_csv(tmp_path / "t.csv", index=False)
    code, _, err = run_cli(["detect", "fit", "--data", tmp_path / "t.csv", "--label-column", "label", "--out",
                            tmp_path / "d", "--quiet"], capsys)
    assert code == 0, err
    assert run_cli(["report", tmp_path / "d"], capsys)[0] == 0
    html = (tmp_path / "d" / "report.html").read_text(encoding="utf-8")
    assert "IsolationForest, fitted on the same training rows" in html and "A RobustAutoEncoder scores" in html
