"""`aekit detect fit | score | explain` on table files: CSV and Parquet in, streamed scoring,
explanations, the report section, and bad files."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import aekit.tasks.table_anomaly as table_anomaly
from aekit import AutoEncoder, AutoEncoderDetector
from support import run_cli

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "estimators"))
from test_detector_tables import plant, planted_table  # noqa: E402

FIT = ["--hidden", "32", "--latent", "3", "--epochs", "20", "--batch-size", "64", "--quiet"]


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    """A CSV of normal rows with 10 % changed rows (label 1), and a detector fitted on it."""
    folder = tmp_path_factory.mktemp("table")
    normal = planted_table(1200, 0).assign(label=0)
    changed, _ = plant(planted_table(130, 1), normal, seed=2)
    df = pd.concat([normal, changed.assign(label=1)]).sample(frac=1.0, random_state=0).reset_index(drop=True)
    df.insert(0, "id", np.arange(len(df)))
    path = folder / "table.csv"
    df.to_csv(path, index=False)
    with pytest.raises(SystemExit) as e:
        import aekit.cli

        aekit.cli.main(["detect", "fit", "--data", str(path), "--label-column", "label", "--ignore-columns", "id",
                        "--out", str(folder / "run"), *FIT])
    assert e.value.code == 0
    return path, folder / "run", df


def test_fit_writes_the_encoding_and_report(table_run, capsys):
    path, run, df = table_run
    assert (run / "table_encoder.json").exists()
    det = AutoEncoderDetector.load(run)
    assert set(det.table_encoder_.encoded_columns_) == set(df.columns) - {"id", "label"}
    code, out, err = run_cli(["report", run], capsys)
    assert code == 0, err
    html = (run / "report.html").read_text()
    assert "explanations.png" in html and (run / "explanations.png").exists()
    code, out, err = run_cli(["evaluate", run], capsys)
    assert code == 0 and "ROC-AUC" in out


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_score_streams_the_file_in_chunks(table_run, tmp_path, capsys, monkeypatch, suffix):
    path, run, df = table_run
    calls = []
    real = table_anomaly.read_table

    def spy(p, **kw):
        calls.append(kw.get("chunksize"))
        return real(p, **kw)

    monkeypatch.setattr(table_anomaly, "read_table", spy)
    out = tmp_path / f"scores{suffix}"
    code, stdout, err = run_cli(["detect", "score", run, "--data", path, "--out", out, "--chunk-rows", "300",
                                 "--top", "2"], capsys)
    assert code == 0, err
    assert calls == [300]  # read in chunks, never whole
    assert "5 chunk(s)" in stdout  # 1330 rows in chunks of 300
    scores = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)
    assert list(scores.columns) == ["row", "score", "anomaly", "column_1", "share_1", "column_2", "share_2", "label"]
    assert len(scores) == len(df) and scores["row"].tolist() == list(range(len(df)))
    det = AutoEncoderDetector.load(run)
    assert np.allclose(scores["score"], det.decision_function(df), rtol=1e-5)
    assert (scores["anomaly"] == (scores["score"] > det.threshold_)).all()
    from sklearn.metrics import roc_auc_score

    # the default score (mse+code) on changed cells: about 0.93 where the error alone gives 0.99
    # (benchmarks/RESULTS.md, "The default since the second round")
    auc = roc_auc_score(scores["label"].astype(int), scores["score"])
    assert auc > 0.85
    # the file has the label column: the command says how well the scores separate the labels
    assert f"ROC-AUC {auc:.4f}" in stdout
    assert not list(tmp_path.glob(".*partial"))


def test_stream_memory_does_not_grow_with_the_file(table_run, tmp_path):
    """Peak Python memory of scoring 8× the rows stays about that of scoring 1× (chunk-sized)."""
    import tracemalloc

    path, run, df = table_run
    det = AutoEncoderDetector.load(run)
    big = tmp_path / "big.csv"
    pd.concat([df] * 8).to_csv(big, index=False)
    peaks = []
    for source in (path, big):
        tracemalloc.start()
        table_anomaly.score_table_file(det, source, tmp_path / "s.csv", top=1, chunksize=200, metrics=False)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 1.5 * peaks[0], peaks


def test_metrics_of_a_labelled_file_are_bounded(table_run, tmp_path, monkeypatch):
    """The labels give ROC-AUC for files up to METRIC_ROWS labelled rows; above, a notice instead."""
    path, run, df = table_run
    det = AutoEncoderDetector.load(run)
    m = table_anomaly.score_table_file(det, path, tmp_path / "s.csv", top=0, chunksize=300)
    assert 0.85 < m["metrics"]["roc_auc"] <= 1.0
    monkeypatch.setattr(table_anomaly, "METRIC_ROWS", 500)
    m = table_anomaly.score_table_file(det, path, tmp_path / "s.csv", top=0, chunksize=300)
    assert "metrics" not in m and any("no ROC-AUC" in n for n in m["notices"])


def test_explain_command(table_run, tmp_path, capsys):
    path, run, df = table_run
    out = tmp_path / "explain.csv"
    code, stdout, err = run_cli(["detect", "explain", run, "--data", path, "--top", "3", "--out", out], capsys)
    assert code == 0, err
    ex = pd.read_csv(out)
    assert list(ex.columns) == ["row", "rank", "column", "share", "unseen"]
    assert ex.groupby("row")["rank"].max().max() <= 3 and ex["row"].nunique() == len(df)


def bad_file(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("name, text, message", [
    ("empty.csv", "", "empty file"),
    ("header.csv", "n0,n1,segment\n", "header row but no data rows"),
])
def test_empty_files_are_refused(table_run, tmp_path, capsys, name, text, message):
    path, run, _ = table_run
    p = bad_file(tmp_path, name, text)
    for argv in (["detect", "score", run, "--data", p, "--out", tmp_path / "s.csv"],
                 ["detect", "fit", "--data", p, "--out", tmp_path / "r", *FIT]):
        code, _, err = run_cli(argv, capsys)
        assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "s.csv").exists()


def test_scoring_file_with_other_columns(table_run, tmp_path, capsys):
    path, run, df = table_run
    p = tmp_path / "less.csv"
    df.drop(columns=["region"]).to_csv(p, index=False)
    code, _, err = run_cli(["detect", "score", run, "--data", p, "--out", tmp_path / "s.csv"], capsys)
    assert code == 2 and "missing column(s) 'region'" in err
    assert not (tmp_path / "s.csv").exists()
    p = tmp_path / "more.csv"
    df[df.columns[::-1]].assign(extra=1.0).to_csv(p, index=False)
    code, _, err = run_cli(["detect", "score", run, "--data", p, "--out", tmp_path / "s.csv"], capsys)
    assert code == 0 and "ignoring column(s) 'extra'" in err


def test_text_in_a_numeric_column_of_a_file(table_run, tmp_path, capsys):
    path, run, df = table_run
    bad = df.astype({"n3": object})
    bad.loc[5, "n3"] = "oops"
    p = tmp_path / "bad.csv"
    bad.to_csv(p, index=False)
    code, _, err = run_cli(["detect", "score", run, "--data", p, "--out", tmp_path / "s.csv"], capsys)
    assert code == 2 and "column 'n3', row 5: 'oops'" in err
    code, _, err = run_cli(["detect", "score", run, "--data", p, "--out", tmp_path / "s.csv", "--errors", "coerce"],
                           capsys)
    assert code == 0, err
    assert np.isfinite(pd.read_csv(tmp_path / "s.csv")["score"]).all()


def test_table_options_need_a_table(capsys, tmp_path):
    code, _, err = run_cli(["detect", "fit", "--data", "digits", "--label-column", "x", "--out", tmp_path / "r"],
                           capsys)
    assert code == 2 and "are for table files" in err


def test_arrays_detector_refuses_a_table_file(tmp_path):
    det = AutoEncoderDetector(AutoEncoder(hidden=(4,), latent_dim=2, epochs=1), random_state=0)
    det.fit(np.random.default_rng(0).normal(size=(100, 3)))
    with pytest.raises(Exception, match="fitted on arrays"):
        table_anomaly.score_table_file(det, tmp_path / "x.csv", tmp_path / "s.csv")
