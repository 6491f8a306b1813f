"""scikit-learn's own estimator checks on AutoEncoder and its variants."""
from sklearn.utils.estimator_checks import parametrize_with_checks

from aekit.estimators import AutoEncoder

# Checks excluded, each with the reason it does not apply. (Empty: every check passes.)
EXPECTED_FAILED: dict[str, str] = {}


@parametrize_with_checks(
    [
        AutoEncoder(hidden=(8,), latent_dim=2, epochs=3, random_state=0),
        AutoEncoder(hidden=(8,), latent_dim=2, epochs=3, random_state=0, noise="masking:0.2", sparsity="l1:0.01"),
        AutoEncoder(hidden=(8,), latent_dim=3, epochs=3, random_state=0, sparsity="kl:0.1:1", tied=True),
        AutoEncoder(arch="conv", hidden=(4,), latent_dim=2, epochs=2, random_state=0),
    ],
    expected_failed_checks=lambda est: EXPECTED_FAILED,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
