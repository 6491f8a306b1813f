"""scikit-learn's own estimator checks on VariationalAutoEncoder."""
import warnings

from sklearn.utils.estimator_checks import parametrize_with_checks

from aekit.errors import AekitWarning
from aekit.estimators import VariationalAutoEncoder

# Checks excluded, each with the reason it does not apply. (Empty: every check passes.)
EXPECTED_FAILED: dict[str, str] = {}


@parametrize_with_checks(
    [
        VariationalAutoEncoder(hidden=(8,), latent_dim=2, epochs=3, random_state=0),
        VariationalAutoEncoder(hidden=(8,), latent_dim=3, epochs=2, random_state=0, beta=0.5, warmup_epochs=1,
                               free_bits=0.1),
        VariationalAutoEncoder(arch="conv", hidden=(4,), latent_dim=2, epochs=2, random_state=0),
    ],
    expected_failed_checks=lambda est: EXPECTED_FAILED,
)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        # grey-level data in [0, 1] under the Bernoulli likelihood warns (by design); not a failure
        warnings.simplefilter("ignore", AekitWarning)
        check(estimator)
