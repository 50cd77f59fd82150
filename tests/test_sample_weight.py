"""Every example in every epoch, and sample weights (issue 19): the last, short mini-batch is
trained on (padded with rows of weight 0), ``drop_last=True`` keeps the old epochs, and
``fit(..., sample_weight=s)`` weighs the cost by the same rule, ``reduction.reduce``: its hand
gradient proven against ``jax.grad`` of a weighted cost written out here, in float64, with a
mutation twin."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmlp import MLP, Optimizer, TrainConfig, evaluate, fit, losses, make_step
from jaxmlp import epochs as ep
from jaxmlp.step import gradient_source

NET = MLP((3, 6, 2), "tanh", "softmax", "cross_entropy")
ADAM = Optimizer("adam", lr=0.05)


def data(n=21, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, (x[:, 0] * x[:, 1] > 0).astype(np.int32)


def leaves(tree):
    return [np.asarray(a) for a in jax.tree.leaves(tree)]


def gap(a, b):
    return max(float(np.max(np.abs(u - v))) for u, v in zip(leaves(a), leaves(b), strict=True))


# -- every example, every epoch --------------------------------------------------------------


@pytest.mark.slow
def test_an_example_only_in_the_short_last_batch_moves_the_parameters():
    """5 examples in batches of 2, one epoch: whichever example the shuffle leaves for the
    short last batch, changing its target changes the trained parameters. (Before, that one
    example was dropped: its target changed nothing.) With ``drop_last`` one of them does not."""
    x, t = data(5)
    params = NET.init(jax.random.key(0))

    def moved(drop_last):
        config = TrainConfig(epochs=1, batch_size=2, drop_last=drop_last)
        base = fit(NET, x, t, ADAM, config, params=params).params
        flipped = [np.where(np.arange(5) == i, 1 - t, t) for i in range(5)]
        return [gap(fit(NET, x, f, ADAM, config, params=params).params, base) > 0 for f in flipped]

    assert all(moved(False))
    assert moved(True).count(False) == 1


@pytest.mark.slow
def test_the_short_last_batch_is_a_smaller_batch_as_in_scikit_learn():
    """The padded step equals ``make_step`` on the short batch alone (shape 5, not 8): 21
    examples in batches of 8 are steps of 8, 8 and 5, over fit's permutation."""
    x, t = data(21)
    config = TrainConfig(epochs=3, batch_size=8, seed=4)
    params = NET.init(jax.random.key(1))
    result = fit(NET, x, t, ADAM, config, params=params)
    tx = ADAM.build(3 * 3)
    step = jax.jit(make_step(NET, tx))
    p, opt_state = params, tx.init(params)
    t1 = jax.nn.one_hot(t, 2)
    losses_ = []
    for e in range(3):
        perm_key, _ = jax.random.split(jax.random.fold_in(jax.random.key(4), e))
        order = np.asarray(jax.random.permutation(perm_key, 21))
        step_losses = []
        for i in range(3):
            idx = order[8 * i : 8 * i + 8]
            p, opt_state, m = step(p, opt_state, x[idx], t1[idx])
            step_losses.append(float(m["loss"]) * len(idx))
        losses_.append(sum(step_losses) / 21)
    assert gap(result.params, p) < 1e-6
    np.testing.assert_allclose([r["train_loss"] for r in result.history], losses_, rtol=1e-5)
    counts = {int(c) for c in jax.tree.leaves(result.state.opt_state) if np.ndim(c) == 0}
    assert 9 in counts  # 3 steps an epoch


def test_drop_last_takes_whole_batches_only_and_full_batch_needs_no_padding():
    assert [ep.steps_per_epoch(21, 8, d) for d in (False, True)] == [3, 2]
    order, weights = ep.batches(jax.random.key(0), 21, 8, drop_last=False)
    assert order.shape == (3, 8) and sorted(np.asarray(order).ravel()[:21]) == list(range(21))
    np.testing.assert_array_equal(np.asarray(weights).sum(axis=1), [8, 8, 5])
    assert ep.batches(jax.random.key(0), 21, 8, drop_last=True)[1] is None
    assert ep.batches(None, 21, 21, drop_last=False)[1] is None  # full batch: unweighted


@pytest.mark.slow
def test_streaming_a_short_last_batch_equals_the_on_device_run_bitwise():
    x, t = data(21)
    on_device = fit(NET, x, t, ADAM, TrainConfig(epochs=3, batch_size=8))
    streamed = fit(NET, x, t, ADAM, TrainConfig(epochs=3, batch_size=8, chunk_steps=2))
    assert gap(on_device.params, streamed.params) == 0
    s = np.arange(21) % 4
    on_device = fit(NET, x, t, ADAM, TrainConfig(epochs=3, batch_size=8), sample_weight=s)
    cfg = TrainConfig(epochs=3, batch_size=8, chunk_steps=2)
    assert gap(on_device.params, fit(NET, x, t, ADAM, cfg, sample_weight=s).params) == 0


# -- the weighted cost and its hand gradient ---------------------------------------------------

PAIRS = [
    ("softmax", "cross_entropy"),
    ("sigmoid", "bce"),
    ("identity", "sse"),
    ("identity", "huber"),
    ("tanh", "mse"),
]


def weighted_cost(net, params, x, t, s):
    """The weighted cost written out: sum_i s_i l_i, over sum_i s_i for a mean."""
    y = net.apply(params, x)
    per_example = losses.get(net.loss).fn(y, t)
    total = jnp.sum(s * per_example)
    return total / jnp.sum(s) if net.reduction == "mean" else total


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("output, loss", PAIRS)
@pytest.mark.slow
def test_weighted_hand_gradient_equals_jax_grad_float64_and_a_1_percent_error_is_caught(
    output, loss, reduction
):
    with jax.enable_x64(True):
        net = MLP((3, 5, 4, 2), "tanh", output, loss, reduction=reduction)
        rng = np.random.default_rng(0)
        params = jax.tree.map(lambda a: 0.8 * a, net.init(jax.random.key(2), jnp.float64))
        x = jnp.asarray(rng.normal(size=(7, 3)))
        t = jnp.asarray(rng.uniform(0.1, 0.9, (7, 2)))
        s = jnp.asarray([0.0, 1.0, 2.5, 0.3, 0.0, 4.0, 1.0])
        auto = jax.grad(weighted_cost, argnums=1)(net, params, x, t, s)
        cost, _, hand = gradient_source(net, "hand")(params, x, t, None, s)
        scale = max(float(jnp.max(jnp.abs(a))) for a in jax.tree.leaves(auto))
        err = gap(hand, auto) / scale
        assert err < 1e-12
        assert float(cost) == pytest.approx(float(weighted_cost(net, params, x, t, s)), rel=1e-12)
        # mutation twin: one example's weight 1 % off in the delta is caught
        s_off = s.at[2].multiply(1.01)
        _, _, off = gradient_source(net, "hand")(params, x, t, None, s_off)
        off_err = gap(off, auto) / scale
        assert off_err > 1e3 * max(err, 1e-15)
        # and the unweighted gradient is not the weighted one
        _, _, plain = gradient_source(net, "hand")(params, x, t)
        assert gap(plain, auto) / scale > 1e-3


@pytest.mark.slow
def test_the_hand_cost_custom_vjp_takes_weights():
    with jax.enable_x64(True):
        net = MLP((3, 4, 2), "tanh", "softmax", "cross_entropy")
        params = net.init(jax.random.key(0), jnp.float64)
        x, t = jnp.asarray(data(6)[0], jnp.float64), jnp.asarray(data(6)[1])
        s = jnp.arange(6.0)
        t1 = jax.nn.one_hot(t, 2, dtype=jnp.float64)
        from jaxmlp import backprop

        got = jax.grad(lambda p: backprop.hand_cost(net, p, x, t1, s))(params)
        want = jax.grad(weighted_cost, argnums=1)(net, params, x, t1, s)
        assert gap(got, want) < 1e-12


# -- weights in fit ----------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.slow
def test_integer_weights_equal_repeated_rows_full_batch(reduction):
    """Full batch: weight k on a row is the row repeated k times (weight 0: left out), to
    float rounding."""
    net = NET.replace(reduction=reduction)
    x, t = data(12)
    s = np.array([0, 1, 2, 3, 1, 1, 0, 2, 1, 1, 4, 1])
    config = TrainConfig(epochs=30, batch_size="full")
    params = net.init(jax.random.key(3))
    weighted = fit(net, x, t, ADAM, config, params=params, sample_weight=s)
    rows = np.repeat(np.arange(12), s)
    repeated = fit(net, x[rows], t[rows], ADAM, config, params=params)
    assert gap(weighted.params, repeated.params) < 1e-5
    a = [r["train_loss"] for r in weighted.history]
    np.testing.assert_allclose(a, [r["train_loss"] for r in repeated.history], rtol=1e-5)
    np.testing.assert_allclose(
        [r["train_accuracy"] for r in weighted.history],
        [r["train_accuracy"] for r in repeated.history],
    )


@pytest.mark.slow
def test_weights_travel_through_the_validation_split_and_weigh_its_scores():
    x, t = data(40)
    s = np.linspace(0.1, 2.0, 40)
    config = TrainConfig(epochs=4, batch_size=8, val_fraction=0.25, seed=1)
    result = fit(NET, x, t, ADAM, config, sample_weight=s)
    from jaxmlp import datasets

    rows_tr, _, rows_va, _ = datasets.validation_split(np.arange(40), t, 0.25, 1)
    want = evaluate(NET, result.params, x[rows_va], t[rows_va], sample_weight=s[rows_va])
    last = result.history[-1]
    assert last["val_loss"] == pytest.approx(want["loss"], rel=1e-5)
    assert last["val_accuracy"] == pytest.approx(want["accuracy"], rel=1e-6)
    explicit = fit(
        NET, x[rows_tr], t[rows_tr], ADAM, TrainConfig(epochs=4, batch_size=8, seed=1),
        sample_weight=s[rows_tr],
    )  # fmt: skip
    assert gap(result.params, explicit.params) == 0
    plain = fit(NET, x, t, ADAM, config)
    assert gap(result.params, plain.params) > 1e-4


@pytest.mark.parametrize(
    "s, named",
    [
        (np.ones(5), "shape"),
        (np.ones((21, 1)), "shape"),
        (np.r_[np.ones(20), np.nan], "NaN or Inf"),
        (np.r_[np.ones(20), np.inf], "NaN or Inf"),
        (np.r_[np.ones(20), -1.0], ">= 0"),
        (np.zeros(21), "all zero"),
        ("heavy", "numbers"),
        # failed before: text weights were cast by Python's float(), '1_000' as 1000
        (np.array(["1_000"] + ["1"] * 20), r"numbers, got '1_000' at index \(0,\)"),
        (np.array([1.0, None] + [1.0] * 19, object), r"numbers, got None at index \(1,\)"),
    ],
    ids=["short", "2-d", "nan", "inf", "negative", "all-zero", "text", "digit-groups", "none"],
)
def test_bad_sample_weights_are_a_value_error_naming_the_problem(s, named):
    x, t = data(21)
    with pytest.raises(ValueError, match=named):
        fit(NET, x, t, ADAM, TrainConfig(epochs=1), sample_weight=s)


@pytest.mark.parametrize(
    "s",
    [np.full(21, 1e-39), np.r_[np.ones(20), 1e-40], np.full(21, 1e-46), np.full(21, 1e38),
     np.r_[np.ones(20), 1e39]],
    ids=["subnormal", "one-subnormal", "zero-in-float32", "total-overflows", "overflows"],
)  # fmt: skip
def test_weights_outside_the_storage_dtypes_range_are_refused_naming_it(s):
    """Regression: weights were checked in float64, then stored in float32: ~1e-39 flushed to
    0 (nothing trained, a loss of 0.0, accuracy NaN, no error), 1e38 overflowed the batch's
    total (a Diverged "try a lower learning rate"). evaluate's weights likewise."""
    x, t = data(21)
    shown = r"sample_weight.*float32.*\[1\.175e-38, 3\.403e\+38\].*rescale"
    with pytest.raises(ValueError, match=shown):
        fit(NET, x, t, ADAM, TrainConfig(epochs=1), sample_weight=s)
    with pytest.raises(ValueError, match=shown):
        evaluate(NET, NET.init(jax.random.key(0)), x, t, sample_weight=s)


@pytest.mark.slow
def test_weights_in_the_range_of_a_float64_run_train_it():
    """The range is the run's storage dtype's: float64 takes weights of 1e-39."""
    x, t = data(21)
    with jax.enable_x64(True):
        config = TrainConfig(epochs=1, batch_size=8, dtype="float64")
        params = jax.tree.map(lambda a: np.asarray(a, np.float64), NET.init(jax.random.key(0)))
        result = fit(NET, x, t, ADAM, config, params=params, sample_weight=np.full(21, 1e-39))
        assert gap(result.params, params) > 1e-3 and result.history[0]["train_loss"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("drop_last", [False, True])
def test_population_members_with_a_short_last_batch_equal_their_solo_fits(drop_last):
    """fit_population runs the same epochs: each member of a 21-example, batch-8 population
    (3 steps, the last of 5; or 2 with ``drop_last``) is its solo fit, to float32 rounding."""
    from jaxmlp import fit_population

    x, t = data(21)
    config = TrainConfig(epochs=4, batch_size=8, drop_last=drop_last)
    pop = fit_population(NET, x, t, ADAM, config, seeds=[1, 2])
    for k, seed in enumerate([1, 2]):
        solo = fit(NET, x, t, ADAM, TrainConfig(epochs=4, batch_size=8, seed=seed,
                                                drop_last=drop_last))  # fmt: skip
        assert gap(pop.member(k).params, solo.params) < 1e-5
        np.testing.assert_allclose(
            [r["train_loss"] for r in pop.member(k).history],
            [r["train_loss"] for r in solo.history],
            rtol=1e-5,
        )


@pytest.mark.parametrize("method", ["cost", "hand_cost"])
def test_the_public_costs_refuse_weights_that_do_not_fit_the_examples(method):
    """``MLP.cost`` and ``MLP.hand_cost`` take weights as ``fit`` does, one finite weight >= 0
    per example: a (1,) or (n, 1) array broadcast over the examples gave the mean cost times n
    (sum l_i s_0 / s_0) with exit 0; a negative weight was taken as given."""
    x, t = data(21)
    params = NET.init(jax.random.key(0))
    cost = getattr(NET, method)
    bad = [(np.ones(1), "shape"), (np.ones((21, 1)), "shape"), (np.r_[np.ones(20), -1.0], ">= 0")]
    for s, named in bad:
        with pytest.raises(ValueError, match=named):
            cost(params, x, t, sample_weight=jnp.asarray(s, jnp.float32))
    with pytest.raises(ValueError, match="shape"):  # inside jit, where only the shape is known
        jax.jit(lambda p: cost(p, x, t, sample_weight=jnp.ones(1)))(params)


@pytest.mark.parametrize("method", ["cost", "hand_cost", "grad"])
def test_the_public_costs_take_weights_as_numbers_the_cost_can_hold(method):
    """``MLP.cost`` and ``MLP.hand_cost`` took weights that were no real numbers or that the
    dtype the cost sums in cannot hold: complex weights lost their imaginary part silently, a
    weight of 1e300 (a float64 array, float32 net) became inf and the cost NaN, exit 0, and a
    list of numbers or an array of strings was an AttributeError or NumPy's TypeError deep
    inside. Now a list is its array, and the others are ValueErrors naming the weights."""
    x, t = data(4)
    params = NET.init(jax.random.key(0))
    cost = {  # the gradient: the weighted output delta, reduction.reduced
        "grad": lambda p, x, t, sample_weight: jax.grad(NET.hand_cost)(
            p, x, t, sample_weight=sample_weight
        )[1]["b"],
    }.get(method) or getattr(NET, method)
    ones = [1.0, 2.0, 1.0, 0.5]
    np.testing.assert_array_equal(
        cost(params, x, t, sample_weight=ones), cost(params, x, t, sample_weight=np.array(ones))
    )
    bad = [
        (np.array([1 + 1j, 2, 1, 1]), "sample_weight must be real numbers, got dtype complex"),
        (np.array(["1", "2", "1", "1"]), "sample_weight must be real numbers, got dtype <U1"),
        (np.array([None, 1.0, 1, 1]), "sample_weight must be real numbers, got dtype object"),
        (np.array([1.0, 1e300, 1, 1]), r"holds 1e\+300, outside the range of float32"),
        (np.array([1.0, 1e-300, 1, 1]), r"holds 1e-300, outside the range of float32"),
        (np.full(4, 1e38), r"sample_weight sums to 4e\+38, outside the range of float32"),
    ]
    for s, message in bad:
        with pytest.raises(ValueError, match=message):
            cost(params, x, t, sample_weight=s)


@pytest.mark.parametrize("side", ["validation", "training"])
def test_a_split_that_leaves_one_side_without_weight_is_refused(side):
    """``val_fraction``'s split can put only weight-0 rows on one side: the validation loss was
    then 0.0 every epoch (and its accuracy NaN), so early stopping stopped after its patience
    and returned the first epoch's parameters, exit 0; a weightless training side trains
    nothing. Both are refused, naming the side."""
    from jaxmlp import datasets

    x, t = data(40)
    _, _, rows_va, _ = datasets.validation_split(np.arange(40), t, 0.25, 0)
    in_val = np.isin(np.arange(40), rows_va)
    s = np.where(in_val, 0.0, 1.0) if side == "validation" else np.where(in_val, 1.0, 0.0)
    config = TrainConfig(epochs=8, batch_size=8, val_fraction=0.25, early_stopping=2)
    with pytest.raises(ValueError, match=f"{side} split"):
        fit(NET, x, t, ADAM, config, sample_weight=s)


def test_drop_last_that_could_leave_out_every_weighted_example_is_refused():
    """Regression: 1 of 5 examples weighted, batches of 2 with ``drop_last`` (1 left out each
    epoch): the epochs that dropped it trained on no weight and reported train_loss 0.0 (a
    perfect-looking number for 0 / 0) and train_accuracy NaN, with NumPy's 'invalid value'
    warning. Where the weighted examples are no more than those left out, fit refuses, naming
    both counts; one more weighted example trains."""
    x = np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)
    y = np.array([0, 1, 0, 1, 0])
    net = MLP((2, 3, 2), "tanh", "softmax", "cross_entropy")
    config = TrainConfig(epochs=6, batch_size=2, drop_last=True)
    with pytest.raises(ValueError, match=r"1 training example.*drop_last leaves out 1 \(5 mod"):
        fit(net, x, y, Optimizer("sgd", lr=0.1), config, sample_weight=[1.0, 0, 0, 0, 0])
    result = fit(net, x, y, Optimizer("sgd", lr=0.1), config, sample_weight=[1.0, 0, 2, 0, 0])
    assert all(np.isfinite(r["train_accuracy"]) and r["train_loss"] > 0 for r in result.history)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_a_row_of_weight_0_whose_loss_overflows_contributes_nothing(reduction):
    """Regression: a weight of 0 that leaves an outlier out (a target of 1e200 in float64, whose
    squared error is inf) made the cost, its hand and autodiff gradients and ``evaluate``'s loss
    NaN (0 * inf), and ``fit`` raised Diverged (try a lower learning rate). A row of weight 0
    contributes nothing: all four equal the same without that row, in float64."""
    with jax.enable_x64(True):
        net = MLP((2, 4, 1), "tanh", "identity", "mse", reduction=reduction)
        params = net.init(jax.random.key(0), jnp.float64)
        rng = np.random.default_rng(0)
        x = rng.normal(size=(6, 2))
        t = 2 * x[:, :1]
        t[3] = 1e200
        s = np.array([1.0, 2.0, 0.5, 0.0, 1.0, 3.0])
        keep = s > 0
        want_cost = weighted_cost(net, params, x[keep], t[keep], s[keep])
        want = jax.grad(weighted_cost, argnums=1)(net, params, x[keep], t[keep], s[keep])
        scale = max(float(jnp.max(jnp.abs(a))) for a in jax.tree.leaves(want))
        assert float(net.cost(params, x, t, sample_weight=s)) == pytest.approx(float(want_cost))
        for backprop in ("hand", "autodiff"):
            cost, _, got = gradient_source(net, backprop)(params, x, t, None, jnp.asarray(s))
            assert float(cost) == pytest.approx(float(want_cost), rel=1e-12)
            assert gap(got, want) / scale < 1e-12
        # mutation twin: one kept row's weight 1 % off is caught by the same comparison
        s_off = jnp.asarray(s * [1.01, 1, 1, 1, 1, 1])
        _, _, off = gradient_source(net, "hand")(params, x, t, None, s_off)
        assert gap(off, want) / scale > 1e-4
        got = evaluate(net, params, x, t, sample_weight=s)["loss"]
        alone = evaluate(net, params, x[keep], t[keep], sample_weight=s[keep])["loss"]
        assert got == pytest.approx(alone)
        config = TrainConfig(epochs=2, batch_size="full", dtype="float64")
        sgd = Optimizer("sgd", lr=0.01)
        trained = fit(net, x, t, sgd, config, params=params, sample_weight=s)
        alone = fit(net, x[keep], t[keep], sgd, config, params=params, sample_weight=s[keep])
        assert gap(trained.params, alone.params) < 1e-12


def test_a_row_of_weight_0_whose_outputs_are_nan_leaves_evaluate_as_without_it():
    """Regression: a row left out by a weight of 0 whose outputs are NaN (inputs that overflow a
    relu layer) made ``evaluate``'s weighted accuracy NaN (and its loss, before the row's loss
    was left out too). Both now equal the scores without that row; a row that weighs, NaN,
    still makes them NaN."""
    x, t = data(6)
    net = MLP((3, 8, 2), "relu", "softmax", "cross_entropy")
    params = net.init(jax.random.key(1))
    x[2] = [3e38, -3e38, 3e38]
    assert np.isnan(np.asarray(net.apply(params, x))[2]).all()
    s = np.array([1.0, 1, 0, 1, 1, 1])
    keep = s > 0
    got = evaluate(net, params, x, t, sample_weight=s)
    assert got == pytest.approx(evaluate(net, params, x[keep], t[keep]))
    weighed = evaluate(net, params, x, t, sample_weight=np.ones(6))
    assert np.isnan(weighed["loss"]) and np.isnan(weighed["accuracy"])


@pytest.mark.parametrize("backprop", ["hand", "autodiff"])
def test_weights_times_a_power_of_two_train_as_the_weights_bit_for_bit(backprop):
    """The cost weighs by the ratios s_i / S: weights 2^123 times others (float32, a batch of 8:
    S = 2^126 fits float32, but XLA:CPU divides by S as a product with 1/S = 2^-126 / 8, below
    the smallest normal number, flushed to 0) trained nothing, every gradient 0."""
    x, labels = data(24)
    s = np.random.default_rng(1).uniform(0.5, 2.0, 24).astype(np.float32)
    config = TrainConfig(epochs=2, batch_size=8, backprop=backprop)
    runs = [fit(NET, x, labels, ADAM, config, sample_weight=w) for w in (s, s * 2.0**123)]
    for u, v in zip(leaves(runs[0].params), leaves(runs[1].params), strict=True):
        np.testing.assert_array_equal(u, v)
    losses_ = [[r["train_loss"] for r in run.history] for run in runs]
    assert losses_[0] == losses_[1]
