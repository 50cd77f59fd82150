"""One hidden layer of sigmoid units approximates continuous (and discontinuous) functions.

Claim (seed 000, after Cybenko 1989): "any continuous function can be approximated, at any
[precision], by means of two-layered neural networks with sigmoidal activation functions. The
approximation can be indefinitely precise, as long as a suitable number of hidden units is
defined." Seed 001 adds: "a single hidden layer with a finite [number of] neurons can approximate
continuous (and discontinuous) functions"; seed 004 states Cybenko's theorem for sums
G(x) = sum_j alpha_j sigma(y_j x + theta_j).

The claim is about existence (seed 002: the theorem "does not touch upon the algorithmic
learnability of those parameters"), so networks ``(d, N, 1)`` with logistic sigmoid hidden units
and a linear output (exactly Cybenko's G) are obtained two ways, and the better is the
approximation N units achieve:
  * constructed: in 1-D a staircase of steep sigmoids, G(x) = f(-1) + sum_j (f(x_j) - f(x_{j-1}))
    sigma(k (x - m_j)) on N equal cells [x_{j-1}, x_j] with midpoints m_j and k = 20 / cell
    width; the 2-D surface is 1/2 sin(2 pi (x1 + x2)) + 1/2 sin(2 pi (x1 - x2)), two ridge
    functions, each such a staircase of N/2 units along its direction (Cybenko's y_j); loaded
    into a jaxmlp MLP and evaluated by ``net.apply``;
  * trained by backprop: 1/2 squared error, full-batch Adam (lr 0.01, cosine decay), Glorot
    weights, best of 3 seeds (--quick: 1), 10,000 epochs (--quick: 1,500).
Targets on [-1, 1] (256 training points): sin(pi x), |x| (a kink), a triangle wave (five kinks),
seed 000's 2-D ``surface`` sin(2 pi x1) cos(2 pi x2), and a discontinuous step,
1[x > 0.3]. Errors on 2001 grid points (1000 fresh points for the surface): the theorem's uniform
(max) error, and the root mean square error.

Criterion, as the claim states it: for each continuous target, the max error at the widest N is
at most a tenth of one unit's and at most 0.05 (targets span 1-2): uniform approximation, as
precise as wanted with enough units. A jump cannot be approximated uniformly by continuous
functions (the max error stays >= half the jump, which is reported), so for the step the claim
is judged in the mean and away from the jump: at the widest N, rms error <= 0.05 and max error
<= 0.05 outside |x - 0.3| < 0.05.
"""

import time

import numpy as np
from common import figure, parse_args, pyplot, save

from jaxmlp import MLP, Optimizer, TrainConfig, datasets, fit

JUMP = 0.3
STEEPNESS = 20.0  # k times the cell width: sigma(+-10) is within 5e-5 of 0 and 1
FUNCTIONS = {
    "sin(pi x)": lambda x: np.sin(np.pi * x),
    "|x|": np.abs,
    "triangle wave": lambda x: np.abs((2 * x + 1) % 2 - 1),
    "step 1[x > 0.3]": lambda x: (x > JUMP).astype(np.float32),
}
STEP = "step 1[x > 0.3]"
SURFACE = "surface (2-D)"


def one_d(f):
    x = np.linspace(-1, 1, 256, dtype=np.float32)[:, None]
    x_test = np.linspace(-1, 1, 2001, dtype=np.float32)[:, None]
    return x, f(x), x_test, f(x_test)


def targets(seed):
    """``({name: (x, t, x_test, t_test)}, {name: width -> constructed params})``."""
    surface = datasets.load("surface", seed=seed)
    data = {name: one_d(f) for name, f in FUNCTIONS.items()}
    data[SURFACE] = (surface.x_train, surface.t_train, surface.x_test, surface.t_test)
    builders = {name: (lambda w, f=f: constructed(f, w)) for name, f in FUNCTIONS.items()}
    builders[SURFACE] = lambda w: constructed_surface(w, surface.info["standardizer"])
    return data, builders


def net_for(d, width):
    return MLP((d, width, 1), "sigmoid", "identity", "sse")


def staircase(g, low, high, units):
    """``(k, middles, jumps, g(low))``: the 1-D staircase of ``units`` sigmoids for g on
    [low, high]."""
    edges = np.linspace(low, high, units + 1)
    values = g(edges)
    return (
        STEEPNESS / (edges[1] - edges[0]),
        (edges[:-1] + edges[1:]) / 2,
        np.diff(values),
        values[0],
    )


def constructed(f, width):
    """Cybenko's sum for ``f`` on [-1, 1] with ``width`` sigmoid units, as MLP parameters."""
    k, middles, jumps, start = staircase(f, -1, 1, width)
    return [
        {"w": np.full((1, width), k, np.float32), "b": (-k * middles).astype(np.float32)},
        {"w": jumps[:, None].astype(np.float32), "b": np.float32([start])},
    ]


def constructed_surface(width, scaler):
    """sin(2 pi x1) cos(2 pi x2) = 1/2 sin(2 pi (x1 + x2)) + 1/2 sin(2 pi (x1 - x2)) on the unit
    square: a sum of two ridge functions g(u . x), each a staircase of ``width // 2`` sigmoid
    units along u (the first ridge alone for one unit), in the data set's standardised inputs
    (raw x = x_std * std + mean)."""
    g = lambda p: 0.5 * np.sin(2 * np.pi * p)  # noqa: E731
    ridges = [((1.0, 1.0), 0.0, 2.0), ((1.0, -1.0), -1.0, 1.0)]
    ridges = ridges if width >= 2 else ridges[:1]
    w1, b1, w2, b2 = [], [], [], 0.0
    for u, low, high in ridges:
        u = np.asarray(u)
        k, middles, jumps, start = staircase(g, low, high, max(1, width // len(ridges)))
        w1.append(np.outer(u * scaler.std, np.full(len(middles), k)))
        b1.append(k * (u @ scaler.mean - middles))
        w2.append(jumps)
        b2 += start
    return [
        {"w": np.hstack(w1).astype(np.float32), "b": np.concatenate(b1).astype(np.float32)},
        {"w": np.concatenate(w2)[:, None].astype(np.float32), "b": np.float32([b2])},
    ]


def errors(y, t_test, x_test):
    """``(max, rms, max outside the jump's neighbourhood)`` of ``y - t_test``."""
    gap = np.abs(y - t_test)[:, 0]
    away = np.abs(x_test[:, 0] - JUMP) >= 0.05 if x_test.shape[1] == 1 else np.ones_like(gap, bool)
    return float(gap.max()), float(np.sqrt(np.mean(gap**2))), float(gap[away].max())


def x_test_dim(data):
    return data[2].shape[1]


def trained(width, data, seeds, epochs):
    """The best (by max error) of networks trained from ``seeds``: ``(errors, predictions)``."""
    x, t, x_test, t_test = data
    net = net_for(x.shape[1], width)
    best = None
    for seed in seeds:
        result = fit(
            net, x, t, Optimizer("adam", lr=0.01, schedule="cosine"),
            TrainConfig(epochs, batch_size="full", seed=seed),
        )  # fmt: skip
        y = np.asarray(net.apply(result.params, x_test))
        found = (errors(y, t_test, x_test), y)
        if best is None or found[0] < best[0]:
            best = found
    return best


def main():
    args = parse_args(__doc__)
    if args.quick:
        widths, n_seeds, epochs = (1, 16, 256), 1, 1500
    else:
        widths, n_seeds, epochs = (1, 2, 4, 8, 16, 32, 64, 128, 256), 3, 10000
    seeds = range(args.seed, args.seed + n_seeds)
    start = time.perf_counter()
    results = {}  # name -> width -> {"trained": (errors, y), "constructed": (errors, y)}
    data_sets, builders = targets(args.seed)
    for name, data in data_sets.items():
        results[name] = {}
        for w in widths:
            if args.quick and w == widths[-1]:
                entry = {}  # quick: the widest net is constructed only (training it is slow)
            else:
                entry = {"trained": trained(w, data, seeds, epochs)}
            net, x_test = net_for(x_test_dim(data), w), data[2]
            y = np.asarray(net.apply(builders[name](w), x_test))
            entry["constructed"] = (errors(y, data[3], x_test), y)
            results[name][w] = entry
        print(name, {w: {k: v[0] for k, v in e.items()} for w, e in results[name].items()})
    seconds = time.perf_counter() - start

    def best(name, w):  # the approximation N units achieve: the better of the two ways
        return min(results[name][w].values(), key=lambda e: e[0][0])[0]

    table = {
        name: {
            how: {
                kind: [
                    results[name][w][how][0][i] if how in results[name][w] else None for w in widths
                ]  # fmt: skip
                for i, kind in enumerate(("max", "rms", "max_away_from_jump"))
            }
            for how in ("trained", "constructed")
        }
        for name in results
    }
    widest, one = widths[-1], widths[0]
    checks = {}
    for name in results:
        if name == STEP:
            continue
        ratio = best(name, widest)[0] / best(name, one)[0]
        checks[f"{name}: max error at N={widest} <= 1/10 of N=1's and <= 0.05"] = (
            ratio <= 0.1 and best(name, widest)[0] <= 0.05
        )
    step_max, step_rms, step_away = best(STEP, widest)
    checks[f"step: rms <= 0.05 and max away from the jump <= 0.05 at N={widest}"] = (
        step_rms <= 0.05 and step_away <= 0.05
    )
    worst = max(best(n, widest)[0] for n in results if n != STEP)
    metrics = {
        "worst_continuous_max_error_at_widest": worst,
        "checks": checks,
        "step_at_widest": {"max": step_max, "rms": step_rms, "max_away_from_jump": step_away},
        "best_max_error": {n: [best(n, w)[0] for w in widths] for n in results},
        "best_rms_error": {n: [best(n, w)[1] for w in widths] for n in results},
        "errors": table,
        "widths": list(widths),
        "n_seeds": n_seeds,
        "epochs": epochs,
        "seconds": seconds,
    }
    plot(args, widths, table, results)
    save(
        args, "universal_approximation",
        claim="seeds 000/001/004: one hidden layer of sigmoid units approximates continuous "
        "functions uniformly, as closely as wanted with enough units, and discontinuous ones "
        "(in the mean, and away from the jump)",
        criterion="continuous targets: max error at the widest N <= 1/10 of N=1's and <= 0.05; "
        "step: rms <= 0.05 and max error away from the jump <= 0.05 at the widest N "
        "(best of constructed and trained sigmoid nets)",
        reproduced=all(checks.values()), metrics=metrics,
    )  # fmt: skip


def plot(args, widths, table, results):
    plt = pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(21, 4.6))
    for ax, (how, marker) in zip(axes[:2], (("constructed", "o-"), ("trained", "s-"))):
        for i, name in enumerate(table):
            kind = "rms" if name == STEP else "max"
            values = table[name][how][kind]
            pts = [(w, v) for w, v in zip(widths, values) if v is not None]
            if pts:
                ax.loglog(*zip(*pts), marker, color=f"C{i}", label=f"{name} ({kind})")
        ax.set(xlabel="sigmoid hidden units N", ylabel="test error",
               title=f"{how} sigmoid networks")  # fmt: skip
        ax.legend(fontsize=7)
    x = np.linspace(-1, 1, 2001)
    for ax, name in zip(axes[2:], ("triangle wave", STEP)):
        ax.plot(x, FUNCTIONS[name](x), "k", lw=2, label="target")
        for w in widths[:: max(1, len(widths) // 3)]:
            for how, style in (("trained", "-"), ("constructed", "--")):
                if how in results[name][w]:
                    ax.plot(x, results[name][w][how][1][:, 0], style, lw=1, label=f"{how}, N={w}")
        ax.set(xlabel="x", title=name)
        ax.legend(fontsize=7)
    fig.tight_layout()
    figure(args, "universal_approximation", fig)


if __name__ == "__main__":
    main()
