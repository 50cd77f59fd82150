"""A population's curvature solvers stop a member that stalled (lm, newton-cg: the damping at its
ceiling; lbfgs, cg: a line search that found no decrease from a restarted solver) where its solo
``fit`` stops (``second_order.stalled``), with the solo fit's warning naming the member."""

import dataclasses
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmlp import MLP, Optimizer, TrainConfig, fit, fit_population

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
XOR_T = np.array([[0], [1], [1], [0]], np.float32)
NET = MLP((2, 3, 1), "tanh", "identity", "sse", "sum")


def _stationary(c: float) -> list:
    """XOR's parameters at a stationary point: the output 0.5 on every example, the mean of the
    targets, so every gradient is exactly 0. A damped solver's every step is then exactly no
    step (refused: the loss does not fall), so its damping grows to the ceiling by the same
    epoch in any rounding (a step a rounding error accepts would make a noisy stall epoch)."""
    return [
        {"w": np.zeros((2, 3), np.float32), "b": np.full(3, c, np.float32)},
        {"w": np.zeros((3, 1), np.float32), "b": np.full(1, 0.5, np.float32)},
    ]


def _ceiling_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if "ceiling" in str(w.message)]


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, lr, epochs, stall",
    # the stationary members' damping: lm x 10 from 3 reaches 1e12 in 12 epochs, newton-cg x 1.5
    # from 1e3 in 52; the trained member's loss is below 1e-12 by then and it stalls much later
    [("lm", 3.0, 20, 12), ("newton-cg", 1e3, 60, 52)],
)
def test_a_member_whose_damping_reaches_its_ceiling_stops_as_its_solo_fit(name, lr, epochs, stall):
    """Members ran on at the ceiling as no-ops: the stationary members trained all 20 (lm) or
    60 (newton-cg) epochs where their solo fits stop after 12 or 52, without the solo fits'
    warning. Such a member now stops at its solo fit's epoch, with its history, parameters and
    state, while the others go on, and the population warns once, naming the members whose
    solo fits warn."""
    members = [_stationary(0.3), jax.tree.map(np.asarray, NET.init(jax.random.key(0)))]
    members.append(_stationary(-1.0))
    optimizer, config = Optimizer(name, lr=lr), TrainConfig(epochs=epochs, batch_size="full")
    solos, said = [], []
    for params in members:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            solos.append(fit(NET, XOR_X, XOR_T, optimizer, config, params=params))
        said.append(_ceiling_warnings(caught))
    assert [len(s.history) for s in solos] == [stall, epochs, stall]
    assert [bool(s) for s in said] == [True, False, True]
    stacked = jax.tree.map(lambda *a: np.stack(a), *members)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pop = fit_population(NET, XOR_X, XOR_T, optimizer, config, seeds=[0] * 3, params=stacked)
    shown = _ceiling_warnings(caught)
    assert [r["epochs"] for r in pop.members] == [stall, epochs, stall], shown
    assert [r["stopped_epoch"] for r in pop.members] == [stall, None, stall]
    assert len(shown) == 1 and shown[0].startswith("member 0 (of members [0, 2]): "), shown
    assert said[0][0].split(" with the loss")[0] in shown[0], (said[0], shown)
    for k, solo in enumerate(solos):
        member = pop.member(k)
        assert member.state.epoch == solo.state.epoch
        got, want = (
            [(r["epoch"], r["train_loss"]) for r in h] for h in (member.history, solo.history)
        )
        assert [e for e, _ in got] == [e for e, _ in want]
        np.testing.assert_allclose([v for _, v in got], [v for _, v in want], rtol=1e-4, atol=1e-6)
        for a, b in zip(jax.tree.leaves(member.params), jax.tree.leaves(solo.params), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
        if k != 1:  # the stalled members' state: the damping at its ceiling, the steps counted
            mine, theirs = member.state.opt_state, solo.state.opt_state
            assert type(mine) is type(theirs) and int(mine.count) == int(theirs.count) == stall
            assert float(mine.damping) == float(theirs.damping)


@pytest.mark.slow
def test_members_that_start_at_the_ceiling_stop_after_one_epoch_as_their_solo_fits():
    """lr 1e12, the initial damping at its ceiling: no step counts (``stall_epoch`` 0), so the
    solo fit without a callback trained all its epochs (with one, it stopped after the first).
    Members and solo fits now stop after epoch 1, each warning."""
    optimizer, config = Optimizer("lm", lr=1e12), TrainConfig(epochs=5, batch_size="full")
    with pytest.warns(UserWarning, match="by epoch 1 of 5"):
        solo = fit(NET, XOR_X, XOR_T, optimizer, config)
    assert len(solo.history) == solo.state.epoch == 1
    with pytest.warns(UserWarning, match=r"member 0 \(of members \[0, 1\]\): .* by epoch 1 of 5"):
        pop = fit_population(NET, XOR_X, XOR_T, optimizer, config, seeds=[0, 1])
    assert [r["epochs"] for r in pop.members] == [1, 1]
    for a, b in zip(
        jax.tree.leaves(pop.member(0).params), jax.tree.leaves(solo.params), strict=True
    ):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_line_search_members_that_find_no_decrease_stop_and_warn_as_their_solo_fits():
    """cg members on inputs ~1e4, every step refused (tests/test_second_order.py), trained all
    their 30 epochs at their initial loss with no word: the solo fit's warning ("moved
    nothing") was the solo fit's alone. Now each member stops where its solo fit stops, with its
    parameters, and the population warns once, naming them."""
    net = MLP((1, 1), (), "identity", "mse")
    x = jnp.linspace(0.5, 1, 8)[:, None]
    x, t, config = x * 1e4, jnp.sin(3 * x), TrainConfig(epochs=30, batch_size="full")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        configs = [dataclasses.replace(config, seed=s) for s in (0, 1)]
        solos = [fit(net, x, t, Optimizer("cg"), c) for c in configs]
        pop = fit_population(net, x, t, Optimizer("cg"), config, seeds=[0, 1])
    said = [str(w.message) for w in caught if "refused every step" in str(w.message)]
    assert len(said) == 3 and said[2].startswith("member 0 (of members [0, 1]): cg "), said
    assert [r["epochs"] for r in pop.members] == [len(s.history) for s in solos] == [1, 1]
    assert [r["stopped_epoch"] for r in pop.members] == [1, 1]
    for k, solo in enumerate(solos):
        for a, b in zip(jax.tree.leaves(pop.member(k).params), jax.tree.leaves(solo.params)):
            np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_line_search_members_that_never_move_are_named_as_their_solo_fits_are():
    """lbfgs on a saturated tanh output (inputs ~100: every gradient 0 in float32) takes steps
    of 0 (no refusal, no stall): its solo fit warns that it moved nothing; its members ran the
    same epochs with no word. The population now warns once, naming them."""
    net = MLP((1, 1), (), "tanh", "mse")
    x = jnp.linspace(0.5, 1, 8)[:, None]
    x, t, config = x * 100, jnp.sin(3 * x), TrainConfig(epochs=6, batch_size="full")
    with pytest.warns(UserWarning, match="lbfgs moved nothing in 6 epochs"):
        fit(net, x, t, Optimizer("lbfgs"), config)
    with pytest.warns(UserWarning, match=r"member 0 \(of members \[0, 1\]\): lbfgs moved nothing"):
        pop = fit_population(net, x, t, Optimizer("lbfgs"), config, seeds=[0, 1])
    assert [r["epochs"] for r in pop.members] == [6, 6]
