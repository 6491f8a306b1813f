"""Estimators on a row source: the fit template streams and gives the in-RAM results; inference
walks the source in chunks; what cannot stream says so."""
import warnings

import numpy as np
import pytest

from aekit import AutoEncoder, VariationalAutoEncoder
from aekit.data.limits import memory_budget_scope
from aekit.data.sources import MemmapSource, RowView
from aekit.errors import AekitWarning, ConfigError, DataError
from aekit.data import sources
from aekit.estimators import streaming

KW = dict(hidden=(8,), latent_dim=2, epochs=3, batch_size=32, random_state=0)


def max_difference(a, b) -> float:
    sa, sb = a.model_.state_dict(), b.model_.state_dict()
    return max(float((sa[k] - sb[k]).abs().max()) for k in sa)


@pytest.fixture
def images(tmp_path):
    X = np.random.default_rng(0).integers(0, 256, (300, 1, 4, 4), dtype=np.uint8)
    np.save(tmp_path / "x.npy", X)
    Xf = X.astype(np.float32)
    Xf *= np.float32(1 / 255)
    return Xf, MemmapSource(tmp_path / "x.npy")


def test_autoencoder_fit_on_a_source_equals_fit_on_the_array(images):
    Xf, source = images
    ram, disk = AutoEncoder(**KW).fit(Xf), AutoEncoder(**KW).fit(source)
    assert max_difference(ram, disk) < 1e-6
    assert disk.n_features_in_ == 16 and disk.input_ndim_ == 4
    assert [r["val_loss"] for r in ram.history_] == pytest.approx([r["val_loss"] for r in disk.history_], rel=1e-6)
    np.testing.assert_allclose(disk.transform(source), ram.transform(Xf), atol=1e-6)
    np.testing.assert_allclose(disk.reconstruct(source), ram.reconstruct(Xf), atol=1e-6)
    assert disk.score(source) == pytest.approx(ram.score(Xf), rel=1e-6)


def test_vae_fit_on_a_source_equals_fit_on_the_array(images):
    Xf, source = images
    ram, disk = VariationalAutoEncoder(**KW).fit(Xf), VariationalAutoEncoder(**KW).fit(source)
    assert max_difference(ram, disk) < 1e-6
    np.testing.assert_allclose(disk.transform(source), ram.transform(Xf), atol=1e-6)


def test_standardization_is_computed_in_chunks(tmp_path, monkeypatch):
    X = np.random.default_rng(1).normal(3.0, 2.0, (500, 6)).astype(np.float32)
    np.save(tmp_path / "t.npy", X)
    monkeypatch.setattr(sources, "SCAN_ROWS_BYTES", 7 * 6 * 4)  # chunks of 7 rows
    ram, disk = AutoEncoder(**KW).fit(X), AutoEncoder(**KW).fit(MemmapSource(tmp_path / "t.npy"))
    for name in ("input_shift", "input_scale"):
        np.testing.assert_allclose(getattr(disk.model_, name).numpy(), getattr(ram.model_, name).numpy(), rtol=1e-5)
    assert max_difference(ram, disk) < 1e-4


def test_validation_rows_read_into_memory_are_capped(images, monkeypatch):
    _, source = images
    monkeypatch.setattr(streaming, "VALIDATION_CAP_BYTES", 10 * 16 * 4)
    with pytest.warns(AekitWarning, match="30 validation rows held out; the first 10"):
        train, val = AutoEncoder(**KW)._hold_out_source(streaming.RowView(source, flat=True), None, 0)
    assert val.shape == (10, 16) and len(train) == 270


def test_what_needs_the_data_in_memory_is_refused(images):
    _, source = images
    with pytest.raises(ConfigError, match="pretraining .* needs the data in memory"):
        AutoEncoder(**KW, pretrain="greedy").fit(source)
    with pytest.raises(ConfigError, match="binarize='static'"):
        VariationalAutoEncoder(**KW, binarize="static").fit(source)


def test_a_memory_budget_below_one_batch_stops_the_fit(images):
    _, source = images
    with memory_budget_scope("1KiB"), pytest.raises(ConfigError, match="smaller than one batch of 32 rows"):
        AutoEncoder(**KW).fit(source)


def test_a_source_of_another_shape_is_refused_at_inference(images, tmp_path):
    Xf, source = images
    est = AutoEncoder(**KW).fit(Xf)
    np.save(tmp_path / "other.npy", np.zeros((5, 1, 2, 8), np.uint8))
    with pytest.raises(Exception, match=r"samples of shape \(1, 2, 8\), the model was fitted on \(1, 4, 4\)"):
        est.transform(MemmapSource(tmp_path / "other.npy"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a source of the right shape goes through quietly
        est.transform(source)


def test_an_operation_that_needs_the_data_in_memory_says_so(images):
    _, source = images
    view = RowView(source, flat=True)  # what estimators hand code written for arrays
    with pytest.raises(DataError, match="stays on disk and is read batch by batch, but this operation needs it in memory"):
        view.astype(np.float64)
    vae = VariationalAutoEncoder(**KW).fit(source)  # the VAE's ELBO reads it batch by batch (test_vae_sources.py)
    assert np.isfinite(vae.score(source))


def test_partial_fit_refuses_a_source_with_what_to_do(images):
    with pytest.raises(DataError, match="pass the source to fit"):
        AutoEncoder(hidden=(8,), latent_dim=2, random_state=0).partial_fit(images[1])


def test_raw_uint8_pixels_given_to_a_model_of_unit_values_warn(images):
    """A model trained on a uint8 .npy through a source learned values / 255; the same file's array
    passed as is would give meaningless scores without an error, so it warns."""
    Xf, source = images
    model = AutoEncoder(hidden=(8,), latent_dim=2, epochs=1, random_state=0).fit(source)
    raw = np.round(Xf[:5] * 255).astype(np.uint8)  # the file's own values
    with pytest.warns(AekitWarning, match="divide by 255"):
        model.transform(raw)
    with pytest.warns(AekitWarning, match="holds int64 values up to .* divide by 255"):  # an image read as int64
        model.transform(raw.astype(np.int64))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.transform(Xf[:5])  # scaled: no warning


def test_a_scan_of_the_source_reads_blocks_within_the_memory_budget(tmp_path, monkeypatch):
    """The value-range scan read 64 MiB blocks whatever the budget; now at most an eighth of it."""
    np.save(tmp_path / "t.npy", np.random.default_rng(0).integers(0, 256, (2000, 64), dtype=np.uint8))
    source, reads = MemmapSource(tmp_path / "t.npy"), []
    read = source.read
    monkeypatch.setattr(source, "read", lambda index: reads.append(len(index)) or read(index))
    with memory_budget_scope("64KiB"):
        scan = streaming.SourceScan(source)
    assert max(reads) == 64 * 1024 // 8 // (64 * 4) and sum(reads) == 2000  # 32 rows of 256 bytes a block
    assert (scan.low, scan.high, scan.binary) == (0.0, 1.0, False)
