"""Seed 004's automatic-differentiation examples as forward and reverse traces, against jax.

Claim (seed 004, "Automatic differentiation"): a computation is a list of elementary operations
v_i with known partial derivatives; forward accumulation carries dv_i/dx from the inputs to the
output (one pass per input direction), reverse accumulation carries dy/dv_i from the output back
(one pass for the whole gradient), and both give the exact derivatives "at machine precision".
The two worked examples: z = x1 x2 + sin x1, and the trace table v_1..v_10 of the log normal
density f(y, mu, sigma) = -1/2 ((y - mu) / sigma)^2 - log sigma - 1/2 log(2 pi).

Setup: each example is written once as its trace, exactly as the seed's table lists it (value
and local partials per line), in plain Python floats (float64). ``forward(trace, inputs, seed)``
sweeps the lines in order accumulating tangents; ``reverse(trace, inputs)`` evaluates the lines,
then sweeps them backwards accumulating adjoints. At 50 random points per example (--quick: 5)
the gradient from N forward passes and from one reverse pass is compared with ``jax.grad`` and
with the closed form, all in float64.

Criterion: at every point, forward and reverse gradients agree with jax.grad and with the closed
form to a relative error <= 1e-14 (a few ulps, relative to the largest gradient component);
forward needs one pass per input, reverse one.
"""

import math

import jax

jax.config.update("jax_enable_x64", True)  # this script runs in its own process

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from common import figure, parse_args, pyplot, save  # noqa: E402

# A trace: inputs, then lines (name, operation, value(v), partials(v) -> {parent: d line/d parent})
Z_TRACE = {
    "inputs": ["x1", "x2"],
    "lines": [
        ("v1", "x1 * x2", lambda v: v["x1"] * v["x2"], lambda v: {"x1": v["x2"], "x2": v["x1"]}),
        ("v2", "sin x1", lambda v: math.sin(v["x1"]), lambda v: {"x1": math.cos(v["x1"])}),
        ("z", "v1 + v2", lambda v: v["v1"] + v["v2"], lambda v: {"v1": 1.0, "v2": 1.0}),
    ],
}
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
NORMAL_TRACE = {  # seed 004's table, line for line
    "inputs": ["v1", "v2", "v3"],  # y, mu, sigma
    "lines": [
        ("v4", "v1 - v2", lambda v: v["v1"] - v["v2"], lambda v: {"v1": 1.0, "v2": -1.0}),
        ("v5", "v4 / v3", lambda v: v["v4"] / v["v3"],
         lambda v: {"v4": 1 / v["v3"], "v3": -v["v4"] * v["v3"] ** -2}),
        ("v6", "v5^2", lambda v: v["v5"] ** 2, lambda v: {"v5": 2 * v["v5"]}),
        ("v7", "-0.5 v6", lambda v: -0.5 * v["v6"], lambda v: {"v6": -0.5}),
        ("v8", "log v3", lambda v: math.log(v["v3"]), lambda v: {"v3": 1 / v["v3"]}),
        ("v9", "v7 - v8", lambda v: v["v7"] - v["v8"], lambda v: {"v7": 1.0, "v8": -1.0}),
        ("v10", "v9 - 0.5 log 2 pi", lambda v: v["v9"] - HALF_LOG_2PI, lambda v: {"v9": 1.0}),
    ],
}  # fmt: skip


def evaluate(trace, inputs):
    """Every line's value, in order: ``{name: value}``."""
    values = dict(zip(trace["inputs"], inputs))
    for name, _, value, _ in trace["lines"]:
        values[name] = value(values)
    return values


def forward(trace, inputs, direction):
    """One forward pass: values and tangents dv/d(direction) of every line."""
    values = dict(zip(trace["inputs"], inputs))
    tangents = dict(zip(trace["inputs"], direction))
    for name, _, value, partials in trace["lines"]:
        values[name] = value(values)
        tangents[name] = sum(d * tangents[p] for p, d in partials(values).items())
    return values, tangents


def reverse(trace, inputs):
    """One reverse pass: values, then adjoints dy/dv of every line, output first."""
    values = evaluate(trace, inputs)
    output = trace["lines"][-1][0]
    adjoints = dict.fromkeys(values, 0.0) | {output: 1.0}
    for name, _, _, partials in reversed(trace["lines"]):
        for parent, d in partials(values).items():
            adjoints[parent] += adjoints[name] * d
    return values, adjoints


def z_jax(x):
    return x[0] * x[1] + jnp.sin(x[0])


def normal_jax(x):
    y, mu, sigma = x
    return -0.5 * ((y - mu) / sigma) ** 2 - jnp.log(sigma) - HALF_LOG_2PI


def z_closed(x):
    return [x[1] + math.cos(x[0]), x[0]]


def normal_closed(x):
    y, mu, sigma = x
    r = (y - mu) / sigma
    return [-r / sigma, r / sigma, r * r / sigma - 1 / sigma]


EXAMPLES = {
    "z = x1 x2 + sin x1": (Z_TRACE, z_jax, z_closed),
    "log Normal(y | mu, sigma)": (NORMAL_TRACE, normal_jax, normal_closed),
}


def relative(a, b):
    """max |a - b| relative to b's largest component (a component of b may cancel to ~0)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def main():
    args = parse_args(__doc__)
    rng = np.random.default_rng(args.seed)
    n_points = 5 if args.quick else 50
    results, worst = {}, 0.0
    for name, (trace, fn, closed) in EXAMPLES.items():
        n = len(trace["inputs"])
        output = trace["lines"][-1][0]
        grad = jax.jit(jax.grad(fn))
        errors = {"forward_vs_jax": 0.0, "reverse_vs_jax": 0.0, "forward_vs_closed": 0.0,
                  "reverse_vs_closed": 0.0, "value_vs_jax": 0.0}  # fmt: skip
        for _ in range(n_points):
            x = rng.uniform(-2, 2, n)
            if n == 3:
                x[2] = rng.uniform(0.2, 2.0)  # sigma > 0
            x = [float(v) for v in x]
            fwd = [forward(trace, x, np.eye(n)[i])[1][output] for i in range(n)]  # n passes
            values, adjoints = reverse(trace, x)  # one pass
            rev = [adjoints[i] for i in trace["inputs"]]
            truth = np.asarray(grad(jnp.asarray(x)))
            for key, a, b in (
                ("forward_vs_jax", fwd, truth),
                ("reverse_vs_jax", rev, truth),
                ("forward_vs_closed", fwd, closed(x)),
                ("reverse_vs_closed", rev, closed(x)),
                ("value_vs_jax", [values[output]], [float(fn(jnp.asarray(x)))]),
            ):
                errors[key] = max(errors[key], relative(a, b))  # fmt: skip
        worst = max(worst, *errors.values())
        results[name] = {"max_relative_errors": errors, "forward_passes": n, "reverse_passes": 1}
        print(name, errors)
    example = {name: tables(trace, point) for (name, (trace, _, _)), point in
               zip(EXAMPLES.items(), ([1.5, 0.5], [1.0, 0.5, 2.0]))}  # fmt: skip
    plot(args, example)
    save(
        args, "autodiff_traces",
        claim="seed 004: forward accumulation (one pass per input) and reverse accumulation (one "
        "pass) over the trace of z = x1 x2 + sin x1 and of the table v1..v10 give the exact "
        "gradient",
        criterion="at every random point, both traces' gradients agree with jax.grad (float64) "
        "and the closed form to relative error <= 1e-14",
        reproduced=worst <= 1e-14,
        metrics={"worst_relative_error": worst, "examples": results,
                 "worked_traces": example, "points_per_example": n_points},
    )  # fmt: skip


def tables(trace, point):
    """The trace at ``point``: per line, value, tangent along x_1 (forward) and adjoint."""
    values, tangents = forward(trace, point, np.eye(len(point))[0])
    _, adjoints = reverse(trace, point)
    rows = [(name, "input", values[name], tangents[name], adjoints[name])
            for name in trace["inputs"]]  # fmt: skip
    rows += [(name, text, values[name], tangents[name], adjoints[name])
             for name, text, _, _ in trace["lines"]]  # fmt: skip
    return {"point": point, "rows": rows}


def plot(args, example):
    plt = pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(9, 7.5), gridspec_kw={"height_ratios": [5, 10]})
    for ax, (name, table) in zip(axes, example.items()):
        ax.axis("off")
        first = table["rows"][0][0]
        cells = [[n, t, f"{v:.6g}", f"{d:.6g}", f"{a:.6g}"] for n, t, v, d, a in table["rows"]]
        ax.table(cellText=cells, colLabels=["var", "operation", "value",
                 f"tangent d/d{first} (forward)", "adjoint dz/dv (reverse)"],
                 loc="center", cellLoc="left").scale(1, 1.4)  # fmt: skip
        ax.set_title(f"{name} at {table['point']}")
    fig.tight_layout()
    figure(args, "autodiff_traces", fig)


if __name__ == "__main__":
    main()
