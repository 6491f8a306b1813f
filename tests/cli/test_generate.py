"""`aekit train --model vae|cvae`, `aekit evaluate` of a VAE run and `aekit generate`."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import aekit.cli
from support import run_cli as run




@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "vae"
    with pytest.raises(SystemExit) as e:
        aekit.cli.main(["train", "--data", "digits", "--model", "vae", "--hidden", "32", "--latent", "2",
                        "--epochs", "3", "--binarize", "dynamic", "--warmup-epochs", "1", "--out", str(run_dir),
                        "--quiet"])
    assert e.value.code == 0
    return run_dir


def test_train_writes_a_vae_run_folder(vae_run):
    cfg = json.loads((vae_run / "config.json").read_text())
    assert cfg["kind"] == "vae" and cfg["estimator"] == "VariationalAutoEncoder"
    assert cfg["model"]["binarize"] == "dynamic" and cfg["params"]["warmup_epochs"] == 1
    m = json.loads((vae_run / "metrics.json").read_text())
    assert m["elbo"] < 0 and m["log_likelihood"] < 0 and m["k"] == 1000
    assert (vae_run / "report.html").exists() and (vae_run / "vae-latent-map.png").exists()


def test_evaluate_prints_elbo_and_log_likelihood(vae_run, tmp_path, capsys):
    code, out, _ = run(["evaluate", vae_run, "--k", "50", "--json", tmp_path / "m.json"], capsys)
    assert code == 0
    assert "ELBO" in out and "k = 50" in out and "PCA-2" in out
    m = json.loads((tmp_path / "m.json").read_text())
    assert m["k"] == 50 and m["log_likelihood"] > m["elbo"] - 1.0
    code, _, err = run(["evaluate", vae_run, "--k", "0"], capsys)
    assert code == 2 and "k" in err


def test_generate_writes_pngs(vae_run, tmp_path, capsys):
    out = tmp_path / "grid.png"
    code, text, _ = run(["generate", vae_run, "-n", "16", "--out", out], capsys)
    assert code == 0
    img = np.asarray(Image.open(out))
    assert img.ndim == 2 and img.shape[0] >= 4 * 8 and img.std() > 0
    assert (tmp_path / "grid-latent-map.png").exists()  # 2-D latent: the latent map
    assert (tmp_path / "grid-latent.png").exists()  # and the test set's scatter
    code, _, err = run(["generate", vae_run, "--label", "7", "--out", tmp_path / "x.png"], capsys)
    assert code == 2 and "not conditional" in err


def test_conditional_generate_and_label_errors(tmp_path, capsys):
    run_dir = tmp_path / "cvae"
    code, _, _ = run(["train", "--data", "digits", "--model", "cvae", "--hidden", "32", "--latent", "4",
                      "--epochs", "2", "--binarize", "static", "--out", run_dir, "--quiet"], capsys)
    assert code == 0
    code, _, _ = run(["generate", run_dir, "--label", "7", "-n", "9", "--out", tmp_path / "seven.png"], capsys)
    assert code == 0 and (tmp_path / "seven.png").exists()
    code, _, err = run(["generate", run_dir, "--label", "12"], capsys)
    assert code == 2 and "not one of the classes" in err


def test_vae_options_need_a_vae_preset(tmp_path, capsys):
    code, _, err = run(["train", "--model", "ae", "--beta", "2", "--out", tmp_path / "x"], capsys)
    assert code == 2 and "--beta is not an option of --model ae" in err and "--model vae, conv-vae" in err and "cvae" in err


def test_generate_refuses_a_plain_autoencoder(tmp_path, capsys):
    from aekit.estimators import AutoEncoder
    from sklearn.datasets import load_digits

    X = (load_digits().data[:100] / 16).astype(np.float32)
    AutoEncoder(hidden=(8,), latent_dim=2, epochs=1, batch_size=32, random_state=0).fit(X).save(tmp_path / "ae")
    code, _, err = run(["generate", tmp_path / "ae"], capsys)
    assert code == 2 and "variational" in err
