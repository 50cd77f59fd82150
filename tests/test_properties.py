"""Property tests (issue 10), with hypothesis: random architectures, activations, (output, loss)
pairs, reductions and batches. Hand backprop equals autodiff in float64; finite inputs give
finite outputs; checkpoints round-trip bitwise and a damaged one is a ValueError; no file
content makes the readers raise anything but ValueError.

Examples are small (widths 2 or 3, batches of 1 or 4) and each compiles once; hypothesis runs
``derandomize``d without a database, so every run, CI included, checks the same cases. About
0.7 s of CPU per gradient example, most of it XLA compiling the example's program.
"""

import contextlib
import functools
import io
import pathlib
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxmlp import (
    MLP,
    Optimizer,
    TrainConfig,
    TrainState,
    activations,
    backprop,
    checkpoint,
    datasets,
)  # fmt: skip
from jaxmlp.gradient_check import valid_pairs

PROPERTY = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
PAIRS = valid_pairs()
CANONICAL = {
    ("identity", "sse"), ("sigmoid", "bce"), ("softmax", "cross_entropy"), ("exp", "poisson"),
    ("threshold", "bce"), ("softmax:2.5", "cross_entropy"),
}  # fmt: skip


@st.composite
def networks(draw):
    """An MLP of depth 0-3 with random widths, activations per layer, pair and reduction.
    Widths come from a few values, so eager JAX compiles each primitive's shapes once."""
    d = draw(st.sampled_from((1, 2)))
    hidden = draw(st.lists(st.sampled_from((2, 3)), max_size=3))
    output, loss = draw(st.sampled_from(PAIRS))
    k = draw(st.sampled_from((2,) if output.startswith("softmax") else (1, 2)))
    acts = draw(
        st.lists(st.sampled_from(activations.names()), min_size=len(hidden), max_size=len(hidden))
    )
    reduction = draw(st.sampled_from(("mean", "sum")))
    return MLP((d, *hidden, k), tuple(acts) if hidden else "tanh", output, loss, reduction)


BATCH = st.sampled_from((1, 4))
SEED = st.integers(0, 2**31 - 1)


def batch(net, n, seed, scale, dtype):
    """Inputs ``x (n, d)`` of size ~``scale`` and targets that suit the loss."""
    rng = np.random.default_rng(seed)
    x = (scale * rng.standard_normal((n, net.sizes[0]))).astype(dtype)
    k = net.sizes[-1]
    if net.output == "threshold":
        t = rng.choice([-1.0, 1.0], (n, k))  # its labels
    elif net.loss == "poisson":
        t = rng.poisson(1.5, (n, k))  # counts
    elif net.loss == "cross_entropy":
        t = rng.dirichlet(np.ones(k), n)  # a distribution over the classes
    elif net.loss == "bce":
        t = rng.uniform(0, 1, (n, k))
    else:
        t = rng.standard_normal((n, k))
    return x, t.astype(dtype)


def max_abs(tree):
    return max(float(jnp.max(jnp.abs(a))) for a in jax.tree.leaves(tree))


@functools.partial(jax.jit, static_argnums=0)
def gradients(net, params, x, t):
    """(cost, hand grads), (cost, autodiff grads), and jax.grad of the custom_vjp hand cost:
    one compiled program per example (eager JAX would compile every primitive instead)."""
    hand = backprop.value_and_grad(net, params, x, t)
    auto = jax.value_and_grad(lambda p: backprop.cost_of(net, backprop.forward(net, p, x), t))(
        params
    )
    return hand, auto, jax.grad(lambda p: backprop.hand_cost(net, p, x, t))(params)


@pytest.mark.slow
@PROPERTY
@given(networks(), BATCH, SEED, st.sampled_from((0.3, 1.0, 2.0)))
def test_hand_backprop_equals_autodiff_in_float64(net, n, seed, scale):
    """|hand - autodiff| <= 1e-10 max |autodiff| + 1e-14, leaf by leaf, both finite, and the
    custom_vjp cost differentiates to the same hand gradient. The absolute 1e-14 (a hundred
    float64 round-offs of O(1) sums) is for gradients that cancel to 0, where the two round
    differently: softmax with mae when every residual has the same sign gives hand 5e-17,
    autodiff exactly 0."""
    with jax.enable_x64(True):
        params = net.init(jax.random.key(seed), jnp.float64)
        x, t = batch(net, n, seed, scale, np.float64)
        (cost, hand), (auto_cost, auto), through_vjp = gradients(net, params, x, t)
        assert np.isfinite(float(cost)) and float(cost) == float(auto_cost)
        assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(hand)), net
        diff = max_abs(jax.tree.map(lambda h, a: h - a, hand, auto))
        assert diff <= 1e-10 * max_abs(auto) + 1e-14, (net, diff, max_abs(auto))
        same = jax.tree.map(lambda h, v: bool(jnp.array_equal(h, v)), hand, through_vjp)
        assert all(jax.tree.leaves(same))


@pytest.mark.slow
def test_the_tolerance_catches_a_one_percent_error():
    """The mutation twin: the same comparison fails for a hand gradient 1 % off in one leaf."""
    net = MLP((2, 3, 2), "tanh", "softmax", "cross_entropy")
    with jax.enable_x64(True):
        params = net.init(jax.random.key(0), jnp.float64)
        x, t = batch(net, 4, 0, 1.0, np.float64)
        (_, hand), (_, auto), _ = gradients(net, params, x, t)
        hand[0]["w"] = hand[0]["w"] * 1.01
        diff = max_abs(jax.tree.map(lambda h, a: h - a, hand, auto))
        assert diff > 1e-10 * max_abs(auto) + 1e-14


@functools.partial(jax.jit, static_argnums=0)
def outputs_cost_gradients(net, params, x, t):
    y = backprop.forward(net, params, x).as_[-1]
    return y, *backprop.value_and_grad(net, params, x, t)


@pytest.mark.slow
@settings(PROPERTY, max_examples=10)
@given(networks(), BATCH, SEED, st.sampled_from((1.0, 1e3)))
def test_finite_inputs_give_finite_outputs(net, n, seed, scale):
    """float32 outputs are finite for inputs up to 1e3; the cost and its gradient are finite
    for every canonical pair (computed from the logits) at any such input, and for every pair
    at inputs of size 1. The exp output (Poisson's mean e^z) overflows float32 for z > 88, as
    scikit-learn's does: it is held to inputs of size 1."""
    if net.output == "exp" and scale > 1:
        scale = 1.0
    params = net.init(jax.random.key(seed))
    x, t = batch(net, n, seed, scale, np.float32)
    y, cost, grads = outputs_cost_gradients(net, params, x, t)
    assert y.shape == (n, net.sizes[-1]) and bool(jnp.all(jnp.isfinite(y))), net
    if (net.output, net.loss) in CANONICAL or scale == 1.0:
        assert np.isfinite(float(cost)), (net, float(cost))
        assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads)), net


OPTIMIZERS = st.sampled_from(("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad"))


@PROPERTY
@given(networks(), OPTIMIZERS, st.integers(0, 1000), SEED)
@pytest.mark.slow
def test_checkpoints_round_trip_bitwise(net, optimizer, epoch, seed):
    opt = Optimizer(optimizer, weight_decay=0.01 if optimizer != "sgd" else 0.0)
    params = net.init(jax.random.key(seed))
    opt_state = jax.tree.map(lambda a: a + 3, opt.build(10).init(params))  # away from its init
    state = TrainState(params, opt_state, epoch, params, 0.5, 2)
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "c.npz"
        config = TrainConfig(epochs=max(epoch, 1), seed=seed % 100)  # a run that reached epoch
        checkpoint.save(path, state, net=net, optimizer=opt, config=config)
        loaded = checkpoint.load(path, net=net, optimizer=opt).state
    for name in ("params", "opt_state", "best_params"):
        a, b = jax.tree.leaves(getattr(state, name)), jax.tree.leaves(getattr(loaded, name))
        assert [np.asarray(v).tobytes() for v in a] == [np.asarray(v).tobytes() for v in b]
    assert jax.tree.structure(opt_state) == jax.tree.structure(loaded.opt_state)
    assert (loaded.epoch, loaded.best_val_loss, loaded.bad_epochs) == (epoch, 0.5, 2)


def _saved_checkpoint() -> bytes:
    net = MLP((2, 3, 1), "tanh", "sigmoid", "bce")
    params = net.init(jax.random.key(0))
    state = TrainState(params, Optimizer().build(1).init(params), 3)
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "c.npz"
        checkpoint.save(path, state, net=net, optimizer=Optimizer(), config=TrainConfig())
        return path.read_bytes()


SAVED = _saved_checkpoint()


@PROPERTY
@given(st.integers(0, len(SAVED) - 1), st.one_of(st.none(), st.integers(1, 255)))
def test_a_damaged_checkpoint_is_refused_or_intact(position, flip):
    """Truncated at any byte, or one byte changed anywhere: ValueError, or (where the zip
    format does not use the byte, such as a timestamp) the same arrays as saved."""
    data = bytearray(SAVED)
    if flip is None:
        del data[position:]
    else:
        data[position] ^= flip
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "c.npz"
        path.write_bytes(bytes(data))
        try:
            ckpt = checkpoint.load(path)
        except ValueError:
            return
        original = pathlib.Path(folder) / "o.npz"
        original.write_bytes(SAVED)
        intact = checkpoint.load(original)
    assert flip is not None  # a truncated file never loads
    for a, b in zip(jax.tree.leaves(ckpt.state), jax.tree.leaves(intact.state)):
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()


CSV_TEXT = st.text(alphabet=st.sampled_from(list("0123456789.,-eE naIfxy\n\"'\t")), max_size=80)


@PROPERTY
@given(CSV_TEXT)
def test_any_csv_text_loads_or_is_a_value_error(text):
    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "data.csv"
        path.write_text(text)
        try:
            ds = datasets.load(path)
        except ValueError:
            return
    assert np.isfinite(ds.x_train).all() and len(ds.x_train) == len(ds.t_train) > 0


@PROPERTY
@given(st.binary(max_size=200))
def test_any_npz_bytes_load_or_are_a_value_error(data):
    buffer = io.BytesIO()
    np.savez(buffer, x=np.zeros((3, 2)), y=np.array([0, 1, 0]))
    with tempfile.TemporaryDirectory() as folder:
        for name, content in (("random.npz", data), ("cut.npz", buffer.getvalue()[: len(data)])):
            path = pathlib.Path(folder) / name
            path.write_bytes(content)
            with contextlib.suppress(ValueError):
                datasets.load(path)
