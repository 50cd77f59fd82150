"""Losses and outputs (issue 2): each per-example loss against its formula written in NumPy,
the cost of every valid (output, loss) pair and both reductions against a NumPy forward pass,
hand loss derivatives and output deltas against ``jax.grad``, the two logit-computed pairs at
logits of +-1e4, integer labels, and the pairing rules."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import xlogy

from jaxmlp import MLP, backprop, losses, outputs, reduction
from jaxmlp.gradient_matrix import valid_pairs

PAIRS = valid_pairs()


def numpy_loss(name: str, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The issue's per-example losses, (n,), for y and t of shape (n, K)."""
    r = y - t
    return {
        "sse": lambda: 0.5 * np.sum(r**2, -1),
        "mse": lambda: np.mean(r**2, -1),
        "mae": lambda: np.mean(np.abs(r), -1),
        "huber": lambda: np.mean(np.where(np.abs(r) <= 1, 0.5 * r**2, np.abs(r) - 0.5), -1),
        "bce": lambda: -np.sum(t * np.log(y) + (1 - t) * np.log(1 - y), -1),
        "cross_entropy": lambda: -np.sum(t * np.log(y), -1),
        "poisson": lambda: np.sum(xlogy(t, t / y) - t + y, -1),  # scikit-learn's poisson_loss
    }[name]()


def numpy_output(name: str, z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(-1, keepdims=True))
    return {
        "identity": z,
        "sigmoid": 1 / (1 + np.exp(-z)),
        "softmax": e / e.sum(-1, keepdims=True),
        "softmax:2.5": np.exp(2.5 * z) / np.exp(2.5 * z).sum(-1, keepdims=True),
        "tanh": np.tanh(z),
        "softplus": np.log1p(np.exp(z)),
        "relu": np.maximum(z, 0),
        "exp": np.exp(z),
        "threshold": 1 / (1 + np.exp(-z)),  # its forward is the sigmoid
    }[name]  # |z| < 10 here: no overflow


def targets(loss: str, rng, n: int, k: int, output: str = "") -> np.ndarray:
    if output == "threshold":
        return rng.choice([-1.0, 1.0], (n, k))  # its labels
    if loss == "cross_entropy":
        return np.eye(k)[rng.integers(0, k, n)]
    return rng.uniform(0.05, 0.95, (n, k))


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("name", losses.NAMES)
def test_per_example_loss_matches_its_formula_and_its_hand_derivative_matches_jax(name):
    rng = np.random.default_rng(0)
    y = rng.uniform(0.01, 0.99, (7, 3))
    t = targets(name, rng, 7, 3) if name != "huber" else rng.uniform(-2, 3, (7, 3))
    loss = losses.get(name)
    got = np.asarray(loss.fn(jnp.asarray(y), jnp.asarray(t)))
    assert got.shape == (7,)
    np.testing.assert_allclose(got, numpy_loss(name, y, t), rtol=1e-14)
    assert derivatives_agree_with_jax(loss, y, t)
    assert not derivatives_agree_with_jax(loss._replace(grad=off(loss.grad)), y, t)  # twins
    if name != "mae":  # (its d2l/dy2 is 0: nothing to be off)
        assert not derivatives_agree_with_jax(loss._replace(grad2=off(loss.grad2)), y, t)


def off(rule, factor=1.01):
    return lambda y, t: factor * rule(y, t)


def derivatives_agree_with_jax(loss, y, t) -> bool:
    """The hand dl/dy and d2l/dy2 (its diagonal) against jax.grad of ``loss.fn``, finite."""
    y, t = jnp.asarray(y), jnp.asarray(t)
    dl = jax.grad(lambda y_: jnp.sum(loss.fn(y_, t)))
    d2l = jax.grad(lambda y_: jnp.sum(dl(y_)))  # the Hessian is diagonal: its row sums
    pairs = [(loss.grad(y, t), dl(y)), (loss.grad2(y, t), d2l(y))]
    return all(
        np.all(np.isfinite(hand)) and np.allclose(hand, auto, rtol=1e-13, atol=1e-15)
        for hand, auto in pairs
    )


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("name", ["bce", "cross_entropy"])
def test_zero_log_zero_is_zero_where_the_output_has_saturated(name):
    """0 log 0 was NaN: y = 1 or 0 (a saturated softmax or sigmoid) where the term's coefficient
    t or 1 - t is 0 gave a NaN loss, gradient and curvature. Each is now its limit as y
    approaches the point, and jax.grad agrees."""
    loss = losses.get(name)
    y = np.array([[0.0, 1.0, 0.3], [1.0, 0.0, 0.7]])
    t = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]])  # only the third unit costs anything
    limit = {  # l, dl/dy, d2l/dy2 of the third column; the saturated units as y -> 0 or 1
        "bce": (
            [-np.log(0.7), -np.log(0.7)],
            [[1.0, -1.0, 1 / 0.7], [-1.0, 1.0, -1 / 0.7]],
            [[1.0, 1.0, 1 / 0.49], [1.0, 1.0, 1 / 0.49]],
        ),
        "cross_entropy": (
            [0.0, -np.log(0.7)],
            [[0.0, -1.0, 0.0], [-1.0, 0.0, -1 / 0.7]],
            [[0.0, 1.0, 0.0], [1.0, 0.0, 1 / 0.49]],
        ),
    }[name]
    got = [f(jnp.asarray(y), jnp.asarray(t)) for f in (loss.fn, loss.grad, loss.grad2)]
    for value, expected in zip(got, limit):
        np.testing.assert_allclose(value, expected, rtol=1e-14)
    assert derivatives_agree_with_jax(loss, y, t)
    assert not derivatives_agree_with_jax(loss._replace(grad=off(loss.grad)), y, t)
    assert not derivatives_agree_with_jax(loss._replace(grad2=off(loss.grad2)), y, t)


def test_softmax_bce_costs_nothing_for_a_confident_right_answer_in_float32():
    """y_2 = softmax rounds to 1 at a logit gap of 40: the cost was NaN (0 log(1 - y_2)) and
    fit raised Diverged."""
    net, params, x = single_layer("softmax", "bce", [-20.0, 20.0], "float32")
    t = jnp.asarray([[0.0, 1.0]], jnp.float32)
    assert np.asarray(net.apply(params, x))[0, 1] == 1.0
    assert 0.0 <= float(net.cost(params, x, t)) < 1e-17  # -log(1 - 4e-18)
    for g in jax.tree.leaves(net.backprop(params, x, t)):
        assert np.all(np.abs(np.asarray(g)) < 1e-16), g


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("output, loss", PAIRS)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cost_of_every_pair_matches_a_numpy_forward_pass(output, loss, reduction):
    rng = np.random.default_rng(1)
    net = MLP((2, 3), output=output, loss=loss, reduction=reduction)
    params = [{"w": jnp.asarray(rng.standard_normal((2, 3))), "b": jnp.asarray(rng.normal(size=3))}]
    x, t = rng.standard_normal((4, 2)), targets(loss, rng, 4, 3, output)
    y = numpy_output(output, x @ np.asarray(params[0]["w"]) + np.asarray(params[0]["b"]))
    # atol: z sums products of order 1, so it is exact to ~1e-16 absolute whatever the order of
    # the sum (NumPy's matmul and a tiny step's elementwise sum round apart where z is small).
    np.testing.assert_allclose(net.apply(params, x), y, rtol=1e-14, atol=1e-15)
    per_example = numpy_loss(loss, y, (t + 1) / 2 if output == "threshold" else t)
    expected = per_example.mean() if reduction == "mean" else per_example.sum()
    np.testing.assert_allclose(net.cost(params, x, t), expected, rtol=1e-13)


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("output, loss", PAIRS)
def test_output_delta_equals_jax_grad_of_the_cost_in_the_logits(output, loss):
    rng = np.random.default_rng(2)
    z = jnp.asarray(rng.standard_normal((4, 3)))
    t = jnp.asarray(targets(loss, rng, 4, 3, output))

    def cost(z_):
        per_example = losses.per_example(output, loss, z_, outputs.get(output).fn(z_), t)
        return reduction.reduce(per_example, "mean")

    delta = losses.delta(output, loss, "mean", z, outputs.get(output).fn(z), t)
    np.testing.assert_allclose(delta, jax.grad(cost)(z), rtol=1e-12, atol=1e-16)


# -- the logit-computed pairs at +-1e4 ------------------------------------------------------------


def single_layer(output, loss, logits, dtype):
    """A net whose logits for the input [[1]] are exactly ``logits``."""
    net = MLP((1, len(logits)), output=output, loss=loss)
    params = [{"w": jnp.asarray([logits], dtype), "b": jnp.zeros(len(logits), dtype)}]
    return net, params, jnp.ones((1, 1), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "label, expected", [(0, 0.0), (1, 2e4), (2, 1e4)], ids=["right", "wrong", "middle"]
)
def test_softmax_cross_entropy_is_exact_at_logits_of_1e4(dtype, label, expected):
    with jax.enable_x64(dtype == "float64"):
        net, params, x = single_layer("softmax", "cross_entropy", [1e4, -1e4, 0.0], dtype)
        t = jnp.asarray([label])
        assert float(net.cost(params, x, t)) == expected  # log-sum-exp: never log(0)
        grads = net.backprop(params, x, t)
        delta = np.array([1.0, 0.0, 0.0]) - np.eye(3)[label]  # y - t, y = softmax = (1, 0, 0)
        np.testing.assert_array_equal(grads[0]["w"], delta[None, :])
        np.testing.assert_array_equal(grads[0]["b"], delta)
        assert grads[0]["w"].dtype == dtype


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "t, expected", [([1.0, 0.0], 0.0), ([0.0, 1.0], 2e4), ([0.5, 0.5], 1e4)],
    ids=["right", "wrong", "half"],
)  # fmt: skip
def test_sigmoid_bce_is_exact_at_logits_of_1e4(dtype, t, expected):
    with jax.enable_x64(dtype == "float64"):
        net, params, x = single_layer("sigmoid", "bce", [1e4, -1e4], dtype)
        t = jnp.asarray([t], dtype)
        assert float(net.cost(params, x, t)) == expected
        grads = net.backprop(params, x, t)
        np.testing.assert_array_equal(grads[0]["b"], np.array([1.0, 0.0]) - np.asarray(t[0]))
        assert np.all(np.isfinite(np.asarray(grads[0]["w"])))


def stable_softmax_bce(beta):
    """Softmax:beta + bce of one example's logits z (K,), written apart from ``softmax_bce``:
    log(1 - y_k) = logsumexp of s without unit k - logsumexp(s), s = beta z (each unit masked
    in turn); and the outer product J^T diag(d2l/dy2) J u as sum_k c_k g_k <g_k, u> over the
    gradients g_k of log y_k (c_k = t_k) and of log(1 - y_k) (c_k = 1 - t_k)."""

    def logs(z):
        s = beta * z
        others = jnp.where(jnp.eye(s.shape[-1], dtype=bool), -jnp.inf, s)  # row k: s without k
        return jax.nn.log_softmax(s), jax.nn.logsumexp(others, -1) - jax.nn.logsumexp(s)

    def cost(z, t):
        log_y, log_1m = logs(z)
        return -jnp.sum(t * log_y + (1 - t) * log_1m)

    def outer(z, t, u):
        g_y, g_1m = jax.jacobian(logs)(z)  # (K, K) each: row k the gradient of the k-th log
        return g_y.T @ (t * (g_y @ u)) + g_1m.T @ ((1 - t) * (g_1m @ u))

    return cost, outer


SATURATED_Z = [[40.0, 0.0, 0.0], [0.0, -800.0, 0.0], [20.0, 1.0, -3.0], [0.3, -0.2, 0.1],
               [0.0, 800.0, -800.0], [-50.0, 60.0, 60.0]]  # fmt: skip
SATURATED_T = [[0.0, 1.0, 0.0], [1.0, 0.5, 0.0], [0.2, 0.7, 1.0], [1.0, 0.0, 0.0],
               [0.0, 1.0, 0.0], [0.0, 0.0, 0.3]]  # fmt: skip


def stable_softmax_bce_terms(beta, z, t, u) -> dict:
    """``stable_softmax_bce``'s cost, delta, hvp along ``u`` and outer product at logits ``z``
    and targets ``t`` (rows), by jax (the reference the pair's hand terms are held to)."""
    cost, outer = stable_softmax_bce(beta)
    grad = jax.vmap(jax.grad(cost))
    return {
        "cost": jax.vmap(cost)(z, t),
        "delta": grad(z, t),
        "hvp": jax.jvp(lambda q: grad(q, t), (z,), (u,))[1],
        "outer": jax.vmap(outer)(z, t, u),
    }


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("output", ["softmax", "softmax:2.5"])
def test_softmax_bce_is_finite_and_exact_where_an_output_rounds_to_one(output, dtype):
    """softmax + bce took its cost from y: log(1 - y) of a unit of target 0 at y rounded to 1
    (a confident wrong prediction: logit gap >= ~37 in float64, ~17 in float32) was log 0,
    the cost inf, the delta -inf and NaN, the curvature NaN, where the exact cost is about the
    gap. Now from the logits (``softmax_bce``): the cost, delta, hvp and outer product against
    jax of a stable formulation in float64; a delta or hvp 1 % off is caught."""
    beta, tol = outputs.get(output).beta, {"float32": 1e-6, "float64": 1e-13}[dtype]
    with jax.enable_x64(True):
        z64 = jnp.asarray(SATURATED_Z) / beta
        t64 = jnp.asarray(SATURATED_T)
        u64 = jnp.asarray(np.random.default_rng(0).normal(size=(6, 3)))
        z, t, u = (a.astype(dtype) for a in (z64, t64, u64))
        want = stable_softmax_bce_terms(beta, z64, t64, u64)
        assert all(np.isfinite(np.asarray(v)).all() for v in want.values())

        def errors(record):
            y = outputs.get(output).fn(z)
            got = {
                "cost": record.cost(z, y, t),
                "delta": record.delta(z, y, t),
                "hvp": record.hvp(z, y, t, u),
                "outer": record.outer(z, y, t, u),
            }
            return {
                k: float(np.max(np.abs(np.asarray(got[k], np.float64) - want[k])))
                / float(np.max(np.abs(want[k])))
                for k in got
            }

        right = losses.pair(output, "bce")
        assert all(e <= tol for e in errors(right).values()), errors(right)
        for field in ("delta", "hvp"):  # the mutation twins
            wrong = getattr(right, field)
            off_by = right._replace(**{field: lambda *a, wrong=wrong: 1.01 * wrong(*a)})
            assert errors(off_by)[field] > 1e-3


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("output", ["softmax", "softmax:2.5"])
def test_softmax_bce_net_of_confident_wrong_outputs_has_jax_s_gradient_and_curvature(
    output, monkeypatch
):
    """A net whose outputs are confidently wrong (a logit gap of ~60: y rounds to 1 on a unit
    of target < 1) had an inf cost and NaN gradients, where the exact cost is finite. Its
    cost, hand gradient and Hv now equal jax's of the stable formulation in float64; the
    pair's delta or hvp 1 % off is caught."""
    beta = outputs.get(output).beta
    net = MLP((2, 4, 3), "tanh", output, "bce")
    params = net.init(jax.random.key(0), jnp.float64)
    params[-1]["b"] = jnp.asarray([60.0, 0.0, 0.0]) / beta  # the first unit: y_1 -> 1
    rng = np.random.default_rng(1)
    x, t = jnp.asarray(rng.normal(size=(5, 2))), jnp.asarray(rng.uniform(size=(5, 3)))
    v = jax.tree.map(lambda a: jnp.asarray(rng.normal(size=a.shape)), params)
    cost = stable_softmax_bce(beta)[0]

    def reference(p):
        z = backprop.forward(net, p, x).zs[-1]
        return reduction.reduce(jax.vmap(cost)(z, t), net.reduction)

    def error(got, want):
        diff = max(
            float(np.max(np.abs(a - b)))
            for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want))
        )
        return diff / max(float(np.max(np.abs(b))) for b in jax.tree.leaves(want))

    want_g = jax.grad(reference)(params)
    want_hv = jax.jvp(jax.grad(reference), (params,), (v,))[1]
    np.testing.assert_allclose(net.cost(params, x, t), reference(params), rtol=1e-13)
    assert error(net.backprop(params, x, t), want_g) <= 1e-12
    assert error(net.hvp(params, x, t, v), want_hv) <= 1e-10
    right = losses._TEMPERED["softmax", "bce"]
    for field, measure in (("delta", lambda: error(net.backprop(params, x, t), want_g)),
                           ("hvp", lambda: error(net.hvp(params, x, t, v), want_hv))):  # fmt: skip
        wrong = getattr(right(beta), field)
        off_by = lambda *a, wrong=wrong: 1.01 * wrong(*a)  # noqa: E731
        monkeypatch.setitem(
            losses._TEMPERED,
            ("softmax", "bce"),
            lambda b, field=field, off_by=off_by: right(b)._replace(**{field: off_by}),
        )
        assert measure() > 1e-4, field
        monkeypatch.setitem(losses._TEMPERED, ("softmax", "bce"), right)


# -- targets, reductions, pairing -----------------------------------------------------------------


@pytest.mark.usefixtures("x64")
@pytest.mark.slow
def test_integer_labels_equal_their_one_hot_rows():
    net = MLP((3, 4, 3), "tanh", "softmax", "cross_entropy")
    params = net.init(jax.random.key(0), jnp.float64)
    x = jax.random.normal(jax.random.key(1), (5, 3), jnp.float64)
    labels = jnp.array([0, 2, 1, 2, 0])
    one_hot = jax.nn.one_hot(labels, 3, dtype=jnp.float64)
    assert net.cost(params, x, labels) == net.cost(params, x, one_hot)
    for a, b in zip(*(jax.tree.leaves(net.backprop(params, x, t)) for t in (labels, one_hot))):
        np.testing.assert_array_equal(a, b)
    assert net.cost(params, x, np.asarray(labels).tolist()) == net.cost(params, x, one_hot)


@pytest.mark.usefixtures("x64")
def test_one_output_accepts_targets_of_shape_n():
    net = MLP((2, 3, 1), "tanh", "sigmoid", "bce")
    params = net.init(jax.random.key(0), jnp.float64)
    x, t = jnp.ones((4, 2)), jnp.array([0.0, 1.0, 1.0, 0.0])
    assert net.cost(params, x, t) == net.cost(params, x, t[:, None])


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("output, loss", [("identity", "sse"), ("softmax", "cross_entropy"),
                                          ("tanh", "mae"), ("sigmoid", "bce")])  # fmt: skip
def test_sum_reduction_is_n_times_the_mean(output, loss):
    mean = MLP((3, 4, 3), "tanh", output, loss)
    total = mean.replace(reduction="sum")
    rng = np.random.default_rng(3)
    params = mean.init(jax.random.key(0), jnp.float64)
    x, t = rng.standard_normal((6, 3)), targets(loss, rng, 6, 3)
    np.testing.assert_allclose(total.cost(params, x, t), 6 * mean.cost(params, x, t), rtol=1e-14)
    for a, b in zip(*(jax.tree.leaves(n.backprop(params, x, t)) for n in (total, mean))):
        np.testing.assert_allclose(a, 6 * b, rtol=1e-13, atol=1e-16)


def test_losses_that_take_logs_need_probabilities():
    for output, loss in [("identity", "bce"), ("relu", "cross_entropy"), ("tanh", "bce")]:
        with pytest.raises(ValueError, match=f"{loss!r} needs outputs in \\(0, 1\\).*{output!r}"):
            MLP((2, 3), output=output, loss=loss)
    for output in ("identity", "softplus", "sigmoid", "softmax:2"):
        with pytest.raises(ValueError, match="'poisson' needs outputs in \\(0, inf\\): .*'exp'"):
            MLP((2, 3), output=output, loss="poisson")
    assert len(PAIRS) == 43


@pytest.mark.parametrize("output, k", [("sigmoid", 1), ("sigmoid", 3), ("threshold", 1)])
def test_cross_entropy_refuses_outputs_that_do_not_sum_to_one_and_names_bce(output, k):
    """-sum t log y with sigmoid units was accepted: one unit's rows of t = 0 cost nothing and
    pushed nothing, so the net learned "always 1"; with several only the target unit was
    pushed up. cross_entropy is the loss of outputs that sum to 1."""
    with pytest.raises(ValueError) as info:
        MLP((2, 4, k), "tanh", output, "cross_entropy")
    message = str(info.value)
    assert "'cross_entropy' needs outputs in (0, 1) that sum to 1" in message
    assert "['softmax', 'softmax:beta']" in message and f"got {output!r}" in message
    assert message.endswith(f"for output {output!r} use loss 'bce'.")
    assert (output, "cross_entropy") not in PAIRS and (output, "bce") in PAIRS
    MLP((2, 4, k), "tanh", output, "bce")  # its loss


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ValueError, match="'hinge'.*'sse'"):
        losses.get("hinge")
    with pytest.raises(ValueError, match="'linear'.*'identity'"):
        outputs.get("linear")


def test_a_cross_entropy_target_row_of_zeros_is_refused():
    """Regression: a row naming no class cost 0 and evaluate counted it a correct class-0
    prediction ({'loss': 0.0, 'accuracy': 1.0})."""
    from jaxmlp import evaluate

    net = MLP((2, 3), output="softmax", loss="cross_entropy")
    params = [{"w": jnp.zeros((2, 3)), "b": jnp.array([5.0, 0.0, 0.0])}]
    x, t = jnp.ones((2, 2)), np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    message = "row 1 of t sums to 0: it names no class"
    for call in (lambda: evaluate(net, params, x, t), lambda: net.cost(params, x, t)):
        with pytest.raises(ValueError, match=message):
            call()
    soft = np.array([[0.1, 0.8, 0.1], [0.5, 0.5, 1.0]])  # soft labels, and a row summing to 2
    assert np.isfinite(float(net.cost(params, x, soft)))


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("output", ["softmax", "softmax:2.5"])
def test_soft_label_rows_not_summing_to_one_scale_the_pair_s_every_derivative(output):
    """A row of soft labels summing to s costs s logsumexp(beta z) - beta <t, z> (the module
    docstring): the canonical pair's cost, delta, curvature and outer product against jax on
    the loss record's -sum_k t_k log y_k, for rows summing to 0.5, 1 and 2. Every other test
    drew one-hot rows, under which the factor s = 1 could be dropped unseen."""
    rng = np.random.default_rng(3)
    z = jnp.asarray(rng.uniform(-2, 2, (3, 4)))
    t = jnp.asarray(rng.dirichlet(np.ones(4), 3) * np.array([[0.5], [1.0], [2.0]]))
    u = jnp.asarray(rng.standard_normal((3, 4)))
    out, loss, pair = (
        outputs.get(output),
        losses.get("cross_entropy"),
        losses.pair(output, "cross_entropy"),
    )
    y = out.fn(z)

    def per_example(zi, ti):
        return loss.fn(out.fn(zi[None]), ti[None])[0]

    delta = jax.vmap(jax.grad(per_example))(z, t)
    hvp = jnp.einsum("nij,nj->ni", jax.vmap(jax.hessian(per_example))(z, t), u)
    jac = jax.vmap(jax.jacobian(lambda zi: out.fn(zi[None])[0]))(z)  # (n, K, K): dy/dz
    outer = jnp.einsum("nki,nk,nkj,nj->ni", jac, t / y**2, jac, u)  # J^T diag(t / y^2) J u
    close = partial(np.testing.assert_allclose, rtol=1e-12, atol=1e-14)
    close(pair.cost(z, y, t), loss.fn(y, t))
    close(pair.delta(z, y, t), delta)
    close(pair.hvp(z, y, t, u), hvp)
    close(pair.outer(z, y, t, u), outer)
    # the twin: the one-hot forms (s = 1) are wrong for these rows, by far more than 1 %
    one_hot_delta = out.beta * (y - t)
    assert np.max(np.abs(one_hot_delta - delta)) > 1e-2 * np.max(np.abs(delta))


@pytest.mark.usefixtures("x64")
def test_loss_derivatives_at_the_kinks_follow_their_conventions():
    """At the kinks of huber (|r| = 1, where the quadratic meets the line) both hand derivatives
    equal jax.grad's of ``fn`` (the ``<=`` branch: d2l/dy2 = 1/K); mae's dl/dy at r = 0 is 0, the
    least subgradient (jax's |r|' is 1 there). Data drawn at random never sat exactly on a kink:
    huber's d2l/dy2 taken as 0 at |r| = 1 passed every test."""
    y, t = jnp.array([[0.0, 1.0, -1.0, 2.0, 0.5]]), jnp.zeros((1, 5))
    huber, mae = losses.get("huber"), losses.get("mae")
    assert derivatives_agree_with_jax(huber, y, t)
    np.testing.assert_array_equal(huber.grad2(y, t), [[0.2, 0.2, 0.2, 0.0, 0.2]])
    np.testing.assert_array_equal(mae.grad(y, t), [[0.0, 0.2, -0.2, 0.2, 0.2]])
    # the twin: huber's curvature with the < branch at the kink is caught
    strict = huber._replace(
        grad2=lambda y_, t_: jnp.where(jnp.abs(y_ - t_) < 1, 1.0, 0.0) / y_.shape[-1]
    )
    assert not derivatives_agree_with_jax(strict, y, t)


@pytest.mark.parametrize("output", ["softmax", "softmax:2.5"])
def test_softmax_bce_is_exact_at_large_logits_in_float32(output):
    """softmax + bce took log(1 - y_m) of the top unit as logsumexp(rest) - logsumexp(s): two
    numbers of the logits' size, whose difference kept their float32 rounding (spacing 1e-3 at
    1e4): at logits [-1e4] * 3 the delta was (0.49999997, -0.99989, 0.50011), not (0.5, -1,
    0.5), two identical units 2e-4 apart, and ~1e-6 off at logits of 100. Now from the gaps
    to the two largest logits. Against ``stable_softmax_bce`` in float64."""
    beta = outputs.get(output).beta
    z = [[-1e4, -1e4, -1e4], [1e4, 1e4, 9999.0], [100.0, 100.0, 99.0], [1e4, 9997.0, 0.0]]
    t = [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.3, 0.7, 1.0], [0.0, 1.0, 0.0]]
    with jax.enable_x64(True):
        z64 = jnp.asarray(z)  # beta z exact in float32 too
        t64 = jnp.asarray(t)
        u64 = jnp.asarray(np.random.default_rng(0).normal(size=(4, 3)))
        z32, t32, u32 = (a.astype(jnp.float32) for a in (z64, t64, u64))
        want = stable_softmax_bce_terms(beta, z64, t64, u64)
        record, y = losses.pair(output, "bce"), outputs.get(output).fn(z32)
        got = {
            "cost": record.cost(z32, y, t32),
            "delta": record.delta(z32, y, t32),
            "hvp": record.hvp(z32, y, t32, u32),
            "outer": record.outer(z32, y, t32, u32),
        }
        for k in got:
            got64 = np.asarray(got[k], np.float64)
            np.testing.assert_allclose(got64, want[k], rtol=2e-6, atol=2e-6, err_msg=k)
        delta = np.asarray(got["delta"])
        np.testing.assert_allclose(delta[0], np.asarray([1.0, -2.0, 1.0]) / 2 * beta, rtol=2e-7)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("output", ["softmax", "softmax:2.5"])
def test_softmax_cross_entropy_cost_keeps_its_digits_at_large_logits_and_near_zero(output, dtype):
    """The canonical cost logsumexp(s) sum_k t_k - <t, s> (s = beta z) subtracted two numbers of
    the logits' size: at logits [-1e4] * 3 in float32 it was 1.0986328, not log 3 = 1.0986123,
    and logsumexp's log(1 + 2 e^-20) rounded to 0, a confident right answer costing 0, not
    4.1e-9. From the gaps to the largest logit, with log1p: the float64 value of the formula
    (log1p(sum_k e^(s_k - s_1)) is logsumexp's term, s_1 the largest)."""
    beta = outputs.get(output).beta
    big = {"float32": 20.0, "float64": 40.0}[dtype]
    s = np.asarray([[-1e4, -1e4, -1e4], [1e4, 1e4, 9997.5], [big, 0.0, 0.0], [0.0, big, -big]])
    t = np.asarray([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.2, 0.8, 0.0]])
    gaps = s - s.max(-1, keepdims=True)
    want = np.log1p(np.sum(np.exp(gaps), -1) - 1) * t.sum(-1) - np.sum(t * gaps, -1)
    want[2] = np.log1p(2 * np.exp(-big))  # the sum's 1 + tiny would round
    with jax.enable_x64(dtype == "float64"):
        z, tt = jnp.asarray(s / beta, dtype), jnp.asarray(t, dtype)
        y = outputs.get(output).fn(z)
        got = np.asarray(losses.pair(output, "cross_entropy").cost(z, y, tt), np.float64)
    np.testing.assert_allclose(got, want, rtol=4 * np.finfo(dtype).eps)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("output", ["sigmoid", "threshold"])
def test_sigmoid_bce_cost_of_a_confident_right_answer_is_not_zero(output, dtype):
    """The canonical cost log(1 + e^z) - t z took logaddexp(0, z) = z + log1p(e^-z), which
    rounds to z where e^-z is below z's last bit: at z = 20 in float32 (40 in float64) a right
    answer (t = 1) cost 0, not e^-20 = 2.1e-9, a mean cost 0 for a net that has not reached it.
    As max(z, 0) - t z + log1p(e^-|z|), the formula's float64 value; the values at |z| = 1e4
    stay exact."""
    big = {"float32": 20.0, "float64": 40.0}[dtype]
    z = np.asarray([[big, -big], [1e4, -1e4], [3.0, -0.5]])
    t = np.asarray([[1.0, 0.0], [0.5, 1.0], [0.3, 1.0]])
    want = np.sum(np.maximum(z, 0) - t * z + np.log1p(np.exp(-np.abs(z))), -1)
    labels = (2 * t - 1) if output == "threshold" else t
    with jax.enable_x64(dtype == "float64"):
        zz, tt = jnp.asarray(z, dtype), jnp.asarray(labels, dtype)
        if output == "threshold":
            zz, tt = zz[:1], tt[:1]  # labels -1/+1 only
        y = outputs.get(output).fn(zz)
        got = np.asarray(losses.pair(output, "bce").cost(zz, y, tt), np.float64)
    np.testing.assert_allclose(got, want[: len(got)], rtol=4 * np.finfo(dtype).eps)
    assert got[0] > 0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_bce_cost_of_a_confident_right_answer_is_not_halved(dtype):
    """softmax + bce took log y_top from log_softmax, s_top - s_1 - log(1 + sum of e^gaps), whose
    log(1 + tiny) is 0: at logits (20, 0, 0) in float32 (40 in float64) with t = (1, 0, 0) the
    cost was 2 e^-20, half of -log y_0 - log(1 - y_1) - log(1 - y_2) = 4 e^-20 (to first order).
    From ``softmax_bce.gaps`` (log1p): the formula's float64 value."""
    big = {"float32": 20.0, "float64": 40.0}[dtype]
    z = np.asarray([[big, 0.0, 0.0], [0.0, big, -big]])
    t = np.asarray([[1.0, 0.0, 0.0], [0.2, 0.8, 0.0]])
    d = z - z.max(-1, keepdims=True)
    rest = np.exp(d) * (d < 0)  # the top unit's term left out: each row has one top
    log_y = d - np.log1p(rest.sum(-1, keepdims=True))
    y = np.exp(log_y)
    with np.errstate(divide="ignore"):  # log1p(-y_top), left out by the where
        log_1m = np.where(d < 0, np.log1p(-y), np.log(rest.sum(-1, keepdims=True)) + log_y)
    want = -np.sum(t * log_y + (1 - t) * log_1m, -1)
    with jax.enable_x64(dtype == "float64"):
        zz, tt = jnp.asarray(z, dtype), jnp.asarray(t, dtype)
        yy = outputs.get("softmax").fn(zz)
        got = np.asarray(losses.pair("softmax", "bce").cost(zz, yy, tt), np.float64)
    np.testing.assert_allclose(got, want, rtol=8 * np.finfo(dtype).eps)
