import json
import warnings

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from aekit import AutoEncoder
from aekit.errors import AekitWarning, ConfigError, DataError, RunFolderError


@pytest.fixture(scope="module")
def fitted(digits_flat):
    return AutoEncoder(hidden=(64,), latent_dim=8, epochs=40, random_state=0).fit(digits_flat)


def test_fit_transform_inverse_score(fitted, digits_flat):
    X = digits_flat
    Z = fitted.transform(X)
    assert Z.shape == (len(X), 8) and Z.dtype == np.float32
    R = fitted.inverse_transform(Z)
    assert R.shape == X.shape
    np.testing.assert_allclose(R, fitted.reconstruct(X), atol=1e-5)
    assert fitted.score(X) == pytest.approx(-float(((R - X) ** 2).mean()), rel=1e-4)
    assert list(fitted.get_feature_names_out()) == [f"autoencoder{i}" for i in range(8)]
    # Non-linear 8-D code beats the best linear 8-D projection on these digits.
    pca = PCA(8).fit(X)
    assert -fitted.score(X) < ((pca.inverse_transform(pca.transform(X)) - X) ** 2).mean()


def test_image_input_roundtrip(digits_flat):
    imgs = digits_flat.reshape(-1, 1, 8, 8)
    ae = AutoEncoder(hidden=(32,), latent_dim=4, epochs=3, random_state=0).fit(imgs)
    assert ae.n_features_in_ == 64
    assert ae.reconstruct(imgs[:5]).shape == (5, 1, 8, 8)
    assert ae.inverse_transform(ae.transform(imgs[:5])).shape == (5, 1, 8, 8)
    np.testing.assert_allclose(ae.transform(imgs[:5]), ae.transform(digits_flat[:5]), atol=1e-6)
    with pytest.raises(DataError, match="shape"):
        ae.transform(np.zeros((2, 1, 4, 16), np.float32))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # short logistic fits, on purpose
def test_pipeline_and_grid_search(digits_flat):
    from sklearn.datasets import load_digits

    y = load_digits().target
    pipe = Pipeline([("ae", AutoEncoder(hidden=(32,), latent_dim=8, epochs=5, random_state=0)),
                     ("clf", LogisticRegression(max_iter=300))])
    pipe.fit(digits_flat, y)
    assert pipe.score(digits_flat, y) > 0.5
    gs = GridSearchCV(AutoEncoder(hidden=(16,), epochs=3, random_state=0), {"latent_dim": [2, 6]}, cv=2)
    gs.fit(digits_flat)
    assert gs.best_params_["latent_dim"] == 6  # a bigger code reconstructs better


def test_save_load_roundtrip(tmp_path, fitted, digits_flat):
    run = fitted.save(tmp_path / "run")
    assert {p.name for p in run.iterdir()} >= {"config.json", "model.safetensors", "history.csv"}
    loaded = AutoEncoder.load(run)
    np.testing.assert_array_equal(loaded.transform(digits_flat), fitted.transform(digits_flat))
    assert loaded.get_params() == fitted.get_params()
    assert len(loaded.history_) == len(fitted.history_)


def test_altered_or_missing_weights_are_refused(tmp_path, fitted):
    run = fitted.save(tmp_path / "run")
    data = bytearray((run / "model.safetensors").read_bytes())
    data[-5] ^= 0xFF
    (run / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(RunFolderError, match="altered"):
        AutoEncoder.load(run)
    (run / "model.safetensors").unlink()
    with pytest.raises(RunFolderError, match="missing"):
        AutoEncoder.load(run)
    with pytest.raises(RunFolderError, match="no such run folder"):
        AutoEncoder.load(tmp_path / "nowhere")


def test_config_that_does_not_match_weights_is_refused(tmp_path, fitted):
    run = fitted.save(tmp_path / "run")
    cfg = json.loads((run / "config.json").read_text())
    cfg["model"]["hidden"] = [65]
    (run / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(RunFolderError, match="do not match"):
        AutoEncoder.load(run)
    cfg["kind"] = "vae"
    (run / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(RunFolderError, match="not a 'autoencoder' model|holds a 'vae' model"):
        AutoEncoder.load(run)


def test_bad_input(fitted, digits_flat):
    X = digits_flat.copy()
    X[3, 5] = np.nan
    with pytest.raises(DataError, match="NaN or inf: 1 values in 1 rows"):
        AutoEncoder(epochs=1).fit(X)
    with pytest.raises(DataError, match="features"):
        fitted.transform(digits_flat[:, :10])
    with pytest.raises(DataError, match="at least 2 samples"):
        AutoEncoder(epochs=1).fit(digits_flat[:1])
    with pytest.raises(ConfigError, match="bce"):
        AutoEncoder(loss="bce", epochs=1).fit(digits_flat * 3 - 1)
    with pytest.raises(DataError, match="codes must be"):
        fitted.inverse_transform(np.zeros((2, 3)))


def test_latent_not_smaller_than_input_warns_unless_regularized(digits_flat):
    with pytest.warns(AekitWarning, match="identity"):
        AutoEncoder(hidden=(8,), latent_dim=64, epochs=1, random_state=0).fit(digits_flat[:100])
    with warnings.catch_warnings():
        warnings.simplefilter("error", AekitWarning)
        AutoEncoder(hidden=(8,), latent_dim=64, epochs=1, batch_size=32, noise="masking:0.3", random_state=0).fit(digits_flat[:100])


def test_tables_outside_unit_range_are_standardized(digits_flat):
    X = digits_flat * 50 - 20
    ae = AutoEncoder(hidden=(64,), latent_dim=8, epochs=30, random_state=0).fit(X)
    assert ae.model_config_.standardize and ae.model_config_.output_activation == "linear"
    pca = PCA(8).fit(X)
    pca_err = ((pca.inverse_transform(pca.transform(X)) - X) ** 2).mean()
    assert -ae.score(X) < 1.5 * pca_err  # learns in the data's own units


def test_noise_and_sparsity_configure_the_same_estimator(digits_flat):
    dae = AutoEncoder.from_preset("dae", hidden=(32,), latent_dim=8, epochs=3, random_state=0).fit(digits_flat)
    assert dae.model_config_.noise == "gaussian:0.5"
    sae = AutoEncoder.from_preset("sae", hidden=(32,), latent_dim=16, epochs=3, random_state=0).fit(digits_flat)
    assert sae.model_config_.code_activation == "sigmoid"
    assert "sparsity" in sae.history_[0]
    with pytest.raises(ConfigError):
        AutoEncoder.from_preset("nope")
