"""`aekit export RUN --format onnx|torchscript --out FILE`: the exported file gives what `aekit
encode` and the detector give on the run's raw test split; bad input exits 2 with one line and
leaves every folder as it was."""
from __future__ import annotations

import json
import warnings

import numpy as np
import onnxruntime as ort
import pytest
import torch

import aekit.cli
from support import run_cli as run

TOL = 1e-4


def train(argv, tmp_path_factory, name):
    out = tmp_path_factory.mktemp("runs") / name
    with pytest.raises(SystemExit) as e:
        aekit.cli.main([*argv, "--out", str(out), "--quiet"])
    assert e.value.code == 0
    return out


@pytest.fixture(scope="module")
def ae_run(tmp_path_factory):
    return train(["train", "--data", "digits", "--model", "ae", "--hidden", "16", "--latent", "4", "--epochs", "2"],
                 tmp_path_factory, "ae")


@pytest.fixture(scope="module")
def det_run(tmp_path_factory):
    return train(["detect", "fit", "--data", "digits", "--normal-label", "1", "--hidden", "16", "--latent", "4",
                  "--epochs", "2"], tmp_path_factory, "det")


@pytest.fixture(scope="module")
def test_split():
    from aekit.data import load

    return load("digits", split="test")


def snapshot(folder) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_onnx_encoder_gives_aekit_encodes_codes(ae_run, test_split, tmp_path, capsys):
    code, out, _ = run(["encode", ae_run, "--out", tmp_path / "codes.npy"], capsys)
    assert code == 0
    codes = np.load(tmp_path / "codes.npy")
    code, out, err = run(["export", ae_run, "--out", tmp_path / "enc.onnx"], capsys)
    assert code == 0, err
    assert "encoder" in out and "x (float32, batch×1×8×8)" in out and "code (float32, batch×4)" in out
    session = ort.InferenceSession(str(tmp_path / "enc.onnx"))
    X = test_split.X.astype(np.float32)  # raw N×1×8×8 images, as aekit encode reads them
    assert len(X) >= 257
    for rows in (slice(0, 1), slice(0, 257), slice(None)):
        got = session.run(None, {"x": X[rows]})[0]
        assert got.shape == codes[rows].shape and np.abs(got - codes[rows]).max() <= TOL
    meta = json.loads((tmp_path / "enc.onnx.json").read_text())
    assert meta["run"] == str(ae_run.resolve()) and meta["model_card"] == str((ae_run / "MODEL_CARD.md").resolve())
    assert meta["model_card_written"] == (ae_run / "MODEL_CARD.md").exists()
    assert meta["weights_sha256"] == json.loads((ae_run / "config.json").read_text())["weights_sha256"]


def test_detector_run_exports_score_and_label(det_run, test_split, tmp_path, capsys):
    from aekit import AutoEncoderDetector

    code, out, err = run(["export", det_run, "--out", tmp_path / "det.onnx"], capsys)
    assert code == 0, err
    assert "detector" in out and "threshold" in out
    det = AutoEncoderDetector.load(det_run)
    session = ort.InferenceSession(str(tmp_path / "det.onnx"))
    X = test_split.X.astype(np.float32)
    for n in (1, 257):
        score, label = session.run(None, {"x": X[:n]})
        want = det.decision_function(X[:n])
        assert np.abs(score - want).max() <= TOL
        clear = np.abs(want - det.threshold_) > TOL  # at the threshold itself float32 rounding decides
        assert (label[clear] == det.predict(X[:n])[clear]).all()
    meta = json.loads((tmp_path / "det.onnx.json").read_text())
    assert meta["threshold"] == det.threshold_ and meta["kind"] == "detector"


def test_torchscript_autoencoder_part(ae_run, test_split, tmp_path, capsys):
    from aekit import AutoEncoder

    code, _, err = run(["export", ae_run, "--format", "torchscript", "--part", "autoencoder",
                        "--out", tmp_path / "ae.pt"], capsys)
    assert code == 0, err
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = torch.jit.load(str(tmp_path / "ae.pt"))
    X = test_split.X[:257].astype(np.float32)
    with torch.no_grad():
        got = module(torch.from_numpy(X)).numpy()
    assert np.abs(got - AutoEncoder.load(ae_run).reconstruct(X)).max() <= TOL


def test_vae_decoder_generates_as_the_library_does(tmp_path_factory, tmp_path, capsys):
    from aekit import VariationalAutoEncoder

    vae_run = train(["train", "--data", "digits", "--model", "vae", "--hidden", "16", "--latent", "2",
                     "--epochs", "1"], tmp_path_factory, "vae")
    code, out, err = run(["export", vae_run, "--part", "decoder", "--out", tmp_path / "gen.onnx"], capsys)
    assert code == 0, err
    z = np.random.default_rng(0).normal(size=(257, 2)).astype(np.float32)
    got = ort.InferenceSession(str(tmp_path / "gen.onnx")).run(None, {"z": z})[0]
    assert np.abs(got - VariationalAutoEncoder.load(vae_run).inverse_transform(z)).max() <= TOL


# -- bad input: exit 2, one line, nothing written -----------------------------------------------------
def refused(argv, capsys, *folders) -> str:
    before = [snapshot(f) for f in folders]
    code, out, err = run(argv, capsys)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err
    assert [snapshot(f) for f in folders] == before
    return lines[0]


def test_tampered_weights_are_refused(ae_run, tmp_path, capsys):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(ae_run, bad)
    weights = bytearray((bad / "model.safetensors").read_bytes())
    weights[-1] ^= 0xFF
    (bad / "model.safetensors").write_bytes(bytes(weights))
    out = tmp_path / "out"
    out.mkdir()
    line = refused(["export", bad, "--out", out / "x.onnx"], capsys, bad, out)
    assert "weights were altered or replaced" in line


def test_an_index_folder_cannot_be_exported(ae_run, tmp_path, capsys):
    code, _, err = run(["index", "build", ae_run, "--split", "test", "--out", tmp_path / "idx"], capsys)
    assert code == 0, err
    line = refused(["export", tmp_path / "idx", "--out", tmp_path / "x.onnx"], capsys, tmp_path)
    assert "is an image index, and an index cannot be exported" in line and f"aekit export {ae_run}" in line


def test_bad_options_and_paths(ae_run, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    cases = {
        ("--opset", "99"): "ONNX opset 99 cannot be exported",
        ("--part", "detector"): "part 'detector' needs a detector",
        ("--format", "tflite"): "unknown export format 'tflite'",
        ("--format", "torchscript", "--opset", "18"): "opset is an ONNX setting",
    }
    for extra, message in cases.items():
        assert message in refused(["export", ae_run, "--out", tmp_path / "x.onnx", *extra], capsys, ae_run, tmp_path)
    assert "cannot write there" in refused(["export", ae_run, "--out", tmp_path / "file" / "x.onnx"], capsys,
                                           ae_run, tmp_path)
    assert "is a folder" in refused(["export", ae_run, "--out", tmp_path], capsys, ae_run, tmp_path)
    (tmp_path / "empty").mkdir()
    assert "config.json is missing" in refused(["export", tmp_path / "empty", "--out", tmp_path / "x.onnx"], capsys,
                                                tmp_path)
    assert "no such run folder" in refused(["export", tmp_path / "nothing", "--out", tmp_path / "x.onnx"], capsys,
                                           tmp_path)
