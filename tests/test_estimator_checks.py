"""scikit-learn's own estimator checks on AutoEncoder."""
from sklearn.utils.estimator_checks import parametrize_with_checks

from aekit.estimators import AutoEncoder

# Checks excluded, each with the reason it does not apply. (Empty: every check passes.)
EXPECTED_FAILED: dict[str, str] = {}


@parametrize_with_checks(
    [AutoEncoder(hidden=(8,), latent_dim=2, epochs=3, random_state=0)],
    expected_failed_checks=lambda est: EXPECTED_FAILED,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
