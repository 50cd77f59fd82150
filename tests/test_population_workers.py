"""``fit_population(workers=k)``: k chunks of members at once on host threads, with the results
of the same chunks one after another, bit for bit."""

import functools
import json
import os
import subprocess
import sys
import threading
import time

import jax
import numpy as np
import pytest

from jaxmlp import MLP, Optimizer, TrainConfig, backprop, fit_population, member_start
from jaxmlp.epochs import StepSpec

RNG = np.random.default_rng(3)
X = RNG.normal(size=(24, 3)).astype(np.float32)
T = np.eye(2, dtype=np.float32)[(X[:, 0] * X[:, 1] > 0).astype(int)]
XV, TV = X[:8] + 0.1, T[:8]
NET = MLP((3, 5, 2), "tanh", "softmax", "cross_entropy")
SEEDS = [0, 1, 2, 3, 4]
HYPER = {"lr": [0.01, 0.02, 0.05, 0.1, 0.2]}


def train(dtype="float32", members=5, **kwargs):
    config = TrainConfig(epochs=30, batch_size=8, early_stopping=4, dtype=dtype)
    seeds, hyper = SEEDS[:members], {"lr": HYPER["lr"][:members]}
    return fit_population(
        NET, X, T, Optimizer("adam"), config, seeds=seeds, hyper=hyper, x_val=XV, t_val=TV, **kwargs
    )


def assert_same(a, b):
    """Parameters, history and records (but the seconds) equal, bit for bit."""
    for u, v in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params), strict=True):
        assert u.dtype == v.dtype
        np.testing.assert_array_equal(u, v)
    assert a.history.keys() == b.history.keys()
    for name in a.history:
        np.testing.assert_array_equal(a.history[name], b.history[name])
    drop = lambda records: [{k: v for k, v in r.items() if k != "seconds"} for r in records]  # noqa: E731
    assert drop(a.members) == drop(b.members)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [2, 3])
def test_workers_train_the_chunks_of_one_at_a_time_bit_for_bit(workers):
    one = train(chunk=2)
    assert {r["stopped_epoch"] is not None for r in one.members} == {True, False}  # both kinds
    assert_same(one, train(chunk=2, workers=workers))


@pytest.mark.slow
def test_workers_train_members_past_tiny_as_one_at_a_time_bit_for_bit():
    """Members whose products are XLA's dots (``backprop.is_tiny`` false), multithreaded in
    each worker: still the chunks' results one after another, bit for bit."""
    net = MLP((16, 32, 4), "relu", "softmax", "cross_entropy")
    x = RNG.normal(size=(64, 16)).astype(np.float32)
    labels = RNG.integers(0, 4, 64)
    assert not backprop.is_tiny(net, 32)
    config = TrainConfig(epochs=6, batch_size=32)
    runs = [
        fit_population(net, x, labels, Optimizer("adam"), config, seeds=[0, 1, 2, 3], **kwargs)
        for kwargs in ({"chunk": 2}, {"chunk": 2, "workers": 2})
    ]
    assert_same(*runs)


@pytest.mark.slow
def test_workers_alone_chunk_the_members_evenly_over_them():
    """workers=2 of 5 members: chunks of 3 and 2, as chunk=3 one at a time."""
    assert_same(train(chunk=3), train(workers=2))


def chunk(net, p, workers=1, devices=None, optimizer="adam"):
    spec = StepSpec(Optimizer(optimizer), 100, "hand", "float32")
    config = TrainConfig()
    return member_start.chunk_size(net, spec, config, p, workers, devices, np.dtype("float32"))


def test_the_default_chunk_on_the_cpu_holds_members_of_8_mib_in_equal_chunks():
    """Fashion-MNIST-shaped members (~3.8 MB each with Adam: parameters, gradients, two
    moments; ~1.9 MB with SGD) in chunks of 2 (4), on any number of workers; XOR's 1000 in
    ``ceil(P / workers)``; equal chunks (10 of 3.8 MB: 5 of 2, not 2, 2, 2, 2, 2 as 4 + ...);
    a multiple of the devices, each holding its 8 MiB."""
    fashion = MLP((784, 256, 128, 10), "relu", "softmax", "cross_entropy")
    xor = MLP((2, 3, 1), "sigmoid", "sigmoid", "sse")
    assert [chunk(fashion, 16, w) for w in (1, 2, 4, 8)] == [2, 2, 2, 2]
    assert [chunk(fashion, 16, w, optimizer="sgd") for w in (1, 2, 4)] == [4, 4, 4]
    assert [chunk(xor, 1000, w) for w in (1, 2, 3)] == [1000, 500, 334]
    assert chunk(fashion, 10) == 2 and chunk(fashion, 9) == 2  # 5 chunks of 2 (the last 1)
    assert chunk(fashion, 16, devices=2) == 4 and chunk(fashion, 16, devices=4) == 8
    assert chunk(xor, 1000, 3, devices=2) == 334 and chunk(xor, 8, 3, devices=2) == 4


@pytest.mark.slow
def test_members_past_the_chunk_bytes_train_alike_on_any_number_of_workers(monkeypatch):
    """With the default chunk, members past the CPU's chunk bytes train in the same chunks on
    1 or 2 workers, bit for bit (``ceil(P / workers)`` alone gave chunks of 4 and of 2, whose
    batched sums round otherwise): here members of 16-32-4 with the bytes set to two of them."""
    net = MLP((16, 32, 4), "relu", "softmax", "cross_entropy")
    x = RNG.normal(size=(64, 16)).astype(np.float32)
    labels = RNG.integers(0, 4, 64)
    config = TrainConfig(epochs=6, batch_size=32)
    spec = StepSpec(Optimizer("adam"), 12, "hand", "float32")
    bytes_ = member_start._working_bytes(net, spec, False, np.dtype("float32"))
    monkeypatch.setattr(member_start, "CPU_CHUNK_BYTES", 2 * bytes_)
    run = functools.partial(fit_population, net, x, labels, Optimizer("adam"), config)
    seeds = [0, 1, 2, 3]
    one = run(seeds=seeds)
    assert_same(one, run(seeds=seeds, workers=2))
    assert_same(one, run(seeds=seeds, chunk=2))


@pytest.mark.slow
def test_float64_workers_compute_in_the_callers_precision():
    """x64 is a thread-local jax setting a worker thread does not inherit (the run enters its
    precision in the calling thread): a float64 population on two workers is float64 and equal
    to one worker's, bit for bit."""
    with jax.enable_x64(True):
        one = train("float64", chunk=3)
        two = train("float64", workers=2)
    assert two.params[0]["w"].dtype == np.float64
    assert_same(one, two)


@pytest.mark.slow
def test_workers_shuffle_with_the_callers_threefry_variant():
    """``jax.threefry_partitionable`` is a thread-local jax setting (as x64) that changes every
    epoch's shuffle: the workers shuffled with jax's default variant, one worker (the calling
    thread) with the caller's, and the two populations differed. Now they are equal, bit for
    bit."""
    assert jax.config.jax_threefry_partitionable  # (the context below is not jax's default)
    with jax.threefry_partitionable(False):
        one = train(chunk=3)
        two = train(workers=2)
    assert_same(one, two)


@pytest.mark.parametrize("workers", [0, -1, 1.5, True, "2", None])
def test_workers_must_be_a_positive_integer(workers):
    with pytest.raises(ValueError, match=r"workers must be an integer >= 1, got"):
        train(workers=workers)


@pytest.mark.slow
def test_what_stop_raises_in_a_worker_ends_the_population_at_the_others_next_call(monkeypatch):
    """A call of one epoch each (30 per chunk): once stop raises in one worker, the other stops
    at its next call and no chunk starts."""
    from jaxmlp import member_epochs

    monkeypatch.setattr(member_epochs, "member_epochs_per_call", lambda *a, **k: 1)
    threads, calls = set(), []

    def stop():
        threads.add(threading.get_ident())
        calls.append(1)
        if len(calls) == 7:
            raise KeyboardInterrupt

    config = TrainConfig(epochs=30, batch_size=8)  # no early stopping: 30 calls a chunk
    with pytest.raises(KeyboardInterrupt):
        fit_population(NET, X, T, config=config, seeds=SEEDS, chunk=1, workers=2, stop=stop)
    assert threading.get_ident() not in threads  # called in the workers' threads
    assert 7 <= len(calls) <= 9  # the other's call under way, and its next (150 had all run)


SCRIPT = r"""
import json, sys

import jax
import numpy as np

sys.path.insert(0, sys.argv[1])
from test_population_workers import train


def gap(a, b):
    pairs = zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params), strict=True)
    return max(float(np.max(np.abs(u - v))) for u, v in pairs)


out = {}
with jax.default_device(jax.devices()[2]):
    one, two = train(chunk=3), train(workers=2)
out["devices"] = sorted({str(d) for a in jax.tree.leaves(two.params) for d in a.devices()})
out["gap"] = gap(one, two)
out["sharded_gap"] = gap(train(members=4, devices=2, chunk=2),
                         train(members=4, devices=2, chunk=2, workers=2))
print(json.dumps(out))
"""


@pytest.mark.slow
def test_workers_run_on_the_callers_default_device_and_over_its_member_devices():
    """A ``jax.default_device`` context (thread-local, as x64) reaches the workers' programs;
    members sharded over 2 of 4 CPU devices train on two workers as one chunk at a time."""
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    env["JAX_PLATFORMS"] = "cpu"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, os.path.dirname(__file__)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.splitlines()[-1])
    assert out == {"devices": ["cpu:2"], "gap": 0.0, "sharded_gap": 0.0}


@pytest.mark.slow
def test_a_grid_search_on_workers_gives_the_records_of_its_chunks_one_at_a_time():
    from jaxmlp.search import grid_search

    config = TrainConfig(epochs=5, batch_size=8)
    grid = {"lr": [0.01, 0.1]}
    runs = [
        grid_search(NET, X, T, Optimizer("adam"), config, grid, folds=2, **kwargs)
        for kwargs in ({"chunk": 2}, {"workers": 2})
    ]
    drop = lambda records: [{k: v for k, v in r.items() if k != "seconds"} for r in records]  # noqa: E731
    assert drop(runs[0]) == drop(runs[1])


def test_a_stop_that_raises_once_stops_every_worker_within_its_chunk(monkeypatch):
    """``stop`` raises once, as ``interrupt.check`` does (it takes the signal it acts on): the
    worker that called it stopped, and the other one trained its chunk on to its end (every
    one of its calls of epochs) before the population raised. Now every worker stops at its
    next call."""
    from jaxmlp import epochs

    monkeypatch.setattr(epochs, "_FLOPS_PER_CALL", 1)  # one epoch a call: 200 calls a chunk
    calls, lock = [], threading.Lock()

    def stop():
        with lock:
            calls.append(1)
            if len(calls) == 3:
                raise KeyboardInterrupt
        if len(calls) > 3:  # (a loaded machine's main thread takes its time to halt them)
            time.sleep(0.02)

    config = TrainConfig(epochs=200, batch_size=8)
    with pytest.raises(KeyboardInterrupt):
        fit_population(NET, X, T, Optimizer("adam"), config, seeds=[0, 1], workers=2, stop=stop)
    assert len(calls) < 50, len(calls)


CONTEXTS = [  # thread-local jax settings, each to a value not jax's default
    (jax.enable_x64, True),
    (jax.default_device, jax.devices()[-1]),
    (jax.default_matmul_precision, "highest"),
    (jax.numpy_rank_promotion, "raise"),
    (jax.numpy_dtype_promotion, "strict"),
    (jax.threefry_partitionable, False),
    (jax.default_prng_impl, "rbg"),
    (jax.debug_nans, True),
    (jax.disable_jit, True),
    (jax.softmax_custom_jvp, True),
    (jax.thread_guard, True),
]


def test_jobs_on_threads_run_under_every_thread_local_jax_setting_of_the_callers():
    """jax's settings entered in a context are thread-local, and a thread does not inherit
    them: jobs on threads took five named by hand (x64, default device, matmul precision,
    promotion rules) and ran under jax's default of every other (threefry variant, PRNG,
    debug_nans, disable_jit, ...), which one at a time honour. Now a job sees every one of
    jax.config's values as the caller does, but the thread guard's (``NOT_INHERITED``)."""
    import contextlib

    from jaxmlp import host_threads

    def job(stop):
        del stop
        return {name: repr(value) for name, value in jax.config.values.items()}

    defaults = job(None)
    with contextlib.ExitStack() as stack:
        for context, value in CONTEXTS:
            stack.enter_context(context(value))
        callers = job(None)
        seen = dict(host_threads.finished(iter([job, job]), 2))
    assert sum(callers[name] != defaults[name] for name in callers) == len(CONTEXTS)
    for values in seen.values():
        differ = {name for name in callers if values[name] != callers[name]}
        assert differ == set(host_threads.NOT_INHERITED)


def test_jaxs_thread_local_contexts_are_its_settings_but_these():
    """The workers take every jax.config setting the caller entered (``host_threads``); jax's
    thread-local contexts that change a trace (its trace context) are those, and these, no
    setting: meshes (``jax.set_mesh``, ``with mesh``: jaxmlp places members by shardings of
    its own), ``jax.experimental.compute_on``, XLA metadata, Pallas's interpreter, users' own
    contexts (``jax.make_user_context``) and the tracer's axes. If jax adds another, this
    fails: decide whether a worker needs the caller's value."""
    from jax._src import config

    others = set(config.trace_context_names()) - set(config.config_states)
    assert others == {
        "mesh_context_manager",
        "abstract_mesh_context_manager",
        "compute_on_context_manager",
        "xla_metadata_context_manager",
        "pallas_tpu_interpret_mode_context_manager",
        "user_context",
        "axis_env_state",
    }
