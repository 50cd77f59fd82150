"""Populations (issue 17): members trained as one vmapped program equal solo ``fit`` runs, never
recompile for new values, stop, restore and diverge per member, and run as folds and grids."""

import dataclasses
import functools
import json
import math
import os
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmlp import MLP, Diverged, Optimizer, TrainConfig, fit, fit_population, search, stopping
from jaxmlp import epochs as ep
from jaxmlp import member_epochs as mep
from jaxmlp import population_checks as checks
from jaxmlp.stopping import NonFiniteValidationLoss

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
XOR_T = np.array([[0], [1], [1], [0]], np.float32)
XOR = MLP((2, 3, 1), "sigmoid", "sigmoid", "sse", reduction="sum", init="uniform:0,1")

NET = MLP((4, 8, 3), "tanh", "softmax", "cross_entropy", dropout=0.2)
PLAIN = NET.replace(dropout=0.0)


def blobs(n=48, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    labels = np.argmax(x @ rng.normal(size=(d, k)), axis=1)
    return x, np.eye(k, dtype=np.float32)[labels]


X, T = blobs()
X_VAL, T_VAL = blobs(seed=1)

# The bound, and why: XLA:CPU lowers a batched reduction (the bias gradient sum_i delta_i of
# (P, n, h) under vmap) with another summation order than the unbatched one, and that order
# depends on P and on the sharding, so about half of the single steps differ from the solo
# step in the last bit, and such differences grow slowly along a trajectory. The initial
# parameters, keys and shuffles are equal bit for bit; the update rule is the same code. Tiny
# steps (XOR's) multiply by elementwise sums (``backprop.product``) that round alike in both, so
# XOR members trained by SGD or momentum, 2 or more to a device, equal their solo fits bit
# for bit (measured, the test below; not a rule of tiny nets): ONE XOR member on a device
# (P=1; a last chunk of 2 over 2 devices: 8.3e-7 after 500 epochs) does not (its unguarded
# steps fuse into other multiply-adds than the solo fit's guarded ones: 1.4e-6 after 5000 SGD
# epochs; equal under XLA_FLAGS=--xla_cpu_max_isa=SSE4_2, which has no FMA), nor does a 1-1-1
# SGD member of two (1.8e-7, a sum of 3 in another order), nor Adam's members (XOR, 500
# epochs: 3.8e-6). Measured: 16 Adam members on 8
# devices against one device, 6 epochs, 2.8e-7 of the largest parameter (the sharding test's
# measure).
RTOL = 1e-4


def leaves(tree):
    return [np.asarray(a) for a in jax.tree.leaves(tree)]


def close(a, b, rtol=RTOL):
    a, b = leaves(a), leaves(b)
    diff = max(float(np.max(np.abs(u - v))) for u, v in zip(a, b, strict=True))
    return diff <= rtol * max(float(np.max(np.abs(v))) for v in b)


def without_seconds(history):
    """The records without their timing: ``seconds``, and ``fused`` (how many epochs shared a
    compiled call's time: a solo fit with early stopping fuses a call's worth, a member's
    record counts the epochs it trained)."""
    return [{k: v for k, v in r.items() if k not in ("seconds", "fused")} for r in history]


def assert_histories_close(a, b, rtol=RTOL):
    a, b = without_seconds(a), without_seconds(b)
    assert [r["epoch"] for r in a] == [r["epoch"] for r in b]
    for ra, rb in zip(a, b, strict=True):
        for key in ra:
            if ra[key] is None or rb[key] is None:
                assert ra[key] is rb[key], key
            else:
                np.testing.assert_allclose(ra[key], rb[key], rtol=rtol, atol=1e-6, err_msg=key)


@pytest.mark.slow
@pytest.mark.parametrize(
    "optimizer, hyper",
    [
        (Optimizer("sgd"), {"lr": [0.05, 0.2, 0.1]}),
        (Optimizer("momentum", lr=0.05), {"momentum": [0.0, 0.5, 0.9]}),
        (Optimizer("adam"), {"lr": [0.01, 0.02, 0.05], "weight_decay": [0.0, 1e-3, 1e-2]}),
    ],
)
def test_member_k_is_a_solo_fit_with_member_ks_settings(optimizer, hyper):
    """Mini-batches, dropout and a validation set: each member's shuffles, dropout masks,
    initial parameters and numbers are its own, as in its solo run (within RTOL, see above)."""
    config = TrainConfig(epochs=15, batch_size=8)
    seeds = [3, 4, 4]
    pop = fit_population(
        NET, X, T, optimizer, config, seeds=seeds, hyper=hyper, x_val=X_VAL, t_val=T_VAL
    )
    for k, seed in enumerate(seeds):
        numbers = {name: values[k] for name, values in hyper.items()}
        solo_opt = Optimizer(**(optimizer.__dict__ | numbers))
        solo_config = TrainConfig(epochs=15, batch_size=8, seed=seed)
        solo = fit(NET, X, T, solo_opt, solo_config, x_val=X_VAL, t_val=T_VAL)
        member = pop.member(k)
        assert close(member.params, solo.params)
        assert close(member.state.opt_state, solo.state.opt_state)
        assert_histories_close(member.history, solo.history)
        assert pop.members[k]["seed"] == seed and pop.members[k]["epochs"] == 15
    # Members 1 and 2 share the seed, not the numbers: different runs.
    assert not close(pop.member(1).params, pop.member(2).params, 1e-3)


@pytest.mark.slow
@pytest.mark.parametrize(
    "optimizer, hyper",
    [(Optimizer("sgd"), {"lr": [0.1, 0.5, 1.0, 2.0]}),
     (Optimizer("momentum", lr=0.1), {"momentum": [0.0, 0.5, 0.9, 0.95]})],
)  # fmt: skip
def test_xor_members_equal_their_solo_fits_bit_for_bit(optimizer, hyper):
    pop = fit_population(
        XOR, XOR_X, XOR_T, optimizer, TrainConfig(500, "full"), seeds=range(4), hyper=hyper
    )
    for k in range(4):
        numbers = {name: values[k] for name, values in hyper.items()}
        solo_opt = Optimizer(**(optimizer.__dict__ | numbers))
        solo = fit(XOR, XOR_X, XOR_T, solo_opt, TrainConfig(500, "full", seed=k))
        assert close(pop.member(k).params, solo.params, 0.0)
        assert without_seconds(pop.member(k).history) == without_seconds(solo.history)


@pytest.mark.slow
@pytest.mark.parametrize("p", [1, 2])
def test_tiny_members_that_are_not_bit_for_bit_stay_within_the_bound(p):
    """What the bit-for-bit claim leaves out (see RTOL): one XOR member alone, 5000 SGD epochs,
    and a 1-1-1 SGD member of two equal their solo fits within the bound, not necessarily
    bit for bit."""
    pop = fit_population(XOR, XOR_X, XOR_T, Optimizer("sgd", lr=0.1), TrainConfig(5000, "full"),
                         seeds=list(range(p)))  # fmt: skip
    solo = fit(XOR, XOR_X, XOR_T, Optimizer("sgd", lr=0.1), TrainConfig(5000, "full"))
    assert close(pop.member(0).params, solo.params)
    assert_histories_close(pop.member(0).history, solo.history)
    x, t = np.array([[0.0], [0.5], [1.0]], np.float32), np.array([[0.0], [0.3], [1.0]], np.float32)
    net = MLP((1, 1, 1), "tanh", "identity", "mse")
    pop = fit_population(net, x, t, Optimizer("sgd", lr=0.05), TrainConfig(2000, "full"),
                         seeds=[0] * p)  # fmt: skip
    solo = fit(net, x, t, Optimizer("sgd", lr=0.05), TrainConfig(2000, "full"))
    assert close(pop.member(0).params, solo.params)


@pytest.mark.slow
def test_a_member_is_the_same_run_in_any_population_and_any_chunk():
    """A member's run does not depend on who else trains (within the bound, see RTOL)."""
    config = TrainConfig(epochs=10, batch_size=8)
    hyper = {"lr": [0.01, 0.05, 0.02, 0.03]}
    whole = fit_population(NET, X, T, Optimizer("adam"), config, seeds=[5, 6, 7, 8], hyper=hyper)
    chunked = fit_population(
        NET, X, T, Optimizer("adam"), config, seeds=[5, 6, 7, 8], hyper=hyper, chunk=2
    )
    alone = fit_population(NET, X, T, Optimizer("adam"), config, seeds=[7], hyper={"lr": [0.02]})
    pick = lambda tree, k: jax.tree.map(lambda a: a[k], tree)  # noqa: E731
    for k in range(4):
        assert close(pick(chunked.params, k), pick(whole.params, k))
    assert close(pick(alone.params, 0), pick(whole.params, 2))
    np.testing.assert_allclose(
        whole.history["train_loss"], chunked.history["train_loss"], rtol=RTOL
    )
    assert_histories_close(alone.member(0).history, whole.member(2).history)
    assert {k: whole.members[2][k] for k in ("seed", "lr", "epochs")} == {
        "seed": 7,
        "lr": 0.02,
        "epochs": 10,
    }


@pytest.mark.slow
def test_other_values_and_seeds_never_recompile(monkeypatch):
    """One compiled program (one jit, one trace) for every value of the numbers and seeds, in a
    population as in a solo fit."""
    made = {}
    for module, name in ((mep, "make_member_epochs"), (ep, "make_epochs")):
        make = getattr(module, name)
        make.cache_clear()

        def spy(*args, make=make, name=name):
            run = make(*args)
            made.setdefault(name, set()).add(run)
            return run

        monkeypatch.setattr(module, name, spy)
    config = TrainConfig(epochs=7, batch_size="full")
    for seeds, lr in (([0, 1], [0.1, 0.2]), ([5, 9], [3.0, 0.7])):
        fit_population(XOR, XOR_X, XOR_T, Optimizer("sgd"), config, seeds=seeds, hyper={"lr": lr})
    fit_population(XOR, XOR_X, XOR_T, Optimizer("sgd", lr=0.3), config, seeds=[2, 2])
    for lr in (0.1, 0.4):
        fit(XOR, XOR_X, XOR_T, Optimizer("sgd", lr=lr), config)
    for runs in made.values():
        assert len(runs) == 1 and next(iter(runs))._cache_size() == 1


def xor_params(p):
    """``XOR``'s parameters, zeros, stacked on a leading axis of ``p``."""
    return [
        {"w": np.zeros((p, 2, 3)), "b": np.zeros((p, 3))},
        {"w": np.zeros((p, 3, 1)), "b": np.zeros((p, 1))},
    ]


def regression(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, (x @ rng.normal(size=(3, 2))).astype(np.float32)


@pytest.mark.slow
def test_each_member_stops_early_and_restores_its_best_as_fit_does():
    x, t = regression()
    net = MLP((3, 8, 2), "tanh", "identity", "sse")
    config = TrainConfig(epochs=200, batch_size="full", early_stopping=5)
    lrs, seeds = [0.05, 0.02, 0.05], [0, 0, 1]
    pop = fit_population(
        net, x, t, Optimizer("sgd"), config, seeds=seeds, hyper={"lr": lrs}, x_val=x, t_val=0.5 * t
    )
    stopped = []
    for k, (lr, seed) in enumerate(zip(lrs, seeds, strict=True)):
        solo_config = TrainConfig(epochs=200, batch_size="full", early_stopping=5, seed=seed)
        solo = fit(net, x, t, Optimizer("sgd", lr=lr), solo_config, x_val=x, t_val=0.5 * t)
        member, record = pop.member(k), pop.members[k]
        assert 10 < len(solo.history) < 200
        assert record["stopped_epoch"] == record["epochs"] == len(solo.history)
        assert_histories_close(member.history, solo.history)
        assert close(member.params, solo.params)  # the best, restored
        assert close(member.state.best_params, solo.state.best_params)
        assert close(member.state.params, solo.state.params)  # frozen at the stopping epoch
        np.testing.assert_allclose(record["best_val_loss"], solo.state.best_val_loss, rtol=RTOL)
        stopped.append(record["stopped_epoch"])
    assert len(set(stopped)) > 1  # each stopped on its own
    assert np.isnan(pop.history["val_loss"][np.argmin(stopped), max(stopped) - 1])


@pytest.mark.slow
def test_a_float64_member_stops_on_float64_losses_as_its_solo_fit_does(slow_line):
    """Regression: a float64 population kept its members' losses (history and best) in float32,
    so a member whose validation loss fell by 6e-9 of itself every epoch stopped after 4 epochs,
    as its solo fit did (tests/test_train.py); both train all 20 now."""
    net, x, t, params, val = slow_line
    config = TrainConfig(20, "full", dtype="float64", early_stopping=3)
    sgd = Optimizer("sgd", lr=1e-9)
    with jax.enable_x64(True):
        solo = fit(net, x, t, sgd, config, params=params, **val)
        one = jax.tree.map(lambda a: np.stack([a]), params)
        pop = fit_population(net, x, t, sgd, config, seeds=[0], params=one, **val)
    member = pop.member(0)
    assert pop.members[0]["epochs"] == len(solo.history) == 20
    assert pop.history["val_loss"].dtype == np.float64
    # The same decisions; the losses within float64's last bits (the bound, see RTOL).
    for name in ("train_loss", "val_loss"):
        got, want = ([r[name] for r in h] for h in (member.history, solo.history))
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)
    assert solo.state.best_val_loss == solo.history[-1]["val_loss"]
    np.testing.assert_allclose(member.state.best_val_loss, solo.state.best_val_loss, rtol=1e-14)
    assert close(member.params, solo.params, 1e-14)


@pytest.mark.slow
def test_a_member_with_a_non_finite_validation_loss_warns_and_stops_as_its_solo_fit():
    """A member whose validation loss overflows (inputs of 1e20) runs as its solo fit does
    (tests/test_train.py: out of patience, no best parameters), and the population warns once,
    naming it, as the solo fit warns."""
    x, t = regression(8)
    x_val = np.r_[np.full((4, 3), 1e20, np.float32), x[:4]]
    rows = (np.tile(np.arange(8), (2, 1)), np.array([[8, 9, 10, 11], [0, 1, 2, 3]]))
    data = np.r_[x, x_val], np.r_[t, np.zeros((8, 2), np.float32)]
    net = MLP((3, 4, 2), "relu", "identity", "mse")
    config = TrainConfig(epochs=10, batch_size=4, early_stopping=2)
    sgd = Optimizer("sgd", lr=0.1)
    with pytest.warns(NonFiniteValidationLoss, match=r"member 0 .*epoch 1 is inf") as seen:
        pop = fit_population(net, *data, sgd, config, seeds=[0, 0], rows=rows)
    assert len(seen) == 1
    assert pop.members[0]["epochs"] == 2 and pop.members[0]["best_val_loss"] is None
    assert pop.members[1]["epochs"] > 2 and pop.members[1]["best_val_loss"] is not None
    with pytest.warns(NonFiniteValidationLoss):
        solo = fit(net, x, t, sgd, config, x_val=x_val[:4], t_val=data[1][8:12])
    assert_histories_close(pop.member(0).history, solo.history)
    assert close(pop.member(0).params, solo.params)


@pytest.mark.slow
def test_a_diverged_member_is_frozen_and_reported_while_the_others_go_on():
    x, t = regression()
    net = MLP((3, 8, 2), "relu", "identity", "sse", reduction="sum")
    config = TrainConfig(epochs=30, batch_size=8)
    params = net.init(jax.random.key(0))
    with pytest.raises(Diverged) as info:  # the solo run: epoch 3, step 4 (tests/test_train.py)
        fit(net, x, t, Optimizer("sgd", lr=0.12), config, params=params)
    both = jax.tree.map(lambda a: np.stack([a, a]), params)
    pop = fit_population(
        net, x, t, Optimizer("sgd"), config, hyper={"lr": [0.12, 0.01]}, params=both
    )
    record = pop.members[0]
    assert (record["diverged_epoch"], record["diverged_step"]) == (
        info.value.epoch,
        info.value.step,
    )
    assert record["epochs"] == info.value.epoch - 1 and record["stopped_epoch"] is None
    assert close(pop.member(0).params, info.value.state.params)  # the last good parameters
    assert_histories_close(pop.member(0).history, info.value.history)
    solo = fit(net, x, t, Optimizer("sgd", lr=0.01), config, params=params)
    assert pop.members[1]["diverged_epoch"] is None and pop.members[1]["epochs"] == 30
    assert close(pop.member(1).params, solo.params)


@pytest.mark.parametrize("patience", [None, 3])
def test_a_member_whose_last_parameters_give_no_finite_loss_diverged_as_its_solo_fit(patience):
    """Regression: a member whose one step left finite weights of ~1e20 with an Inf loss was
    recorded as not diverged (params_epoch 1, its running loss from before the step), its
    parameters those weights. Now as its solo fit's Diverged (tests/test_train.py): diverged at
    epoch 1, step 1, its params and state those the run ended with; the other member is not."""
    net = MLP((1, 1), "identity", "identity", "sse", reduction="sum")
    x, t = np.ones((1, 1), np.float32), np.zeros((1, 1), np.float32)
    params = [{"w": jnp.ones((1, 1)), "b": jnp.zeros(1)}]
    config = TrainConfig(1, "full", early_stopping=patience)
    val = {"x_val": x, "t_val": t} if patience else {}
    with pytest.raises(Diverged) as info:
        fit(net, x, t, Optimizer("sgd", lr=1e20), config, params=params, **val)
    two = jax.tree.map(lambda a: jnp.stack([a, a]), params)
    pop = fit_population(net, x, t, Optimizer("sgd"), config, hyper={"lr": [1e20, 0.1]},
                         params=two, **val)  # fmt: skip
    bad, good = pop.members
    assert (bad["diverged_epoch"], bad["diverged_step"], bad["params_epoch"]) == (1, 1, None)
    assert (bad["epochs"], bad["stopped_epoch"]) == (1, None)
    assert (good["diverged_epoch"], good["params_epoch"]) == (None, 1)
    np.testing.assert_array_equal(pop.member(0).params[0]["w"], info.value.state.params[0]["w"])
    np.testing.assert_array_equal(pop.params[0]["w"][0], np.float32([[-1e20]]))
    rows = (np.zeros((2, 1), int), np.zeros((2, 1), int))  # as folds: each member's rows
    x2 = np.concatenate([x, x])
    pop = fit_population(net, x2, np.concatenate([t, t]), Optimizer("sgd"), config,
                         hyper={"lr": [1e20, 0.1]}, params=two, rows=rows)  # fmt: skip
    assert [m["diverged_epoch"] for m in pop.members] == [1, None]


def test_a_member_out_of_patience_whose_last_parameters_give_no_finite_loss_diverged():
    """w <- w (1 - lr) with lr 1 + 1e10: epoch 1 leaves -1e10 (loss 5e19, the best), epoch 2
    2e20 (loss Inf, no better: patience 1 runs out). Its solo fit raises Diverged at epoch 2
    (the stop's state probed); the member was recorded stopped at epoch 2, its restored best
    parameters returned, with a warning of its Inf validation loss. Now it diverged there, not
    stopped, its parameters the last ones, and no warning (as its solo fit, which raises)."""
    net = MLP((1, 1), "identity", "identity", "sse", reduction="sum")
    x, t = np.ones((1, 1), np.float32), np.zeros((1, 1), np.float32)
    params = [{"w": jnp.ones((1, 1)), "b": jnp.zeros(1)}]
    config, val = TrainConfig(5, "full", early_stopping=1), {"x_val": x, "t_val": t}
    with pytest.raises(Diverged) as info:
        fit(net, x, t, Optimizer("sgd", lr=1 + 1e10), config, params=params, **val)
    assert (info.value.epoch, info.value.step, info.value.state.epoch) == (2, 1, 2)
    two = jax.tree.map(lambda a: jnp.stack([a, a]), params)
    pop = fit_population(net, x, t, Optimizer("sgd"), config, hyper={"lr": [1 + 1e10, 0.1]},
                         params=two, **val)  # fmt: skip
    bad, good = pop.members
    assert (bad["epochs"], bad["stopped_epoch"], bad["diverged_epoch"]) == (2, None, 2)
    assert (good["epochs"], good["diverged_epoch"]) == (5, None)
    np.testing.assert_array_equal(pop.member(0).params[0]["w"], info.value.state.params[0]["w"])


@pytest.mark.slow
def test_a_diverged_member_with_restore_best_keeps_its_last_good_parameters_as_diverged_does():
    """With early stopping and ``restore_best``, a diverged member's parameters are those its
    solo fit's ``Diverged.state`` holds (the last good ones), not its best: the solo run
    restores nothing, it raises."""
    x, t = regression()
    net = MLP((3, 8, 2), "relu", "identity", "sse", reduction="sum")
    config = TrainConfig(epochs=8, batch_size=8, early_stopping=5)
    params = net.init(jax.random.key(0))
    with pytest.raises(Diverged) as info:  # epoch 3, step 4, as above
        fit(net, x, t, Optimizer("sgd", lr=0.12), config, params=params, x_val=x, t_val=t)
    good = info.value.state
    assert not close(good.best_params, good.params, 1e-3)  # the two differ
    one = jax.tree.map(lambda a: np.stack([a]), params)
    pop = fit_population(
        net, x, t, Optimizer("sgd"), config, hyper={"lr": [0.12]}, params=one, x_val=x, t_val=t
    )
    assert pop.members[0]["diverged_epoch"] == info.value.epoch
    member = pop.member(0)
    assert close(member.params, good.params) and close(member.state.params, good.params)
    assert close(jax.tree.map(lambda a: a[0], pop.params), good.params)
    assert close(member.state.best_params, good.best_params)


def test_the_restored_rule_is_one_for_solo_fits_and_for_each_member():
    """``stopping.restores``: early stopping with restore_best, a finite best, not diverged;
    member by member (NumPy, jax) the answer of a solo fit's numbers."""
    config = TrainConfig(epochs=8, early_stopping=2)
    best, div = np.array([0.5, np.inf, 0.5, np.inf]), np.array([0, 0, 3, 3])
    solo = [bool(stopping.restores(config, b)) if d == 0 else False for b, d in zip(best, div)]
    assert solo == [True, False, False, False]
    assert stopping.restores(config, best, div).tolist() == solo
    assert stopping.restores(config, jnp.asarray(best), jnp.asarray(div)).tolist() == solo
    for off in (dataclasses.replace(config, restore_best=False), TrainConfig(epochs=8)):
        assert not stopping.restores(off, best, div).any() and not stopping.restores(off, 0.5)


@pytest.mark.parametrize(
    "kwargs, shown",
    [
        (dict(hyper={"lr": [0.1, -1.0]}), "member 1: lr must be a finite number > 0"),
        (dict(hyper={"eta": [0.1]}), "Unknown hyper names: ['eta']"),
        (dict(seeds=[0, 1], hyper={"lr": [0.1]}), "same length"),
        (dict(), "give seeds or hyper"),
        (dict(seeds=[0, -1]), "seed must be an integer in [0, 2**32 - 1], got -1"),
        (dict(hyper={"momentum": [0.5]}, optimizer=Optimizer("adam")), "momentum=0.5 would be"),
        (dict(hyper={"init_scale": [0.0]}), "init_scale must be > 0"),
        (dict(seeds=[0, 1], devices=5), "only 1 device"),
        (dict(seeds=[0], rows=(np.zeros((1, 2), int), np.zeros((1, 9)))), "validation rows"),
        *[(dict(seeds=[0, 1], params=xor_params(p)), f"leading axis of P=2, got [({p},)]")
          for p in (1, 3)],
        *[(dict(seeds=[0], chunk=c), f"chunk must be an integer >= 1 or None, got {c!r}")
          for c in (-1, 0, 1.5, "2", True)],
        *[(dict(seeds=s), "seeds must be a non-empty sequence of integers in [0, 2**32 - 1]")
          for s in ([], 3, (s for s in [0, 1]), "01")],
        *[(dict(hyper={"lr": v}), "hyper['lr'] must be a non-empty list of finite numbers")
          for v in ([True, True], [True, 0.5], ["0.1"], [0.1 + 0j], np.array([True]), 0.1)],
        (dict(seeds=[0], rows=(np.zeros((1, 0), int), np.zeros((1, 2), int))), "train rows"),
        (dict(seeds=[0], rows=(np.zeros((1, 2), int), np.zeros((1, 0), int))), "(P=1, m >= 1)"),
        (dict(seeds=[0, 1], config=TrainConfig(epochs=1, devices=4)), "fit_population(devices="),
        (dict(seeds=[0], stop=1), "stop must be a callable or None, got 1"),  # was a TypeError
        *[(dict(seeds=[0], hyper=h), "hyper must be a dict of setting name -> list of values")
          for h in (5, "lr", [("lr", [0.1])])],  # a TypeError, dict()'s ValueError, taken
    ],
)  # fmt: skip
def test_bad_population_settings_are_value_errors_naming_them(kwargs, shown):
    optimizer = kwargs.pop("optimizer", Optimizer("sgd"))
    config = kwargs.pop("config", TrainConfig(epochs=1))
    with pytest.raises(ValueError) as info:
        fit_population(XOR, XOR_X, XOR_T, optimizer, config, **kwargs)
    assert shown in str(info.value)


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov", "sgd"])
def test_a_momentum_that_is_1_in_the_members_dtype_is_refused_as_1_is(optimizer):
    """0.99999999 passes momentum's [0, 1) but is 1.0 in float32, where the members (and a solo
    fit) trained with it: an undamped velocity, recorded as 0.99999999."""
    config = TrainConfig(epochs=1, batch_size="full")
    says = "momentum = 0.99999999 is 1.0 in float32"
    with pytest.raises(ValueError, match=re.escape(f"member 1: {says}")):
        fit_population(XOR, XOR_X, XOR_T, Optimizer(optimizer), config,
                       hyper={"momentum": [0.5, 0.99999999]})  # fmt: skip
    with pytest.raises(ValueError, match=re.escape(says)):  # unswept, every member's
        fit_population(XOR, XOR_X, XOR_T, Optimizer(optimizer, momentum=0.99999999), config,
                       seeds=[0, 1])  # fmt: skip
    with pytest.raises(ValueError, match=re.escape(says)):
        fit(XOR, XOR_X, XOR_T, Optimizer(optimizer, momentum=0.99999999), config)


@pytest.mark.parametrize(
    "name, given",
    [("lr", [0.5, 0.1, 0.1 + 1e-9]), ("init_scale", [1.0, 1.0 + 1e-9]), ("lr", [2**24, 2**24 + 1])],
)
def test_hyper_values_that_differ_but_are_one_number_in_the_members_dtype_are_refused(name, given):
    """lr=[0.1, 0.1 + 1e-9] trained two identical float32 members, recorded as two lrs; a grid
    search and a sweep refuse such values (``search.check_once``), by the same rule. Values
    equal as given are members the caller asked for (other seeds), and float64 holds both."""
    config = TrainConfig(epochs=1, batch_size="full")
    a, b = given[-2:]
    says = f"hyper[{name!r}] {given}: {a!r} and {b!r} are one value in float32, the members' dtype"
    with pytest.raises(ValueError, match=re.escape(says)):
        fit_population(XOR, XOR_X, XOR_T, Optimizer("sgd"), config, hyper={name: given})
    members = functools.partial(checks.members, None, optimizer=Optimizer("sgd"))
    assert len(members({name: [a, a]}, config=config)[0]) == 2  # equal as given: two seeds
    with jax.enable_x64(True):
        assert len(members({name: given}, config=dataclasses.replace(config, dtype="float64"))[0])


@pytest.mark.slow
def test_jax_arrays_of_seeds_and_values_are_taken_as_numpy_ones():
    """seeds=jnp.array([3, 4]) was refused as "not a non-empty sequence of integers" while
    hyper took a JAX array; a grid refused both."""
    config = TrainConfig(epochs=3, batch_size="full")
    run = functools.partial(fit_population, XOR, XOR_X, XOR_T, Optimizer("sgd"), config)
    numpy = run(seeds=np.array([3, 4]), hyper={"lr": np.array([0.5, 1.0])})
    pop = run(seeds=jnp.array([3, 4]), hyper={"lr": jnp.array([0.5, 1.0])})
    assert [r["seed"] for r in pop.members] == [3, 4]
    for a, b in zip(leaves(pop.params), leaves(numpy.params), strict=True):
        np.testing.assert_array_equal(a, b)
    grid = search.grid_search(
        XOR, XOR_X, XOR_T, Optimizer("sgd"), config, {"lr": jnp.array([0.5, 1.0])},
        seeds=jnp.array([3, 4]),
    )  # fmt: skip
    assert [(r["lr"], r["seed"]) for r in grid] == [(0.5, 3), (0.5, 4), (1.0, 3), (1.0, 4)]
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*32 - 1\]"):
        run(seeds=jnp.array([3.0, 4.0]))
    with pytest.raises(ValueError, match="seeds must be a non-empty sequence of integers"):
        run(seeds=jnp.array([[3], [4]]))


ROWS = (np.array([[0, 1, 2], [1, 2, 3]]), np.array([[3], [0]]))
PAIR = "rows must be a pair (train_rows, val_rows): each member's training rows (P, m) and "


@pytest.mark.parametrize(
    ("rows", "shown"),
    [
        (ROWS + ROWS[1:], "got 3 parts."),
        (ROWS[:1], "got 1 part."),
        (ROWS[0], "got an array of shape (2, 3)."),  # the train rows alone
        (5, "got 5."),
        ("ab", "got 'ab'."),
        (([[0, 1, 2], [1, 2]], ROWS[1]), "train rows must be integers of shape (P=2, m >= 1), "
         "the same m for every member, got a ragged list."),
        ((ROWS[0], [[3], [0, 1]]), "validation rows must be integers of shape (P=2, m >= 1)"),
    ],
)  # fmt: skip
def test_rows_that_are_not_two_rectangles_of_rows_are_refused_saying_what_rows_are(rows, shown):
    """Three parts or one were Python's "too many/not enough values to unpack", a ragged list
    NumPy's "inhomogeneous shape"."""
    config = TrainConfig(epochs=1)
    with pytest.raises(ValueError) as info:
        fit_population(XOR, XOR_X, XOR_T, Optimizer("sgd"), config, seeds=[0, 1], rows=rows)
    assert shown in str(info.value)
    assert str(info.value).startswith(PAIR) == shown.startswith("got")


@pytest.mark.slow
def test_non_finite_initial_params_of_any_member_are_refused_before_any_trains():
    """Regression: NaN in a member's given parameters (only member 0's were checked, for their
    shapes) trained it into divergence instead of a ValueError naming it."""
    params = xor_params(3)
    params[1]["w"][2, 0, 0] = np.nan
    config = TrainConfig(epochs=2, batch_size="full")
    with pytest.raises(ValueError, match=r"member 2: params\[1\]\['w'\] holds NaN or Inf"):
        fit_population(XOR, XOR_X, XOR_T, Optimizer("sgd"), config, seeds=[0, 1, 2], params=params)


@pytest.mark.slow
def test_member_k_is_refused_outside_0_to_p():
    pop = fit_population(XOR, XOR_X, XOR_T, Optimizer("sgd"), TrainConfig(epochs=1), seeds=[0, 1])
    assert pop.member(np.int64(1)).state.epoch == 1
    for k in (2, -1, True, 1.0, "0"):
        with pytest.raises(ValueError, match=rf"member must be an integer in \[0, 2\), got {k!r}"):
            pop.member(k)


@pytest.mark.slow  # ~3 s: a population and two fits, compiling
def test_a_members_state_resumes_only_on_the_length_its_cosine_schedule_spans():
    optimizer = Optimizer("sgd", lr=0.5, schedule="cosine")
    pop = fit_population(XOR, XOR_X, XOR_T, optimizer, TrainConfig(epochs=4), seeds=[0, 1])
    member = pop.member(1)
    assert member.state.run_epochs == 4
    with pytest.raises(ValueError, match="the cosine schedule spans the run's 4 epochs, not 6"):
        fit(XOR, XOR_X, XOR_T, optimizer, TrainConfig(epochs=6), state=member.state)
    # and its 4 steps (regression: run_steps was None, so other steps went unchecked)
    with pytest.raises(ValueError, match="the cosine schedule spans the run's 4 steps, not 8"):
        fit(XOR, XOR_X, XOR_T, optimizer, TrainConfig(epochs=4, batch_size=2), state=member.state)
    again = fit(XOR, XOR_X, XOR_T, optimizer, TrainConfig(epochs=4), state=member.state)
    assert again.history == [] and all(
        np.array_equal(a, b) for a, b in zip(leaves(again.params), leaves(member.params))
    )


@pytest.mark.slow  # ~4 s: populations and fits, compiling
@pytest.mark.parametrize(
    "hyper", [{"momentum": [0.0, 0.9]}, {"weight_decay": [0.0, 0.01]}], ids=["momentum", "decay"]
)
def test_a_member_whose_swept_term_is_0_resumes_with_its_own_optimizer(hyper):
    """Regression: a population switches a swept term on for every member (sgd's momentum
    trace, the weight decay), which member k's own optimizer leaves off at 0, so member 0's
    state was refused by its own settings ("not a state of optimizer 'sgd': resume with the
    optimizer the state was trained with"). Now it resumes as that fit, step count included
    (a step schedule)."""
    base = Optimizer("sgd", lr=0.5, schedule="step", decay_steps=3, decay_rate=0.5)
    pop = fit_population(XOR, XOR_X, XOR_T, base, TrainConfig(epochs=4), seeds=[0, 1], hyper=hyper)
    for k in range(2):
        own = dataclasses.replace(base, **{name: v[k] for name, v in hyper.items()})
        config = TrainConfig(epochs=8, seed=k)
        resumed = fit(XOR, XOR_X, XOR_T, own, config, state=pop.member(k).state)
        whole = fit(XOR, XOR_X, XOR_T, own, config)
        assert resumed.state.epoch == 8
        assert close(resumed.params, whole.params)


# -- folds and grids -------------------------------------------------------------------------


@pytest.mark.slow
def test_folds_are_members_each_a_solo_fit_on_its_rows():
    config = TrainConfig(epochs=8, batch_size=8, seed=2)
    train_rows, val_rows = search.kfold_rows(len(X), 4, seed=2)
    assert sorted(np.concatenate([train_rows[0], val_rows[0]])) == list(range(48))
    for f in range(4):  # each fold holds out its own block
        assert not set(train_rows[f]) & set(val_rows[f]) and len(set(val_rows[f])) == 12
    records = search.grid_search(
        PLAIN, X, T, Optimizer("sgd"), config, {"lr": [0.1, 0.3]}, seeds=[2], folds=4
    )
    assert [(r["lr"], r["fold"]) for r in records] == [
        (lr, f) for lr in (0.1, 0.3) for f in range(4)
    ]
    for r in records[4:]:
        rows, val = train_rows[r["fold"]], val_rows[r["fold"]]
        solo = fit(
            PLAIN, X[rows], T[rows], Optimizer("sgd", lr=0.3), config, x_val=X[val], t_val=T[val]
        )
        last = solo.history[-1]
        for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
            np.testing.assert_allclose(r[key], last[key], rtol=RTOL, err_msg=key)


@pytest.mark.slow
def test_evaluate_members_is_evaluate_of_each_member_on_its_rows(monkeypatch):
    """One vmapped program over the members (a sweep's final_train_accuracy), in calls of a
    few rows padded with rows of weight 0 when the members' activations would be large."""
    from jaxmlp import evaluate, evaluation

    params = jax.vmap(PLAIN.init)(jax.random.split(jax.random.key(0), 3))
    rows = np.stack([np.random.default_rng(k).permutation(48)[:17] for k in range(3)])
    for budget in (2**26, 3 * 2 * 15 * 4 * 5):  # all rows in one call; 5 rows a call
        monkeypatch.setattr(evaluation, "_MEMBER_BATCH_BYTES", budget)
        for r in (None, rows):
            found = evaluation.evaluate_members(PLAIN, params, X, T, r)
            for k in range(3):
                member = jax.tree.map(lambda a: a[k], params)  # noqa: B023
                x, t = (X, T) if r is None else (X[r[k]], T[r[k]])
                expected = evaluate(PLAIN, member, x, t)
                np.testing.assert_allclose(found["loss"][k], expected["loss"], rtol=1e-6)
                assert found["accuracy"][k] == expected["accuracy"]
    regression = MLP((4, 3, 3), "tanh", "identity", "sse")
    params = jax.vmap(regression.init)(jax.random.split(jax.random.key(0), 2))
    assert evaluation.evaluate_members(regression, params, X, T)["accuracy"] is None


@pytest.mark.slow
def test_grid_records_write_as_csv_and_jsonl_and_summarize_per_point(tmp_path):
    config = TrainConfig(epochs=5, batch_size="full")
    grid = {"lr": [0.5, 50.0], "momentum": [0.0, 0.9]}
    records = search.grid_search(
        XOR.replace(init=None), XOR_X, XOR_T, Optimizer("sgd"), config, grid, seeds=[0, 1, 2]
    )
    assert len(records) == 12 and {r["fold"] for r in records} == {None}
    rows = search.summarize(records)
    assert [(r["lr"], r["momentum"], r["n"]) for r in rows] == [
        (0.5, 0.0, 3),
        (0.5, 0.9, 3),
        (50.0, 0.0, 3),
        (50.0, 0.9, 3),
    ]
    point = [r["train_loss"] for r in records if (r["lr"], r["momentum"]) == (0.5, 0.9)]
    np.testing.assert_allclose(rows[1]["train_loss_mean"], np.mean(point))
    np.testing.assert_allclose(rows[1]["train_loss_std"], np.std(point, ddof=1))
    csv_path = search.write_records(records, tmp_path / "members.csv")
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("member,seed,lr,momentum,epochs") and len(lines) == 13
    jsonl = search.write_records(records, tmp_path / "members.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in jsonl] == records
    with pytest.raises(ValueError, match=r"\.csv or \.jsonl"):
        search.write_records(records, tmp_path / "members.json")


def test_search_records_with_numpy_numbers_write_as_python_ones(tmp_path):
    """NumPy scalars are numbers as Python's are: non-finite ones "nan"/"inf"/"-inf"
    (numeric.for_json), others JSON."""
    records = [{"a": np.float32("nan"), "b": np.float64(1.5), "c": np.int64(3), "d": -math.inf}]
    jsonl = search.write_records(records, tmp_path / "r.jsonl").read_text()
    assert json.loads(jsonl) == {"a": "nan", "b": 1.5, "c": 3, "d": "-inf"}
    lines = search.write_records(records, tmp_path / "r.csv").read_text().splitlines()
    assert lines == ["a,b,c,d", "nan,1.5,3,-inf"]
    assert search.summarize([]) == []


def test_search_folds_accept_numpy_integers_and_refuse_bad_grids_and_folds():
    train_rows, val_rows = search.kfold_rows(10, np.int64(3))
    assert train_rows.shape == (3, 6) and val_rows.shape == (3, 3)
    with pytest.raises(ValueError, match="folds must be an integer"):
        search.kfold_rows(10, True)
    config = TrainConfig(epochs=1)
    for grid, folds, shown in [
        ({"lr": 0.1}, None, "grid['lr'] must be a non-empty list of numbers, got 0.1"),
        ({"lr": "0.1"}, None, "grid['lr'] must be a non-empty list of numbers, got '0.1'"),
        ({"lr": []}, None, "grid['lr'] must be a non-empty list of numbers, got []"),
        ({"lr": [0.1]}, 0, "folds must be an integer >= 2 or None, got 0"),
        ({"lr": [0.1]}, 1.5, "folds must be an integer >= 2 or None, got 1.5"),
    ]:
        with pytest.raises(ValueError) as info:
            search.grid_search(XOR, XOR_X, XOR_T, Optimizer("sgd"), config, grid, folds=folds)
        assert shown in str(info.value)
    for seeds in (3, []):  # 3 was a TypeError inside plan
        with pytest.raises(ValueError, match="seeds must be a non-empty list of integer seeds"):
            search.grid_search(
                XOR, XOR_X, XOR_T, Optimizer("sgd"), config, {"lr": [0.1]}, seeds=seeds
            )


# -- members over devices ----------------------------------------------------------------------

SHARDED = """
import json, sys
import jax, numpy as np
sys.path.insert(0, "tests")
from test_population import NET, X, T, X_VAL, T_VAL, leaves
from jaxmlp import Optimizer, TrainConfig, fit_population
config = TrainConfig(epochs=6, batch_size=8, early_stopping=3)
VAL = dict(x_val=X_VAL, t_val=T_VAL)
args = dict(seeds=list(range(16)), hyper={"lr": list(np.linspace(0.01, 0.2, 16))},
            x_val=X_VAL, t_val=T_VAL)
one = fit_population(NET, X, T, Optimizer("adam"), config, **args)
eight = fit_population(NET, X, T, Optimizer("adam"), config, devices=8, **args)
try:
    fit_population(NET, X, T, Optimizer("adam"), config, devices=8, seeds=[0] * 12, **VAL)
    refused = ""
except ValueError as error:
    refused = str(error)
def error(a, b):
    return max(float(np.nanmax(np.abs(u - v)) / np.nanmax(np.abs(v))) for u, v in zip(a, b))
facts = ("seed", "lr", "epochs", "stopped_epoch", "diverged_epoch")
untimed = lambda pop: [{k: r[k] for k in facts} for r in pop.members]
print(json.dumps({
    "devices": len(jax.devices()),
    "params_error": error(leaves(eight.params), leaves(one.params)),
    "history_error": error(eight.history.values(), one.history.values()),
    "records_equal": untimed(one) == untimed(eight),
    "spread": len(eight.params[0]["w"].sharding.device_set),
    "refused": refused,
}))
"""


@pytest.mark.slow
def test_members_sharded_over_8_devices_give_the_runs_of_one_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8")
    done = subprocess.run(
        [sys.executable, "-c", SHARDED], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.splitlines()[-1])
    assert out["devices"] == 8 and out["spread"] == 8
    assert out["params_error"] <= 1e-5 and out["history_error"] <= 1e-5  # RTOL's bound
    assert out["records_equal"] and "do not divide over 8 devices" in out["refused"]


CHUNKS = """
import sys
sys.path.insert(0, "tests")
from test_population import XOR, XOR_X, XOR_T
from jaxmlp import Optimizer, TrainConfig, fit_population
config = TrainConfig(epochs=2, batch_size="full")
fit = lambda **kw: fit_population(XOR, XOR_X, XOR_T, Optimizer("sgd"), config, devices=2, **kw)
pop = fit(seeds=range(6), chunk=4)
print(len(pop.members))
for p, chunk in ((5, 4), (6, 3), (5, None)):
    try:
        fit(seeds=range(p), chunk=chunk)
        print("trained")
    except ValueError as error:
        print(error)
"""


@pytest.mark.slow
def test_every_chunk_of_members_must_divide_over_the_devices_before_any_trains():
    """A short last chunk (5 members in chunks of 4) is refused up front, as an uneven whole
    population is, not in jax after the first chunks trained."""
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2")
    done = subprocess.run(
        [sys.executable, "-c", CHUNKS], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == [
        "6",
        "5 members in chunks of 4 (the last of 1) do not divide over 2 devices: use multiples "
        "of 2.",
        "6 members in chunks of 3 do not divide over 2 devices: use multiples of 2.",
        "5 members do not divide over 2 devices: use multiples of 2.",
    ]


@pytest.mark.parametrize(
    "init", [None, "uniform:0,1", "normal:0.01", "he_normal", "glorot_uniform"]
)
@pytest.mark.slow
def test_members_start_from_their_solo_fits_initial_parameters_bit_for_bit(init):
    """What is exact: member k's initial parameters are the ones ``fit`` draws for its seed."""
    from jaxmlp import member_start, train

    net = MLP((5, 7, 3), "prelu", "softmax", "cross_entropy", init=init)
    config = TrainConfig(epochs=1)
    spec, _ = train.step_spec(Optimizer(), config, 1)
    seeds = [0, 3, 2**31 + 5]  # the last: a seed past int32
    carry = member_start.carry(
        net, spec, config, member_start.keys(seeds), None, None, slice(None), np.float32
    )
    for k, seed in enumerate(seeds):
        solo = net.init(jax.random.fold_in(jax.random.key(seed), train._INIT_STREAM))
        for u, v in zip(leaves(solo), leaves(carry.params), strict=True):
            np.testing.assert_array_equal(u, v[k])


def test_init_scale_scales_weights_and_biases_not_a_learnable_slope():
    """``init_scale`` multiplies the initial weights and biases, drawn or given; a learnable
    activation's alpha (PReLU's slope, 0.25, whose spec keeps it in [0, 1]) starts where its
    spec says, else init_scale 3 would start a slope of 0.75, another activation."""
    from jaxmlp import member_start, train

    net = MLP((2, 3, 1), "prelu", "sigmoid", "bce")
    config = TrainConfig(epochs=1)
    spec, _ = train.step_spec(Optimizer(), config, 1)
    keys, scale = member_start.keys([4, 4]), np.array([1.0, 3.0])
    drawn = member_start.carry(net, spec, config, keys, scale, None, slice(None), np.float32)
    given = jax.tree.map(lambda a: np.stack([a, a]), net.init(jax.random.key(1)))
    kept = member_start.carry(net, spec, config, keys, scale, given, slice(None), np.float32)
    for carry in (drawn, kept):
        first, hidden = carry.params[1], carry.params[0]
        np.testing.assert_array_equal(hidden["alpha"], np.full((2, 3), 0.25, np.float32))
        for layer in (hidden, first):
            for name in ("w", "b"):
                np.testing.assert_allclose(layer[name][1], 3 * layer[name][0], rtol=1e-6)


def test_members_keys_follow_the_prng_in_use_as_fits_do():
    """The members' keys are ``jax.random.key(seed)`` under the PRNG in use, also after the
    compiled keys of another one."""
    from jaxmlp import member_start

    member_start.keys([0, 5])
    with jax.default_prng_impl("rbg"):
        keys = member_start.keys([0, 5])
        assert keys.dtype == jax.random.key(5).dtype
        data = jax.random.key_data
        np.testing.assert_array_equal(data(keys[1]), data(jax.random.key(5)))


@pytest.mark.slow
def test_parameters_given_as_jax_arrays_stay_the_callers():
    """The run donates its carry: given parameters are copied into it, in any chunk."""
    params = jax.tree.map(lambda a: jax.numpy.stack([a, 2 * a]), XOR.init(jax.random.key(0)))
    before = [np.array(a) for a in jax.tree.leaves(params)]
    config = TrainConfig(epochs=3, batch_size="full")
    for chunk in (None, 1):
        fit_population(XOR, XOR_X, XOR_T, Optimizer("sgd"), config, seeds=[0, 1], params=params,
                       chunk=chunk)  # fmt: skip
        for u, v in zip(jax.tree.leaves(params), before, strict=True):
            assert not u.is_deleted()
            np.testing.assert_array_equal(u + 0, v)  # an op, not NumPy's cached copy


def test_a_call_runs_whole_groups_of_a_few_epochs():
    """A population's call is a multiple of the few epochs its fast path runs at a time (64
    without validation: 8 bytes a member-epoch in 512), so that no call of a prime number of
    epochs runs them one at a time; a run of one call stays one call (one compilation)."""
    for members, epochs, has_val in [(1000, 5000, False), (100, 5000, False), (3, 37, True)]:
        k = mep.member_epochs_per_call(XOR, 4, epochs, members, has_val)
        unfused = ep.epochs_per_call(XOR, 4, epochs, 4 * (4 if has_val else 2) * members, members)
        few = 32 if has_val else 64
        assert k == unfused or (k % few == 0 and unfused - few < k <= unfused), (members, k)
    assert mep.member_epochs_per_call(XOR, 4, 5000, 1000, False) == 640  # was 641, a prime
    assert mep.member_epochs_per_call(XOR, 4, 37, 3, True) == 37
    assert mep.member_epochs_per_call(XOR, 4, 10**6, 3, True) % 32 == 0


@pytest.mark.parametrize(
    "refused", [set(mep._TINY_MEMBER_OPTIONS), {"xla_cpu_use_fusion_emitters"}]
)
def test_tiny_members_compile_without_xla_options_an_older_xla_lacks(monkeypatch, refused):
    """The tiny members' compiler options are probed once each: an XLA that refuses one
    compiles the population without it (a RuntimeError there, not a failed fit)."""
    real_jit = jax.jit

    def refusing_jit(f, **kwargs):
        if refused & set(kwargs.get("compiler_options") or ()):
            raise RuntimeError("INVALID_ARGUMENT: No such compile option")
        return real_jit(f, **kwargs)

    mep._tiny_member_options.cache_clear()
    try:
        monkeypatch.setattr(mep.jax, "jit", refusing_jit)
        kept = {k: v for k, v in mep._TINY_MEMBER_OPTIONS.items() if k not in refused}
        assert mep._tiny_member_options() == (kept if jax.default_backend() == "cpu" else {})
    finally:
        monkeypatch.undo()
        mep._tiny_member_options.cache_clear()
    if jax.default_backend() == "cpu":
        assert mep._tiny_member_options() == mep._TINY_MEMBER_OPTIONS


def _brittle(z):
    return jnp.where(jnp.abs(z) < 2, z, 0.0).astype(z.dtype)


def _brittle_grad(z):
    return jnp.where(jnp.abs(z) < 2, 1.0, jnp.nan).astype(z.dtype)


@pytest.fixture
def brittle():
    """The identity for |z| < 2, else 0 with a NaN derivative: a step there has a finite loss
    and a non-finite gradient, and NaN parameters before it give a finite loss (NaN < 2 is
    false): only the gradients or the parameters show the break. (The same functions each
    time: registering them again drops no compiled program.)"""
    from jaxmlp import activations

    yield activations.register("brittle_for_tests", _brittle, _brittle_grad).name
    activations.unregister("brittle_for_tests")


@pytest.mark.slow
@pytest.mark.parametrize("name, lrs", [("sgd", [0.1, 0.15]), ("adam", [0.03, 0.08])])
def test_a_member_whose_gradient_alone_goes_non_finite_stops_where_its_solo_fit_does(
    brittle, name, lrs
):
    """The unguarded epochs of a population note non-finite losses only: a non-finite gradient
    shows in the parameters it reaches. The member whose derivative breaks (its loss finite,
    see ``brittle``) still stops at its solo fit's epoch and step, with its last good
    parameters; the other goes on as its solo fit does."""
    x, t = regression()
    net = MLP((3, 8, 2), brittle, "identity", "sse", reduction="sum", init="uniform:-0.5,0.5")
    config = TrainConfig(epochs=40, batch_size=8, seed=0)
    t = 0.2 * t  # reachable with |z| < 2: only the larger learning rate breaks the derivative
    pop = fit_population(net, x, t, Optimizer(name), config, hyper={"lr": lrs}, seeds=[0, 0])
    with pytest.raises(Diverged) as info:
        fit(net, x, t, Optimizer(name, lr=lrs[1]), config)
    record = pop.members[1]
    assert (record["diverged_epoch"], record["diverged_step"]) == (
        info.value.epoch,
        info.value.step,
    )
    assert close(pop.member(1).params, info.value.state.params)
    solo = fit(net, x, t, Optimizer(name, lr=lrs[0]), config)
    assert pop.members[0]["diverged_epoch"] is None and close(pop.member(0).params, solo.params)


@pytest.mark.parametrize(
    "net, optimizer, batch_size, shown",
    [
        (XOR, "newton-cg", 2, "'newton-cg' is a full-batch method"),  # its loss rose
        (XOR.replace(dropout=0.5), "lbfgs", "full", "'lbfgs' needs dropout=0"),
        (MLP((2, 3, 1), "tanh", "sigmoid", "bce"), "lm", "full", "'lm' needs loss in"),
    ],
)
def test_a_population_refuses_what_a_curvature_solver_cannot_run_as_fit_does(
    net, optimizer, batch_size, shown
):
    """fit_population skipped fit's ``second_order.check``: newton-cg trained on mini-batches
    (one member's loss rose, 0.689 -> 0.715), dropout and lm on bce were accepted."""
    config = TrainConfig(epochs=1, batch_size=batch_size)
    for train in (fit, functools.partial(fit_population, seeds=[0, 1])):
        with pytest.raises(ValueError, match=shown):
            train(net, XOR_X, XOR_T, Optimizer(optimizer), config)


@pytest.mark.slow
@pytest.mark.parametrize("restore_best", [True, False])
def test_a_members_record_gives_the_metrics_of_the_parameters_it_returns(restore_best):
    """With restore-best a member returns its best epoch's parameters, but its record gave the
    last epoch's val_loss and val_accuracy (seed 0 below: 0.130 and 0.906 at its stopping
    epoch 18, where the parameters it returns have 0.110 and 0.9375), which a search reads as
    the returned model's. Now a record names its ``params_epoch`` and gives that epoch's
    metrics: its validation ones are those of the parameters it returns."""
    from jaxmlp import evaluate

    x, t = blobs(96)
    val = {"x_val": x[64:], "t_val": t[64:]}
    config = TrainConfig(epochs=300, batch_size=8, early_stopping=5, restore_best=restore_best)
    pop = fit_population(PLAIN, x[:64], t[:64], Optimizer("adam", lr=0.05), config,
                         seeds=[0, 1, 2], **val)  # fmt: skip
    moved = 0
    for k, record in enumerate(pop.members):
        assert record["stopped_epoch"] == record["epochs"] < 300  # each ran out of patience
        at = record["epochs"] - 5 if restore_best else record["epochs"]
        assert record["params_epoch"] == at
        member = pop.member(k)
        returned = evaluate(PLAIN, member.params, val["x_val"], val["t_val"])
        np.testing.assert_allclose(record["val_loss"], returned["loss"], rtol=1e-5)
        assert record["val_accuracy"] == returned["accuracy"]
        for name in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
            assert record[name] == member.history[at - 1][name], name
        if restore_best:
            assert record["val_loss"] == record["best_val_loss"]
        moved += member.history[-1]["val_loss"] != record["val_loss"]
    assert moved == (3 if restore_best else 0)


@pytest.mark.slow
def test_a_float32_population_trains_the_same_bits_whatever_jax_enable_x64_says():
    """As ``fit`` (test_train.py): a float32 population computes with x64 off whatever the
    process's mode. (Regression: its Adam members ended 5e-6 apart with x64 on.)"""
    optimizer, config = Optimizer("adam", lr=0.05), TrainConfig(epochs=5, batch_size=16)
    off = fit_population(PLAIN, X, T, optimizer, config, seeds=[0, 1])
    with jax.enable_x64(True):
        on = fit_population(PLAIN, X, T, optimizer, config, seeds=[0, 1])
    for a, b in zip(leaves(on.params), leaves(off.params), strict=True):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_array_equal(a, b)
