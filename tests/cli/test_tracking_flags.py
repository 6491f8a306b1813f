"""`--log tensorboard|mlflow|csv` on `aekit train` and `aekit detect fit`: one tracking session per
command holds the epochs, the config, the final metrics and the report's figures; --resume takes
another logger."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from aekit.runs import RunRecord
from aekit.train.tracking import flatten, numbers
from support import run_cli as run

pytest.importorskip("tensorboard")
pytest.importorskip("mlflow")

TRAIN = ["train", "--data", "digits", "--hidden", "16", "--latent", "4", "--quiet"]


@pytest.fixture(autouse=True)
def quick_mlflow(monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_ALLOW_FILE_STORE", "RANK"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory):
    import aekit.cli

    out = tmp_path_factory.mktemp("runs") / "ae"
    with pytest.MonkeyPatch.context() as mp:
        for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_ALLOW_FILE_STORE"):
            mp.delenv(name, raising=False)
        with pytest.raises(SystemExit) as e:
            aekit.cli.main(TRAIN + ["--epochs", "3", "--out", str(out), "--log", "csv", "--log", "tensorboard",
                                    "--log", "mlflow"])
    assert e.value.code == 0
    return out


def mlflow_run(out):
    from mlflow.tracking import MlflowClient

    record = json.loads((out / "logs" / "mlflow-run.json").read_text())
    with pytest.MonkeyPatch.context() as mp:  # what a user sets to read MLflow's file store
        mp.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        client = MlflowClient(tracking_uri=record["tracking_uri"])
    return client, client.get_run(record["run_id"])


def test_mlflow_run_holds_epochs_config_final_metrics_and_the_report_figures(logged_run):
    client, run = mlflow_run(logged_run)
    assert run.info.status == "FINISHED" and run.info.run_name == "ae"
    history = RunRecord(logged_run).history()
    losses = sorted(client.get_metric_history(run.info.run_id, "train/loss"), key=lambda m: m.step)
    assert [m.step for m in losses] == [1, 2, 3]
    assert [m.value for m in losses] == pytest.approx([r["loss"] for r in history], rel=1e-9)
    saved = numbers(json.loads((logged_run / "metrics.json").read_text()))
    assert {k: run.data.metrics[f"final/{k}"] for k in saved} == pytest.approx(saved, rel=1e-12)
    assert run.data.params["data.source"] == "digits" and run.data.params["model.latent_dim"] == "4"
    figures = {f.path for f in client.list_artifacts(run.info.run_id, "figures")}
    pngs = {f"figures/{p.name}" for p in logged_run.glob("*.png")}
    assert "figures/model-loss.png" in figures and figures == pngs


def test_tensorboard_has_the_epochs_final_metrics_and_figures(logged_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(logged_run / "logs" / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    tags = acc.Tags()
    history = RunRecord(logged_run).history()
    assert [e.step for e in acc.Scalars("train/val_loss")] == [1, 2, 3]
    assert [e.value for e in acc.Scalars("train/val_loss")] == pytest.approx([r["val_loss"] for r in history], rel=1e-6)
    mse = json.loads((logged_run / "metrics.json").read_text())["model"]["mse_per_value"]
    (final,) = acc.Scalars("final/model.mse_per_value")
    assert final.step == 3 and final.value == pytest.approx(mse, rel=1e-6)
    assert "figures/model-loss" in tags["images"]


def test_csv_files_match_history_and_metrics(logged_run):
    logs = logged_run / "logs"
    metrics = pd.read_csv(logs / "metrics.csv")
    history = pd.read_csv(logged_run / "history.csv")
    assert metrics["step"].tolist() == [1, 2, 3]
    for column in history.columns:
        if history[column].dtype.kind == "f":
            assert metrics[column].tolist() == pytest.approx(history[column].tolist(), rel=1e-9), column
        else:
            assert metrics[column].tolist() == history[column].tolist(), column
    final = dict(pd.read_csv(logs / "final_metrics.csv").values)
    assert final == pytest.approx(numbers(json.loads((logged_run / "metrics.json").read_text())), rel=1e-12)
    assert "logger" not in flatten(json.loads((logged_run / "config.json").read_text())["params"])


def test_resume_takes_another_logger(tmp_path, capsys):
    out = tmp_path / "ae"
    code, _, err = run(TRAIN + ["--epochs", "2", "--out", out, "--log", "csv", "--no-early-stopping"], capsys)
    assert code == 0, err
    code, _, err = run(TRAIN + ["--epochs", "3", "--out", out, "--resume", "--log", "tensorboard",
                                "--no-early-stopping"], capsys)
    assert code == 0, err
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(out / "logs" / "tensorboard"))
    acc.Reload()
    assert [e.step for e in acc.Scalars("train/loss")] == [3]  # the epoch trained after the resume
    assert acc.Scalars("train/loss")[0].value == pytest.approx(RunRecord(out).history()[-1]["loss"], rel=1e-6)
    assert pd.read_csv(out / "logs" / "metrics.csv")["step"].tolist() == [1, 2]


def test_detect_fit_logs_the_model_epochs_and_the_threshold(tmp_path, capsys):
    out = tmp_path / "det"
    code, _, err = run(["detect", "fit", "--data", "digits", "--normal-label", "1", "--hidden", "16", "--latent", "4",
                        "--epochs", "3", "--out", out, "--quiet", "--log", "csv"], capsys)
    assert code == 0, err
    metrics = pd.read_csv(out / "logs" / "metrics.csv")
    assert metrics["loss"].tolist() == pytest.approx(pd.read_csv(out / "history.csv")["loss"].tolist(), rel=1e-9)
    final = dict(pd.read_csv(out / "logs" / "final_metrics.csv").values)
    assert final["threshold"] == pytest.approx(json.loads((out / "detector.json").read_text())["threshold"], rel=1e-12)


@pytest.mark.parametrize("log, message", [("wandb", "unknown logger 'wandb'"), ("csv", "given twice")])
def test_bad_log_flags_are_one_line_and_touch_nothing(log, message, tmp_path, capsys):
    code, out, err = run(TRAIN + ["--epochs", "1", "--out", tmp_path / "ae", "--log", "csv", "--log", log], capsys)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and message in lines[0], err
    assert not (tmp_path / "ae").exists()
