"""Range-based precision and recall (Tatbul et al. 2018) on hand-made cases with known values."""
import numpy as np
import pytest

from aekit.errors import ConfigError, DataError
from aekit.metrics_ranges import range_precision_recall, ranges


def test_ranges_are_the_runs_of_true_steps():
    assert ranges([1, 1, 0, 1]).tolist() == [[0, 2], [3, 4]]
    assert ranges([0, 0]).shape == (0, 2)


def test_one_range_half_covered_and_a_false_alarm():
    real = [0, 1, 1, 1, 1, 0, 0, 0]
    pred = [0, 0, 0, 1, 1, 0, 1, 0]
    m = range_precision_recall(real, pred, alpha=0.5)
    assert m["recall"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 4)
    assert m["precision"] == pytest.approx((1.0 + 0.0) / 2)
    assert m["f1"] == pytest.approx(2 * 0.75 * 0.5 / 1.25)
    assert (m["n_real"], m["n_flagged"]) == (1, 2)
    # α = 0: pure overlap recall; α = 1: existence only
    assert range_precision_recall(real, pred, alpha=0.0)["recall"] == pytest.approx(0.5)
    assert range_precision_recall(real, pred, alpha=1.0)["recall"] == pytest.approx(1.0)


def test_a_range_split_into_pieces_is_rewarded_less():
    real = [1, 1, 1, 1, 1, 1]
    one = [1, 1, 1, 1, 0, 0]
    two = [1, 1, 0, 1, 1, 0]  # the same four steps in two flagged pieces: overlap 4/6 times 1/2
    assert range_precision_recall(real, one, alpha=0.0)["recall"] == pytest.approx(4 / 6)
    assert range_precision_recall(real, two, alpha=0.0)["recall"] == pytest.approx(4 / 6 / 2)
    assert range_precision_recall(real, two, alpha=0.0)["precision"] == pytest.approx(1.0)


def test_two_real_ranges_one_missed():
    real = [1, 1, 0, 0, 1, 1, 1, 1, 0, 0]
    pred = [0, 0, 0, 0, 0, 1, 1, 0, 0, 0]
    m = range_precision_recall(real, pred, alpha=0.5)
    assert m["recall"] == pytest.approx((0.0 + (0.5 + 0.5 * 2 / 4)) / 2)
    assert m["precision"] == pytest.approx(1.0)


def test_positional_bias_weighs_the_front():
    real = [1, 1, 1, 1]
    first_half = [1, 1, 0, 0]
    # front bias: weights 4, 3, 2, 1 → the first two steps hold 7 of 10
    assert range_precision_recall(real, first_half, alpha=0.0, bias="front")["recall"] == pytest.approx(0.7)
    assert range_precision_recall(real, first_half, alpha=0.0, bias="back")["recall"] == pytest.approx(0.3)


def test_nothing_flagged_or_nothing_real_gives_zero():
    assert range_precision_recall([0, 1, 0], [0, 0, 0])["precision"] == 0.0
    m = range_precision_recall([0, 0, 0], [0, 1, 0])
    assert (m["recall"], m["precision"], m["f1"]) == (0.0, 0.0, 0.0)


def test_bad_arguments():
    with pytest.raises(DataError, match="3 anomaly labels but 2 flags"):
        range_precision_recall([0, 1, 0], [0, 1])
    with pytest.raises(ConfigError, match="alpha"):
        range_precision_recall([0, 1], [0, 1], alpha=1.5)
    with pytest.raises(ConfigError, match="bias"):
        range_precision_recall([0, 1], [0, 1], bias="sideways")


def test_perfect_detection_is_one():
    flags = np.zeros(50, bool)
    flags[[3, 4, 20, 30, 31, 32]] = True
    m = range_precision_recall(flags, flags)
    assert (m["precision"], m["recall"], m["f1"]) == (1.0, 1.0, 1.0)
