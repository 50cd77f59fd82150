"""Benchmarks: jaxmlp beside its peers and against the machine's matrix-multiply rate (issue 8).

    python experiments/bench.py            # the full run, every peer: 7-12 min on 2 CPU cores
    python experiments/bench.py --quick    # tiny sizes, one round (~1.5 min): the smoke test
    python experiments/bench.py --table    # rebuild the tables of BENCHMARKS.md from bench.json

Writes ``<out>/bench.json``, ``<out>/bench_scaling.png`` and ``<out>/bench_workloads.png``; a
full run into the default folder also rebuilds the tables in ``experiments/BENCHMARKS.md``. The
peers (PyTorch, Flax, Equinox, scikit-learn) come from the ``bench`` extra, ``pip install -e
'.[bench]'``: a quick run skips a missing one and records why, a full run needs them all.

Method. The machine is shared, so its speed drifts during a run. Each workload therefore times
its contenders interleaved: round r times every contender once (in an order rotating from round
to round), then round r + 1. A timing is the median (min-max) over rounds; the ratio of two
contenders is the median over rounds of their ratio within the round. Every contender trains
the same float32 network on the same data with the same loss, optimizer and batch: softmax +
cross-entropy (mean over the batch) behind ReLU hidden layers with Adam at 1e-3, or, for XOR,
seed 003's 2-3-1 sigmoid net on half the summed squared error with full-batch SGD at 0.1.

The ceiling. Per layer, a training step multiplies a W (forward), a^T G (weight gradient) and
G W^T (delta for the layer below): 6 x weights x batch flops. The GEMM-bound floor is the time
XLA takes for exactly these products at the step's own shapes (one after the other in one
jitted call, timed in the same rounds), the GEMM rate is 6 x weights x batch / that time, and a
contender's floor fraction is floor time / its time: 1.0 is as fast as the matrix products
alone. A 1024 x 1024 product is timed beside it as the machine's peak rate.
"""

import argparse
import contextlib
import functools
import importlib
import importlib.metadata
import json
import os
import pathlib
import platform
import re
import subprocess
import sys
import tempfile
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
from common import RESULTS, figure, pyplot
from jax import lax

from jaxmlp import MLP, Optimizer, TrainConfig, datasets, fit, make_step

# On a shared machine, OpenMP threads that spin while waiting (GNU OpenMP's default) starve
# each other: PyTorch's step got ~10x slower. Passive waiting, set before torch loads OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

LR, XOR_LR = 1e-3, 0.1
WIDE, FASHION = (784, 1024, 1024, 10), (784, 256, 128, 10)
# XLA:CPU compiles a while loop into one kernel when one iteration touches fewer bytes than this
# backend option (1 kB by default); the XOR probe reruns with it raised (documented, opt-in).
SMALL_LOOP_FLAG = "--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold=1000000"
MARKDOWN = pathlib.Path(__file__).resolve().parent / "BENCHMARKS.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

FULL = {
    "wide": WIDE,
    "wide_batches": (256, 1024, 4096),
    "fashion": FASHION,
    "fashion_n": 60000,
    "fashion_batch": 128,
    "xor_steps": 5000,
    "rounds": {"wide": 7, "fashion": 5, "xor": 7, "compile": 3, "scaling": 3},
    "sample_s": 0.3,
    "sweeps": {
        "width": [((784, w, w, 10), 256, w) for w in (128, 512, 2048)],
        "depth": [((784, *(512,) * d, 10), 256, d) for d in (1, 2, 4, 8)],
        "batch": [(WIDE, b, b) for b in (16, 64, 256, 1024)],
    },
}
QUICK = {
    "wide": (784, 64, 64, 10),
    "wide_batches": (16,),
    "fashion": (784, 32, 16, 10),
    "fashion_n": 512,
    "fashion_batch": 128,
    "xor_steps": 200,
    "rounds": {"wide": 1, "fashion": 1, "xor": 1, "compile": 1, "scaling": 1},
    "sample_s": 0.0,
    "sweeps": {
        "width": [((784, 16, 16, 10), 16, 16)],
        "depth": [((784, 16, 10), 16, 1)],
        "batch": [((784, 64, 64, 10), 8, 8)],
    },
}
PEERS = ("flax", "equinox", "pytorch", "scikit-learn")  # plain JAX is the reference, not a peer


# -- timing ----------------------------------------------------------------------------------------


def stats(samples) -> dict:
    a = np.asarray(samples, dtype=float)
    return {
        "median": float(np.median(a)),
        "min": float(a.min()),
        "max": float(a.max()),
        "n": int(a.size),
        "samples": a.tolist(),
    }


def interleave(contenders: dict, rounds: int, sample_s: float) -> dict:
    """``{name: [seconds per unit, one per round]}``, timed round-robin.

    ``contenders`` maps a name to ``run(k)``, which does k units of work (steps, epochs, runs)
    and returns once they are done. k is calibrated once so that a sample lasts ``sample_s``.
    """
    reps = {}
    for name, run in contenders.items():
        once = _timed(run, 1) if sample_s > 0 else sample_s
        reps[name] = 1 if sample_s <= 0 else max(1, min(10_000, round(sample_s / once)))
    names = list(contenders)
    times = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(_timed(contenders[name], reps[name]) / reps[name])
    return times


def _timed(run, k) -> float:
    return _clock(lambda: run(k))


def _clock(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def compare(times: dict, flops: float | None = None, floor: str | None = "gemm floor") -> dict:
    """Per contender: its seconds, its time over jaxmlp's (> 1: jaxmlp is faster), its floor
    fraction (floor time / its time) and its rate 6 x weights x batch / median time."""
    rows = {}
    for name, t in times.items():
        t = np.asarray(t)
        row = {"seconds": stats(t)}
        if "jaxmlp" in times and name != "jaxmlp":
            row["time_over_jaxmlp"] = stats(t / np.asarray(times["jaxmlp"]))
        if floor in times:
            row["floor_fraction"] = stats(np.asarray(times[floor]) / t)
        if flops:
            row["gflops"] = flops / float(np.median(t)) / 1e9
        rows[name] = row
    return rows


# -- data and shapes -------------------------------------------------------------------------------


def weights(sizes) -> int:
    return sum(p * q for p, q in zip(sizes, sizes[1:]))


def random_batch(n: int, d: int, k: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d), dtype=np.float32), rng.integers(0, k, n).astype(np.int32)


def fashion_data(n: int):
    """The first ``n`` Fashion-MNIST training images (standardised) and labels, or random data
    of the same shape when the data set is not installed: timings do not depend on the values."""
    try:
        ds = datasets.load("fashion-mnist")
        return ds.x_train[:n], ds.t_train[:n].astype(np.int32), "fashion-mnist (Debian IDX files)"
    except (ValueError, OSError) as error:
        x, y = random_batch(n, 784, 10)
        return x, y, f"random data of Fashion-MNIST's shape ({error})"


def xor_data():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    return x, np.array([[0], [1], [1], [0]], np.float32)


@functools.partial(jax.jit, static_argnames="batch")
def shuffle(x, y, key, batch: int):
    """``(xs (steps, batch, d), ys (steps, batch))``: a random permutation cut into batches (the
    last ``n mod batch`` examples dropped), one jitted gather shared by the JAX contenders."""
    steps = len(x) // batch
    order = jax.random.permutation(key, len(x))[: steps * batch]
    return x[order].reshape(steps, batch, -1), y[order].reshape(steps, batch)


# -- contenders ------------------------------------------------------------------------------------
# Each library offers step(sizes, x, y) -> run(k) (k Adam steps on one batch), epoch(sizes, x, y,
# batch) -> run(k) (k shuffled epochs) and xor(x, t, steps) -> run(k) (k runs of `steps` full-batch
# SGD steps); each factory compiles and warms up what it needs before returning.


class Jaxmlp:
    """jaxmlp through its public API: ``make_step`` under ``jax.jit`` for one step, ``fit`` for
    epochs (whole epochs fused into one compiled ``lax.scan``)."""

    def __init__(self, backprop: str = "hand"):
        self.backprop = backprop

    def step(self, sizes, x, y):
        net = MLP(sizes, "relu", "softmax", "cross_entropy")
        tx = Optimizer("adam", lr=LR).build(10**6)
        step = jax.jit(make_step(net, tx, self.backprop), donate_argnums=(0, 1))
        params = net.init(jax.random.key(0))
        state = [params, tx.init(params)]
        x, t = jnp.asarray(x), net.targets(y, len(y))

        def run(k):
            params, opt_state = state
            for _ in range(k):
                params, opt_state, _ = step(params, opt_state, x, t)
            state[:] = jax.block_until_ready((params, opt_state))

        run(1)
        return run

    def epoch(self, sizes, x, y, batch):
        net = MLP(sizes, "relu", "softmax", "cross_entropy")
        config = TrainConfig(epochs=1, batch_size=batch, backprop=self.backprop)
        x, y = jnp.asarray(x), jnp.asarray(y)
        state = [net.init(jax.random.key(0))]

        def run(k):
            for _ in range(k):
                state[0] = fit(net, x, y, Optimizer("adam", lr=LR), config, params=state[0]).params

        run(1)
        return run

    def xor(self, x, t, steps):
        net = MLP((2, 3, 1), "sigmoid", "sigmoid", "sse", reduction="sum", init="uniform:0,1")
        params = net.init(jax.random.key(0))
        config = TrainConfig(epochs=steps, batch_size="full", backprop=self.backprop)
        x, t = jnp.asarray(x), jnp.asarray(t)
        self.last = None

        def run(k):
            for _ in range(k):
                self.last = fit(net, x, t, Optimizer("sgd", lr=XOR_LR), config, params=params)

        run(1)
        return run

    def lower_step(self, sizes, x, y):
        """``(seconds to trace and lower, seconds to compile)`` a fresh step."""
        net = MLP(sizes, "relu", "softmax", "cross_entropy")
        tx = Optimizer("adam", lr=LR).build(10**6)
        params = net.init(jax.random.key(0))
        args = (params, tx.init(params), jnp.asarray(x), net.targets(y, len(y)))
        return _lower_and_compile(jax.jit(make_step(net, tx, self.backprop)), args)


def _lower_and_compile(jitted, args):
    start = time.perf_counter()
    lowered = jitted.lower(*args)
    middle = time.perf_counter()
    lowered.compile()
    return middle - start, time.perf_counter() - middle


def _plain_init(sizes, seed=0):
    keys = jax.random.split(jax.random.key(seed), len(sizes) - 1)
    return [
        {"w": jax.random.normal(k, (p, q)) * np.sqrt(2.0 / p), "b": jnp.zeros(q)}
        for k, p, q in zip(keys, sizes, sizes[1:])
    ]


def _plain_logits(params, x):
    for layer in params[:-1]:
        x = jax.nn.relu(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def _plain_loss(params, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(_plain_logits(params, x), y).mean()


def _plain_step(tx, loss=_plain_loss):
    def step(params, opt_state, x, y):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    return step


class PlainJax:
    """The reference: jax.grad + optax under jit, written out in a few lines. ``scan`` fuses
    an epoch (or XOR's run) into one ``lax.scan``; otherwise Python calls a jitted step."""

    def __init__(self, scan: bool):
        self.scan = scan

    def step(self, sizes, x, y):
        tx = optax.adam(LR)
        step = jax.jit(_plain_step(tx), donate_argnums=(0, 1))
        params = _plain_init(sizes)
        state = [params, tx.init(params)]
        x, y = jnp.asarray(x), jnp.asarray(y)

        def run(k):
            params, opt_state = state
            for _ in range(k):
                params, opt_state, _ = step(params, opt_state, x, y)
            state[:] = jax.block_until_ready((params, opt_state))

        run(1)
        return run

    def epoch(self, sizes, x, y, batch):
        tx = optax.adam(LR)
        params = _plain_init(sizes)
        state = [params, tx.init(params), jax.random.key(0)]
        x, y = jnp.asarray(x), jnp.asarray(y)
        step = _plain_step(tx)
        if not self.scan:
            jstep = jax.jit(lambda p, o, xs, ys, i: step(p, o, xs[i], ys[i]), donate_argnums=(0, 1))

            def call(xs, ys, i):
                state[0], state[1], loss = jstep(state[0], state[1], xs, ys, i)
                return loss

            return _epoch_runner(x, y, batch, call)

        @functools.partial(jax.jit, donate_argnums=(0, 1))
        def epoch(params, opt_state, x, y, key):
            def body(carry, xy):
                params, opt_state, loss = step(*carry, *xy)
                return (params, opt_state), loss

            batches = shuffle(x, y, key, batch)
            (params, opt_state), losses = lax.scan(body, (params, opt_state), batches)
            return params, opt_state, losses.mean()

        def run(k):
            params, opt_state, key = state
            for _ in range(k):
                key, sub = jax.random.split(key)
                params, opt_state, _ = epoch(params, opt_state, x, y, sub)
            state[:] = (*jax.block_until_ready((params, opt_state)), key)

        run(1)
        return run

    def xor(self, x, t, steps):
        tx = optax.sgd(XOR_LR)
        params = _xor_init()
        step = _plain_step(tx, _xor_loss)
        x, t = jnp.asarray(x), jnp.asarray(t)
        if self.scan:

            @jax.jit
            def train(params, opt_state, x, t):  # the data are arguments, as for jaxmlp's fit
                def body(carry, _):
                    params, opt_state, loss = step(*carry, x, t)
                    return (params, opt_state), loss

                return lax.scan(body, (params, opt_state), length=steps)

        else:
            jstep = jax.jit(step)

            def train(params, opt_state, x, t):
                for _ in range(steps):
                    params, opt_state, _ = jstep(params, opt_state, x, t)
                return params, opt_state

        self.train = train

        def run(k):
            for _ in range(k):
                jax.block_until_ready(train(params, tx.init(params), x, t))

        run(1)
        return run

    def lower_step(self, sizes, x, y):
        tx = optax.adam(LR)
        params = _plain_init(sizes)
        args = (params, tx.init(params), jnp.asarray(x), jnp.asarray(y))
        return _lower_and_compile(jax.jit(_plain_step(tx)), args)


def _xor_init():
    k1, k2, k3, k4 = jax.random.split(jax.random.key(0), 4)
    uniform = jax.random.uniform
    return [
        {"w": uniform(k1, (2, 3)), "b": uniform(k2, (3,))},
        {"w": uniform(k3, (3, 1)), "b": uniform(k4, (1,))},
    ]


def _xor_loss(params, x, t):
    a = jax.nn.sigmoid(x @ params[0]["w"] + params[0]["b"])
    y = jax.nn.sigmoid(a @ params[1]["w"] + params[1]["b"])
    return 0.5 * jnp.sum((y - t) ** 2)


class Flax:
    """Flax NNX, its current API: ``nnx.Linear`` layers, ``nnx.Optimizer``, and the step under
    ``nnx.jit`` called through ``nnx.cached_partial`` (Flax's documented way to skip the
    per-call graph traversal)."""

    def __init__(self):
        from flax import nnx

        self.nnx = nnx

    def _model(self, sizes, act):
        nnx = self.nnx

        class Net(nnx.Module):
            def __init__(self, rngs):
                pairs = zip(sizes, sizes[1:])
                self.layers = nnx.List([nnx.Linear(p, q, rngs=rngs) for p, q in pairs])

            def __call__(self, x):
                for layer in self.layers[:-1]:
                    x = act(layer(x))
                return self.layers[-1](x)

        return Net(nnx.Rngs(0))

    def _train_step(self, loss):
        nnx = self.nnx

        def train_step(model, optimizer, x, y):
            value, grads = nnx.value_and_grad(lambda m: loss(m(x), y))(model)
            optimizer.update(model, grads)
            return value

        return train_step

    def _setup(self, sizes, tx, act=jax.nn.relu, loss=None):
        loss = loss or (lambda z, y: optax.softmax_cross_entropy_with_integer_labels(z, y).mean())
        model = self._model(sizes, act)
        optimizer = self.nnx.Optimizer(model, tx, wrt=self.nnx.Param)
        return model, optimizer, self._train_step(loss)

    def step(self, sizes, x, y):
        model, optimizer, train_step = self._setup(sizes, optax.adam(LR))
        step = self.nnx.cached_partial(self.nnx.jit(train_step), model, optimizer)
        x, y = jnp.asarray(x), jnp.asarray(y)
        return _loop_runner(lambda: step(x, y))

    def epoch(self, sizes, x, y, batch):
        model, optimizer, train_step = self._setup(sizes, optax.adam(LR))

        def indexed(model, optimizer, xs, ys, i):
            return train_step(model, optimizer, xs[i], ys[i])

        step = self.nnx.cached_partial(self.nnx.jit(indexed), model, optimizer)
        return _epoch_runner(jnp.asarray(x), jnp.asarray(y), batch, step)

    def xor(self, x, t, steps):
        def sse(y, t):
            return 0.5 * jnp.sum((jax.nn.sigmoid(y) - t) ** 2)

        model, optimizer, train_step = self._setup(
            (2, 3, 1), optax.sgd(XOR_LR), jax.nn.sigmoid, sse
        )
        step = self.nnx.cached_partial(self.nnx.jit(train_step), model, optimizer)
        x, t = jnp.asarray(x), jnp.asarray(t)
        return _loop_runner(lambda: step(x, t), steps)

    def lower_step(self, sizes, x, y):
        model, optimizer, train_step = self._setup(sizes, optax.adam(LR))
        args = (model, optimizer, jnp.asarray(x), jnp.asarray(y))
        return _lower_and_compile(self.nnx.jit(train_step), args)


def _loop_runner(call, steps: int = 1):
    """``run(k)``: ``k * steps`` calls of ``call()`` (a jitted step), then wait for the last."""

    def run(k):
        for _ in range(k * steps):
            out = call()
        jax.block_until_ready(out)

    run(1)
    return run


def _epoch_runner(x, y, batch, step):
    """``run(k)``: k epochs of ``step(xs, ys, i)`` over freshly shuffled ``xs, ys``. The index
    ``i`` is a 0-d array, traced by every jit (``eqx.filter_jit`` makes a Python int static)."""
    keys = [jax.random.key(0)]
    indices = [np.asarray(i, np.int32) for i in range(len(x) // batch)]

    def run(k):
        for _ in range(k):
            keys[0], sub = jax.random.split(keys[0])
            xs, ys = shuffle(x, y, sub, batch)
            for i in indices:
                out = step(xs, ys, i)
        jax.block_until_ready(out)

    xs, ys = shuffle(x, y, keys[0], batch)
    jax.block_until_ready(step(xs, ys, indices[0]))  # compile
    return run


class Equinox:
    """Equinox: ``eqx.nn.Linear`` layers applied per example under ``jax.vmap``, the step under
    ``eqx.filter_jit`` with ``eqx.filter_value_and_grad`` and optax."""

    def __init__(self):
        import equinox as eqx

        self.eqx = eqx

    def _model(self, sizes, act):
        eqx = self.eqx
        keys = jax.random.split(jax.random.key(0), len(sizes) - 1)
        layers = [eqx.nn.Linear(p, q, key=k) for k, p, q in zip(keys, sizes, sizes[1:])]
        hidden = [eqx.nn.Lambda(act)] * (len(layers) - 1)
        return eqx.nn.Sequential([m for pair in zip(layers, hidden) for m in pair] + layers[-1:])

    def _train_step(self, tx, loss):
        eqx = self.eqx

        def train_step(model, opt_state, x, y):
            value, grads = eqx.filter_value_and_grad(lambda m: loss(jax.vmap(m)(x), y))(model)
            updates, opt_state = tx.update(grads, opt_state, eqx.filter(model, eqx.is_array))
            return eqx.apply_updates(model, updates), opt_state, value

        return train_step

    def _setup(self, sizes, tx, act=jax.nn.relu, loss=None):
        loss = loss or (lambda z, y: optax.softmax_cross_entropy_with_integer_labels(z, y).mean())
        model = self._model(sizes, act)
        return [model, tx.init(self.eqx.filter(model, self.eqx.is_array))], self._train_step(
            tx, loss
        )

    def _stateful(self, state, jstep):
        def call(*args):
            state[0], state[1], value = jstep(state[0], state[1], *args)
            return value

        return call

    def step(self, sizes, x, y):
        state, train_step = self._setup(sizes, optax.adam(LR))
        call = self._stateful(state, self.eqx.filter_jit(train_step))
        x, y = jnp.asarray(x), jnp.asarray(y)
        return _loop_runner(lambda: call(x, y))

    def epoch(self, sizes, x, y, batch):
        state, train_step = self._setup(sizes, optax.adam(LR))
        indexed = self.eqx.filter_jit(lambda m, o, xs, ys, i: train_step(m, o, xs[i], ys[i]))
        return _epoch_runner(jnp.asarray(x), jnp.asarray(y), batch, self._stateful(state, indexed))

    def xor(self, x, t, steps):
        def sse(y, t):
            return 0.5 * jnp.sum((jax.nn.sigmoid(y) - t) ** 2)

        state, train_step = self._setup((2, 3, 1), optax.sgd(XOR_LR), jax.nn.sigmoid, sse)
        call = self._stateful(state, self.eqx.filter_jit(train_step))
        x, t = jnp.asarray(x), jnp.asarray(t)
        return _loop_runner(lambda: call(x, t), steps)

    def lower_step(self, sizes, x, y):
        (model, opt_state), train_step = self._setup(sizes, optax.adam(LR))
        args = (model, opt_state, jnp.asarray(x), jnp.asarray(y))
        return _lower_and_compile(self.eqx.filter_jit(train_step), args)


class Torch:
    """PyTorch eager on the CPU, ``torch.set_num_threads(cores)``: ``nn.Sequential``,
    ``nn.CrossEntropyLoss``, ``torch.optim.Adam``."""

    def __init__(self):
        import torch

        self.torch = torch
        torch.set_num_threads(os.cpu_count())
        torch.manual_seed(0)

    def _model(self, sizes, act):
        nn = self.torch.nn
        layers = []
        for p, q in zip(sizes, sizes[1:]):
            layers += [nn.Linear(p, q), act()]
        return nn.Sequential(*layers[:-1])

    def _runner(self, model, opt, loss, batches):
        def run(k):
            for _ in range(k):
                for xb, yb in batches():
                    opt.zero_grad(set_to_none=True)
                    loss(model(xb), yb).backward()
                    opt.step()

        return run

    def step(self, sizes, x, y):
        torch = self.torch
        model = self._model(sizes, torch.nn.ReLU)
        opt = torch.optim.Adam(model.parameters(), lr=LR)
        xb, yb = torch.from_numpy(x), torch.from_numpy(y).long()
        run = self._runner(model, opt, torch.nn.CrossEntropyLoss(), lambda: [(xb, yb)])
        run(1)
        return run

    def epoch(self, sizes, x, y, batch):
        torch = self.torch
        model = self._model(sizes, torch.nn.ReLU)
        opt = torch.optim.Adam(model.parameters(), lr=LR)
        x, y = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y).long()
        steps = len(x) // batch

        def batches():
            order = torch.randperm(len(x))
            for i in range(steps):
                idx = order[i * batch : (i + 1) * batch]
                yield x[idx], y[idx]

        return self._runner(model, opt, torch.nn.CrossEntropyLoss(), batches)

    def xor(self, x, t, steps):
        torch = self.torch
        model = self._model((2, 3, 1), torch.nn.Sigmoid)
        model.append(torch.nn.Sigmoid())
        opt = torch.optim.SGD(model.parameters(), lr=XOR_LR)
        xb, tb = torch.from_numpy(x), torch.from_numpy(t)
        return self._runner(
            model, opt, lambda y, t: 0.5 * ((y - t) ** 2).sum(), lambda: [(xb, tb)] * steps
        )


class Sklearn:
    """scikit-learn's ``MLPClassifier`` (float32 in, float32 weights): ``partial_fit`` on one
    batch is one step, on the training set one shuffled epoch. XOR: ``fit`` for 5000 epochs of
    one full batch; its classifier has a logistic output with log-loss (no squared error)."""

    def __init__(self):
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        self.MLPClassifier, self.ConvergenceWarning = MLPClassifier, ConvergenceWarning

    def _classifier(self, sizes, batch, **options):
        return self.MLPClassifier(
            hidden_layer_sizes=tuple(sizes[1:-1]),
            activation="relu",
            solver="adam",
            alpha=0.0,
            batch_size=batch,
            learning_rate_init=LR,
            random_state=0,
            **options,
        )

    def step(self, sizes, x, y):
        clf = self._classifier(sizes, len(x), shuffle=False)
        clf.partial_fit(x, y, classes=np.arange(sizes[-1]))

        def run(k):
            for _ in range(k):
                clf.partial_fit(x, y)

        return run

    def epoch(self, sizes, x, y, batch):
        clf = self._classifier(sizes, batch, shuffle=True)
        clf.partial_fit(x[:batch], y[:batch], classes=np.arange(sizes[-1]))

        def run(k):
            for _ in range(k):
                clf.partial_fit(x, y)

        return run

    def xor(self, x, t, steps):
        clf = self.MLPClassifier(
            hidden_layer_sizes=(3,),
            activation="logistic",
            solver="sgd",
            momentum=0.0,
            alpha=0.0,
            batch_size=len(x),
            learning_rate_init=XOR_LR,
            max_iter=steps,
            shuffle=False,
            tol=0.0,
            n_iter_no_change=steps + 1,
            random_state=0,
        )
        labels = t[:, 0].astype(np.int32)

        def run(k):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", self.ConvergenceWarning)
                for _ in range(k):
                    clf.fit(x, labels)

        return run


class Numpy:
    """The seeds' equations in NumPy, float32: z_l = a_{l-1} W_l + b_l, a_l = h(z_l); the
    delta recursion G_{l-1} = h'(z_{l-1}) * (G_l W_l^T), dW_l = a_{l-1}^T G_l; Adam or SGD."""

    def _init(self, sizes, rng):
        return [
            [
                (rng.standard_normal((p, q)) * np.sqrt(2.0 / p)).astype(np.float32),
                np.zeros(q, np.float32),
            ]
            for p, q in zip(sizes, sizes[1:])
        ]

    @staticmethod
    def _grads(params, x, t, hidden, hidden_grad, output_delta):
        zs, acts = [], [x]
        for w, b in params:
            zs.append(acts[-1] @ w + b)
            acts.append(hidden(zs[-1]))
        g = output_delta(zs[-1], t)  # G_L = dE/dz_L
        grads = []
        for l in range(len(params) - 1, -1, -1):
            grads.append((acts[l].T @ g, g.sum(0)))
            if l:
                g = (g @ params[l][0].T) * hidden_grad(zs[l - 1])
        return grads[::-1]

    @staticmethod
    def _softmax_ce_delta(z, t):
        e = np.exp(z - z.max(1, keepdims=True))
        y = e / e.sum(1, keepdims=True)
        y[np.arange(len(t)), t] -= 1.0
        return y / len(t)  # (y - t) / n

    def _adam(self, sizes, seed=0):
        params = self._init(sizes, np.random.default_rng(seed))
        m = [[np.zeros_like(a) for a in layer] for layer in params]
        v = [[np.zeros_like(a) for a in layer] for layer in params]
        count = [0]

        def relu(z):
            return np.maximum(z, 0)

        def relu_grad(z):
            return (z > 0).astype(np.float32)

        def step(x, y):
            grads = self._grads(params, x, y, relu, relu_grad, self._softmax_ce_delta)
            count[0] += 1
            c1, c2 = 1 - 0.9 ** count[0], 1 - 0.999 ** count[0]
            for layer, gl, ml, vl in zip(params, grads, m, v):
                for a, g, mi, vi in zip(layer, gl, ml, vl):
                    mi *= 0.9
                    mi += 0.1 * g
                    vi *= 0.999
                    vi += 0.001 * g * g
                    a -= LR * (mi / c1) / (np.sqrt(vi / c2) + 1e-8)

        return step

    def step(self, sizes, x, y):
        step = self._adam(sizes)

        def run(k):
            for _ in range(k):
                step(x, y)

        return run

    def epoch(self, sizes, x, y, batch):
        step = self._adam(sizes)
        rng = np.random.default_rng(0)
        steps = len(x) // batch

        def run(k):
            for _ in range(k):
                order = rng.permutation(len(x))
                for i in range(steps):
                    idx = order[i * batch : (i + 1) * batch]
                    step(x[idx], y[idx])

        return run

    def xor(self, x, t, steps):
        rng = np.random.default_rng(0)
        params = [
            [rng.uniform(size=(p, q)).astype(np.float32), rng.uniform(size=q).astype(np.float32)]
            for p, q in ((2, 3), (3, 1))
        ]

        def sigmoid(z):
            return 1 / (1 + np.exp(-z))

        def sigmoid_grad(z):
            s = sigmoid(z)
            return s * (1 - s)

        def delta(z, t):  # E = 1/2 sum (y - t)^2, y = sigmoid(z)
            y = sigmoid(z)
            return (y - t) * y * (1 - y)

        def run(k):
            for _ in range(k * steps):
                grads = self._grads(params, x, t, sigmoid, sigmoid_grad, delta)
                for layer, gl in zip(params, grads):
                    for a, g in zip(layer, gl):
                        a -= XOR_LR * g

        return run


# -- the ceiling -----------------------------------------------------------------------------------


def gemm_floor(sizes, batch: int):
    """``run(k)``: k jitted calls of the step's matrix products and nothing else: per layer
    a W, a^T G and G W^T at the step's shapes, 6 x weights x batch flops, one after the other
    as in a step (chained by optimization barriers: independent products run concurrently
    would contend for the same cores)."""
    keys = iter(jax.random.split(jax.random.key(1), 3 * len(sizes)))
    acts = [jax.random.normal(next(keys), (batch, p)) for p in sizes[:-1]]
    deltas = [jax.random.normal(next(keys), (batch, q)) for q in sizes[1:]]
    ws = [jax.random.normal(next(keys), (p, q)) for p, q in zip(sizes, sizes[1:])]

    @jax.jit
    def products(acts, deltas, ws):
        out = [()]
        for a, g, w in zip(acts, deltas, ws):
            for product in (
                lambda a, g, w: a @ w,
                lambda a, g, w: a.T @ g,
                lambda a, g, w: g @ w.T,
            ):
                _, a, g, w = lax.optimization_barrier((out[-1], a, g, w))
                out.append(product(a, g, w))
        return out[1:]

    def run(k):
        for _ in range(k):
            out = products(acts, deltas, ws)
        jax.block_until_ready(out)

    run(1)
    return run


def square_gemm(n: int):
    """``run(k)``: k jitted n x n float32 products (2 n^3 flops each)."""
    a, b = (jax.random.normal(k, (n, n)) for k in jax.random.split(jax.random.key(2)))
    product = jax.jit(jnp.matmul)

    def run(k):
        for _ in range(k):
            out = product(a, b)
        jax.block_until_ready(out)

    run(1)
    return run


# -- workloads -------------------------------------------------------------------------------------


def wide_step(cfg, libs) -> dict:
    """(1) One Adam step of the wide net at several batch sizes, and the GEMM ceiling."""
    sizes, out = cfg["wide"], {"sizes": list(cfg["wide"]), "batches": {}}
    peak = max(sizes[1:-1])
    for batch in cfg["wide_batches"]:
        x, y = random_batch(batch, sizes[0], sizes[-1])
        contenders = {name: lib.step(sizes, x, y) for name, lib in libs.items()}
        contenders["gemm floor"] = gemm_floor(sizes, batch)
        contenders[f"gemm {peak} square"] = square_gemm(peak)
        times = interleave(contenders, cfg["rounds"]["wide"], cfg["sample_s"])
        peak_times = times.pop(f"gemm {peak} square")
        rows = compare(times, flops=6 * weights(sizes) * batch)
        rows[f"gemm {peak} square"] = {
            "seconds": stats(peak_times),
            "gflops": 2 * peak**3 / float(np.median(peak_times)) / 1e9,
        }
        out["batches"][str(batch)] = rows
        print(f"wide step, batch {batch}: " + _brief(rows, "ms", 1e3), flush=True)
    out["hlo"] = hlo_facts(cfg["wide"], cfg["wide_batches"][0])
    return out


def fashion_epoch(cfg, libs) -> dict:
    """(2) One shuffled epoch of Fashion-MNIST's training set, Adam, batch 128."""
    sizes, batch = cfg["fashion"], cfg["fashion_batch"]
    x, y, source = fashion_data(cfg["fashion_n"])
    steps = len(x) // batch
    contenders = {name: lib.epoch(sizes, x, y, batch) for name, lib in libs.items()}
    floor = gemm_floor(sizes, batch)
    contenders["gemm floor"] = lambda k: floor(k * steps)
    times = interleave(contenders, cfg["rounds"]["fashion"], 0.0)
    rows = compare(times, flops=6 * weights(sizes) * steps * batch)
    print("fashion epoch: " + _brief(rows, "s", 1), flush=True)
    return {
        "sizes": list(sizes),
        "examples": steps * batch,
        "batch": batch,
        "data": source,
        "steps": steps,
        "contenders": rows,
    }


def xor_run(cfg, libs) -> dict:
    """(3) XOR, 2-3-1, ``xor_steps`` full-batch SGD steps: the overhead regime."""
    x, t = xor_data()
    steps = cfg["xor_steps"]
    contenders = {name: lib.xor(x, t, steps) for name, lib in libs.items()}
    times = interleave(contenders, cfg["rounds"]["xor"], 0.0)
    rows = compare(times, floor=None)
    for name, row in rows.items():
        if "numpy" in times:
            row["speedup_over_numpy"] = stats(np.asarray(times["numpy"]) / np.asarray(times[name]))
    jaxmlp = libs.get("jaxmlp")
    if jaxmlp is not None and jaxmlp.last is not None:  # the compiled call, from fit's history
        rows["jaxmlp"]["compiled_call_seconds"] = jaxmlp.last.history[0]["seconds"] * steps
    print("xor: " + _brief(rows, "ms", 1e3), flush=True)
    return {"steps": steps, "contenders": rows}


def xor_small_loop_probe(steps: int, rounds: int) -> dict:
    """XOR again in a child process with XLA:CPU's small-loop threshold raised (SMALL_LOOP_FLAG)."""
    env = os.environ | {"XLA_FLAGS": (os.environ.get("XLA_FLAGS", "") + " " + SMALL_LOOP_FLAG)}
    command = [sys.executable, __file__, "--xor-probe", str(steps), "--rounds", str(rounds)]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    if run.returncode:
        return {"skipped": f"the probe failed: {run.stderr[-500:]}"}
    return json.loads(run.stdout.strip().splitlines()[-1]) | {"xla_flags": SMALL_LOOP_FLAG}


def probe_main(steps: int, rounds: int):
    libs = {"jaxmlp": Jaxmlp(), "jax+optax scan": PlainJax(scan=True), "numpy": Numpy()}
    record = xor_run({"xor_steps": steps, "rounds": {"xor": rounds}}, libs)
    params, (x, t) = _xor_init(), xor_data()
    train = libs["jax+optax scan"].train
    text = train.lower(params, optax.sgd(XOR_LR).init(params), x, t)
    record["loop_compiled_as_one_kernel"] = "xla_cpu_small_call" in text.compile().as_text()
    print(json.dumps(record))


def compile_times(cfg, libs) -> dict:
    """(4) Seconds to trace + lower, and to compile, a fresh step of the wide net; and ``fit``'s
    first call (it compiles the fused loop) beside its second, on XOR and the Fashion-MNIST net."""
    sizes, batch = cfg["wide"], cfg["wide_batches"][0]
    x, y = random_batch(batch, sizes[0], sizes[-1])
    rows = {}
    for _ in range(cfg["rounds"]["compile"]):
        for name, lib in libs.items():
            if hasattr(lib, "lower_step"):
                lower, comp = lib.lower_step(sizes, x, y)
                row = rows.setdefault(name, {"lower": [], "compile": []})
                row["lower"].append(lower)
                row["compile"].append(comp)
    out = {"sizes": list(sizes), "batch": batch, "step": {}}
    for name, row in rows.items():
        out["step"][name] = {
            "trace_and_lower": stats(row["lower"]),
            "compile": stats(row["compile"]),
        }
    out["fit_first_call"] = _fit_first_calls(cfg)
    print(
        "compile: "
        + ", ".join(f"{n} {r['compile']['median']:.2f}s" for n, r in out["step"].items())
    )
    return out


def _fit_first_calls(cfg) -> dict:
    """``fit``'s first call (it compiles) and second call (cached), for a learning rate not seen
    before in this process, so every round compiles afresh."""
    x_f, y_f, _ = fashion_data(min(cfg["fashion_n"], 2048))
    xor_net = MLP((2, 3, 1), "sigmoid", "sigmoid", "sse", reduction="sum", init="uniform:0,1")
    fashion_net = MLP(cfg["fashion"], "relu", "softmax", "cross_entropy")
    cases = {
        "xor": (
            xor_net,
            *xor_data(),
            "sgd",
            TrainConfig(epochs=cfg["xor_steps"], batch_size="full"),
        ),
        "fashion": (
            fashion_net,
            x_f,
            y_f,
            "adam",
            TrainConfig(epochs=1, batch_size=cfg["fashion_batch"]),
        ),
    }
    out = {}
    for r in range(cfg["rounds"]["compile"]):
        for name, (net, x, t, opt, config) in cases.items():
            optimizer = Optimizer(opt, lr=(XOR_LR if opt == "sgd" else LR) * (1 + 1e-6 * (r + 1)))
            row = out.setdefault(name, {"first": [], "again": []})
            for when in ("first", "again"):
                row[when].append(_clock(lambda: fit(net, x, t, optimizer, config)))  # noqa: B023
    return {name: {k: stats(v) for k, v in row.items()} for name, row in out.items()}


def scaling(cfg, libs) -> dict:
    """(5) Step time against width, depth and batch, with the GEMM floor of each point."""
    out = {"sweeps": {}}
    for sweep, points in cfg["sweeps"].items():
        out["sweeps"][sweep] = []
        for sizes, batch, value in points:
            x, y = random_batch(batch, sizes[0], sizes[-1])
            contenders = {name: lib.step(sizes, x, y) for name, lib in libs.items()}
            contenders["gemm floor"] = gemm_floor(sizes, batch)
            times = interleave(contenders, cfg["rounds"]["scaling"], cfg["sample_s"] / 2)
            rows = compare(times, flops=6 * weights(sizes) * batch)
            out["sweeps"][sweep].append(
                {"value": value, "sizes": list(sizes), "batch": batch, "contenders": rows}
            )
        print(f"scaling by {sweep}: done", flush=True)
    return out


def gradcheck_matrix(quick: bool) -> dict:
    """(6) The wall time of ``jaxmlp.gradient_check.gradcheck_matrix``, where it exists."""
    try:
        from jaxmlp import gradient_check
    except ImportError as error:
        return {"skipped": f"jaxmlp.gradient_check is not available ({error})"}
    if not hasattr(gradient_check, "gradcheck_matrix"):
        return {"skipped": "jaxmlp.gradient_check has no gradcheck_matrix"}
    options = {"depths": (1,), "activations": ("tanh",), "pairs": (("identity", "sse"),)}
    start = time.perf_counter()
    report = gradient_check.gradcheck_matrix("float64", **(options if quick else {}))
    seconds = time.perf_counter() - start
    print(f"gradcheck matrix: {report.cells} cells in {seconds:.1f} s", flush=True)
    return {
        "seconds": seconds,
        "cells": report.cells,
        "failing": report.failing,
        "dtype": "float64",
        "worst_rel_err_autodiff": report.worst_rel_err_autodiff,
    }


# -- what the compiler made of it ------------------------------------------------------------------


def hlo_facts(sizes, batch: int) -> dict:
    """Counts of the compiled step of the wide net, hand against autodiff: matrix products,
    fusions, copies, and XLA's own flop and byte estimates. Load-independent."""
    x, y = random_batch(batch, sizes[0], sizes[-1])
    net = MLP(sizes, "relu", "softmax", "cross_entropy")
    tx = Optimizer("adam", lr=LR).build(10**6)
    params = net.init(jax.random.key(0))
    args = (params, tx.init(params), jnp.asarray(x), net.targets(y, batch))
    out = {"batch": batch}
    for backprop in ("hand", "autodiff"):
        compiled = jax.jit(make_step(net, tx, backprop)).lower(*args).compile()
        out[backprop] = _counts(compiled)
    return out


def _counts(compiled) -> dict:
    text = compiled.as_text()
    entry = text[text.index("\nENTRY") :]
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return {
        "matrix_products": len(re.findall(r" dot\(", text)),  # in the entry or inside a fusion
        "kernels_in_entry": len(re.findall(r"= \S+ (?:fusion|dot|copy|custom-call)\(", entry)),
        "copies": len(re.findall(r" copy\(", entry)),
        "flops": float(cost.get("flops", 0.0)),
        "bytes_accessed": float(cost.get("bytes accessed", 0.0)),
    }


# -- the run ---------------------------------------------------------------------------------------


def libraries(quick: bool, kind: str) -> tuple[dict, dict]:
    """``(libraries by name, peers {name: version or reason skipped})`` for a workload kind:
    ``"step"`` (one step, scaling), ``"epoch"`` (jit loop and scan reference) or ``"xor"``."""
    libs = {"jaxmlp": Jaxmlp("hand"), "jaxmlp autodiff": Jaxmlp("autodiff")}
    if kind == "step":
        libs["jax+optax"] = PlainJax(scan=False)
    else:
        libs["jax+optax scan"] = PlainJax(scan=True)
        libs["jax+optax jit loop"] = PlainJax(scan=False)
    if kind == "xor":
        del libs["jaxmlp autodiff"]
    status = {}
    for name, cls in (
        ("flax", Flax),
        ("equinox", Equinox),
        ("pytorch", Torch),
        ("scikit-learn", Sklearn),
    ):
        try:
            libs[name] = cls()
            status[name] = importlib.metadata.version(
                {"pytorch": "torch", "scikit-learn": "scikit-learn"}.get(name, name)
            )
        except ImportError as error:
            if not quick:
                raise SystemExit(
                    f"{name} is missing ({error}): a full run needs every peer; "
                    "install them with `pip install -e '.[bench]'`."
                ) from error
            status[name] = f"skipped: {error}"
    libs["numpy"] = Numpy()
    return libs, status


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        names = re.findall(r"model name\s*:\s*(.*)", pathlib.Path("/proc/cpuinfo").read_text())
        cpu = names[0].strip() if names else cpu
    memory = None
    with contextlib.suppress(OSError, AttributeError):
        kib = re.search(r"MemTotal:\s*(\d+)", pathlib.Path("/proc/meminfo").read_text()).group(1)
        memory = round(int(kib) / 2**20, 1)
    devices = sorted({d.platform for d in jax.devices()})
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory,
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "jax_devices": devices,
        "gpu": "GPU numbers were not taken: no GPU visible to JAX in this run"
        if devices == ["cpu"]
        else f"devices: {devices}",
        "load_average_start": list(os.getloadavg()),
        "XLA_FLAGS": os.environ.get("XLA_FLAGS"),
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
    }


def versions() -> dict:
    out = {}
    for package in (
        "jaxmlp",
        "jax",
        "jaxlib",
        "optax",
        "numpy",
        "flax",
        "equinox",
        "torch",
        "scikit-learn",
    ):
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            out[package] = None
    return out


def targets(work: dict) -> list:
    """Each target of issues 3, 4 and 8 against what this run measured (medians)."""
    out = []

    def add(name, target, value, met, detail=""):
        out.append(
            {"name": name, "target": target, "measured": value, "met": bool(met), "detail": detail}
        )

    wide = work.get("wide_step", {}).get("batches", {})
    for batch, rows in wide.items():
        if "jaxmlp autodiff" in rows:
            r = 1 / rows["jaxmlp autodiff"]["time_over_jaxmlp"]["median"]
            add(f"hand step / jax.grad step, batch {batch}", "<= 1.0", r, r <= 1.0)
        f = rows["jaxmlp"]["floor_fraction"]["median"]
        add(f"wide step at the GEMM rate, batch {batch}", ">= 0.85", f, f >= 0.85)
    fashion = work.get("fashion_epoch", {}).get("contenders", {})
    if "jaxmlp" in fashion:
        over = 1 / fashion["jaxmlp"]["floor_fraction"]["median"]
        add("Fashion-MNIST epoch / GEMM-bound floor", "<= 1.3", over, over <= 1.3)
    xor = work.get("xor", {}).get("contenders", {})
    if "speedup_over_numpy" in xor.get("jaxmlp", {}):
        s = xor["jaxmlp"]["speedup_over_numpy"]["median"]
        add(f"XOR {work['xor']['steps']} steps, NumPy time / jaxmlp time", ">= 100", s, s >= 100)
    tables = [(f"wide step, batch {b}", rows) for b, rows in wide.items()]
    for workload, rows in (*tables, ("Fashion-MNIST epoch", fashion), ("XOR", xor)):
        peers = {
            name: row["time_over_jaxmlp"]["median"]
            for name, row in rows.items()
            if name in (*PEERS, "numpy") and "time_over_jaxmlp" in row
        }
        if peers:
            nearest = min(peers, key=peers.get)
            add(
                f"{workload}: nearest peer's time / jaxmlp's",
                ">= 1.0",
                peers[nearest],
                peers[nearest] >= 1.0,
                nearest,
            )
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one round")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS, help="results folder")
    parser.add_argument("--only", nargs="*", help="run only these workloads")
    parser.add_argument("--table", action="store_true", help="rebuild BENCHMARKS.md's tables")
    parser.add_argument("--xor-probe", type=int, metavar="STEPS", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=7, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.xor_probe:
        return probe_main(args.xor_probe, args.rounds)
    if args.table:
        return write_markdown(json.loads((args.out / "bench.json").read_text()))
    args.out.mkdir(parents=True, exist_ok=True)
    cfg = QUICK if args.quick else FULL
    start = time.perf_counter()
    record = {
        "schema": 1,
        "quick": args.quick,
        "machine": machine(),
        "versions": versions(),
        "settings": {k: v for k, v in cfg.items() if k != "sweeps"},
        "workloads": {},
    }
    work, peers = record["workloads"], {}
    plan = {
        "wide_step": lambda: wide_step(cfg, _libs("step", args.quick, peers)),
        "fashion_epoch": lambda: fashion_epoch(cfg, _libs("epoch", args.quick, peers)),
        "xor": lambda: xor_run(cfg, _libs("xor", args.quick, peers)),
        "xor_small_loop_flag": lambda: (
            {"skipped": "full run only"}
            if args.quick
            else xor_small_loop_probe(cfg["xor_steps"], cfg["rounds"]["xor"])
        ),
        "compile": lambda: compile_times(cfg, _libs("step", args.quick, peers, jax_only=True)),
        "scaling": lambda: scaling(cfg, _libs("step", args.quick, peers, scaling=True)),
        "gradcheck_matrix": lambda: gradcheck_matrix(args.quick),
    }
    for name, run in plan.items():
        if not args.only or name in args.only:
            began = time.perf_counter()
            work[name] = run() | {"elapsed_s": time.perf_counter() - began}
    record["peers"] = peers
    record["targets"] = targets(work)
    record["machine"]["load_average_end"] = list(os.getloadavg())
    record["seconds"] = time.perf_counter() - start
    _save(args.out / "bench.json", record)
    _figures(args.out, record)
    if not args.quick and args.out.resolve() == RESULTS.resolve() and not args.only:
        write_markdown(record)
    for row in record["targets"]:
        print(
            f"{'met ' if row['met'] else 'MISS'} {row['name']}: {row['measured']:.3g} "
            f"(target {row['target']})"
        )


def _libs(kind, quick, peers, jax_only=False, scaling=False):
    libs, status = libraries(quick, kind)
    peers.update(status)
    if jax_only:
        libs = {n: lib for n, lib in libs.items() if hasattr(lib, "lower_step")}
    if scaling:
        libs = {n: libs[n] for n in ("jaxmlp", "jax+optax", "pytorch") if n in libs}
    return libs


def _brief(rows, unit, scale) -> str:
    return ", ".join(f"{n} {r['seconds']['median'] * scale:.3g} {unit}" for n, r in rows.items())


def _save(path, record):
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
        json.dump(record, f, indent=1)
    os.replace(f.name, path)


# -- figures and tables ----------------------------------------------------------------------------


def _figures(out, record):
    plt = pyplot()
    from matplotlib.ticker import NullFormatter, NullLocator

    sweeps = record["workloads"].get("scaling", {}).get("sweeps")
    if sweeps:
        fig, axes = plt.subplots(1, len(sweeps), figsize=(5 * len(sweeps), 4), squeeze=False)
        for ax, (sweep, points) in zip(axes[0], sweeps.items()):
            values = [p["value"] for p in points]
            sizes, batch = points[0]["sizes"], points[0]["batch"]
            xlabel = {
                "width": f"hidden width ({sizes[0]}-w-w-{sizes[-1]}, batch {batch})",
                "depth": f"hidden layers of {sizes[1]} (batch {batch})",
                "batch": f"batch ({'-'.join(map(str, sizes))})",
            }.get(sweep, sweep)
            for name in points[0]["contenders"]:
                t = [p["contenders"][name]["seconds"]["median"] * 1e3 for p in points]
                ax.plot(values, t, "k--" if name == "gemm floor" else "o-", label=name)
            ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel="ms / step")
            ax.set_xticks(values, [str(v) for v in values], minor=False)
            ax.xaxis.set_minor_locator(NullLocator())
            ax.yaxis.set_minor_formatter(NullFormatter())
            ax.grid(alpha=0.3)
        axes[0][0].legend(fontsize=8)
        fig.suptitle(
            f"Adam step time, float32, {record['machine']['cpu']}, "
            f"{record['machine']['cores']} cores"
        )
        figure(_Out(out), "bench_scaling", fig)
    work = record["workloads"]
    panels = [
        (k, t)
        for k, t in (("fashion_epoch", "Fashion-MNIST epoch (s)"), ("xor", "XOR run (s)"))
        if k in work
    ]
    if panels:
        fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
        for ax, (key, title) in zip(axes[0], panels):
            rows = work[key]["contenders"]
            names = list(rows)
            med = [rows[n]["seconds"]["median"] for n in names]
            low = [m - rows[n]["seconds"]["min"] for n, m in zip(names, med)]
            high = [rows[n]["seconds"]["max"] - m for n, m in zip(names, med)]
            ax.barh(names, med, xerr=[low, high], color="tab:blue")
            ax.set(xscale="log", title=title)
            ax.invert_yaxis()
        fig.tight_layout()
        figure(_Out(out), "bench_workloads", fig)


class _Out:
    """What ``common.figure`` reads from its args: the output folder."""

    def __init__(self, out):
        self.out = out


def _cell(row, scale=1.0, digits=3) -> str:
    s = row.get("seconds", row)
    return (
        f"{s['median'] * scale:.{digits}g} ({s['min'] * scale:.{digits}g}-"
        f"{s['max'] * scale:.{digits}g})"
    )


def _ratio(row, key) -> str:
    if key not in row:
        return "-"
    s = row[key]
    return f"{s['median']:.2f} ({s['min']:.2f}-{s['max']:.2f})"


def tables(record) -> str:
    m, work = record["machine"], record["workloads"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['system']}; "
        f"jax {record['versions']['jax']}; load average {m['load_average_start'][0]:.1f} at the "
        f"start, {m['load_average_end'][0]:.1f} at the end; {m['gpu']}. "
        f"Run took {record['seconds'] / 60:.1f} min{' (QUICK run)' if record['quick'] else ''}.",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    for row in record["targets"]:
        detail = f" ({row['detail']})" if row["detail"] else ""
        lines.append(
            f"| {row['name']}{detail} | {row['measured']:.3g} (target {row['target']}) "
            f"| {'yes' if row['met'] else '**no**'} |"
        )
    if "wide_step" in work:
        batches = work["wide_step"]["batches"]
        head = " | ".join(f"batch {b}: ms / step | x jaxmlp | floor fraction" for b in batches)
        lines += [
            "",
            f"**Wide step** {tuple(work['wide_step']['sizes'])}, Adam, one step; "
            "x jaxmlp = its time over jaxmlp's (> 1: jaxmlp faster); floor fraction = "
            "GEMM floor time / its time.",
            "",
            f"| contender | {head} |",
            "|---|" + "---|---|---|" * len(batches),
        ]
        for name in next(iter(batches.values())):
            cells = []
            for rows in batches.values():
                row = rows[name]
                cells += [
                    _cell(row, 1e3),
                    _ratio(row, "time_over_jaxmlp"),
                    _ratio(row, "floor_fraction"),
                ]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        rates = " ; ".join(
            f"batch {b}: floor {rows['gemm floor']['gflops']:.1f} GFLOP/s, "
            f"jaxmlp {rows['jaxmlp']['gflops']:.1f}"
            for b, rows in batches.items()
        )
        lines += ["", f"Rates (6 x weights x batch / median time): {rates}."]
    if "fashion_epoch" in work:
        f = work["fashion_epoch"]
        lines += [
            "",
            f"**Fashion-MNIST epoch** {tuple(f['sizes'])}, Adam, batch {f['batch']}, "
            f"{f['examples']} examples ({f['data']}); x floor = its time over the GEMM-bound "
            "floor.",
            "",
            "| contender | s / epoch | x jaxmlp | x floor |",
            "|---|---|---|---|",
        ]
        for name, row in f["contenders"].items():
            over = 1 / row["floor_fraction"]["median"]
            lines.append(
                f"| {name} | {_cell(row)} | {_ratio(row, 'time_over_jaxmlp')} | {over:.2f} |"
            )
    if "xor" in work:
        x = work["xor"]
        lines += [
            "",
            f"**XOR** 2-3-1, {x['steps']} full-batch SGD steps (compiled beforehand).",
            "",
            "| contender | ms / run | x jaxmlp | NumPy time / its time |",
            "|---|---|---|---|",
        ]
        for name, row in x["contenders"].items():
            lines.append(
                f"| {name} | {_cell(row, 1e3)} | {_ratio(row, 'time_over_jaxmlp')} | "
                f"{_ratio(row, 'speedup_over_numpy')} |"
            )
        probe = work.get("xor_small_loop_flag", {})
        if "contenders" in probe:
            lines += [
                "",
                f"With `XLA_FLAGS={probe['xla_flags']}` (a separate process; loop "
                f"compiled as one kernel: {probe.get('loop_compiled_as_one_kernel')}):",
                "",
            ]
            for name, row in probe["contenders"].items():
                lines.append(
                    f"- {name}: {_cell(row, 1e3)} ms, NumPy time / its time "
                    f"{_ratio(row, 'speedup_over_numpy')}"
                )
    if "compile" in work:
        c = work["compile"]
        lines += [
            "",
            f"**Compile** a fresh step of {tuple(c['sizes'])}, batch {c['batch']} (seconds).",
            "",
            "| contender | trace + lower | XLA compile |",
            "|---|---|---|",
        ]
        for name, row in c["step"].items():
            lines.append(f"| {name} | {_cell(row['trace_and_lower'])} | {_cell(row['compile'])} |")
        for name, row in c["fit_first_call"].items():
            lines.append(
                f"| jaxmlp `fit`, {name}: first call / second call | "
                f"{_cell(row['first'])} | {_cell(row['again'])} |"
            )
    g = work.get("gradcheck_matrix")
    if g:
        text = g.get("skipped") or (
            f"{g['cells']} cells ({g['dtype']}), {g['failing']} failing, {g['seconds']:.1f} s"
        )
        lines += ["", f"**Gradcheck matrix**: {text}."]
    return "\n".join(lines)


def write_markdown(record, path=MARKDOWN):
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    path.write_text(f"{head}{BEGIN}\n{tables(record)}\n{END}{tail}")


if __name__ == "__main__":
    sys.exit(main())
