"""Shared fixtures; tests/ is put on sys.path so that test modules in the sub-folders (which
mirror the package: data/, nn/, models/, train/, estimators/, tasks/, cli/) import `support`."""
import os
import sys

import numpy as np
import pytest
import torch

# Under pytest-xdist each worker gets one thread, so 2 workers use the 2 cores without fighting.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def digits_flat() -> np.ndarray:
    from sklearn.datasets import load_digits

    return (load_digits().data / 16.0).astype(np.float32)


@pytest.fixture(scope="session")
def digits_splits():
    from aekit.data import load

    return load("digits", split="train"), load("digits", split="val"), load("digits", split="test")
