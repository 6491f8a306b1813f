"""MODEL_CARD.md: `aekit report` writes it beside report.html with the evaluation's numbers beside
PCA's (a detector: its ROC-AUC and threshold), and `aekit serve`'s /metadata points to it."""
import json

import numpy as np
import pytest

from aekit import AutoEncoder, VariationalAutoEncoder
from aekit.kinds import kind_of
from aekit.report.model_card import MODEL_CARD, model_card
from support import run_cli


@pytest.fixture(scope="module")
def reported(tmp_path_factory, digits_splits):
    """An autoencoder run on the digits (saved with its data record, as `aekit train` does) after
    `aekit report`, and its evaluation."""
    import aekit.cli
    from aekit.runs import DataRecord

    train, _, test = digits_splits
    run = tmp_path_factory.mktemp("card") / "ae"
    ae = AutoEncoder(hidden=(16,), latent_dim=3, epochs=2, random_state=0).fit(train.X)
    ae.save(run, data=DataRecord.of("digits", None, 0, train).to_dict())
    with pytest.raises(SystemExit) as e:
        aekit.cli.main(["report", str(run)])
    assert e.value.code == 0
    kind = kind_of(run)
    return run, kind.evaluate(ae, run).metrics


def test_aekit_report_writes_the_card_with_the_numbers_beside_pca(reported):
    run, m = reported
    card = (run / MODEL_CARD).read_text()
    for who in ("model", "pca", "mean"):  # the card's table holds the evaluation's own numbers
        assert f"{m[who]['mse_per_value']:.4g} | {m[who]['sse_per_sample']:.4g} |" in card
    assert "| PCA-3 (same code size) |" in card and f"Model ÷ PCA (MSE): {m['model_vs_pca']:.2f}" in card
    config = json.loads((run / "config.json").read_text())
    assert config["weights_sha256"] in card and "Source `digits`" in card
    assert "hidden=(16)" in card and "latent_dim=3" in card
    for heading in ("## Data", "## Evaluation on held-out data, beside baselines", "## Intended use", "## Limits"):
        assert heading in card


def test_the_service_metadata_points_to_the_card(reported):
    from aekit.tasks.serve import create_app

    run, _ = reported
    app = create_app(run)
    assert app.state.model.metadata()["model_card"] == str((run / MODEL_CARD).resolve())


def test_a_detector_card_gives_its_auc_and_threshold(tmp_path, capsys):
    run = tmp_path / "det"
    code, _, err = run_cli(["detect", "fit", "--data", "digits", "--normal-label", "1", "--hidden", "16", "--latent",
                            "2", "--epochs", "2", "--out", run, "--quiet"], capsys)
    assert code == 0, err
    code, _, _ = run_cli(["report", run], capsys)
    card = (run / MODEL_CARD).read_text()
    detector = json.loads((run / "detector.json").read_text())
    assert code == 0 and f"threshold {detector['threshold']:.4g}" in card
    assert "| ROC-AUC |" in card and "Normal labels: [1]" in card and "benchmarks/anomaly.py" in card
    assert "threshold was set on data like the training data" in card


def test_a_table_detector_card_names_its_score_and_networks(tmp_path, capsys):
    import pandas as pd

    rng = np.random.default_rng(0)
    t = rng.normal(size=300)
    csv = tmp_path / "table.csv"
    pd.DataFrame({"a": t, "b": 2 * t + 0.1 * rng.normal(size=300), "kind": rng.choice(["x", "y"], 300)}).to_csv(csv)
    run = tmp_path / "det"
    code, _, err = run_cli(["detect", "fit", "--data", csv, "--n-estimators", "0", "--out", run, "--quiet"], capsys)
    assert code == 2 and "--n-estimators must be 'auto' or a positive integer" in err
    code, out, err = run_cli(["detect", "fit", "--data", csv, "--n-estimators", "2", "--epochs", "3", "--out", run,
                              "--quiet"], capsys)
    assert code == 0, err
    assert "out-of-fold scores" in out and (run / "members" / "1" / "model.safetensors").exists()
    assert run_cli(["report", run], capsys)[0] == 0
    card = (run / MODEL_CARD).read_text()
    assert "score mse+code (the mean of 2 cross-fitted networks" in card


def test_a_vae_card_gives_its_likelihoods_and_warnings_become_limits(tmp_path, digits_splits):
    train, _, test = digits_splits
    vae = VariationalAutoEncoder(hidden=(16,), latent_dim=2, epochs=1, random_state=0).fit(train.X)
    run = vae.save(tmp_path / "vae")
    kind = kind_of(run)
    ev = kind.evaluate(vae, run, splits={"train": train, "test": test}, k=5, limit=20)
    card = model_card(run, kind.name, kind.title, {**ev.metrics, "warnings": ["the model is too small"]})
    assert f"ELBO {ev.metrics['elbo']:.4g} nats" in card and "5 importance samples, 20 test samples" in card
    assert "- The model is too small." in card
    assert "Source `not recorded (saved from Python)`" in card  # saved without a data record


def test_a_card_is_written_atomically_beside_the_run(tmp_path):
    from aekit.report.model_card import write_model_card

    X = np.random.default_rng(0).random((40, 5))
    run = AutoEncoder(hidden=(4,), latent_dim=2, epochs=1, random_state=0).fit(X).save(tmp_path / "r")
    path = write_model_card(run, "autoencoder", "autoencoder", {})
    assert path == run / MODEL_CARD and "No evaluation numbers." in path.read_text()
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
