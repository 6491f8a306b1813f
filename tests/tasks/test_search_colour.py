"""Search with or without colour: `ImageIndex.build(..., colour="keep"|"drop")` and
`aekit index build --colour`, the manifest's colour mode, and the refusals."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import aekit.cli
from aekit import AutoEncoder, ImageIndex
from aekit.errors import ConfigError, DataError
from aekit.tasks.index import LUMINANCE, luminance
from aekit.tasks.search import build_index, query_index

SIZE = 16


def _patterns(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Colour images whose label is a pattern (stripes across, stripes down, a square) and whose
    colour is drawn independently of it: N×3×16×16 in [0, 1], labels 0..2."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    shapes = [(yy // 2) % 2, (xx // 2) % 2, ((abs(yy - 8) < 5) & (abs(xx - 8) < 5)).astype(int)]
    y = np.arange(n) % 3
    X = np.empty((n, 3, SIZE, SIZE), np.float32)
    for i, lab in enumerate(y):
        tint = rng.uniform(0.2, 1.0, 3)
        X[i] = 0.15 + 0.7 * shapes[lab][None] * tint[:, None, None]
    return X, y


def _same_luminance_other_colour(X: np.ndarray, t: float = 0.1) -> np.ndarray:
    """X with its colour shifted along a direction of zero luminance (Y unchanged, exactly)."""
    d = np.array([LUMINANCE[1], -LUMINANCE[0], 0.0], np.float32)  # 0.2125·0.7154 − 0.7154·0.2125 = 0
    return (X + t * d.reshape(1, 3, 1, 1)).astype(np.float32)


def _fit(X) -> AutoEncoder:
    return AutoEncoder(arch="resnet", hidden=(8,), blocks=1, latent_dim=6, epochs=2, batch_size=16,
                       validation_fraction=0, random_state=0).fit(X)


@pytest.fixture(scope="module")
def colour_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("colour")
    X, y = _patterns(48, 0)
    np.savez(root / "patterns.npz", X=X, y=y)
    colour_run = _fit(X).save(root / "colour-run", data={"source": str(root / "patterns.npz"), "seed": 0})
    grey_run = _fit(luminance(X)).save(root / "grey-run", data={"source": str(root / "patterns.npz"), "seed": 0})
    return root, X, y, colour_run, grey_run


def test_keep_searches_by_colour_and_drop_by_luminance(colour_data):
    _, X, y, colour_run, _ = colour_data
    recoloured = _same_luminance_other_colour(X[:6])
    keep = ImageIndex.build(colour_run, X, labels=y, colour="keep")
    drop = ImageIndex.build(colour_run, X, labels=y, colour="drop")
    assert keep.colour == "keep" and drop.colour == "drop"
    est = AutoEncoder.load(colour_run)
    # drop: a colour run is given the luminance in its three channels
    grey3 = np.repeat(luminance(X), 3, axis=1)
    assert np.allclose(drop.encode(X), est.transform(grey3), atol=1e-6)
    # the same picture in other colours (same luminance) is found at distance 0 only without colour
    d_drop, i_drop = drop.query(recoloured, k=1)
    d_keep, _ = keep.query(recoloured, k=1)
    assert np.allclose(d_drop[:, 0], 0, atol=1e-4) and (d_drop[:, 0] < d_keep[:, 0]).all()
    assert (y[i_drop[:, 0]] == y[:6]).all()


def test_drop_with_a_run_trained_on_luminance(colour_data):
    _, X, y, _, grey_run = colour_data
    index = ImageIndex.build(grey_run, X, labels=y, colour="drop")
    est = AutoEncoder.load(grey_run)
    assert np.allclose(index.encode(X), est.transform(luminance(X)), atol=1e-6)
    assert np.allclose(index.encode(luminance(X)), index.encode(X))  # grey queries need no conversion


def test_the_manifest_records_the_mode_and_add_and_load_keep_it(colour_data, tmp_path):
    _, X, y, colour_run, _ = colour_data
    index = ImageIndex.build(colour_run, X[:30], labels=y[:30], colour="drop")
    index.save(tmp_path / "idx")
    assert json.loads((tmp_path / "idx" / "manifest.json").read_text())["colour"] == "drop"
    back = ImageIndex.load(tmp_path / "idx")
    assert back.colour == "drop"
    back.add(X[30:], labels=y[30:])
    whole = ImageIndex.build(colour_run, X, labels=y, colour="drop")
    q = _same_luminance_other_colour(X[:4], 0.15)
    assert np.array_equal(back.query(q, k=5)[1], whole.query(q, k=5)[1])
    # an index written before colour modes existed kept colour
    m = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    del m["colour"]
    (tmp_path / "idx" / "manifest.json").write_text(json.dumps(m))
    assert ImageIndex.load(tmp_path / "idx").colour == "keep"


def test_refusals(colour_data, tmp_path):
    root, X, y, colour_run, grey_run = colour_data
    with pytest.raises(ConfigError, match="--colour drop"):
        ImageIndex.build(grey_run, X, colour="keep")  # a grey run cannot keep colour
    with pytest.raises(ConfigError, match="unknown colour mode 'purple'"):
        ImageIndex.build(colour_run, X, colour="purple")
    with pytest.raises(ConfigError, match="unknown colour mode"):
        build_index(colour_run, tmp_path / "never", str(root / "patterns.npz"), split="all", colour="grey")
    assert not (tmp_path / "never").exists()
    with pytest.raises(DataError, match="needs images"):
        ImageIndex.build(colour_run, X.reshape(len(X), -1), colour="drop")
    with pytest.raises(DataError, match="luminance needs"):
        luminance(np.zeros((2, 2, 4, 4)))
    # grey queries of an index that drops colour: the luminance of a collection image finds that image
    index = ImageIndex.build(grey_run, X, labels=y, colour="drop")
    assert index.query(luminance(X[:2]), k=1)[1][:, 0].tolist() == [0, 1]


def test_queries_of_another_size_are_resized_with_a_notice(colour_data, tmp_path):
    root, X, y, colour_run, _ = colour_data
    build_index(colour_run, tmp_path / "idx", str(root / "patterns.npz"), split="all", colour="drop")
    big, big_y = _patterns(6, 1)
    big = np.repeat(np.repeat(big, 2, axis=2), 2, axis=3)  # the same patterns at 32 × 32
    np.savez(tmp_path / "big.npz", X=big, y=big_y)
    res = query_index(tmp_path / "idx", source=str(tmp_path / "big.npz"), split="all", limit=6, k=3)
    assert any("resized to the model's 16×16" in n for n in res["notes"])
    assert not any("grey" in n for n in res["notes"])  # luminance is the index's mode, not a conversion
    assert len(res["queries"]) == 6 and "precision_at_k" in res


def _cli(argv, capsys):
    with pytest.raises(SystemExit) as e:
        aekit.cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def test_cli_colour_drop_and_keep(colour_data, tmp_path, capsys):
    root, X, _, colour_run, grey_run = colour_data
    data = root / "patterns.npz"
    code, out, err = _cli(["index", "build", colour_run, "--data", data, "--split", "all", "--colour", "drop",
                           "--out", tmp_path / "drop"], capsys)
    assert code == 0, err
    assert "colour drop" in out
    assert json.loads((tmp_path / "drop" / "manifest.json").read_text())["colour"] == "drop"
    q = tmp_path / "q.png"
    Image.fromarray((np.moveaxis(X[0], 0, -1) * 255).round().astype(np.uint8)).resize((40, 40)).save(q)
    code, out, err = _cli(["index", "query", tmp_path / "drop", "--image", q, "-k", "3"], capsys)
    assert code == 0, err
    assert "resized" in out and "grey" not in out
    code, out, err = _cli(["index", "build", colour_run, "--data", data, "--split", "all", "--out",
                           tmp_path / "keep"], capsys)
    assert code == 0 and json.loads((tmp_path / "keep" / "manifest.json").read_text())["colour"] == "keep"
    # a grey run asked to keep colour, and an unknown mode: one line, exit 2, nothing written
    code, out, err = _cli(["index", "build", grey_run, "--data", data, "--split", "all", "--colour", "keep",
                           "--out", tmp_path / "bad"], capsys)
    assert code == 2 and "--colour drop" in err and "Traceback" not in err and not (tmp_path / "bad").exists()
    code, out, err = _cli(["index", "build", colour_run, "--data", data, "--colour", "sepia",
                           "--out", tmp_path / "bad"], capsys)
    assert code == 2 and "unknown colour mode" in err and not (tmp_path / "bad").exists()
