"""The data-size rule behind the "auto" defaults (issue 19): sane on 10 rows and on 10 million."""
import inspect
import warnings

import numpy as np
import pytest
from sklearn.base import clone

from aekit import AutoEncoder
from aekit.errors import AekitWarning, ConfigError, DataError
from aekit.estimators.sizing import AUTO_SIZE_DEFAULTS, auto_training_size
from aekit.estimators.classifier import AutoEncoderClassifier, auto_batch_size
from aekit.train.pretrain import PretrainConfig, auto_pretrain_epochs


@pytest.mark.parametrize("n", [1, 2, 9, 10, 31, 100, 1131, 4096, 55_000, 10_000_000, 10**9])
def test_rule_bounds(n):
    epochs, batch, patience = auto_training_size(n)
    assert 1 <= batch <= min(n, 128)  # never a batch larger than the data
    assert 100 <= epochs <= 1000  # never zero epochs
    assert 10 <= patience <= 50 and patience < epochs
    assert 10 <= auto_pretrain_epochs(n, 100) <= 50 and 10 <= auto_pretrain_epochs(n, batch) <= 50
    assert 1 <= auto_batch_size(n) <= min(n, 64)


def test_rule_values():
    # large data keeps the former fixed defaults; small data gets smaller batches, more epochs and patience
    assert auto_training_size(10_000_000) == (100, 128, 10)
    assert auto_training_size(1131) == (556, 32, 28)
    assert auto_training_size(10) == (1000, 10, 50)
    assert auto_pretrain_epochs(55_000, 128) == 10 and auto_pretrain_epochs(1131, 100) == 50
    # a number given is kept, and a given batch counts in the steps per epoch
    assert auto_training_size(1131, epochs=7, batch_size=1131, patience=3) == (7, 1131, 3)
    assert auto_training_size(1131, batch_size=1131) == (1000, 1131, 50)
    assert auto_training_size(1131, epochs=200) == (200, 32, 10)  # a set budget keeps the former patience


def test_rule_refuses_nonsense():
    with pytest.raises(DataError, match="at least 1 training row"):
        auto_training_size(0)
    with pytest.raises(ConfigError, match="batch_size"):
        auto_training_size(10, batch_size="big")
    with pytest.raises(ConfigError, match="epochs"):
        auto_training_size(10, epochs="many")
    with pytest.raises(ConfigError, match="patience"):
        auto_training_size(10, patience="long")
    with pytest.raises(ConfigError, match="pretrain_epochs"):
        PretrainConfig("rbm", epochs="some")
    with pytest.raises(ConfigError, match="pretrain_epochs"):
        PretrainConfig("rbm", epochs=0)
    with pytest.raises(ConfigError, match="batch_size"):
        AutoEncoderClassifier(batch_size="big")._batch(10)


def test_defaults_are_auto_in_signature_params_and_docs():
    params = inspect.signature(AutoEncoder.__init__).parameters
    ae = AutoEncoder()
    for name in AUTO_SIZE_DEFAULTS:
        assert params[name].default == "auto" == ae.get_params()[name]
        assert f'{name} : int or "auto", default="auto"' in AutoEncoder.__doc__
    assert params["pretrain_epochs"].default == "auto"
    assert clone(AutoEncoder(epochs=5)).get_params()["batch_size"] == "auto"
    assert AutoEncoderClassifier().batch_size == "auto"


def test_fit_on_ten_rows_resolves_without_notice():
    X = np.random.default_rng(0).random((10, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("error", AekitWarning)  # no "batch larger than the data" notice
        ae = AutoEncoder(hidden=(4,), latent_dim=2, random_state=0).fit(X)
    cfg = ae.train_config_
    assert (cfg.epochs, cfg.batch_size, cfg.patience) == (1000, 9, 50)  # 9 rows: one held out for validation
    assert 1 <= ae.n_epochs_ <= 1000
    assert ae.get_params()["epochs"] == "auto"  # fit leaves the parameters as given
    assert not hasattr(ae, "_n_train_rows") or ae._n_train_rows is None


def test_given_batch_larger_than_data_still_warns():
    X = np.random.default_rng(0).random((10, 6))
    with pytest.warns(AekitWarning, match="larger than the 9 training samples"):
        AutoEncoder(hidden=(4,), latent_dim=2, epochs=2, batch_size=64, random_state=0).fit(X)


def test_pretraining_on_ten_rows():
    X = np.random.default_rng(0).random((10, 6))
    ae = AutoEncoder(hidden=(5, 4), latent_dim=2, activation="sigmoid", pretrain="rbm", epochs=2,
                     random_state=0).fit(X)
    rbm_rows = [r for r in ae.history_ if str(r.get("stage", "")).startswith("rbm-")]
    assert len(rbm_rows) == 3 * auto_pretrain_epochs(9, 100) == 150  # 3 RBMs, 50 epochs each on 9 rows


def test_resume_check_before_data_takes_the_checkpoints_batch(tmp_path, digits_flat):
    X = digits_flat[:200]
    AutoEncoder(hidden=(8,), latent_dim=2, epochs=1, random_state=0).fit(X, run_dir=tmp_path / "run")
    AutoEncoder(hidden=(8,), latent_dim=2, epochs=3, random_state=0).check_resume(tmp_path / "run")
    with pytest.raises(ConfigError, match="batch_size"):
        AutoEncoder(hidden=(8,), latent_dim=2, epochs=3, batch_size=64, random_state=0).check_resume(tmp_path / "run")
