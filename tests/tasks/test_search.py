"""Similar-image search: ImageIndex build / query / add / save / load, refusals, and the CLI."""
from __future__ import annotations

import hashlib

import json

import numpy as np
import pytest
from PIL import Image

import aekit.cli
from aekit import ImageIndex
from aekit.errors import AekitWarning, ConfigError, DataError, RunFolderError
from aekit.estimators import AutoEncoder
from aekit.metrics import knn_precision
from aekit.tasks.search import fit_images


def _fit(digits_splits, seed: int) -> AutoEncoder:
    train, _, _ = digits_splits
    return AutoEncoder(hidden=(32,), latent_dim=6, epochs=3, batch_size=64, lr=3e-3, random_state=seed,
                       validation_fraction=0).fit(train.X)


@pytest.fixture(scope="module")
def runs(digits_splits, tmp_path_factory):
    root = tmp_path_factory.mktemp("search")
    a = _fit(digits_splits, 0).save(root / "run-a", data={"source": "digits", "seed": 0})
    b = _fit(digits_splits, 1).save(root / "run-b", data={"source": "digits", "seed": 0})
    return a, b


def test_build_query_add_save_load_round_trip(runs, digits_splits, tmp_path):
    train, _, test = digits_splits
    run_a, _ = runs
    index = ImageIndex.build(run_a, train.X, labels=train.y, kind="flat")
    assert len(index) == len(train) and index.code_size == 6 and index.kind == "flat"
    dist, ids = index.query(test.X[:5], k=4)
    assert dist.shape == ids.shape == (5, 4) and (np.diff(dist, axis=1) >= -1e-6).all()
    # a training image finds itself first
    d0, i0 = index.query(train.X[:3], k=1)
    assert i0[:, 0].tolist() == [0, 1, 2] and np.allclose(d0, 0, atol=1e-5)
    new = index.add(test.X, labels=test.y)
    assert new.tolist() == list(range(len(train), len(train) + len(test)))
    index.save(tmp_path / "idx")
    m = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    cfg = json.loads((run_a / "config.json").read_text())
    assert m["weights_sha256"] == cfg["weights_sha256"] and m["count"] == len(train) + len(test)
    assert m["kind"] == "flat" and m["code_size"] == 6
    back = ImageIndex.load(tmp_path / "idx")
    d2, i2 = back.query(test.X[:5], k=4)
    assert np.array_equal(i2, index.query(test.X[:5], k=4)[1]) and np.allclose(d2, index.query(test.X[:5], k=4)[0])
    assert back.labels[-1] == test.y[-1]


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_kinds_agree_with_exact(runs, digits_splits, kind, tmp_path):
    train, _, test = digits_splits
    exact = ImageIndex.build(runs[0], train.X, kind="flat")
    approx = ImageIndex.build(runs[0], train.X, kind=kind, nprobe=64)
    _, ie = exact.query(test.X[:50], k=10)
    _, ia = approx.query(test.X[:50], k=10)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(ia, ie)])
    assert recall > 0.9
    approx.save(tmp_path / kind)
    assert np.array_equal(ImageIndex.load(tmp_path / kind).query(test.X[:5], k=10)[1], ia[:5])


def test_another_runs_weights_are_refused(runs, digits_splits, tmp_path):
    train, _, _ = digits_splits
    run_a, run_b = runs
    ImageIndex.build(run_a, train.X[:100]).save(tmp_path / "idx")
    with pytest.raises(RunFolderError, match="other weights"):
        ImageIndex.load(tmp_path / "idx", run=run_b)


def test_corrupt_and_missing_index_files(runs, digits_splits, tmp_path):
    train, _, _ = digits_splits
    with pytest.raises(RunFolderError, match="no such index"):
        ImageIndex.load(tmp_path / "nothing")
    ImageIndex.build(runs[0], train.X[:100]).save(tmp_path / "idx")
    (tmp_path / "idx" / "index.faiss").write_bytes(b"not a faiss index at all")
    # FAISS parses index files in C++: an altered file is refused by its checksum before it is read
    with pytest.raises(RunFolderError, match="does not match the sha256 in manifest.json"):
        ImageIndex.load(tmp_path / "idx")
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    manifest["sha256"]["index.faiss"] = hashlib.sha256(b"not a faiss index at all").hexdigest()
    (tmp_path / "idx" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RunFolderError, match="not a readable FAISS index"):  # vouched for, still refused cleanly
        ImageIndex.load(tmp_path / "idx")
    del manifest["sha256"]
    (tmp_path / "idx" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RunFolderError, match="records no checksum of index.faiss"):
        ImageIndex.load(tmp_path / "idx")
    (tmp_path / "idx" / "index.faiss").unlink()
    with pytest.raises(RunFolderError, match="missing"):
        ImageIndex.load(tmp_path / "idx")
    (tmp_path / "idx" / "manifest.json").write_text("{ broken")
    with pytest.raises(RunFolderError, match="not valid JSON"):
        ImageIndex.load(tmp_path / "idx")


def test_k_is_clamped_with_a_notice_and_bad_input_refused(runs, digits_splits):
    train, _, test = digits_splits
    index = ImageIndex.build(runs[0], train.X[:20], labels=train.y[:20])
    with pytest.warns(AekitWarning, match="larger than the index"):
        dist, ids = index.query(test.X[:2], k=50)
    assert ids.shape == (2, 20) and sorted(ids[0].tolist()) == list(range(20))
    with pytest.raises(ConfigError, match="k must be"):
        index.query(test.X[:2], k=0)
    with pytest.raises(DataError):
        index.query(np.zeros((2, 50), np.float32), k=3)  # the run's encoder wants 64 values
    with pytest.raises(DataError, match="codes of size 3"):
        index.query_codes(np.zeros((2, 3), np.float32), k=3)


def test_query_images_are_resized_and_converted_with_notices():
    rgb = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    X, notes = fit_images([rgb], (1, 8, 8))
    assert X.shape == (1, 1, 8, 8) and 0 <= X.min() and X.max() <= 1
    assert any("grey" in n for n in notes) and any("resized" in n for n in notes)
    grey = np.zeros((8, 8), np.uint8)
    X, notes = fit_images([grey], (3, 8, 8))
    assert X.shape == (1, 3, 8, 8) and any("colour" in n for n in notes) and not any("resized" in n for n in notes)
    X, notes = fit_images([np.full((8, 8), 255, np.uint8)], (1, 8, 8))
    assert notes == [] and np.allclose(X, 1.0)


def test_knn_precision_separates_labels():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 4)) * 10
    y = rng.integers(0, 3, 300)
    codes = centers[y] + rng.normal(size=(300, 4))
    assert knn_precision(codes, y, codes[:50], y[:50], k=5, exclude_self=True) > 0.95


def _cli(argv, capsys):
    with pytest.raises(SystemExit) as e:
        aekit.cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def test_cli_build_add_query_writes_grid(runs, tmp_path, capsys):
    run_a, run_b = runs
    idx = tmp_path / "idx"
    code, out, err = _cli(["index", "build", run_a, "--out", idx], capsys)
    assert code == 0, err
    assert "indexed" in out and (idx / "index.faiss").exists()
    code, out, err = _cli(["index", "query", idx, "--data", "digits", "--limit", "2", "-k", "5"], capsys)
    assert code == 0, err
    assert "rank" in out and "distance" in out and "precision@5" in out
    assert (idx / "query-grid.png").exists()
    assert Image.open(idx / "query-grid.png").size[0] > 100
    q = tmp_path / "q.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 20, 3), dtype=np.uint8)).save(q)
    code, out, err = _cli(["index", "query", idx, "--image", q, "-k", "3", "--grid", tmp_path / "g.png"], capsys)
    assert code == 0, err
    assert "resized" in out and "grey" in out and (tmp_path / "g.png").exists()
    code, out, err = _cli(["index", "add", idx, "--data", "digits", "--split", "test"], capsys)
    assert code == 0 and "added" in out
    code, out, err = _cli(["index", "build", run_b, "--out", idx], capsys)
    assert code == 2 and "another run" in err
    code, out, err = _cli(["index", "query", idx, "--data", "digits", "--limit", "1", "--run", run_b], capsys)
    assert code == 2 and "other weights" in err


def test_cli_refuses_an_index_whose_run_was_retrained(digits_splits, tmp_path, capsys):
    run = _fit(digits_splits, 0).save(tmp_path / "run", data={"source": "digits", "seed": 0})
    assert _cli(["index", "build", run, "--out", tmp_path / "idx"], capsys)[0] == 0
    _fit(digits_splits, 5).save(run, data={"source": "digits", "seed": 0})  # the run folder now holds other weights
    code, _, err = _cli(["index", "query", tmp_path / "idx", "--data", "digits", "--limit", "1"], capsys)
    assert code == 2 and "other weights" in err
