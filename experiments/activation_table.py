"""Seed 004's table of activation functions, checked numerically for every built-in activation.

Claim (seed 004): the table lists, per activation, its range, order of continuity, whether it is
monotonic, whether its derivative is monotonic, and whether it approximates the identity near the
origin. Each property is measured here on jaxmlp's own functions (``activations.get(name).fn``)
in float64 and compared with what the table states:
  * range: the values on a grid from -1e4 to 1e4 (log-spaced both ways, plus a dense [-50, 50])
    lie in the stated interval's closure and come within 1e-3 of its finite ends (float64
    saturates an open end), a closed end (ReLU's [0, ...) is taken; an infinite end is
    approached: |h(+-1e4)| >= 5 |h(+-1e3)| >= 5; a discrete range is the set of values exactly;
  * order of continuity C^k: every built-in's pieces meet at the origin; the first order
    j = 0..4 whose derivative (nested ``jax.grad``) jumps there, |h^(j)(1e-9) - h^(j)(-1e-9)|
    > 1e-4, gives C^(j-1); none up to 4 reads as C^inf;
  * monotonic h: no decrease on a float64 grid of 400,001 points on [-20, 20];
  * monotonic h': no decrease (beyond 1e-9, their rounding error) of the secant slopes of h on
    that grid (secants, not the hand derivative, so the step's jump counts, as the table's "?"
    at 0 does);
  * identity near the origin: h(0) = 0 and the central slope (h(1e-6) - h(-1e-6)) / 2e-6 = 1.
The table's parametrised entries are read at the library's constants: ISRU with alpha = 1 (range
(-1, 1)), PReLU at its initial alpha = 0.25 (monotonic, since alpha >= 0; not the identity, since
alpha != 1). Built-ins the table does not list (sign, elu, selu, softplus) are measured and
reported, not judged. The hand derivatives are compared with ``jax.grad`` off the origin too.

Criterion: every property of every activation in the table matches the table. (--quick runs the
same measurement: it takes seconds.)
"""

import jax

jax.config.update("jax_enable_x64", True)  # this script runs in its own process

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from common import figure, parse_args, pyplot, save  # noqa: E402

from jaxmlp import activations  # noqa: E402

INF = float("inf")
# seed 004's table: range (low, high, "open"/"closed" ends or a set), continuity, monotonic,
# derivative monotonic, approximates identity near the origin
TABLE = {
    "identity": ((-INF, INF), "C^inf", True, True, True),
    "step": ({0.0, 1.0}, "C^-1", True, False, False),
    "sigmoid": ((0.0, 1.0), "C^inf", True, False, False),
    "tanh": ((-1.0, 1.0), "C^inf", True, False, True),
    "arctan": ((-np.pi / 2, np.pi / 2), "C^inf", True, False, True),
    "softsign": ((-1.0, 1.0), "C^1", True, False, True),
    "isru": ((-1.0, 1.0), "C^inf", True, False, True),
    "relu": ((0.0, INF), "C^0", True, True, False),
    "leaky_relu": ((-INF, INF), "C^0", True, True, False),
    "prelu": ((-INF, INF), "C^0", True, True, False),
}
ATTAINED = {"relu": 0.0}  # the table's closed end, [0, inf): the value is taken, not approached
PROPERTIES = ("range", "continuity", "monotonic", "derivative monotonic", "identity near 0")


def grid():
    far = np.logspace(-8, 4, 2001)
    return np.unique(np.concatenate([-far, [0.0], far, np.linspace(-50, 50, 100001)]))


def measure_range(h, stated, attained=None):
    values = np.asarray(h(jnp.asarray(grid())))
    if attained is not None and not np.any(values == attained):
        return False, [float(values.min()), float(values.max())]
    if isinstance(stated, set):
        return set(np.unique(values).tolist()) == stated, sorted(set(np.unique(values).tolist()))
    low, high = stated
    ok = bool(np.all(values >= low) and np.all(values <= high))
    for end, sign in ((low, -1), (high, 1)):
        if np.isfinite(end):
            ok &= bool(abs((values.min() if sign < 0 else values.max()) - end) <= 1e-3)
        else:
            big, bigger = (float(h(jnp.asarray(sign * v))) for v in (1e3, 1e4))
            ok &= bool(sign * big >= 5 and abs(bigger) >= 5 * abs(big))
    return ok, [float(values.min()), float(values.max())]


def continuity(h):
    """C^(j-1) for the first derivative order j whose value jumps at 0, up to 4."""
    d = h
    for order in range(5):
        gap = abs(float(d(jnp.asarray(1e-9))) - float(d(jnp.asarray(-1e-9))))
        if gap > 1e-4:
            return f"C^{order - 1}"
        d = jax.grad(d)
    return "C^inf"


def monotonic(values, tolerance):
    return bool(np.all(np.diff(values) >= -tolerance))


def measure(name):
    act = activations.get(name)
    h = jax.jit(act.fn)
    x = np.linspace(-20, 20, 400001)
    values = np.asarray(h(jnp.asarray(x)))
    secants = np.diff(values) / np.diff(x)
    slope = (float(h(jnp.asarray(1e-6))) - float(h(jnp.asarray(-1e-6)))) / 2e-6
    identity = abs(float(h(jnp.asarray(0.0)))) <= 1e-12 and abs(slope - 1) <= 1e-6
    stated_range = TABLE.get(name, (None,))[0]
    if stated_range is None:
        range_ok, observed = None, [float(values.min()), float(values.max())]
    else:
        range_ok, observed = measure_range(h, stated_range, ATTAINED.get(name))
    off = x[np.abs(x) > 1e-3][::97]
    hand_vs_jax = float(np.max(np.abs(np.asarray(act.grad(jnp.asarray(off)))
                                      - np.asarray(jax.vmap(jax.grad(act.fn))(off)))))  # fmt: skip
    return {
        "range_ok": range_ok,
        "observed_range": observed,
        "continuity": continuity(act.fn),
        "monotonic": monotonic(values, 1e-12),
        # a secant's rounding error is ~ 1e-16 |h| / 1e-4: up to ~1e-11 on this grid
        "derivative monotonic": monotonic(secants, 1e-9),
        "identity near 0": bool(identity),
        "slope_at_0": slope,
        "hand_derivative_vs_jax_grad_off_origin": hand_vs_jax,
    }


def main():
    args = parse_args(__doc__)
    names = list(activations.names())  # the built-ins: this process registers none
    measured = {name: measure(name) for name in names}
    matches = {}
    for name, (_, cont, mono, dmono, ident) in TABLE.items():
        m = measured[name]
        matches[name] = {
            "range": m["range_ok"],
            "continuity": m["continuity"] == cont,
            "monotonic": m["monotonic"] == mono,
            "derivative monotonic": m["derivative monotonic"] == dmono,
            "identity near 0": m["identity near 0"] == ident,
        }
        print(name, matches[name], {k: m[k] for k in ("continuity", "observed_range")})
    mismatches = [f"{n}: {p}" for n, ms in matches.items() for p, ok in ms.items() if not ok]
    plot(args, measured, matches)
    save(
        args, "activation_table",
        claim="seed 004: the activation table's range, order of continuity, monotonicity of h "
        "and h', and identity near the origin hold for every built-in activation it lists",
        criterion="all 5 properties measured numerically (float64) on the library's functions "
        "match the table for its 10 activations (ISRU alpha = 1, PReLU alpha = 0.25)",
        reproduced=not mismatches,
        metrics={"mismatches": len(mismatches), "mismatched": mismatches, "matches": matches,
                 "measured": measured, "not_in_table": [n for n in names if n not in TABLE]},
    )  # fmt: skip


def stated_text(name):
    if name not in TABLE:
        return ["not in table"] * 5
    rng, cont, mono, dmono, ident = TABLE[name]
    yes = lambda b: "yes" if b else "no"  # noqa: E731
    opening = "[" if name in ATTAINED else "("
    rng_text = "{0, 1}" if isinstance(rng, set) else f"{opening}{rng[0]:.3g}, {rng[1]:.3g})"
    return [rng_text, cont, yes(mono), yes(dmono), yes(ident)]


def plot(args, measured, matches):
    plt = pyplot()
    yes = lambda b: "yes" if b else "no"  # noqa: E731
    rows, colours = [], []
    for name, m in measured.items():
        lo, hi = m["observed_range"][0], m["observed_range"][-1]
        got = [f"[{lo:.3g}, {hi:.3g}]", m["continuity"], yes(m["monotonic"]),
               yes(m["derivative monotonic"]), yes(m["identity near 0"])]  # fmt: skip
        stated = stated_text(name)
        rows.append([name] + [f"{s} | {g}" for s, g in zip(stated, got)])
        ok = matches.get(name)
        colours.append(["white"] + [("#cfc" if ok[p] else "#fcc") if ok else "#eee"
                                    for p in PROPERTIES])  # fmt: skip
    fig, ax = plt.subplots(figsize=(15, 0.42 * len(rows) + 1.2))
    ax.axis("off")
    ax.table(cellText=rows, cellColours=colours, loc="center", cellLoc="left",
             colLabels=["activation"] + [f"{p}: table | measured" for p in PROPERTIES]
             ).scale(1, 1.5)  # fmt: skip
    ax.set_title("seed 004's activation table against jaxmlp's functions (green: match, red: "
                 "mismatch, grey: not in the table)")  # fmt: skip
    figure(args, "activation_table", fig)


if __name__ == "__main__":
    main()
