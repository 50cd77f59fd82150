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
    # and common's is the library's (a sweep's success intervals), at the results' z = 1.96
    from jaxmlp import search

    for k, n in [(0, 7), (3, 7), (7, 7), (19, 20)]:
        assert common.wilson(k, n) == search.wilson(k, n, 1.96)


@pytest.mark.parametrize("args", [(0, 0), (1, 0), (-1, 5), (6, 5), (1.5, 5), (1, 2.0), (True, 3)])
def test_wilson_refuses_counts_that_are_not_a_proportion(scripts, args):
    with pytest.raises(ValueError, match="successes"):
        scripts("common").wilson(*args)


def test_wilson_matches_the_textbook_value(scripts):
    # 7 of 20 at z = 1.96 by hand: centre (0.35 + z^2/40) / (1 + z^2/20) = 0.37417, half-width
    # z sqrt(0.35 * 0.65 / 20 + z^2/1600) / (1 + z^2/20) = 0.19298.
    low, high = scripts("common").wilson(7, 20)
    assert np.allclose((low, high), (0.1812, 0.5671), atol=1e-4)


def test_fragility_counts_a_change_over_the_runs_it_can_change(scripts):
    """Before: "broken" was the share of all seeds (78 of 1000 for normal weights: 7.8 %), while
    the criterion, the figure and the README called it the share of the working base runs
    (78 of 798: 9.8 %); "fixed" likewise counted all seeds, not the failing base runs."""
    base_ok = np.array([True] * 8 + [False] * 2)
    ok = np.array([False, False] + [True] * 6 + [True, False])
    row = scripts("fragility").change_row(base_ok, ok, np.zeros(10))
    assert row["success_rate"] == 0.7 and row["success_ci95"] == scripts("common").wilson(7, 10)
    assert row["broken"] == 2 and row["working_base_runs"] == 8 and row["broken_rate"] == 0.25
    assert row["broken_ci95"] == scripts("common").wilson(2, 8)
    assert row["fixed"] == 1 and row["failing_base_runs"] == 2 and row["fixed_rate"] == 0.5
    assert row["fixed_ci95"] == scripts("common").wilson(1, 2)


def test_fragility_has_no_broken_rate_without_a_working_base_run(scripts):
    row = scripts("fragility").change_row(np.zeros(4, bool), np.ones(4, bool), np.zeros(4))
    assert row["broken_rate"] is None and row["broken_ci95"] is None
    assert row["fixed_rate"] == 1.0


def test_fragility_s_figure_says_a_rate_without_runs_is_none(scripts, tmp_path, monkeypatch):
    """Before: a rate of no runs to count (every seed, or none, solves the base net) was drawn
    as a bar of 0, with no word: it read as "the change breaks none"."""
    fragility, drawn = scripts("fragility"), []
    saved = lambda args, name, fig: drawn.append([t.get_text() for a in fig.axes for t in a.texts])  # noqa: E731
    monkeypatch.setattr(fragility, "figure", saved)
    base_ok = np.zeros(4, bool)
    rows = {m: fragility.change_row(base_ok, np.ones(4, bool), np.zeros(4)) for m in "ab"}
    fragility.plot(None, rows, "a", 4)
    assert drawn == [[" no runs to count"] * 2]


def test_gd_modes_divides_an_epochs_time_by_the_steps_fit_takes(scripts):
    """Before: an epoch's time was divided by n // batch_size, 44 steps for digits' 1438 rows in
    batches of 32, while ``fit`` trains the short last batch too: 45 steps."""
    per_step = scripts("gd_modes").seconds_per_step
    assert per_step(4.5, 1438, 32) == 0.1
    assert per_step(4.5, 1438, 32, drop_last=True) == 4.5 / 44
    assert per_step(2.0, 1438, 1) == 2.0 / 1438 and per_step(2.0, 1438, 1438) == 2.0


def test_online_escape_certifies_a_minimum_only_where_the_quadratic_model_has_one(scripts):
    """Before: a stuck point (gradient norm < 1e-3) counted as a minimum when the Hessian's
    smallest eigenvalue was >= -1e-6. The 2-2-1 XOR net's stuck points have eigenvalues ~1e-5 and
    gradients ~1e-3: the quadratic model's stationary point lies ~2 away (|w| ~ 15), and more
    batch descent keeps lowering E as the weights grow: plateaus, not minima."""
    test = scripts("online_escape").local_minimum
    minimum = lambda g, h: bool(test(g, h)["minimum"])  # noqa: E731
    curved = np.diag([1e-5, 1.0])
    assert not minimum(np.array([9e-4, 0.0]), curved)  # stationary point 90 away
    assert minimum(np.array([1e-9, 1e-9]), curved)
    assert not minimum(np.array([1e-9, 0.0]), np.diag([-1e-3, 1.0]))  # a saddle
    assert not minimum(np.zeros(2), np.diag([0.0, 1.0]))  # flat: nothing certified


def test_importing_online_escape_leaves_float64_off(scripts):
    import jax

    scripts("online_escape")
    assert not jax.config.jax_enable_x64


def test_activations_counts_a_target_never_reached_as_never(scripts):
    """Before: a run that never got below the loss target counted as reaching it at the last
    epoch, so the quick run reported tanh and sigmoid both at 3.0 epochs to loss 0.2 while their
    median losses ended at 0.31 and 1.17."""
    activations = scripts("activations")
    never = [1.2, 0.47, 0.31]
    assert activations.first_epoch_below(never, 0.2) == np.inf
    assert activations.first_epoch_below([1.2, 0.19, 0.1], 0.2) == 2
    assert activations.median_epochs_to([never, never, [0.1]], 0.2) == np.inf
    assert activations.median_epochs_to([never, [0.3, 0.1], [0.1]], 0.2) == 2
    assert not activations.faster(np.inf, np.inf) and not activations.faster(np.inf, 30)
    assert (
        activations.faster(5, np.inf)
        and activations.faster(5, 10)
        and not activations.faster(6, 10)
    )


@pytest.mark.parametrize("module", ["gd_modes", "relu_speed"])
def test_experiments_count_an_epochs_steps_by_the_librarys_rule(scripts, module):
    """Before: common.steps_per_epoch wrote fit's rule a second time (held equal by a test);
    the scripts now call the library's (``jaxmlp.epochs``), and common has no copy."""
    from jaxmlp.epochs import steps_per_epoch

    assert scripts(module).steps_per_epoch is steps_per_epoch
    assert not hasattr(scripts("common"), "steps_per_epoch")


@pytest.mark.slow
def test_gradient_factor_calls_a_ratio_constant_only_when_bounded_and_flat(scripts, monkeypatch):
    """The criterion of seed 004's "small constant factor": every ratio <= 5 and the log-log
    slope of the ratio against |w| within 0.1. A ratio growing like |w|^0.5 (finite
    differences' grows like |w|) or one above 5 must fail it."""
    monkeypatch.setenv("XLA_FLAGS", "")  # backprop_cost sets its one-thread flags on import
    verdict = scripts("gradient_factor").verdict
    sizes = [1e3, 1e4, 1e5, 1e6]

    def series(ratios):
        return {"width": [{"n_params": s, "ratio": r} for s, r in zip(sizes, ratios)]}

    assert all(verdict(series([2.5, 2.8, 2.9, 2.95])).values())
    growing = verdict(series([0.02 * s**0.5 for s in sizes]))
    assert not growing["width: |slope of ratio vs |w|| <= 0.1"]
    assert not verdict(series([5.5, 5.5, 5.5, 5.5]))["width: every ratio <= 5"]


@pytest.mark.slow
def test_local_minima_certifies_a_minimum_and_refuses_a_saddle_and_a_near_miss(scripts, x64):
    """The float64 test behind seed 000's "many local minima": a zero-cost fit of a net's own
    outputs (three tanh units at steps -1, 0 and 1 of [-2, 2]: gradient 0, Hessian J^T J
    positive definite, eigenvalues 1e-4 of the largest) is certified; the same point moved by
    1e-6 is not (gradient above 1e-9), nor is the stationary saddle where every weight is 0 and
    the output bias is the targets' mean (an indefinite Hessian)."""
    import jax
    import jax.numpy as jnp

    lm = scripts("local_minima")
    x, _ = lm.problem()
    params = [
        {"w": jnp.full((1, 3), 3.0), "b": jnp.array([3.0, 0.0, -3.0])},
        {"w": jnp.array([[1.0], [-1.0], [1.0]]), "b": jnp.array([0.2])},
    ]
    own = lm.NET.apply(params, x)
    assert bool(lm.certify(params, x, own)["minimum"])
    moved = jax.tree.map(lambda a: a + 1e-6, params)
    assert not bool(lm.certify(moved, x, own)["minimum"])
    zero = jax.tree.map(jnp.zeros_like, params)
    zero[1]["b"] = jnp.mean(jnp.sin(3 * x))[None]
    saddle = lm.certify(zero, x, jnp.sin(3 * x))
    assert bool(saddle["saddle"]) and not bool(saddle["minimum"])
    assert lm.distinct_levels([0.5, 0.5 * (1 + 1e-9), 0.031, 0.5 * (1 + 1e-5)]) == [
        0.031, 0.5, 0.5 * (1 + 1e-5)
    ]  # fmt: skip


def test_importing_local_minima_leaves_float64_off(scripts):
    import jax

    scripts("local_minima")
    assert not jax.config.jax_enable_x64
