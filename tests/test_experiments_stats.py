"""The statistics the experiments' verdicts rest on (``experiments/common.py`` and the scripts'
own counting), checked at their edges without running an experiment."""

import importlib
import pathlib
import re
import sys

import numpy as np
import pytest

EXPERIMENTS = pathlib.Path(__file__).resolve().parents[1] / "experiments"


@pytest.fixture(scope="module")
def scripts():
    """``name -> module`` for experiment scripts imported as modules (their main() not run)."""
    sys.path.insert(0, str(EXPERIMENTS))
    try:
        yield lambda name: importlib.import_module(name)
    finally:
        sys.path.remove(str(EXPERIMENTS))


@pytest.mark.parametrize("module", ["common", "fragility", "init_sensitivity", "xor"])
def test_wilson_interval_holds_the_observed_rate_and_reaches_0_and_1_exactly(scripts, module):
    """Before: three copies, and in floating point the interval at n/n ended below 1 for 933 of
    the n up to 3000 (so below the observed rate, and a plotted error bar was negative: a
    ValueError from matplotlib), and at 0/n started above 0 for 213 of them (a "lower bound
    above 0" with no success at all)."""
    wilson = scripts(module).wilson
    for n in range(1, 3001):
        assert wilson(0, n)[0] == 0.0 and wilson(n, n)[1] == 1.0, n
        for k in {1, n // 3, n // 2, n - 1} - {0, n}:
            low, high = wilson(k, n)
            assert 0.0 < low < k / n < high < 1.0, (k, n)


def test_one_wilson_rule_for_every_experiment(scripts):
    common = scripts("common")
    defined = [
        p.name for p in EXPERIMENTS.glob("*.py") if re.search(r"^def wilson\b", p.read_text(), re.M)
    ]
    assert defined == ["common.py"]
    for name in ("fragility", "init_sensitivity", "xor"):
        assert scripts(name).wilson is common.wilson


@pytest.mark.parametrize("args", [(0, 0), (1, 0), (-1, 5), (6, 5), (1.5, 5), (1, 2.0), (True, 3)])
def test_wilson_refuses_counts_that_are_not_a_proportion(scripts, args):
    with pytest.raises(ValueError, match="successes"):
        scripts("common").wilson(*args)


def test_wilson_matches_the_textbook_value(scripts):
    # 7 of 20 at z = 1.96 by hand: centre (0.35 + z^2/40) / (1 + z^2/20) = 0.37417, half-width
    # z sqrt(0.35 * 0.65 / 20 + z^2/1600) / (1 + z^2/20) = 0.19298.
    low, high = scripts("common").wilson(7, 20)
    assert np.allclose((low, high), (0.1812, 0.5671), atol=1e-4)
