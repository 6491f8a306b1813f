"""The registry of run kinds: `aekit evaluate` and `aekit report` on a run folder of every kind,
each showing what fits that kind; and `aekit train`'s options, built from the estimators."""
from __future__ import annotations

import json
import shutil

import pytest

from aekit.cli.options import estimator_options, parse_parameters
from aekit.estimators import PRESETS, AutoEncoder
from aekit.kinds import KINDS, kind_of, kind_of_preset
from support import FIXTURES, run_cli as run

V1 = FIXTURES / "runs_v1"

# what each kind's console table and report must show
SHOWS = {
    "ae": ("PCA-4", "SSE per sample"),
    "conv-dae": ("PCA-", "MSE per value"),
    "stacked": ("PCA-4", "SSE per sample"),
    "vae": ("ELBO", "log p(x)"),
    "cvae": ("ELBO", "log p(x)"),
    "colorizer": ("grey input", "colorized"),
    "detector": ("threshold", "ROC-AUC"),
}
REPORT_SHOWS = {**SHOWS, **{k: ("PCA MSE/value", "model ÷ PCA") for k in ("ae", "conv-dae", "stacked")}}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("kinds")
    shutil.copytree(V1, root / "v1")
    return root / "v1"


@pytest.mark.parametrize("name", sorted(SHOWS))
def test_evaluate_and_report_on_every_kind(runs, name, capsys, tmp_path):
    run_dir = runs / name
    code, out, err = run(["evaluate", run_dir, "--k", "20", "--json", tmp_path / "m.json"], capsys)
    assert code == 0, err
    for text in SHOWS[name]:
        assert text in out, f"{name}: {text!r} not in the evaluate output:\n{out}"
    metrics = json.loads((tmp_path / "m.json").read_text())
    if name in ("vae", "cvae"):
        assert metrics["log_likelihood"] >= metrics["elbo_subset"] - 1.0
    if name == "detector":
        assert 0.0 <= metrics["roc_auc"] <= 1.0 and metrics["normal_labels"] == [0, 1]
        # the fixture's detector trained 2 epochs ranks the anomalies below the normal digits: said plainly
        assert metrics["roc_auc"] < 0.5 and "no better than ranking at random" in out
    if name == "colorizer":
        assert metrics["photos"] and all(p["psnr_grey"] > 10 for p in metrics["photos"])
    code, out, err = run(["report", run_dir], capsys)
    assert code == 0, err
    html = (run_dir / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 1
    for text in REPORT_SHOWS[name]:
        assert text in html, f"{name}: {text!r} not in report.html"


def test_kind_of_a_folder_that_is_not_a_run(tmp_path):
    from aekit.errors import RunFolderError

    with pytest.raises(RunFolderError, match="no such run folder"):
        kind_of(tmp_path / "nothing")
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.json").write_text(json.dumps({"kind": "teapot", "model": {}}))
    with pytest.raises(RunFolderError, match="unknown run kind 'teapot'"):
        kind_of(tmp_path / "r")


def test_every_preset_has_a_trainable_kind():
    for name in PRESETS:
        kind = kind_of_preset(name)
        assert kind.training_data is not None and kind.name in KINDS


def test_options_are_the_estimators_parameters_with_their_documentation():
    options = estimator_options()
    docs = parse_parameters(AutoEncoder.__doc__)
    assert options["noise"].help.startswith(docs["noise"][1]) and "gaussian" in options["noise"].help
    assert options["latent_dim"].flag == "latent"
    assert options["beta"].classes == ("VariationalAutoEncoder",) and "cvae" in options["beta"].help
    assert options["hidden"].convert("64,32") == (64, 32)
    assert options["ab_offset"].convert("mean") == "mean" and options["ab_offset"].convert("0.1,0.2") == (0.1, 0.2)
    assert options["grad_clip"].convert("1.5") == 1.5 and options["n_crops"].convert("auto") == "auto"
    assert options["decoder_variance"].convert("0.5") == 0.5


def test_an_option_of_another_family_is_refused_naming_the_presets_that_take_it(tmp_path, capsys):
    code, _, err = run(["train", "--model", "ae", "--beta", "2", "--out", tmp_path / "r"], capsys)
    assert code == 2 and "--beta is not an option of --model ae" in err and "vae" in err
    assert not (tmp_path / "r").exists()


def test_a_preset_keeps_its_settings_unless_the_user_sets_them(tmp_path, capsys):
    """`--model conv-dae` trained with mse because the CLI always passed loss=auto, and the model
    output black images; options not given must leave the preset's settings alone."""
    code, _, err = run(["train", "--model", "conv-dae", "--hidden", "4,4", "--epochs", "1", "--out", tmp_path / "c",
                        "--quiet"], capsys)
    assert code == 0, err
    config = json.loads((tmp_path / "c" / "config.json").read_text())
    assert config["model"]["loss"] == "bce" and config["model"]["noise"] == "gaussian:0.5"
    code, _, err = run(["train", "--model", "conv-dae", "--hidden", "4,4", "--epochs", "1", "--loss", "mse",
                        "--out", tmp_path / "m", "--quiet"], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "m" / "config.json").read_text())["model"]["loss"] == "mse"


def test_detect_fit_keeps_the_presets_settings(tmp_path, capsys):
    """`aekit detect fit` passed hidden 64,32 and latent 8 to every preset; now only the plain
    preset gets the detector's small default network, and options not given leave a preset alone."""
    code, _, err = run(["detect", "fit", "--model", "stacked", "--epochs", "1", "--pretrain-epochs", "1",
                        "--normal-label", "0", "--out", tmp_path / "s", "--quiet"], capsys)
    assert code == 0, err
    model = json.loads((tmp_path / "s" / "config.json").read_text())["model"]
    assert model["hidden"] == [256, 128] and model["latent_dim"] == 32 and model["noise"] == "masking:0.25"
    code, _, err = run(["detect", "fit", "--epochs", "1", "--normal-label", "0", "--out", tmp_path / "a", "--quiet"],
                       capsys)
    assert code == 0, err
    model = json.loads((tmp_path / "a" / "config.json").read_text())["model"]
    assert model["hidden"] == [64, 32] and model["latent_dim"] == 8
    code, _, err = run(["detect", "fit", "--model", "colorizer", "--out", tmp_path / "c"], capsys)
    assert code == 2 and "a detector holds an autoencoder or a VAE" in err


def test_resume_with_other_options_is_refused_and_with_more_epochs_continues(tmp_path, capsys):
    """A resumed run used the checkpoint's learning rate while config.json recorded the new one."""
    base = ["train", "--hidden", "8", "--latent", "2", "--out", tmp_path / "r", "--quiet"]
    code, _, err = run([*base, "--epochs", "2", "--lr", "0.001"], capsys)
    assert code == 0, err
    code, _, err = run([*base, "--epochs", "4", "--lr", "0.05", "--resume"], capsys)
    assert code == 2 and "--resume with other training options" in err and "lr 0.001 → 0.05" in err
    code, _, err = run([*base, "--epochs", "4", "--lr", "0.001", "--resume"], capsys)
    assert code == 0, err
    history = (tmp_path / "r" / "history.csv").read_text().splitlines()
    assert len(history) == 1 + 4  # header + epochs 1-4


def test_a_new_run_into_a_folder_with_a_killed_runs_checkpoint_is_refused(tmp_path, capsys):
    (tmp_path / "r" / "checkpoint").mkdir(parents=True)
    (tmp_path / "r" / "checkpoint" / "checkpoint.safetensors").write_bytes(b"x")
    code, _, err = run(["train", "--epochs", "1", "--out", tmp_path / "r", "--quiet"], capsys)
    assert code == 2 and "checkpoint of an unfinished run" in err
    assert (tmp_path / "r" / "checkpoint" / "checkpoint.safetensors").read_bytes() == b"x"


class _Constant:
    """An 'estimator' whose reconstruction is the same image for every input."""

    def __init__(self, code_size: int, noise=None):
        from types import SimpleNamespace

        self.model_config_ = SimpleNamespace(code_size=code_size, noise=noise)
        self.input_ndim_ = 2

    def reconstruct(self, X):
        import numpy as np

        return np.zeros_like(X)


def test_a_useless_model_is_named_plainly(digits_splits):
    """A black (constant) reconstruction got no warning: now the evaluation compares with the
    training mean and PCA and says what is wrong and what usually causes it."""
    from aekit.evaluation import evaluate_reconstruction

    train, _, test = digits_splits
    m = evaluate_reconstruction(_Constant(8), train, test)
    text = " ".join(m["warnings"])
    assert "nearly the same reconstruction for every input" in text and "bce" in text
    assert "worse than predicting the training mean" in text and "worse than PCA" in text
    assert m["mean"]["mse_per_value"] < m["model"]["mse_per_value"]


def test_a_code_as_large_as_the_input_makes_the_pca_ratio_not_meaningful(digits_splits):
    from aekit.evaluation import evaluate_reconstruction
    from aekit.report.run_report import ReportEntry, error_table

    train, _, test = digits_splits
    m = evaluate_reconstruction(_Constant(64, noise="gaussian:0.5"), train, test)
    assert m["model_vs_pca"] is None
    assert any("not meaningful" in w and "denoising" in w for w in m["warnings"])
    assert error_table([ReportEntry("dae", None, metrics=m)]).rows[0][-1] == "n/a (PCA exact)"


def test_train_size_for_quick_runs_and_its_bad_values(tmp_path, capsys):
    code, _, err = run(["train", "--train-size", "100", "--hidden", "8", "--latent", "2", "--epochs", "1",
                        "--out", tmp_path / "r", "--quiet"], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "r" / "config.json").read_text())["data"]["train_size"] == 100
    for value, message in (("0", "--train-size (training samples to use) must be ≥ 1"),
                           ("100000", "more than the 1258 training samples")):
        code, _, err = run(["train", "--train-size", value, "--epochs", "1", "--out", tmp_path / value], capsys)
        assert code == 2 and message in err
        assert not (tmp_path / value).exists()
