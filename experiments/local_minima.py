"""The error function has many local minima.

Claim (seed 000): "The error function E(w) is usually quite hard to minimize: there exist many
local minima", besides the equivalent copies of each that the weight-space symmetries make
(``weight_symmetries``). ``online_escape`` found none on XOR's 2-2-1 net: its stuck runs were
plateaus falling towards infinite weights. Here a point counts as a local minimum only when it
is certified one in float64: a stationary point (gradient max-norm <= 1e-9) where the exact
Hessian (``jaxmlp.curvature.hessian``, the hand R-operator) is positive definite, its smallest
eigenvalue > 1e-6 times its largest, and the Newton step -H^-1 g is shorter than 1e-8. A
strictly positive-definite Hessian at a zero of the gradient makes it a strict local minimum;
two certified minima with different costs are different minima, not symmetric copies (those
share E).

Setup (float64): ``(1, 3, 1)`` tanh networks, identity output, mean squared error, fitting
t = sin(3x) at 21 points of [-2, 2]; 200 starts (--quick: 40), default initialisation (seeds
0..199), 20,000 Adam steps (optax, vmapped; lr cosine-decayed from 0.01 to 1e-5; --quick
10,000), then 300 damped Newton steps with the hand Hessian and gradient (``newton``). Starts
that end anywhere else (a saddle, a plateau towards infinite weights, no convergence, a minimum
too ill-conditioned for the test) are counted apart, not certified.

Criterion (fixed before the run): at least 3 distinct cost values (relative difference > 1e-6)
among the certified minima, i.e. at least 2 local minima that are not global minima of what was
found, and every certified point passes the test above.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
from common import figure, parse_args, pyplot, quadratic_minimum, save
from jax.flatten_util import ravel_pytree

from jaxmlp import MLP, curvature

NET = MLP((1, 3, 1), "tanh", "identity", "mse")
GRAD, RATIO, STEP, DISTINCT = 1e-9, 1e-6, 1e-8, 1e-6


def problem():
    x = jnp.linspace(-2.0, 2.0, 21, dtype=jnp.float64)[:, None]
    return x, jnp.sin(3 * x)


def newton(params, x, t, steps):
    """``steps`` damped Newton steps with the hand Hessian and gradient: w - (H + mu I)^-1 g,
    taken where it lowers E (then mu / 3), else refused (mu x 4): Levenberg's rule on the exact
    Hessian, which descends to minima, not to saddles. A start that does not end at a minimum is
    not certified."""
    flat, unravel = ravel_pytree(params)
    cost = lambda w: NET.cost(unravel(w), x, t)  # noqa: E731

    def step(carry, _):
        w, mu = carry
        g = ravel_pytree(NET.backprop(unravel(w), x, t))[0]
        h = curvature.hessian(NET, unravel(w), x, t)
        trial = w - jnp.linalg.solve(h + mu * jnp.eye(w.size, dtype=w.dtype), g)
        better = jnp.isfinite(cost(trial)) & (cost(trial) <= cost(w))
        return (jnp.where(better, trial, w), jnp.where(better, mu / 3, mu * 4)), None

    start = (flat, jnp.asarray(1e-3, flat.dtype))
    return unravel(jax.lax.scan(step, start, None, length=steps)[0][0])


def certify(params, x, t) -> dict:
    """The local-minimum test at ``params`` (float64): a stationary point (gradient) where the
    quadratic model has its minimum close by (``common.quadratic_minimum``: Hessian spectrum,
    Newton step)."""
    g = ravel_pytree(NET.backprop(params, x, t))[0]
    h = curvature.hessian(NET, params, x, t)
    test = quadratic_minimum(g, h, step=STEP, ratio=RATIO)
    eig, grad = test["eig"], jnp.max(jnp.abs(g))
    finite = jnp.all(jnp.isfinite(eig)) & jnp.isfinite(grad)  # a saddle's H may be singular
    minimum = finite & (grad <= GRAD) & test["minimum"]
    return {
        "cost": NET.cost(params, x, t),
        "grad_max": grad,
        "min_eig": eig[0],
        "max_eig": eig[-1],
        "newton_step": test["newton_step"],
        "minimum": minimum,
        "saddle": finite & (grad <= GRAD) & (eig[0] < -RATIO * jnp.abs(eig[-1])),
        "positive_but_ill_conditioned": finite & (grad <= GRAD) & (eig[0] > 0) & ~minimum,
    }


def distinct_levels(costs) -> list[float]:
    """The distinct values of ``costs``, two equal when within a relative 1e-6."""
    levels = []
    for c in sorted(costs):
        if not levels or c - levels[-1] > DISTINCT * max(abs(c), 1e-300):
            levels.append(c)
    return levels


def train(starts, adam_steps, x, t):
    tx = optax.adam(optax.cosine_decay_schedule(0.01, adam_steps, alpha=1e-3))
    params = jax.vmap(lambda k: NET.init(k, jnp.float64))(
        jax.vmap(jax.random.key)(jnp.arange(starts))
    )

    def run(p):
        def step(carry, _):
            p, state = carry
            updates, state = tx.update(NET.backprop(p, x, t), state, p)
            return (optax.apply_updates(p, updates), state), None

        p = jax.lax.scan(step, (p, tx.init(p)), None, length=adam_steps)[0][0]
        return newton(p, x, t, 300)

    return jax.jit(jax.vmap(run))(params)


def main():
    jax.config.update("jax_enable_x64", True)  # this script runs in its own process
    args = parse_args(__doc__)
    starts, adam_steps = (40, 10_000) if args.quick else (200, 20_000)
    x, t = problem()
    final = train(starts, adam_steps, x, t)
    report = jax.jit(jax.vmap(lambda p: certify(p, x, t)))(final)
    report = {k: np.asarray(v) for k, v in report.items()}
    certified = report["minimum"]
    costs = report["cost"][certified]
    levels = distinct_levels(costs.tolist())
    ill = report["positive_but_ill_conditioned"]
    per_level = [int(np.sum(np.abs(costs - c) <= DISTINCT * c)) for c in levels]
    print(f"{int(certified.sum())} of {starts} certified; levels {levels}", flush=True)
    checks = {
        ">= 3 distinct costs among certified minima": len(levels) >= 3,
        "every certified point: grad <= 1e-9, H > 0, Newton step < 1e-8": bool(
            np.all(report["grad_max"][certified] <= GRAD)
            & np.all(report["min_eig"][certified] > 0)
            & np.all(report["newton_step"][certified] < STEP)
        ),
    }
    plot(args, report, levels)
    save(
        args, "local_minima",
        claim="seed 000: there exist many local minima: (1, 3, 1) tanh nets fitting sin(3x) end, "
        "from random starts, at float64-certified minima (zero gradient, positive-definite "
        "Hessian) of several different costs",
        criterion=">= 3 distinct costs (relative 1e-6) among the starts certified as minima: "
        "gradient <= 1e-9, smallest Hessian eigenvalue > 1e-6 of the largest, Newton step < 1e-8",
        reproduced=all(checks.values()),
        metrics={
            "distinct_certified_minima": len(levels),
            "checks": checks,
            "minimum_costs": levels,
            "starts_per_minimum": per_level,
            "starts": starts,
            "certified": int(certified.sum()),
            "stationary_saddles": int(report["saddle"].sum()),
            "stationary_positive_definite_uncertified": int(ill.sum()),
            "uncertified_positive_definite_costs": distinct_levels(report["cost"][ill].tolist()),
            "other": int(starts - certified.sum() - report["saddle"].sum() - ill.sum()),
            "smallest_certified_min_eig": float(report["min_eig"][certified].min(initial=np.inf)),
            "largest_certified_grad": float(report["grad_max"][certified].max(initial=0.0)),
        },
    )  # fmt: skip


def plot(args, report, levels):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ok = report["minimum"]
    ax.semilogy(np.flatnonzero(ok), report["cost"][ok], "o", ms=4, label="certified minimum")
    ax.semilogy(np.flatnonzero(~ok), report["cost"][~ok], "x", ms=4, color="gray",
                label="not certified (saddle, plateau, not converged)")  # fmt: skip
    for c in levels:
        ax.axhline(c, color="k", lw=0.5, ls=":")
    ax.set(
        xlabel="start (seed)",
        ylabel="final cost (MSE)",
        title=f"(1, 3, 1) tanh on sin(3x): {len(levels)} distinct certified minima",
    )
    ax.legend(fontsize=8)
    figure(args, "local_minima", fig)


if __name__ == "__main__":
    main()
