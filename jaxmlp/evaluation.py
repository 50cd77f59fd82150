"""Evaluation: a network's cost and accuracy on a data set, batch by batch, weighted or not.

>>> import jax, jax.numpy as jnp
>>> from jaxmlp import MLP
>>> net = MLP((2, 3, 2), "tanh", "softmax", "cross_entropy")
>>> result = evaluate(net, net.init(jax.random.key(0)), jnp.ones((4, 2)), jnp.array([0, 1, 1, 0]))
>>> sorted(result), result["accuracy"]
(['accuracy', 'loss'], 0.5)
"""

import functools

import jax
import numpy as np

from jaxmlp import backprop as bp
from jaxmlp import losses
from jaxmlp.arrays import as_arrays, check_sample_weight
from jaxmlp.numeric import check_int
from jaxmlp.step import correct, is_classifier


def evaluate(net, params, x, t, batch_size: int = 8192, *, sample_weight=None) -> dict:
    """``{"loss": the cost over all of x (net's reduction), "accuracy": float or None}``;
    with ``sample_weight (n,)`` the weighted cost (``losses.reduce``) and weighted accuracy.
    ``batch_size``: examples per compiled call, an integer >= 1."""
    check_int("batch_size", batch_size, 1)
    net.check_params(params, finite=True)
    x, t = as_arrays(net, x, t, params[0]["w"].dtype)
    n = x.shape[0]
    s = None if sample_weight is None else check_sample_weight(sample_weight, n)
    total, hits = 0.0, 0.0
    for i in range(0, n, batch_size):
        part = slice(i, i + batch_size)
        c, h = _eval_batch(net, params, x[part], t[part], None if s is None else s[part])
        total, hits = total + float(c), hits + float(h)
    seen = n if s is None else float(np.sum(s, dtype=np.float64))
    loss = total / seen if net.reduction == "mean" else total
    return {"loss": loss, "accuracy": hits / seen if is_classifier(net) else None}


@functools.partial(jax.jit, static_argnums=0)
def _eval_batch(net, params, x, t, s=None):
    trace = bp.forward(net, params, x)
    per_example = losses.per_example(net.output, net.loss, trace.zs[-1], trace.as_[-1], t)
    return losses.reduce(per_example, "sum", s), correct(net, trace.as_[-1], t, s)


def val_outputs(net, params, x_val, t_val, s_val=None) -> dict:
    """An epoch's validation outputs as the compiled epochs give them (``val_loss``,
    ``val_correct``: the weight of the correct predictions), from ``evaluate``."""
    val = evaluate(net, params, x_val, t_val, sample_weight=s_val)
    seen = x_val.shape[0] if s_val is None else float(np.sum(np.asarray(s_val, np.float64)))
    hits = (val["accuracy"] or 0.0) * seen
    return {"val_loss": [val["loss"]], "val_correct": [hits]}
