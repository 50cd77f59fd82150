"""Hand backprop against jax.grad against central differences; the finite-difference error V.

Claim (seed 000): dE/dw_ij = (E(w_ij + eps) - E(w_ij - eps)) / (2 eps) + O(eps^2). In floating
point the O(eps^2) truncation error meets a round-off error ~ u |E| / eps (u: unit round-off),
so the error against eps is a V: slope +2 on the right, -1 on the left, its bottom near
eps ~ u^(1/3) (6e-6 in float64, 5e-3 in float32), where the error is ~ u^(2/3).

Setup: a 4-8-8-3 tanh MLP with softmax + cross-entropy on 16 random examples. The truth is the
hand backprop in float64 at the same point (the float32 parameters are exact in float64). The
central differences perturb every parameter in turn, for eps from 1e-14 to 1 in quarter decades,
in float32 and in float64. The error is ||g_fd - g|| / ||g||. Slopes are least-squares fits of
log error against log eps on each arm: the right arm from 3 x the best eps to 0.3 (beyond, the
eps^4 term shows), the left arm from the smallest eps whose perturbation still registers
(error < 0.5) to the best eps / 10. A gradient with one entry 1 % off is scored the same way, to
show which finite differences could catch it.

Criterion: in float64 hand and jax.grad agree to 1e-13 and central differences reach 1e-8 at
their best eps; for both dtypes the right slope lies in [1.5, 2.5] and the left one in
[-1.5, -0.5]; and float32's best error is over 1000 x float64's.
"""

import jax

jax.config.update("jax_enable_x64", True)  # this script is its own process

import common  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.flatten_util import ravel_pytree  # noqa: E402

from jaxmlp import MLP  # noqa: E402

NAME = "gradient_check"
CLAIM = (
    "seed 000: central differences approximate backprop's gradient to O(eps^2); in floating point "
    "the error against eps is a V (truncation ~eps^2, round-off ~1/eps), deeper in float64"
)
CRITERION = (
    "float64: |hand - jax.grad| <= 1e-13 and best central difference <= 1e-8 (relative); both "
    "dtypes: right slope in [1.5, 2.5], left slope in [-1.5, -0.5]; float32's best error > "
    "1000 x float64's"
)
NET = MLP((4, 8, 8, 3), "tanh", "softmax", "cross_entropy")
DTYPES = {"float32": jnp.float32, "float64": jnp.float64}


def relative(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b)))


def central_differences(params, x, t, eps_values):
    """Central differences of every parameter, for each eps: ``(len(eps_values), n_params)``,
    computed in the dtype of ``params`` (and ``eps_values``)."""
    flat, unravel = ravel_pytree(params)
    cost = lambda f: NET.cost(unravel(f), x, t)  # noqa: E731
    basis = jnp.eye(flat.size, dtype=flat.dtype)

    def one(eps, e):
        return (cost(flat + eps * e) - cost(flat - eps * e)) / (2 * eps)

    return np.asarray(jax.jit(jax.vmap(jax.vmap(one, (None, 0)), (0, None)))(eps_values, basis))


def slope(eps, err):
    """Least-squares slope of log10(err) against log10(eps), and the points used."""
    if len(eps) < 2:
        return float("nan")
    return float(np.polyfit(np.log10(eps), np.log10(err), 1)[0])


def span(values):
    return [float(values.min()), float(values.max())] if values.size else None


def arms(eps, err):
    """Indices of the right (truncation) and left (round-off) arms of the V, as documented."""
    best = int(np.argmin(err))
    right = (eps >= 3 * eps[best]) & (eps <= 0.3)
    left = (eps <= eps[best] / 10) & (err < 0.5)
    return best, right, left


@jax.jit  # one compilation instead of one per eager operation
def draw(key, n=16):
    """float32 parameters, inputs ``(n, 4)`` and labels ``(n,)``."""
    key_p, key_x, key_t = jax.random.split(key, 3)
    x = jax.random.normal(key_x, (n, 4), jnp.float32)
    return NET.init(key_p, jnp.float32), x, jax.random.randint(key_t, (n,), 0, 3)


def main(argv=None):
    args = common.parse_args(__doc__, argv)
    params32, x32, t = draw(jax.random.key(args.seed))
    params64 = jax.tree.map(lambda a: a.astype(jnp.float64), params32)
    x64 = x32.astype(jnp.float64)
    backprop = jax.jit(NET.backprop)

    truth, _ = ravel_pytree(backprop(params64, x64, t))
    autodiff, _ = ravel_pytree(jax.jit(jax.grad(NET.cost))(params64, x64, t))
    eps = 10.0 ** np.arange(-14, 0 + 1e-9, 0.25)  # cheap: --quick runs the same sweep

    sweep = {}
    for name, dtype in DTYPES.items():
        params = jax.tree.map(lambda a, d=dtype: a.astype(d), params32)
        fd = central_differences(params, x32.astype(dtype), t, jnp.asarray(eps, dtype))
        err = np.array([relative(g, truth) for g in fd])
        best, right, left = arms(eps, err)
        hand, _ = ravel_pytree(backprop(params, x32.astype(dtype), t))
        sweep[name] = {
            "error": err,
            "best_eps": float(eps[best]),
            "best_error": float(err[best]),
            "right_slope": slope(eps[right], err[right]),
            "left_slope": slope(eps[left], err[left]),
            "right_arm_eps": span(eps[right]),
            "left_arm_eps": span(eps[left]),
            "theory_best_eps": float(np.finfo(dtype).eps ** (1 / 3)),
            "hand_vs_float64_truth": relative(hand, truth),
        }

    s32, s64 = sweep["float32"], sweep["float64"]
    hand_vs_autodiff = relative(truth, autodiff)
    mutant = truth.at[0].multiply(1.01)  # one gradient entry off by 1 %
    v_shaped = all(
        1.5 <= s["right_slope"] <= 2.5 and -1.5 <= s["left_slope"] <= -0.5 for s in sweep.values()
    )
    reproduced = (
        hand_vs_autodiff <= 1e-13
        and s64["best_error"] <= 1e-8
        and v_shaped
        and s32["best_error"] > 1000 * s64["best_error"]
    )
    plot(args, eps, sweep)
    metrics = {
        "float64_best_cd_error": s64["best_error"],
        "float64_hand_vs_jax_grad": hand_vs_autodiff,
        "float64": {k: v for k, v in s64.items() if k != "error"},
        "float32": {k: v for k, v in s32.items() if k != "error"},
        "one_entry_1pct_off_relative_error": relative(mutant, truth),
        "one_entry_1pct_off_over_best_cd_error": {
            name: relative(mutant, truth) / s["best_error"] for name, s in sweep.items()
        },
        "eps": eps,
        "error_float32": s32["error"],
        "error_float64": s64["error"],
        "setup": {
            "net": "4-8-8-3 tanh, softmax + cross_entropy, mean over 16 random examples",
            "n_params": NET.n_params,
            "error": "||g_fd - g_hand_float64|| / ||g_hand_float64||",
        },
    }
    common.save(
        args, NAME, claim=CLAIM, criterion=CRITERION, reproduced=reproduced, metrics=metrics
    )


def plot(args, eps, sweep):
    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for (name, s), color in zip(sweep.items(), ("C0", "C1")):
        ax.loglog(eps, s["error"], "o-", ms=3, color=color, label=name)
        best, right, left = arms(eps, s["error"])
        for arm, fitted in ((right, s["right_slope"]), (left, s["left_slope"])):
            if arm.sum() >= 2:
                e = eps[arm]
                line = 10 ** np.polyval(
                    np.polyfit(np.log10(e), np.log10(s["error"][arm]), 1), np.log10(e)
                )
                ax.loglog(e, line, "--", color="k", lw=1)
                middle = (e[len(e) // 2], line[len(e) // 2])
                ax.annotate(
                    f"slope {fitted:+.2f}",
                    middle,
                    textcoords="offset points",
                    xytext=(5, 8),
                    fontsize=8,
                )
        ax.axvline(s["theory_best_eps"], color=color, ls=":", lw=1)
    ax.set_xlabel("eps")
    ax.set_ylabel("||g_fd - g|| / ||g||")
    ax.set_title("central differences against float64 backprop (dotted: eps = u^(1/3))")
    ax.legend()
    common.figure(args, NAME, fig)


if __name__ == "__main__":
    main()
