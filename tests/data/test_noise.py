"""Noise: each kind on numpy and torch, fractions, clipping, seeds, specs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from aekit.data.noise import Noise, gaussian, masking, parse_noise, salt_pepper
from aekit.errors import ConfigError

SHAPE = (200, 1, 10, 10)  # 20000 values


def np_x():
    return np.full(SHAPE, 0.5, dtype=np.float32)


def torch_x():
    return torch.full(SHAPE, 0.5)


def frac(a) -> float:
    return float(np.mean(np.asarray(a)))


def tol(nu: float, n: int = 20000) -> float:
    return 5 * np.sqrt(nu * (1 - nu) / n) + 1e-9  # 5 standard deviations


@pytest.mark.parametrize("make", [np_x, torch_x])
@pytest.mark.parametrize("nu", [0.0, 0.1, 0.5, 1.0])
def test_masking_fraction(make, nu):
    x = make()
    out = masking(x, nu, rng=1)
    assert type(out) is type(x) and out.shape == x.shape and out.dtype == x.dtype
    zero = out == 0
    changed = frac(zero.numpy() if isinstance(zero, torch.Tensor) else zero)
    assert abs(changed - nu) <= tol(nu)
    kept = out[~zero]
    assert (kept == 0.5).all()
    assert (x == 0.5).all()  # input untouched


@pytest.mark.parametrize("make", [np_x, torch_x])
@pytest.mark.parametrize("nu", [0.05, 0.3])
def test_salt_pepper_fraction(make, nu):
    out = salt_pepper(make(), nu, value_range=(-1.0, 2.0), rng=2)
    a = out.numpy() if isinstance(out, torch.Tensor) else out
    salt, pepper = a == 2.0, a == -1.0
    assert abs(frac(salt | pepper) - nu) <= tol(nu)
    assert abs(frac(salt) - nu / 2) <= tol(nu / 2)
    assert ((a == 0.5) | salt | pepper).all()


@pytest.mark.parametrize("make", [np_x, torch_x])
def test_gaussian_clipped_and_scaled(make):
    x = make()
    out = gaussian(x, 0.3, rng=3)
    assert type(out) is type(x) and out.dtype == x.dtype
    a = out.numpy() if isinstance(out, torch.Tensor) else out
    assert a.min() >= 0.0 and a.max() <= 1.0
    free = gaussian(x, 0.3, rng=3, clip=False)
    f = free.numpy() if isinstance(free, torch.Tensor) else free
    assert abs(f.std() - 0.3) < 0.02 and abs(f.mean() - 0.5) < 0.02
    assert f.min() < 0.0 and f.max() > 1.0
    np.testing.assert_allclose(a, np.clip(f, 0, 1))
    assert (gaussian(x, 0.0, rng=0) == x).all()


@pytest.mark.parametrize("make", [np_x, torch_x])
@pytest.mark.parametrize("fn", [lambda x, r: gaussian(x, 0.2, rng=r), lambda x, r: masking(x, 0.3, rng=r),
                                lambda x, r: salt_pepper(x, 0.3, rng=r)])
def test_seeded(make, fn):
    x = make()
    a, b, c = fn(x, 7), fn(x, 7), fn(x, 8)
    eq = (lambda p, q: bool((p == q).all()))
    assert eq(a, b) and not eq(a, c)


def test_generators():
    x = np_x()
    a = masking(x, 0.3, rng=np.random.default_rng(4))
    b = masking(x, 0.3, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    t = torch_x()
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(gaussian(t, 0.2, rng=g1), gaussian(t, 0.2, rng=g2))
    # a numpy Generator with a tensor is reproducible too
    assert torch.equal(masking(t, 0.3, rng=np.random.default_rng(1)), masking(t, 0.3, rng=np.random.default_rng(1)))
    with pytest.raises(ConfigError):
        masking(x, 0.3, rng=torch.Generator())
    # None: fresh randomness
    assert gaussian(x, 0.2).shape == x.shape and gaussian(t, 0.2).shape == t.shape


def test_torch_dtypes_and_ints():
    t = torch.full((4, 4), 0.5, dtype=torch.float64)
    assert gaussian(t, 0.1, rng=0).dtype == torch.float64
    assert salt_pepper(torch.zeros(4, 4, dtype=torch.uint8), 0.5, rng=0).is_floating_point()
    assert masking(np.ones((3, 3), np.int64), 0.5, rng=0).dtype.kind == "f"


@pytest.mark.parametrize("spec,kind,level,text", [
    ("gaussian:0.5", "gaussian", 0.5, "gaussian:0.5"),
    ("masking:0.25", "masking", 0.25, "masking:0.25"),
    ("salt-pepper:0.2", "salt-pepper", 0.2, "salt-pepper:0.2"),
    ("salt_pepper:0.2", "salt-pepper", 0.2, "salt-pepper:0.2"),
    (" Gaussian : 1 ", "gaussian", 1.0, "gaussian:1"),
])
def test_parse(spec, kind, level, text):
    n = parse_noise(spec)
    assert n == Noise(kind, level) and n.kind == kind and n.level == level
    assert str(n) == text and parse_noise(str(n)) == n


@pytest.mark.parametrize("spec", [None, "", "none", "None"])
def test_parse_none(spec):
    assert parse_noise(spec) is None


@pytest.mark.parametrize("spec,msg", [
    ("blur:0.5", "unknown noise kind 'blur'"),
    ("gaussian", "needs gaussian:SIGMA"),
    ("masking:", "'' is not a number"),
    ("gaussian:abc", "not a number"),
    ("gaussian:-0.1", "must be >= 0"),
    ("masking:1.5", r"must be in \[0, 1\]"),
    ("salt-pepper:-0.2", r"must be in \[0, 1\]"),
    ("masking:nan", "not a finite number"),
])
def test_parse_errors(spec, msg):
    with pytest.raises(ConfigError, match=msg):
        parse_noise(spec)


def test_noise_call_and_frozen():
    n = parse_noise("salt-pepper:0.5")
    out = n(np_x(), rng=0, value_range=(0, 1))
    assert set(np.unique(out).tolist()) <= {0.0, 0.5, 1.0}
    t = n(torch_x(), rng=0)
    assert isinstance(t, torch.Tensor)
    with pytest.raises(Exception):
        n.level = 0.1  # type: ignore[misc]
    with pytest.raises(ConfigError):
        Noise("gaussian", -1)


def test_direct_bad_levels():
    with pytest.raises(ConfigError):
        gaussian(np_x(), -1)
    with pytest.raises(ConfigError):
        masking(np_x(), 2)
    with pytest.raises(ConfigError):
        salt_pepper(torch_x(), -0.5)
