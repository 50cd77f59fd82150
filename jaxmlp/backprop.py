"""Backpropagation by hand: the forward pass that keeps what the backward pass needs, and the
explicit reverse recursion of seeds 000 and 004 in matrix form. No jax.grad, vjp or custom_jvp.

With ``a_0 = x`` and, for layer l = 1..L (weights ``w_l (p_{l-1}, p_l)``, batch first),

    z_l = a_{l-1} w_l + b_l,     a_l = h_l(z_l)      (seed 004: H = A W + b, A = h(H))

the backward pass starts from the output delta ``G_L = dE/dz_L`` (``losses.delta``) and runs

    dE/dw_l = a_{l-1}^T G_l,     dE/db_l = 1^T G_l,     G_{l-1} = h'_{l-1}(z_{l-1}) * (G_l w_l^T)

with ``h'`` the activation record's hand derivative. Inverted dropout multiplies the hidden
activations by a mask m / (1 - p) forward, and ``G_l w_l^T`` by the same mask backward. A layer
whose activation has a learnable slope (PReLU) gets dE/dalpha = 1^T ((G_l w_l^T) * dh/dalpha); the
record says which, and supplies the slope from the layer (``Activation.slope``).
"""

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero, custom_vjp_primal_tree_values

from jaxmlp import activations, losses, outputs, reduction
from jaxmlp.numeric import check_holds, is_real

# A step of a net on n examples is tiny below this many flops (6 |w| n): there XLA:CPU's calls
# cost more than their arithmetic. Its products of at most ``_TINY_PRODUCT`` multiplications
# are written elementwise (``product``); populations of tiny members also compile with
# ``member_epochs._TINY_MEMBER_OPTIONS``.
TINY_STEP_FLOPS = 1e5
_TINY_PRODUCT = 256


# The dropout rates the masks are drawn within 1 % of: ``jax.random.bernoulli`` keeps a unit where
# a float32 uniform, on a grid of 2**-23, is below 1 - p, so a rate (or 1 - rate) of fewer than
# 100 steps is drawn further off: 1e-9 dropped no unit, 1 - 1e-9 kept 2**-23 of them (119 x).
DROPOUT_RANGE = (100 * 2.0**-23, 1 - 100 * 2.0**-23)


def check_dropout(p, dtype=jnp.float32) -> None:
    """A ValueError unless the dropout rate ``p`` is 0 or in ``DROPOUT_RANGE``, and ``dtype``
    (the params', in which ``forward`` scales the kept units by 1 / (1 - p)) holds 1 - p
    (``numeric.outside``: float16 scaled the units kept of dropout=0.99999 by inf)."""
    if not (is_real(p) and 0 <= p < 1):  # a 0-d array too (numeric's rule)
        raise ValueError(f"dropout must be in [0, 1), got {p!r}.")
    if p and not DROPOUT_RANGE[0] <= p <= DROPOUT_RANGE[1]:
        raise ValueError(
            f"dropout={float(p)!r} cannot be drawn within 1 %: jax.random.bernoulli keeps a unit "
            "where a float32 uniform, on a grid of 2**-23, is below 1 - dropout (1e-9 drops "
            "none); dropout must be 0 or in [{:.4g}, {:.7g}].".format(*DROPOUT_RANGE)
        )
    if p:  # (1 / the smallest normal number of each float dtype is finite)
        check_holds("dropout: the kept fraction 1 - dropout", 1 - p, dtype)


class Trace(NamedTuple):
    """What the forward pass keeps: pre-activations ``zs``, activations ``as_`` (``as_[0] = x``,
    ``as_[-1] = y``), and the dropout ``masks`` of the hidden layers (scaled by 1 / (1 - p))."""

    zs: list
    as_: list
    masks: list


def hidden_fn(net, l: int, layer: dict, z):
    act = activations.get(net.hidden_activations[l])
    return act.fn(z, *act.slope(layer))


def hidden_grad(net, l: int, layer: dict, z):
    act = activations.get(net.hidden_activations[l])
    return act.grad(z, *act.slope(layer))


def is_tiny(net, n: int) -> bool:
    """Whether a step of ``net`` on ``n`` examples is tiny (below ``TINY_STEP_FLOPS``)."""
    return 6 * net.n_params * n < TINY_STEP_FLOPS


def product(a, b, tiny: bool):
    """``a @ b`` of the passes below. In a tiny step, a float32 or float64 product of at most
    ``_TINY_PRODUCT`` multiplications (a layer's three have ``n p_{l-1} p_l``) is a broadcast
    multiply and a sum over the shared axis: XLA:CPU's dot is a call that costs more than a few
    dozen numbers' work, and under ``vmap`` the members' sums fuse into loops
    (experiments/BENCHMARKS.md). Half precision keeps the dot, which accumulates wider."""
    small = a.shape[0] * a.shape[1] * b.shape[1] <= _TINY_PRODUCT
    if tiny and small and a.dtype in (jnp.float32, jnp.float64):
        return jnp.sum(a[:, :, None] * b[None, :, :], axis=1)
    return a @ b


def forward(net, params, x, key=None) -> Trace:
    """The forward pass over ``x (n, d)``; dropout on the hidden layers when ``key`` is given."""
    zs, as_, masks = [], [x], []
    keys = jax.random.split(key, len(params)) if key is not None and net.dropout > 0 else None
    tiny = is_tiny(net, x.shape[0])
    for l, layer in enumerate(params):
        z = product(as_[-1], layer["w"], tiny) + layer["b"]
        zs.append(z)
        if l == len(params) - 1:
            as_.append(outputs.get(net.output).fn(z))
            break
        a = hidden_fn(net, l, layer, z)
        if keys is not None:
            keep = 1.0 - net.dropout
            mask = jax.random.bernoulli(keys[l], keep, a.shape).astype(a.dtype) / keep
            masks.append(mask)
            a = a * mask
        as_.append(a)
    return Trace(zs, as_, masks)


def cost_of(net, trace: Trace, t, sample_weight=None):
    """The reduced cost E from a forward trace (weighted by ``sample_weight (n,)`` if given:
    ``reduction.reduce``)."""
    per_example = losses.per_example(net.output, net.loss, trace.zs[-1], trace.as_[-1], t)
    return reduction.reduce(per_example, net.reduction, sample_weight)


def backward(net, params, trace: Trace, t, sample_weight=None):
    """The reverse recursion: ``(grads shaped like params, dE/dx (n, d))``; the weights enter
    through the output delta alone (``losses.delta``)."""
    g = losses.delta(
        net.output, net.loss, net.reduction, trace.zs[-1], trace.as_[-1], t, sample_weight
    )
    return backward_from(net, params, trace, g)


def backward_from(net, params, trace: Trace, g):
    """The reverse recursion from a given output delta ``g = G_L (n, K)``: the vector-Jacobian
    product ``g^T dz_L/dparams`` (and ``dz_L/dx``), ``(grads shaped like params, (n, d))``."""
    grads, tiny = [{} for _ in params], is_tiny(net, g.shape[0])
    for l in reversed(range(len(params))):
        grads[l].update(w=product(trace.as_[l].T, g, tiny), b=jnp.sum(g, axis=0))
        g_a = product(g, params[l]["w"].T, tiny)  # dE/da_{l-1}; dE/dx at l = 0
        if l == 0:
            break
        if trace.masks:
            g_a = g_a * trace.masks[l - 1]
        z, act = trace.zs[l - 1], activations.get(net.hidden_activations[l - 1])
        slope = act.slope(params[l - 1])
        if act.learnable:
            grads[l - 1]["alpha"] = jnp.sum(g_a * act.grad_alpha(z, *slope), axis=0)
        g = g_a * act.grad(z, *slope)
    return like(params, grads), g_a


def like(params, grads: list):
    """``grads``, a list of layer dicts, in the container of ``params``: a tuple for a tuple of
    layers (``MLP.check_params`` takes both), so that the hand derivatives tree-map with params
    (optax, ``jax.grad``'s own, a custom_vjp's cotangent) as ``jax.grad(net.cost)``'s do."""
    return tuple(grads) if type(params) is tuple else grads


def value_and_grad(net, params, x, t, key=None, sample_weight=None):
    """``(E, dE/dparams)`` from one forward and one backward pass."""
    trace = forward(net, params, x, key)
    grads, _ = backward(net, params, trace, t, sample_weight)
    return cost_of(net, trace, t, sample_weight), grads


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def hand_cost(net, params, x, t, sample_weight=None):
    """The cost E, whose reverse-mode derivative is the hand backward recursion: in ``params``
    and ``x`` only. Differentiating it in the targets or the weights is a ValueError (the rule
    has no derivative there; ``jax.grad`` of ``cost_of`` has)."""
    return cost_of(net, forward(net, params, x), t, sample_weight)


def _hand_cost_fwd(net, params, x, t, sample_weight=None):
    # symbolic_zeros: each leaf comes as a CustomVJPPrimal, with whether it is differentiated
    for name, data in (("t", t), ("sample_weight", sample_weight)):
        if any(leaf.perturbed for leaf in jax.tree.leaves(data)):
            raise ValueError(
                f"net.hand_cost is differentiated with respect to its {name}, for which the "
                "hand rule has no derivative (it gives dE/dparams and dE/dx only, and would "
                f"give {name} a silent 0): use net.cost, whose jax.grad differentiates every "
                "argument."
            )
    params, x, t, sample_weight = custom_vjp_primal_tree_values((params, x, t, sample_weight))
    trace = forward(net, params, x)
    grads, x_grad = backward(net, params, trace, t, sample_weight)
    data_zero = jax.tree.map(jnp.zeros_like, (t, sample_weight))
    return cost_of(net, trace, t, sample_weight), (grads, x_grad, data_zero)


def _hand_cost_bwd(net, residuals, cotangent):
    del net
    grads, x_grad, data_zero = residuals
    if isinstance(cotangent, SymbolicZero):  # E unused: every cotangent is 0
        cotangent = jnp.zeros(cotangent.shape, cotangent.dtype)
    scaled = jax.tree.map(lambda g: cotangent * g, (grads, x_grad))
    return (*scaled, *data_zero)  # never differentiated (the forward rule refuses it): zero


hand_cost.defvjp(_hand_cost_fwd, _hand_cost_bwd, symbolic_zeros=True)
