"""Export to ONNX and TorchScript (aekit.estimators.export): every part of every kind gives the
estimator's own numbers on raw inputs, on batches of 1 and 257 rows; what cannot be exported is
refused with one clear message and nothing is written."""
from __future__ import annotations

import hashlib
import json
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from aekit import AutoEncoder, AutoEncoderClassifier, AutoEncoderDetector, Colorizer, VariationalAutoEncoder
from aekit.errors import ConfigError, RunFolderError
from aekit.estimators import export as export_module
from aekit.estimators.export import export_estimator, metadata_path, state_sha256

TOL = 1e-4
BATCHES = (1, 257)


def rows(X: np.ndarray, n: int) -> np.ndarray:
    """n rows drawn from X (with repeats when X has fewer), a fresh float32 array."""
    return np.ascontiguousarray(X[np.random.default_rng(n).integers(0, len(X), n)], dtype=np.float32)


@pytest.fixture(scope="module")
def models():
    """Small models trained for an epoch or two: a standardized table, images, a VAE, a conditional
    VAE, a detector with the NaN policy 'flag', ones with the 'max' and 'ssim' scores on images, and
    the table default's score 'mse+code' (its training statistics are constants of the graph)."""
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    table = (rng.normal(size=(300, 10)) * rng.uniform(0.5, 5, 10) + rng.uniform(-3, 3, 10)).astype(np.float32)
    images = rng.random((200, 1, 8, 8)).astype(np.float32)
    binary = (rng.random((200, 12)) > 0.5).astype(np.float32)
    labels = rng.integers(0, 3, 200) * 2 + 1  # classes 1, 3, 5: indices are not the labels
    fit = dict(epochs=2, random_state=0)
    return {
        "table": (AutoEncoder(hidden=(8,), latent_dim=3, **fit).fit(table), table),
        "conv": (AutoEncoder(hidden=(4, 4), latent_dim=3, arch="conv", **fit).fit(images), images),
        "vae": (VariationalAutoEncoder(hidden=(8,), latent_dim=2, **fit).fit(binary), binary),
        "cvae": (VariationalAutoEncoder(hidden=(8,), latent_dim=2, conditional=True, **fit).fit(binary, labels),
                 binary, labels),
        "detector": (AutoEncoderDetector(AutoEncoder(hidden=(8,), latent_dim=3, **fit), nan_policy="flag",
                                         random_state=0).fit(table), table),
        "detector-max": (AutoEncoderDetector(AutoEncoder(hidden=(4,), latent_dim=3, arch="conv", **fit), score="max",
                                             random_state=0).fit(images), images),
        "detector-ssim": (AutoEncoderDetector(AutoEncoder(hidden=(8,), latent_dim=3, **fit), score="ssim",
                                              random_state=0).fit(images), images),
        "detector-code": (AutoEncoderDetector(AutoEncoder(hidden=(8,), latent_dim=3, **fit), score="mse+code",
                                              nan_policy="flag", random_state=0).fit(table), table),
    }


def expected(est, part: str, x: np.ndarray, y=None) -> list[np.ndarray]:
    """What aekit itself gives for a part, on raw inputs."""
    if part == "detector":
        return [est.decision_function(x), est.predict(x)]
    yy = () if y is None else (y,)
    if part == "decoder":
        return [est.inverse_transform(x, *yy)]
    if part == "autoencoder":
        return [est.reconstruct(x, *yy)]
    if isinstance(est, VariationalAutoEncoder):
        onehot = None if y is None else torch.from_numpy(est._onehot(y, len(x)))
        mu, logvar = est.model_.posterior(torch.from_numpy(x.reshape(len(x), -1)), onehot)
        np.testing.assert_allclose(mu.detach().numpy(), est.transform(x, *yy), atol=1e-6)
        return [mu.detach().numpy(), logvar.detach().numpy()]
    return [est.transform(x)]


def inputs_for(name: str, est, part: str, n: int, data) -> tuple[dict, np.ndarray, np.ndarray | None]:
    """The graph's feeds for n rows, the rows themselves and the labels (conditional VAE)."""
    X = data[1]
    if part == "decoder":
        x = np.random.default_rng(n).normal(size=(n, est.model_config_.code_size)).astype(np.float32)
    else:
        x = rows(X, n)
    y = None
    feeds = {"z" if part == "decoder" else "x": x}
    if name == "cvae":
        y = np.random.default_rng(n + 1).choice(data[2], n)
        feeds["label"] = np.searchsorted(est.classes_, y).astype(np.int64)
    if name in ("detector", "detector-code") and part == "detector" and n > 1:
        x[::50, 3] = np.nan  # rows with NaN: the flag policy scores them +inf, label 1
    return feeds, x, y


# ONNX: every kind and part once (each dynamo export costs a second or two); TorchScript: the rest.
ONNX_CASES = [("table", "encoder"), ("table", "decoder"), ("conv", "autoencoder"), ("vae", "encoder"),
              ("vae", "decoder"), ("cvae", "encoder"), ("cvae", "decoder"), ("detector", "detector"),
              ("detector-max", "detector"), ("detector-ssim", "detector"), ("detector-code", "detector")]
TORCHSCRIPT_CASES = [("table", "autoencoder"), ("conv", "encoder"), ("cvae", "autoencoder"), ("detector", "detector"),
                     ("detector-code", "detector"),
                     ("detector", "encoder"), ("detector-max", "detector"), ("detector-ssim", "detector"),
                     ("vae", "encoder"), ("vae", "decoder")]


@pytest.mark.parametrize("name,part", ONNX_CASES)
def test_onnx_gives_aekits_numbers_on_batches_of_1_and_257(models, name, part, tmp_path):
    data = models[name]
    est = data[0]
    path = est.export(tmp_path / "m.onnx", part=part)
    session = ort.InferenceSession(str(path))
    for n in BATCHES:
        feeds, x, y = inputs_for(name, est, part, n, data)
        inner = est.estimator_ if part != "detector" and hasattr(est, "estimator_") else est
        want = expected(inner, part, x, y)
        got = session.run(None, feeds)
        assert len(got) == len(want)
        assert_same(want, got, est, part)
        if part == "detector":
            assert [g.dtype for g in got] == [np.float64, np.int64] and set(np.unique(got[1])) <= {0, 1}
            if name in ("detector", "detector-code") and n > 1:
                assert np.isinf(got[0][::50]).all() and (got[1][::50] == 1).all()
        else:
            assert all(g.dtype == np.float32 for g in got)
    check_metadata(est, name, part, path, tmp_path)


def assert_same(want: list[np.ndarray], got: list[np.ndarray], est, part: str) -> None:
    """Equal within TOL, infinities in the same places. A detector's labels are compared away
    from the threshold: the threshold is one calibration row's score, and at it float32
    rounding (of the runtime's matrix products, not aekit's) decides which side a score falls."""
    for w, g in zip(want, got):
        assert g.shape == w.shape
        finite = np.isfinite(w)
        assert (np.isfinite(g) == finite).all()
        if part == "detector" and w is want[1]:
            clear = ~(np.abs(want[0] - est.threshold_) <= TOL)
            assert clear.mean() > 0.9 and (g[clear] == w[clear]).all()
        else:
            assert np.abs(g[finite] - w[finite]).max(initial=0.0) <= TOL


@pytest.mark.parametrize("name,part", TORCHSCRIPT_CASES)
def test_torchscript_loads_and_gives_the_same_numbers(models, name, part, tmp_path):
    data = models[name]
    est = data[0]
    path = est.export(tmp_path / "m.pt", format="torchscript", part=part)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.load's deprecation note
        extra = {"aekit.json": ""}
        module = torch.jit.load(str(path), _extra_files=extra)
    assert json.loads(extra["aekit.json"])["part"] == part
    for n in BATCHES:
        feeds, x, y = inputs_for(name, est, part, n, data)
        with torch.no_grad():
            out = module(*[torch.from_numpy(v) for v in feeds.values()])
        got = [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]
        inner = est.estimator_ if part != "detector" and hasattr(est, "estimator_") else est
        assert_same(expected(inner, part, x, y), got, est, part)


def check_metadata(est, name: str, part: str, path, tmp_path) -> None:
    """The JSON beside the file documents the graph; the same travels inside it."""
    meta = json.loads(metadata_path(path).read_text())
    model = onnx.load(str(path))
    assert meta["part"] == part and meta["opset"] == 18 and meta["file_format"] == "onnx"
    assert meta["file_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    embedded = json.loads({p.key: p.value for p in model.metadata_props}["aekit"])
    assert embedded == {k: v for k, v in meta.items() if k not in ("file", "file_sha256")}
    for value, spec in zip(model.graph.input, meta["inputs"]):  # the graph's axes carry the names it gives
        assert [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim] == spec["shape"]
    assert [o.name for o in model.graph.output] == [t["name"] for t in meta["outputs"]]
    if name == "detector":
        assert meta["kind"] == "detector" and meta["threshold"] == est.threshold_ and meta["score"] == "mse"
        assert meta["nan_policy"] == "flag" and meta["standardized_in_graph"] is True
        assert meta["inputs"][0]["shape"] == ["batch", 10]
        assert [(t["name"], t["dtype"]) for t in meta["outputs"]] == [("score", "float64"), ("label", "int64")]
        run = est.save(tmp_path / "run")  # the weights' hash is the one a run folder records for them
        assert meta["weights_sha256"] == json.loads((run / "config.json").read_text())["weights_sha256"]
    if name == "detector-code":  # the score in use, with its constants inside the graph (nothing beside it)
        assert meta["score"] == "mse+code" and est.score == "mse+code"
    if name == "cvae":
        assert meta["classes"] == [1, 3, 5] and [t["name"] for t in meta["inputs"]][1] == "label"


def test_colorizer_exports_for_any_image_size(tmp_path):
    rng = np.random.default_rng(0)
    photo = (rng.random((40, 40, 3)) * 255).astype(np.uint8)
    col = Colorizer(hidden=(4, 4), crop=16, n_crops=8, epochs=1).fit([photo, photo])
    session = ort.InferenceSession(str(col.export(tmp_path / "c.onnx")))
    for h, w in [(37, 29), (16, 16), (5, 41)]:
        L = rng.random((h, w)).astype(np.float32)
        ab = session.run(None, {"L": L[None, None]})[0]
        assert ab.shape == (1, 2, h, w)
        assert np.abs(ab[0] - col.predict_ab(L)).max() <= TOL
    with pytest.raises(ConfigError, match="TorchScript: tracing fixes the image size"):
        col.export(tmp_path / "c.pt", format="torchscript")
    with pytest.raises(ConfigError, match="part 'encoder' is not one a colorizer has"):
        col.export(tmp_path / "c2.onnx", part="encoder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.onnx", "c.onnx.json"]


# -- refused ---------------------------------------------------------------------------------------
def test_a_classifiers_label_spreading_cannot_be_exported(tmp_path):
    with pytest.raises(ConfigError, match="AutoEncoderClassifier cannot be exported: .*label spreading"):
        export_estimator(AutoEncoderClassifier(), tmp_path / "clf.onnx")
    with pytest.raises(ConfigError, match="not an aekit estimator with a network"):
        export_estimator(object(), tmp_path / "x.onnx")
    assert not list(tmp_path.iterdir())


def test_parts_a_kind_does_not_have_are_refused_with_the_reason(models, tmp_path):
    ae = models["table"][0]
    with pytest.raises(ConfigError, match="part 'detector' needs a detector.*no threshold"):
        ae.export(tmp_path / "x.onnx", part="detector")
    with pytest.raises(ConfigError, match="part 'colorizer' needs a colorizer run"):
        ae.export(tmp_path / "x.onnx", part="colorizer")
    with pytest.raises(ConfigError, match="unknown part 'decoders'; choose one of"):
        ae.export(tmp_path / "x.onnx", part="decoders")
    with pytest.raises(ConfigError, match="unknown export format 'tflite'"):
        ae.export(tmp_path / "x.tflite", format="tflite")
    with pytest.raises(ConfigError, match="opset is an ONNX setting"):
        ae.export(tmp_path / "x.pt", format="torchscript", opset=18)
    assert not list(tmp_path.iterdir())


def test_a_stochastic_detector_score_is_refused_but_its_model_exports(tmp_path):
    rng = np.random.default_rng(0)
    X = (rng.random((120, 12)) > 0.5).astype(np.float32)
    det = AutoEncoderDetector(VariationalAutoEncoder(hidden=(8,), latent_dim=2, epochs=1, random_state=0),
                              score="elbo", random_state=0).fit(X)
    with pytest.raises(ConfigError, match="score='elbo': that score averages Monte-Carlo samples"):
        det.export(tmp_path / "d.onnx")
    assert not list(tmp_path.iterdir())
    det.export(tmp_path / "d.pt", format="torchscript", part="autoencoder")
    assert (tmp_path / "d.pt").exists()


@pytest.mark.parametrize("opset", [99, 17, 0, "18", 18.0, True])
def test_an_opset_out_of_range_is_refused_before_any_work(models, tmp_path, opset):
    with pytest.raises(ConfigError, match=f"ONNX opset {opset!r} cannot be exported: .*knows opsets up to"):
        models["table"][0].export(tmp_path / "x.onnx", opset=opset)
    assert not list(tmp_path.iterdir())


def test_an_opset_onnxruntime_cannot_run_is_refused_and_nothing_written(models, tmp_path, monkeypatch):
    class OldRuntime:  # an onnxruntime that lacks the opset: its loader refuses the model
        def __init__(self, *args, **kwargs):
            raise RuntimeError("Could not find an implementation for Gemm(18) node with name 'node_linear'\nmore")

    monkeypatch.setattr(ort, "InferenceSession", OldRuntime)
    with pytest.raises(ConfigError, match=r"onnxruntime .* cannot run the exported 'encoder' graph: Could not find "
                                          r"an implementation for Gemm\(18\)[^\n]*; export with an opset it supports"):
        models["table"][0].export(tmp_path / "x.onnx")
    assert not list(tmp_path.iterdir())


def test_a_graph_that_does_not_reproduce_aekit_is_not_written(models, tmp_path, monkeypatch):
    real = export_module._run_torchscript

    def off_by_a_little(data, probes):
        return [[o + 1e-3 for o in outs] for outs in real(data, probes)]

    monkeypatch.setattr(export_module, "_run_torchscript", off_by_a_little)
    with pytest.raises(ConfigError, match="does not reproduce aekit's 'code' on a batch of 1"):
        models["table"][0].export(tmp_path / "x.pt", format="torchscript")
    assert not list(tmp_path.iterdir())


def test_unwritable_output_paths_are_refused(models, tmp_path):
    ae = models["table"][0]
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(RunFolderError, match="cannot write there"):
        ae.export(tmp_path / "file" / "x.onnx")
    (tmp_path / "folder").mkdir()
    with pytest.raises(RunFolderError, match="is a folder"):
        ae.export(tmp_path / "folder")
    (tmp_path / "m.onnx.json").mkdir()  # where the metadata would go
    with pytest.raises(RunFolderError, match="m.onnx.json is a folder"):
        ae.export(tmp_path / "m.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "folder", "m.onnx.json"]


def test_an_unfitted_estimator_is_refused(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        AutoEncoder().export(tmp_path / "x.onnx")


def test_state_sha256_is_the_run_folders_weights_hash(models, tmp_path):
    ae = models["conv"][0]
    run = ae.save(tmp_path / "run")
    assert state_sha256(ae.model_) == json.loads((run / "config.json").read_text())["weights_sha256"]
