"""`aekit train | evaluate | encode | report | demo` through the console entry point."""
from __future__ import annotations

import json

import numpy as np
import pytest

import aekit.cli
from support import run_cli as run




@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "ae"
    with pytest.raises(SystemExit) as e:
        aekit.cli.main(["train", "--data", "digits", "--hidden", "32", "--latent", "4", "--epochs", "4",
                        "--out", str(run_dir), "--quiet"])
    assert e.value.code == 0
    return run_dir


def test_train_writes_a_complete_run_folder(trained):
    names = {p.name for p in trained.iterdir()}
    assert {"config.json", "model.safetensors", "metrics.json", "history.csv", "report.html", "checkpoint"} <= names
    cfg = json.loads((trained / "config.json").read_text())
    assert cfg["kind"] == "autoencoder" and cfg["data"]["source"] == "digits" and cfg["aekit_version"]
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["latent_dim"] == 4 and metrics["pca"]["mse_per_value"] > 0
    html = (trained / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 3 and "PCA" in html


def test_evaluate_prints_errors_beside_pca(trained, tmp_path, capsys):
    code, out, _ = run(["evaluate", trained, "--json", tmp_path / "m.json"], capsys)
    assert code == 0
    assert "PCA-4" in out and "SSE per sample" in out
    m = json.loads((tmp_path / "m.json").read_text())
    saved = json.loads((trained / "metrics.json").read_text())
    assert m["model"]["mse_per_value"] == pytest.approx(saved["model"]["mse_per_value"], rel=1e-6)


def test_encode_writes_codes(trained, tmp_path, capsys):
    code, out, _ = run(["encode", trained, "--split", "test", "--out", tmp_path / "codes.npy"], capsys)
    assert code == 0
    codes = np.load(tmp_path / "codes.npy")
    assert codes.shape == (359, 4) and np.isfinite(codes).all()


def test_report_rewrites_html(trained, capsys):
    (trained / "report.html").unlink()
    code, out, _ = run(["report", trained], capsys)
    assert code == 0 and (trained / "report.html").exists()


def test_existing_run_is_not_overwritten(trained, capsys):
    before = (trained / "model.safetensors").read_bytes()
    code, _, err = run(["train", "--epochs", "1", "--out", trained, "--quiet"], capsys)
    assert code == 2 and "already holds a trained run" in err and "Traceback" not in err
    assert (trained / "model.safetensors").read_bytes() == before


def test_resume_continues_to_more_epochs(tmp_path, capsys):
    out = tmp_path / "r"
    args = ["train", "--hidden", "16", "--latent", "3", "--out", out, "--quiet", "--no-early-stopping"]
    assert run(args + ["--epochs", "2"], capsys)[0] == 0
    assert run(args + ["--epochs", "4", "--resume"], capsys)[0] == 0
    hist = (out / "history.csv").read_text().strip().splitlines()
    assert len(hist) == 1 + 4


def test_errors_are_one_line(tmp_path, capsys):
    code, _, err = run(["evaluate", tmp_path / "missing"], capsys)
    assert code == 2 and "no such run folder" in err and "Traceback" not in err
    code, _, err = run(["train", "--hidden", "a,b", "--out", tmp_path / "x"], capsys)
    assert code == 2 and "--hidden" in err
    code, _, err = run(["train", "--noise", "gaussian:-1", "--out", tmp_path / "y", "--epochs", "1"], capsys)
    assert code == 2 and "gaussian" in err


def test_demo_runs_and_beats_pca(tmp_path, capsys):
    code, out, _ = run(["demo", "--out", tmp_path / "demo", "--epochs", "40", "--quiet"], capsys)
    assert code == 0
    assert (tmp_path / "demo" / "report.html").exists()
    for slug in ("ae-2d", "ae-8d", "tied-8d"):
        m = json.loads((tmp_path / "demo" / slug / "metrics.json").read_text())
        assert m["model"]["mse_per_value"] < m["pca"]["mse_per_value"], slug


def test_a_class_folder_whose_name_is_not_utf8_does_not_break_the_report(tmp_path, capsys):
    """The report failed after the weights were saved (matplotlib and the HTML writer refused the
    surrogate-escaped folder name); the name is now shown with U+FFFD."""
    import os

    from PIL import Image

    root = tmp_path / "imgs"
    rng = np.random.default_rng(0)
    for name in (b"caf\xe9", b"plain"):
        folder = os.path.join(os.fsencode(root), name)
        os.makedirs(folder)
        for i in range(12):
            Image.fromarray((rng.random((8, 8)) * 255).astype(np.uint8)).save(
                os.fsdecode(os.path.join(folder, f"{i}.png".encode())))
    code, out, err = run(["train", "--data", root, "--hidden", "8", "--latent", "2", "--epochs", "1",
                          "--out", tmp_path / "r", "--quiet"], capsys)
    assert code == 0, err
    html = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") >= 2
    code, _, err = run(["report", tmp_path / "r"], capsys)
    assert code == 0, err
