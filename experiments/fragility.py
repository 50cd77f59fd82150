"""MLPs are fragile: one more layer, +0.001 on the learning rate or another init breaks them.

Claim (seed 003, "Multilayer Perceptrons are 'fragile'"): "An extra layer, a +0.001 in the
learning rate, random uniform weight instead for random normal weights, and or even a different
random seed can turn perfectly a functional neural network into a useless one."

Setup: seed 003's own XOR network (``xor.py``): ``(2, 3, 1)`` sigmoid units, E = 1/2 SSE summed,
weights and biases uniform on [0, 1], plain full-batch gradient descent with eta = 0.1 for 5,000
iterations, on the library's hand ``net.backprop``; trained from 1,000 seeds at once (vmap;
--quick: 200). A run works when all four XOR patterns are classified (output > 0.5 for 1). The
same seeds (the same random keys) are trained with one change each:
  * an extra layer: ``(2, 3, 3, 1)``;
  * eta + 0.001: 0.101, from exactly the same initial weights;
  * normal instead of uniform weights: N(0, 1) (``init="normal:1"``).
For each change, over the seeds whose base network works: the share where the changed one does
not (broken), with a Wilson 95 % interval; over the seeds whose base network fails, the share the
change makes work (fixed); the seed itself: the base success rate over all seeds.

Criterion: each change breaks at least 1 % of the working base runs with a Wilson 95 % lower
bound above 0, and the base success rate (a different seed) lies between 5 % and 95 %.
"""

import jax
import jax.numpy as jnp
import numpy as np
from common import figure, parse_args, pyplot, save, wilson

from jaxmlp import MLP

X = jnp.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
T = jnp.array([[0.0], [1.0], [1.0], [0.0]])
ITERATIONS, ETA = 5000, 0.1


def works(net, eta, keys):
    """Per key: does gradient descent from ``net.init(key)`` solve XOR? Also the final errors."""

    def one(key):
        params = net.init(key)

        def step(p, _):
            return jax.tree.map(lambda w, g: w - eta * g, p, net.backprop(p, X, T)), None

        params, _ = jax.lax.scan(step, params, None, length=ITERATIONS)
        y = net.apply(params, X)
        return jnp.all((y > 0.5) == (T > 0.5)), net.cost(params, X, T)

    ok, error = jax.jit(jax.vmap(one))(keys)
    return np.asarray(ok), np.asarray(error)


def change_row(base_ok, ok, error) -> dict:
    """One configuration's outcome on the same seeds as the base: its success rate over all
    seeds; ``broken``: of the seeds whose base run works, those where this one does not;
    ``fixed``: of the seeds whose base run fails, those where this one works. Each rate with its
    Wilson 95 % interval, None where no seed can be counted."""
    base_ok, ok = np.asarray(base_ok, bool), np.asarray(ok, bool)

    def rate(hits, runs):
        return (hits / runs, wilson(hits, runs)) if runs else (None, None)

    working, failing = int(base_ok.sum()), int((~base_ok).sum())
    broken, fixed = int(np.sum(base_ok & ~ok)), int(np.sum(~base_ok & ok))
    (success_rate, success_ci), (broken_rate, broken_ci), (fixed_rate, fixed_ci) = (
        rate(int(ok.sum()), len(ok)), rate(broken, working), rate(fixed, failing)
    )  # fmt: skip
    return {
        "success_rate": success_rate, "success_ci95": success_ci,
        "working_base_runs": working, "broken": broken,
        "broken_rate": broken_rate, "broken_ci95": broken_ci,
        "failing_base_runs": failing, "fixed": fixed,
        "fixed_rate": fixed_rate, "fixed_ci95": fixed_ci,
        "median_final_error": float(np.median(error)),
    }  # fmt: skip


def main():
    args = parse_args(__doc__)
    n = 200 if args.quick else 1000
    keys = jax.random.split(jax.random.key(args.seed), n)
    base = MLP((2, 3, 1), "sigmoid", "sigmoid", "sse", reduction="sum", init="uniform:0,1")
    configs = {
        "base: (2, 3, 1), eta 0.1, uniform[0, 1]": (base, ETA),
        "one more layer: (2, 3, 3, 1)": (base.replace(sizes=(2, 3, 3, 1)), ETA),
        "eta + 0.001 = 0.101": (base, ETA + 0.001),
        "normal N(0, 1) weights": (base.replace(init="normal:1"), ETA),
    }
    outcomes = {name: works(net, eta, keys) for name, (net, eta) in configs.items()}
    base_name = next(iter(configs))
    base_ok = outcomes[base_name][0]
    rows = {}
    for name, (ok, error) in outcomes.items():
        rows[name] = change_row(base_ok, ok, error)
        print(name, rows[name])
    changes = [name for name in configs if name != base_name]
    checks = {
        f"{name}: breaks >= 1 % of the working base runs, CI above 0": (
            rows[name]["broken_rate"] is not None
            and rows[name]["broken_rate"] >= 0.01
            and rows[name]["broken_ci95"][0] > 0
        )
        for name in changes
    }
    checks["a different seed: base success rate in [5 %, 95 %]"] = (
        0.05 <= rows[base_name]["success_rate"] <= 0.95
    )
    plot(args, rows, base_name, n)
    save(
        args, "fragility",
        claim="seed 003: MLPs are fragile: one more layer, +0.001 on the learning rate, normal "
        "instead of uniform weights, or another seed turns a working XOR network into a "
        "useless one",
        criterion="over the same seeds, each change breaks >= 1 % of the working base runs "
        "(Wilson 95 % lower bound > 0); the base success rate lies in [5 %, 95 %]",
        reproduced=all(checks.values()),
        metrics={"base_success_rate": rows[base_name]["success_rate"], "checks": checks,
                 "configs": rows, "seeds": n, "iterations": ITERATIONS},
    )  # fmt: skip


def plot(args, rows, base_name, n):
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 4.6))
    names = list(rows)
    working = rows[base_name]["working_base_runs"]
    for axis, key, title, runs in (
        (ax, "success", "runs that solve XOR", f"{n} seeds"),
        (bx, "broken", "working base runs the change breaks", f"the {working} working base runs"),
    ):
        rates = [rows[m][f"{key}_rate"] or 0.0 for m in names]  # None: no run to count
        cis = [rows[m][f"{key}_ci95"] or (0.0, 0.0) for m in names]
        low = [r - ci[0] for r, ci in zip(rates, cis)]
        high = [ci[1] - r for r, ci in zip(rates, cis)]
        axis.barh(names, rates, xerr=[low, high], capsize=4, color=["C0", "C1", "C2", "C3"])
        for i, m in enumerate(names):  # a rate of no runs is no 0: say so at its bar
            if rows[m][f"{key}_rate"] is None:
                axis.text(0.0, i, " no runs to count", va="center")
        axis.set(xlabel=f"share of {runs} (95 % Wilson interval)", title=title)
    bx.set_yticks([])
    fig.suptitle("XOR, seed 003's 2-3-1 sigmoid net and one change at a time, same seeds")
    fig.tight_layout()
    figure(args, "fragility", fig)


if __name__ == "__main__":
    main()
