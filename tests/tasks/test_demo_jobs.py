"""The demo trains its models in worker processes: what they save equals an in-process run."""
import numpy as np

from aekit.estimators import AutoEncoder
from aekit.tasks.demo import default_jobs, model_job, run_jobs


def test_models_trained_in_worker_processes_equal_in_process_ones(tmp_path):
    params = {"hidden": (16,), "latent_dim": 2}
    pooled = run_jobs([(model_job, ("ae-2d", params, tmp_path / "pool", 3, 0)),
                       (model_job, ("ae-8d", {**params, "latent_dim": 3}, tmp_path / "pool", 3, 0))],
                      jobs=2, log=lambda s: None)
    alone = run_jobs([(model_job, ("ae-2d", params, tmp_path / "alone", 3, 0))], jobs=1, log=lambda s: None)
    assert set(pooled) == {"ae-2d", "ae-8d", "log"}
    np.testing.assert_allclose(pooled["ae-2d"]["model"]["mse_per_value"], alone["ae-2d"]["model"]["mse_per_value"],
                               rtol=1e-5)
    a, b = AutoEncoder.load(tmp_path / "pool" / "ae-2d"), AutoEncoder.load(tmp_path / "alone" / "ae-2d")
    X = np.random.default_rng(0).random((5, 64)).astype(np.float32)
    np.testing.assert_allclose(a.transform(X), b.transform(X), rtol=1e-4, atol=1e-5)


def test_a_failing_job_fails_the_demo_with_its_error(tmp_path):
    import pytest

    from aekit.errors import ConfigError

    with pytest.raises(ConfigError, match="hidden"):
        run_jobs([(model_job, ("ae-2d", {"hidden": (-1,)}, tmp_path, 1, 0))] * 2, jobs=2, log=lambda s: None)


def test_default_jobs_is_at_least_one():
    assert default_jobs() >= 1
