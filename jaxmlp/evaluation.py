"""Evaluation: a network's cost and accuracy on a data set, batch by batch, weighted or not;
``evaluate_members`` for a population's members at once; ``apply_in_blocks``, its outputs
block by block.

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
from jaxmlp import losses, reduction
from jaxmlp.array_checks import one_dtype
from jaxmlp.arrays import as_arrays, check_sample_weight, in_blocks
from jaxmlp.numeric import check_int
from jaxmlp.population_checks import member_rows, stacked
from jaxmlp.step import correct, is_classifier

# evaluate_members: at most this many bytes of activations per compiled call
_MEMBER_BATCH_BYTES = 2**26


def evaluate(net, params, x, t, batch_size: int = 8192, *, sample_weight=None) -> dict:
    """``{"loss": the cost over all of x (net's reduction), "accuracy": float or None}``;
    with ``sample_weight (n,)`` the weighted cost (``reduction.reduce``) and weighted accuracy.
    ``batch_size``: examples per compiled call, an integer >= 1. Accuracy is the share of
    correct predictions; for a multilabel net (thresholded units) it is per label, the share of
    correct labels (1 - the Hamming loss), not scikit-learn's ``accuracy_score`` of whole rows
    (exact match), which counts a row with one wrong label as wrong (``step.correct``)."""
    batch_size = check_int("batch_size", batch_size, 1)
    net.check_params(params, finite=True)
    dtype = one_dtype(params)
    n, blocks = in_blocks(net, x, t, dtype, batch_size, needs="evaluate")  # one on the device
    s = None if sample_weight is None else check_sample_weight(sample_weight, n, dtype)
    total, hits = 0.0, 0.0
    for i, (xb, tb) in zip(range(0, n, batch_size), blocks, strict=True):
        sb = None if s is None else s[i : i + batch_size]
        c, h = _eval_batch(net, params, xb, tb, sb)
        total, hits = total + float(c), hits + float(h)
    seen = n if s is None else float(np.sum(s, dtype=np.float64))
    loss = total / seen if net.reduction == "mean" else total
    return {"loss": loss, "accuracy": hits / seen if is_classifier(net) else None}


def apply_in_blocks(net, params, x, batch_size: int = 8192, *, pad: bool = False) -> np.ndarray:
    """``net.apply(params, x)`` as a NumPy array, ``batch_size`` rows of ``x`` at a time (an
    integer >= 1), so that the device holds one block of the inputs and its activations at a
    time, as in ``evaluate``; a row's outputs may differ from a whole-batch call's in the last
    bits of rounding (XLA compiles other kernels for other row counts). ``pad``: a last block
    of fewer rows is zero-padded to ``batch_size`` on the host, so that every call has one
    shape and one compiled program serves any number of rows (a row's outputs never depend on
    the rows beside it; the padding's are dropped)."""
    batch_size = check_int("batch_size", batch_size, 1)
    net.check_params(params)
    dtype = one_dtype(params)
    outputs = []
    for i in range(0, max(len(x), 1), batch_size):
        block = x[i : i + batch_size]
        rows = len(block)
        if pad and rows < batch_size:
            block = np.asarray(block)
            block = np.pad(block, [(0, batch_size - rows)] + [(0, 0)] * (block.ndim - 1))
        outputs.append(np.asarray(_forward(net, params, net.inputs(block, dtype)))[:rows])
    return np.concatenate(outputs)


@functools.partial(jax.jit, static_argnums=0)
def _forward(net, params, x):
    return bp.forward(net, params, x).as_[-1]


@functools.partial(jax.jit, static_argnums=0)
def _eval_batch(net, params, x, t, s=None):
    trace = bp.forward(net, params, x)
    per_example = losses.per_example(net.output, net.loss, trace.zs[-1], trace.as_[-1], t)
    per_example = per_example.astype(reduction.sum_dtype(per_example.dtype))  # float16 overflows
    return reduction.reduce(per_example, "sum", s), correct(net, trace.as_[-1], t, s)


def evaluate_members(net, params, x, t, rows=None) -> dict:
    """``evaluate`` of P members at once, as one vmapped compiled program: ``params`` stacked
    on a leading axis of P; member k over all of ``x (n, d)``, ``t``, or over its rows
    ``rows[k]`` of them (``rows (P, m)``, integers in [0, n): a fold's training rows, say;
    ``population_checks.member_rows``). Returns
    ``{"loss": (P,), "accuracy": (P,) or None}`` as float64 arrays (NaN where an output is)."""
    p = stacked(net, params)
    x, t = as_arrays(net, x, t, one_dtype(params), needs="evaluate")
    n = x.shape[0]
    rows = (
        np.broadcast_to(np.arange(n), (p, n)) if rows is None else member_rows("rows", rows, p, n)
    )
    m = rows.shape[1]
    per_example = 2 * sum(net.sizes) * x.dtype.itemsize  # each layer's z and a
    b = max(1, min(m, _MEMBER_BATCH_BYTES // (p * per_example)))
    pad = ((0, 0), (0, -m % b))  # one shape for every call: padded rows weigh 0
    rows, s = np.pad(rows, pad), np.pad(np.ones((p, m), x.dtype), pad)
    total, hits = np.zeros(p), np.zeros(p)
    for i in range(0, rows.shape[1], b):
        c, h = _eval_members_batch(net, params, x, t, rows[:, i : i + b], s[:, i : i + b])
        total, hits = total + np.asarray(c, np.float64), hits + np.asarray(h, np.float64)
    loss = total / m if net.reduction == "mean" else total
    return {"loss": loss, "accuracy": hits / m if is_classifier(net) else None}


@functools.partial(jax.jit, static_argnums=0)
def _eval_members_batch(net, params, x, t, rows, s):
    one = lambda params, rows, s: _eval_batch(net, params, x[rows], t[rows], s)  # noqa: E731
    return jax.vmap(one)(params, rows, s)
