"""What the solo fit's guard costs, and what leaving it out would change (issue 17).

``unguarded+sort`` puts a ``lax.sort`` of two numbers into each epoch of the unguarded loop: an
instruction XLA:CPU's small-while-loop hoisting pass cannot put into one kernel, so the tiny loop
runs kernel by kernel, as with ``xla_cpu_small_while_loop_byte_threshold=0``.

One XOR 2-3-1 fit (sigmoid/sigmoid, sse, sum, 5000 full-batch SGD epochs at lr 0.1) as fit
compiles it (every step's update in a ``lax.cond`` on the step being finite, ``epochs.make_epoch``
with ``guard=True``) and unguarded (``guard=False``, as a population's epochs run): the compiled
call's time (median of ``--rounds`` interleaved rounds), the parameters against the member of an
8-member population with the same seed, and whether calls split at other epochs (a resume)
give the one-call parameters.

    PYTHONPATH=. python experiments/probes/solo_guard.py
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp import MLP, Optimizer, TrainConfig, fit, fit_population, train
from jaxmlp import epochs as ep

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
T = np.array([[0], [1], [1], [0]], np.float32)
NET = MLP((2, 3, 1), "sigmoid", "sigmoid", "sse", reduction="sum", init="uniform:0,1")
OPTIMIZER, CONFIG = Optimizer("sgd", lr=0.1), TrainConfig(5000, "full")
SPLITS = ([5000], [4999, 1], [1, 4999], [2503, 2497], [4000, 997, 3])


def gap(a, b) -> float:
    return max(
        float(jnp.max(jnp.abs(u - v))) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b))
    )


def epochs_program(guard: bool, sort: bool = False):
    """``call(params, opt_state, first, k) -> params``: fit's compiled epochs, guarded or not."""
    data = train.prepare(NET, X, T, None, None, CONFIG)
    spec, numbers = train.step_spec(OPTIMIZER, CONFIG, data.steps)
    hyper = train.stored(numbers, train.storage_dtype(CONFIG.dtype))
    key = train.run_key(CONFIG.seed)

    @jax.jit
    def run(params, opt_state, hyper, epochs):
        halves = spec.halves(NET, hyper)
        epoch = ep.make_epoch(NET, halves, data.n, data.batch_size, data.mesh, False, False, guard)
        carry = (params, opt_state, jnp.bool_(False), jnp.int32(-1))

        def one(c, e):
            (params, opt_state, stopped, bad), out = epoch(
                c, e, data.x, data.t, None, None, None, None, key
            )
            if sort:  # bad is unchanged: the smaller of e and e + 1 is e
                bad = bad + jnp.sort(jnp.stack([e, e + 1]))[0] - e
            return (params, opt_state, stopped, bad), out

        (params, opt_state, _, bad), _ = ep._scan_epochs(one, carry, epochs)
        return params, opt_state, bad  # bad returned, as fit's program does

    def call(params, opt_state, first, k):
        out = run(params, opt_state, hyper, np.arange(first, first + k, dtype=np.int32))
        return out[:2]

    _, params, opt_state = train._start(NET, data, spec, CONFIG, None, None, None)
    return call, jax.device_get((params, opt_state))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    rounds = parser.parse_args().rounds
    solo = fit(NET, X, T, OPTIMIZER, CONFIG).params
    member = jax.tree.map(
        lambda a: a[0], fit_population(NET, X, T, OPTIMIZER, CONFIG, seeds=[0] * 8).params
    )
    print(f"fit against its population member: {gap(solo, member):.3g}")
    programs = {
        name: epochs_program(guard, sort)
        for name, guard, sort in (
            ("guarded", True, False),
            ("unguarded", False, False),
            ("unguarded+sort", False, True),
        )
    }
    for name, (call, (p, o)) in programs.items():
        one_call = call(p, o, 0, 5000)[0]
        against = f"against fit {gap(one_call, solo):.3g}, the member {gap(one_call, member):.3g}"
        print(f"{name}: {against}")
        for splits in SPLITS[1:]:
            params, opt_state, first = p, o, 0
            for k in splits:
                params, opt_state = call(params, opt_state, first, k)
                first += k
            print(f"  calls of {splits} epochs against one call: {gap(params, one_call):.3g}")
    times = {name: [] for name in programs}
    for _ in range(rounds):
        for name, (call, (p, o)) in programs.items():
            start = time.perf_counter()
            jax.block_until_ready(call(p, o, 0, 5000))
            times[name].append(time.perf_counter() - start)
    for name, t in times.items():
        print(f"{name}: compiled call {statistics.median(t) * 1e3:.3f} ms (median of {rounds})")


if __name__ == "__main__":
    main()
