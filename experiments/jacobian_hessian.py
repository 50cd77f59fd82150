"""The input Jacobian and the Hessians through backprop, against jax.jacrev / jax.hessian.

Claim (seed 000): backpropagation "can be applied also to compute derivatives of output wrt to
input variables, to provide evaluations of the Jacobian and the Hessian matrices".

Setup, in float64, for small networks with different activations and output/loss pairs, on 4
random examples:
  * dy/dx ``(n, K, d)``: ``net.input_jacobian`` accumulated both ways (mode "reverse" and
    "forward"), against ``jax.jacrev`` of the network function, example by example;
  * the Hessian of the cost in the inputs, ``jax.jacfwd(net.input_grad)``: forward mode over the
    hand backward recursion carried to the inputs, against ``jax.hessian(net.cost)``;
  * the Hessian of the cost in the parameters, ``jax.jacfwd(net.backprop)`` on the flattened
    parameters, against ``jax.hessian`` of the cost; and its asymmetry |H - H^T|.
Errors are max |a - b| / max |b| over all entries.

Criterion: every relative error, and every relative asymmetry, is <= 1e-12.
"""

import jax

jax.config.update("jax_enable_x64", True)  # this script is its own process

import common  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.flatten_util import ravel_pytree  # noqa: E402

from jaxmlp import MLP  # noqa: E402

NAME = "jacobian_hessian"
CLAIM = (
    "seed 000: backprop also gives the input Jacobian and the Hessian; checked against "
    "jax.jacrev / jax.hessian in float64"
)
CRITERION = (
    "float64: max|a - b| / max|b| <= 1e-12 for dy/dx (both hand modes), the input Hessian "
    "jacfwd(input_grad) and the parameter Hessian jacfwd(backprop); |H - H^T| / max|H| <= 1e-12"
)
CONFIGS = {
    "tanh, softmax + cross_entropy": MLP((3, 5, 4, 3), "tanh", "softmax", "cross_entropy"),
    "sigmoid, sigmoid + bce": MLP((3, 5, 4, 2), "sigmoid", "sigmoid", "bce"),
    "softplus, identity + sse": MLP((3, 5, 4, 2), "softplus", "identity", "sse"),
    "arctan, tanh + mse": MLP((3, 5, 4, 2), "arctan", "tanh", "mse"),
}
TOLERANCE = 1e-12


def relative(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def data(net, seed, n=4):
    """float64 parameters, inputs ``(n, d)`` and targets of the kind ``net``'s loss takes."""
    return jax.jit(lambda key: _draw(net, key, n))(jax.random.key(seed))


def _draw(net, key, n):
    key_p, key_x, key_t = jax.random.split(key, 3)
    params = net.init(key_p, jnp.float64)
    x = jax.random.normal(key_x, (n, net.sizes[0]), jnp.float64)
    k = net.sizes[-1]
    if net.loss == "cross_entropy":
        t = jax.random.randint(key_t, (n,), 0, k)
    elif net.loss == "bce":
        t = jax.random.bernoulli(key_t, 0.5, (n, k)).astype(jnp.float64)
    else:
        t = 0.5 * jax.random.normal(key_t, (n, k), jnp.float64)
    return params, x, t


def derivatives(net, params, x, t) -> dict:
    """Every Jacobian and Hessian of the comparison, by hand (through backprop) and by jax."""
    per_example = lambda xi: net.apply(params, xi[None])[0]  # noqa: E731
    flat, unravel = ravel_pytree(params)
    hand = lambda f: ravel_pytree(net.backprop(unravel(f), x, t))[0]  # noqa: E731
    return {
        "jac_ref": jax.vmap(jax.jacrev(per_example))(x),
        "jac_rev": net.input_jacobian(params, x, mode="reverse"),
        "jac_fwd": net.input_jacobian(params, x, mode="forward"),
        "hx_bp": jax.jacfwd(net.input_grad, argnums=1)(params, x, t),
        "hx_ref": jax.hessian(net.cost, argnums=1)(params, x, t),
        "hw_bp": jax.jacfwd(hand)(flat),
        "hw_ref": jax.hessian(lambda f: net.cost(unravel(f), x, t))(flat),
    }


def check(net, params, x, t) -> tuple[dict, np.ndarray, np.ndarray]:
    """The relative errors for one network, and its two parameter Hessians."""
    d = jax.tree.map(np.asarray, jax.jit(lambda *a: derivatives(net, *a))(params, x, t))
    hx = d["hx_bp"].reshape(x.size, x.size)
    errors = {
        "jacobian_reverse": relative(d["jac_rev"], d["jac_ref"]),
        "jacobian_forward": relative(d["jac_fwd"], d["jac_ref"]),
        "input_hessian": relative(d["hx_bp"], d["hx_ref"]),
        "param_hessian": relative(d["hw_bp"], d["hw_ref"]),
        "input_hessian_asymmetry": relative(hx, hx.T),
        "param_hessian_asymmetry": relative(d["hw_bp"], d["hw_bp"].T),
    }
    return errors, d["hw_bp"], d["hw_ref"]


def main(argv=None):
    args = common.parse_args(__doc__, argv)
    names = list(CONFIGS)[:1] if args.quick else list(CONFIGS)
    errors, hessians = {}, {}
    for name in names:
        net = CONFIGS[name]
        errors[name], *hessians[name] = check(net, *data(net, args.seed))
        print(name, errors[name], flush=True)
    worst = max(max(e.values()) for e in errors.values())
    reproduced = worst <= TOLERANCE
    plot(args, errors, names[0], hessians[names[0]])
    metrics = {
        "worst_relative_error": worst,
        "errors": errors,
        "networks": {
            name: f"{'-'.join(map(str, CONFIGS[name].sizes))}, {name}, {CONFIGS[name].n_params} "
            "parameters, mean over 4 random examples"
            for name in names
        },
        "dtype": "float64",
    }
    common.save(
        args, NAME, claim=CLAIM, criterion=CRITERION, reproduced=reproduced, metrics=metrics
    )


def plot(args, errors, name, hessians):
    plt = common.pyplot()
    from matplotlib.colors import SymLogNorm

    fig, axes = plt.subplots(1, 3, figsize=(17, 5))
    quantities = list(next(iter(errors.values())))
    width = 0.8 / len(errors)
    for i, (config, e) in enumerate(errors.items()):
        values = [max(e[q], 1e-18) for q in quantities]
        axes[0].bar(np.arange(len(quantities)) + i * width, values, width, label=config)
    axes[0].axhline(TOLERANCE, color="k", ls="--", lw=1, label="criterion 1e-12")
    axes[0].set_yscale("log")
    axes[0].set_xticks(
        np.arange(len(quantities)) + 0.4 - width / 2,
        quantities,
        rotation=30,
        ha="right",
        fontsize=8,
    )
    axes[0].set_ylabel("max |a - b| / max |b|  (0 shown as 1e-18)")
    axes[0].set_title("through backprop against jax, float64")
    axes[0].legend(fontsize=7)
    h_bp, h_ref = hessians
    scale = np.max(np.abs(h_ref))
    norm = SymLogNorm(1e-4 * scale, vmin=-scale, vmax=scale)
    image = axes[1].imshow(h_bp, cmap="RdBu_r", norm=norm)
    fig.colorbar(image, ax=axes[1])
    axes[1].set_title(f"parameter Hessian by jacfwd(backprop)\n{name}")
    diff = np.abs(h_bp - h_ref)
    image = axes[2].imshow(np.log10(np.maximum(diff, 1e-20)), cmap="viridis")
    fig.colorbar(image, ax=axes[2])
    axes[2].set_title("log10 |jacfwd(backprop) - jax.hessian|\n(exact zeros shown at -20)")
    common.figure(args, NAME, fig)


if __name__ == "__main__":
    main()
