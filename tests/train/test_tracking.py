"""Experiment tracking (aekit.train.tracking): each logger's files read back with the library's
own reader (TensorBoard's EventAccumulator, MLflow's client, csv/pandas) equal the run's history;
failures warn once and training goes on; logging does not change training."""
from __future__ import annotations

import copy
import os
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from aekit import AutoEncoder
from aekit.errors import AekitWarning, ConfigError
from aekit.train.tracking import CSVLogger, MLflowLogger, TensorBoardLogger, resolve_loggers
from support import Server

pytest.importorskip("tensorboard")
pytest.importorskip("mlflow")


@pytest.fixture(autouse=True)
def quick_mlflow(monkeypatch):
    """MLflow's requests give up at once, and no tracking server of the environment is used."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_ALLOW_FILE_STORE", "RANK"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).random((240, 12)).astype(np.float32)


def small_ae(**kw) -> AutoEncoder:
    return AutoEncoder(hidden=(8,), latent_dim=3, epochs=kw.pop("epochs", 3), batch_size=32, random_state=0, **kw)


def aekit_warnings(record) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, AekitWarning)]


def tb_scalars(folder) -> dict[str, dict[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0, "images": 0})
    acc.Reload()
    return {tag: {e.step: e.value for e in acc.Scalars(tag)} for tag in acc.Tags()["scalars"]}


def mlflow_client(logger: MLflowLogger):
    from mlflow.tracking import MlflowClient

    with pytest.MonkeyPatch.context() as mp:  # what a user sets to read MLflow's file store
        mp.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
        return MlflowClient(tracking_uri=logger.tracking_uri_)


def numeric_keys(row: dict) -> list[str]:
    return [k for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]


# -- each library reads back what the run's history holds ------------------------------------------
def test_tensorboard_scalars_equal_the_history_row_by_row(X, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ae = small_ae(logger="tensorboard").fit(X, run_dir=tmp_path / "run")
    folder = tmp_path / "run" / "logs" / "tensorboard"
    scalars = tb_scalars(folder)
    assert {f"train/{k}" for k in ("loss", "val_loss", "lr", "epoch")} <= set(scalars)
    for step, row in enumerate(ae.history_, start=1):
        for key in numeric_keys(row):
            assert scalars[f"train/{key}"][step] == pytest.approx(row[key], rel=1e-6)  # float32 events
    acc = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    acc.Reload()
    config = acc.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "| train.batch_size | 32 |" in config and "| model.latent_dim | 3 |" in config


def test_mlflow_local_store_in_the_run_folder_holds_history_params_and_status(X, tmp_path):
    logger = MLflowLogger(experiment="tests")
    ae = small_ae(logger=logger, lr=2e-3).fit(X, run_dir=tmp_path / "run")
    assert logger.path_ == (tmp_path / "run" / "logs" / "mlruns").resolve() and logger.path_.is_dir()
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ  # allowed for the logger's own store only
    client = mlflow_client(logger)
    run = client.get_run(logger.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "run"
    assert client.get_experiment(run.info.experiment_id).name == "tests"
    assert run.data.params["train.lr"] == "0.002" and run.data.params["params.hidden"] == "[8]"
    assert run.data.params["estimator"] == "AutoEncoder" and "params.logger" not in run.data.params
    for key in numeric_keys(ae.history_[0]):
        history = client.get_metric_history(logger.run_id, f"train/{key}")
        assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == \
               [(i, row[key]) for i, row in enumerate(ae.history_, start=1)]


def test_csv_lines_equal_the_history(X, tmp_path):
    ae = small_ae(logger="csv").fit(X, run_dir=tmp_path / "run")
    logs = tmp_path / "run" / "logs"
    metrics = pd.read_csv(logs / "metrics.csv")
    assert metrics["step"].tolist() == list(range(1, len(ae.history_) + 1))
    expected = pd.DataFrame(ae.history_)
    pd.testing.assert_frame_equal(metrics.drop(columns="step"), expected, check_exact=True)
    params = dict(pd.read_csv(logs / "params.csv").values)
    assert params["model.latent_dim"] == "3" and params["train.epochs"] == "3"


def test_pretraining_stages_are_logged_in_history_order(X, tmp_path):
    ae = AutoEncoder(hidden=(8, 6), latent_dim=3, activation="sigmoid", pretrain="greedy", pretrain_epochs=2,
                     epochs=2, batch_size=32, random_state=0, logger=["csv", "tensorboard"]).fit(X, run_dir=tmp_path)
    stages = [r["stage"] for r in ae.history_]
    assert stages[:2] == ["pretrain-1"] * 2 and stages[-1] == "finetune" and len(set(stages)) == 4
    metrics = pd.read_csv(tmp_path / "logs" / "metrics.csv")
    assert metrics["stage"].tolist() == stages and metrics["epoch"].tolist() == [r["epoch"] for r in ae.history_]
    scalars = tb_scalars(tmp_path / "logs" / "tensorboard")
    for step, row in enumerate(ae.history_, start=1):
        assert scalars[f"{row['stage']}/loss"][step] == pytest.approx(row["loss"], rel=1e-6)


def test_rbm_stages_add_columns_and_the_csv_keeps_every_row(X, tmp_path):
    ae = AutoEncoder(hidden=(8,), latent_dim=3, activation="sigmoid", pretrain="rbm", pretrain_epochs=2, epochs=2,
                     batch_size=32, random_state=0, logger="csv").fit(X, run_dir=tmp_path)
    assert "pseudo_likelihood" in ae.history_[0] and "recon" not in ae.history_[0]  # the columns change
    metrics = pd.read_csv(tmp_path / "logs" / "metrics.csv")
    pd.testing.assert_frame_equal(metrics.drop(columns="step"), pd.DataFrame(ae.history_), check_exact=True)


def test_a_logger_given_straight_to_a_trainer(tmp_path):
    from aekit.models.autoencoder import AutoEncoderModel, ModelConfig
    from aekit.train.trainer import TrainConfig, Trainer

    logger = CSVLogger(log_dir=tmp_path)
    model = AutoEncoderModel(ModelConfig(input_shape=(6,), hidden=(4,), latent_dim=2))
    history = Trainer(TrainConfig(epochs=2, progress=False), callbacks=[logger]).fit(model, torch.rand(40, 6))
    logger.end()
    assert pd.read_csv(tmp_path / "metrics.csv")["loss"].tolist() == [r["loss"] for r in history]


def test_logging_does_not_change_training(X, tmp_path):
    plain = small_ae().fit(X)
    logged = small_ae(logger=["csv", "tensorboard", MLflowLogger()]).fit(X, run_dir=tmp_path)
    for name, value in plain.model_.state_dict().items():
        assert torch.equal(value, logged.model_.state_dict()[name]), name
    assert [r["loss"] for r in plain.history_] == [r["loss"] for r in logged.history_]


def test_an_interrupted_fit_ends_the_mlflow_run_as_killed(X, tmp_path):
    from aekit.train.callbacks import Callback, use_callbacks
    from aekit.train.trainer import TrainingInterrupted

    class CtrlC(Callback):
        def on_epoch_end(self, trainer, epoch, row):
            if epoch == 2:
                raise KeyboardInterrupt

    logger = MLflowLogger()
    with use_callbacks(CtrlC()), pytest.raises(TrainingInterrupted):
        small_ae(logger=[logger, "csv"]).fit(X, run_dir=tmp_path)
    assert mlflow_client(logger).get_run(logger.run_id).info.status == "KILLED"
    assert pd.read_csv(tmp_path / "logs" / "metrics.csv")["step"].tolist() == [1]


# -- bad input: training goes on with one warning ----------------------------------------------------
def test_unreachable_tracking_uri_warns_once_and_training_completes(X, tmp_path):
    logger = MLflowLogger(tracking_uri="http://127.0.0.1:9")  # the discard port: nothing listens
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ae = small_ae(logger=[logger, "csv"]).fit(X, run_dir=tmp_path)
    messages = [str(w.message) for w in record]  # exactly one warning of any kind
    assert len(messages) == 1 and "MLflow tracking at http://127.0.0.1:9" in messages[0], messages
    assert issubclass(record[0].category, AekitWarning)
    assert ae.n_epochs_ == 3 and logger.run_id is None
    assert len(pd.read_csv(tmp_path / "logs" / "metrics.csv")) == 3  # the other logger still logs


def test_a_server_that_is_not_mlflow_warns_once(X, tmp_path):
    server = Server({})  # answers 404 to everything
    try:
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            ae = small_ae(logger=MLflowLogger(tracking_uri=server.url)).fit(X)
    finally:
        server.close()
    messages = aekit_warnings(record)
    assert len(messages) == 1 and server.url in messages[0] and ae.n_epochs_ == 3


def test_unwritable_log_folder_warns_once(X, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ae = small_ae(logger=[CSVLogger(log_dir=blocker / "csv"), TensorBoardLogger(log_dir=blocker / "tb")]).fit(X)
    messages = aekit_warnings(record)
    assert len(messages) == 2 and ae.n_epochs_ == 3, messages  # one per logger
    assert {m.split(" ")[0] for m in messages} == {"csv", "tensorboard"}


@pytest.mark.parametrize("spec, message", [
    ("wandb", "unknown logger 'wandb'"),
    (3, "got int"),
    (["csv", "csv"], "given twice"),
    ([CSVLogger(), None], "got a NoneType in the list"),
])
def test_bad_logger_specs_are_refused_before_training(spec, message, X):
    with pytest.raises(ConfigError, match=message):
        small_ae(logger=spec).check_params()
    with pytest.raises(ConfigError, match=message):
        small_ae(logger=spec).fit(X)


# -- where logs go, who logs, resuming ---------------------------------------------------------------
def test_without_a_run_folder_logs_go_to_log_dir_or_aekit_logs(X, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    csv_logger = CSVLogger(log_dir=tmp_path / "mine")
    small_ae(epochs=1, logger=[csv_logger, "tensorboard"]).fit(X)
    assert csv_logger.path_ == tmp_path / "mine" and (tmp_path / "mine" / "metrics.csv").is_file()
    (stamped,) = (tmp_path / "aekit-logs").iterdir()
    assert (stamped / "tensorboard").is_dir()


@pytest.mark.parametrize("rank, logs", [("1", False), ("0", True)])
def test_only_rank_zero_logs(rank, logs, X, tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", rank)
    small_ae(epochs=1, logger=["csv", "tensorboard", "mlflow"]).fit(X, run_dir=tmp_path)
    assert (tmp_path / "logs").exists() is logs


def test_resume_keeps_the_kept_epochs_continues_the_mlflow_run_and_takes_a_new_logger(X, tmp_path):
    first = MLflowLogger()
    small_ae(epochs=2, early_stopping=False, logger=["csv", first]).fit(X, run_dir=tmp_path)
    metrics_csv = tmp_path / "logs" / "metrics.csv"
    with open(metrics_csv, "a") as f:  # a line logged just before a kill, past the checkpoint
        f.write("3,train,3,9.0,9.0,0.1,9.0,9.0,0.001,0.1\n")
    second = MLflowLogger()
    ae = small_ae(epochs=4, early_stopping=False, logger=["csv", second, "tensorboard"]).fit(
        X, run_dir=tmp_path, resume=True)
    assert len(ae.history_) == 4
    metrics = pd.read_csv(metrics_csv)
    assert metrics["step"].tolist() == [1, 2, 3, 4] and metrics["loss"].tolist() == [r["loss"] for r in ae.history_]
    assert second.run_id == first.run_id  # the same MLflow run goes on
    history = mlflow_client(second).get_metric_history(second.run_id, "train/loss")
    assert sorted((m.step, m.value) for m in history) == [(i, r["loss"]) for i, r in enumerate(ae.history_, 1)]
    assert set(tb_scalars(tmp_path / "logs" / "tensorboard")["train/loss"]) == {3, 4}  # added on resume


def test_logger_objects_are_shared_by_clones_and_pickle_after_fit(X, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    logger = CSVLogger()
    ae = small_ae(logger=[logger])
    assert clone(ae).logger[0] is logger and copy.deepcopy(logger) is logger
    tb = TensorBoardLogger()
    fitted = small_ae(epochs=1, logger=tb).fit(X)
    restored = pickle.loads(pickle.dumps(fitted))
    assert restored.logger.path_ == tb.path_ and not restored.logger.is_open
    assert [type(lg) for lg in resolve_loggers(["csv", "tensorboard:tb", "mlflow:file:/tmp/x"])] == \
           [CSVLogger, TensorBoardLogger, MLflowLogger]
