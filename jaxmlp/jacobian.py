"""The input Jacobian dy/dx by hand (seed 000: backprop "can be applied also to compute
derivatives of output wrt to input variables"), accumulated through the layers either way.

Per example, with ``D_l = diag(h'_l(z_l))`` and ``J_out = dy/dz_L``,

    dy/dx = J_out  w_L^T  D_{L-1}  w_{L-1}^T  ...  D_1  w_1^T        (K, d)

Forward accumulation multiplies from the input side (cost ~ d per layer width), reverse
accumulation from the output side (cost ~ K); both give the same matrix.
"""

import jax.numpy as jnp

from jaxmlp import backprop, outputs
from jaxmlp.numeric import not_one_of


def _output_jacobian(net, z, y):
    """dy/dz_L per example, (n, K, K), from the output record's vjp applied to unit vectors."""
    k = z.shape[-1]
    eye = jnp.eye(k, dtype=z.dtype)
    vjp = outputs.get(net.output).vjp
    # Row i of J is e_i^T J = vjp(e_i); the vjp is linear in g and batched over examples.
    return jnp.stack([vjp(z, y, jnp.broadcast_to(eye[i], z.shape)) for i in range(k)], axis=1)


def input_jacobian(net, params, x, mode: str = "reverse"):
    """dy/dx ``(n, K, d)`` for ``x (n, d)`` (checked, as the net's dtype: ``net.inputs``);
    ``mode`` is ``"forward"`` or ``"reverse"``."""
    if mode not in ("forward", "reverse"):
        raise not_one_of("mode", mode, ("forward", "reverse"))
    x = net._check_x(params, x)
    trace = backprop.forward(net, params, x)
    j_out = _output_jacobian(net, trace.zs[-1], trace.as_[-1])
    if mode == "reverse":  # R = dy/dz_l, from the output down: R <- (R w_l^T) * h'(z_{l-1})
        r = j_out
        for l in reversed(range(len(params))):
            r = r @ params[l]["w"].T
            if l > 0:
                r = r * backprop.hidden_grad(net, l - 1, params[l - 1], trace.zs[l - 1])[:, None, :]
        return r
    # forward: T = dz_l/dx, from the input up: T <- (T * h'(z_{l-1})) w_l, as (n, d, p_l)
    t = jnp.broadcast_to(params[0]["w"], (x.shape[0], *params[0]["w"].shape))
    for l in range(len(params) - 1):
        t = (t * backprop.hidden_grad(net, l, params[l], trace.zs[l])[:, None, :]) @ params[l + 1][
            "w"
        ]
    return jnp.einsum("nkj,ndj->nkd", j_out, t)
