"""Every example in the package's docstrings runs and prints what it shows.

The numpydoc ``Examples`` sections are doctests: each module under src/aekit is imported and
run with ``doctest.testmod``. No module is skipped: every one imports with the core
dependencies (the optional extras are imported inside the functions that need them).
"""
from __future__ import annotations

import contextlib
import doctest
import importlib
import io
import pkgutil
import types

import pytest

import aekit

OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
# The package has about 460 examples; a floor well above zero keeps this test from passing
# vacuously if the walk, the finder or the docstrings stop yielding them.
MIN_EXAMPLES = 350

MODULES = sorted(info.name for info in pkgutil.walk_packages(aekit.__path__, prefix="aekit."))


def count_examples(module) -> int:
    """Examples doctest finds in a module's own docstrings (as testmod collects them)."""
    return sum(len(test.examples) for test in doctest.DocTestFinder().find(module))


def run_examples(module) -> tuple[doctest.TestResults, str]:
    """doctest.testmod's result for a module, and the report of its failures."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = doctest.testmod(module, optionflags=OPTIONS, report=False)
    return result, out.getvalue()


def test_the_walk_finds_every_layer():
    for name in ("aekit.data.noise", "aekit.nn.mlp", "aekit.models.autoencoder", "aekit.report.grid",
                 "aekit.errors", "aekit.data.tabular.encoder"):
        assert name in MODULES


PROBE = '''
def half(x):
    """
    >>> half(3)
    1.5
    >>> half(4)
    3
    """
    return x / 2
'''


def test_a_wrong_example_is_reported():
    module = types.ModuleType("aekit_doctest_probe")
    exec(PROBE, module.__dict__)  # a module of its own, as the finder only reads a module's own functions
    result, report = run_examples(module)
    assert (result.failed, result.attempted) == (1, 2)
    assert "half(4)" in report and "Expected:\n    3\nGot:\n    2.0" in report


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result, report = run_examples(module)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}:\n{report}"
    # every example found ran (none was skipped or hidden from testmod)
    assert result.attempted == count_examples(module)


def test_enough_examples_run():
    total = sum(count_examples(importlib.import_module(name)) for name in MODULES)
    assert total >= MIN_EXAMPLES, f"only {total} docstring examples in the package"
