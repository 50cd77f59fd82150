"""The training step: gradients (by hand or by ``jax.grad``), metrics, and the optax update.

``make_step`` is the pure step ``(params, opt_state, x, t, key) -> (params, opt_state, metrics)``;
the compiled epochs (``jaxmlp.epochs``) use its two halves so that they can skip the update of a
non-finite step.
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax
from jax import lax

from jaxmlp import backprop as bp
from jaxmlp import outputs, second_order
from jaxmlp.numeric import not_one_of

BACKPROPS = ("hand", "autodiff")


def gradient_source(net, backprop: str = "hand") -> Callable:
    """``f(params, x, t, key, sample_weight) -> (cost, y, grads)`` by the hand recursion or by
    ``jax.grad``; ``sample_weight (n,)`` weighs the examples (``reduction.reduce``)."""
    if backprop == "hand":

        def hand(params, x, t, key=None, sample_weight=None):
            trace = bp.forward(net, params, x, key)
            grads, _ = bp.backward(net, params, trace, t, sample_weight)
            return bp.cost_of(net, trace, t, sample_weight), trace.as_[-1], grads

        return hand
    if backprop == "autodiff":

        def autodiff(params, x, t, key=None, sample_weight=None):
            def cost(p):
                trace = bp.forward(net, p, x, key)
                return bp.cost_of(net, trace, t, sample_weight), trace.as_[-1]

            (c, y), grads = jax.value_and_grad(cost, has_aux=True)(params)
            return c, y, grads

        return autodiff
    raise not_one_of("backprop", backprop, BACKPROPS)


def correct(net, y, t, sample_weight=None):
    """Number of correct predictions in a batch (targets ``t (n, K)`` as the loss takes them);
    per unit for a thresholded output (sigmoid, threshold). With ``sample_weight (n,)``: the
    weight of the correct ones, sum_i s_i hit_i. NaN when any output is NaN, as the loss is
    (argmax of a NaN row is 0 and NaN > 0.5 is false: such rows would count as correct), in a
    row that weighs (a row of weight 0 counts for nothing, ``reduction.weighed``)."""
    decides = outputs.get(net.output).decides
    nan = jnp.isnan(y).any(-1)
    nan = (nan if sample_weight is None else nan & (sample_weight != 0)).any()
    if decides == "argmax":
        hits = jnp.argmax(y, -1) == jnp.argmax(t, -1)
    elif decides == "threshold":
        if sample_weight is None:
            count = jnp.sum((y > 0.5) == (t > 0.5)) / y.shape[-1]
            return jnp.where(nan, jnp.nan, count)
        hits = jnp.mean((y > 0.5) == (t > 0.5), -1)
    else:
        return jnp.zeros(())
    count = jnp.sum(hits) if sample_weight is None else jnp.sum(sample_weight * hits)
    return jnp.where(nan, jnp.nan, count)


def is_classifier(net) -> bool:
    return outputs.get(net.output).decides is not None


def make_step(
    net, tx: optax.GradientTransformation, backprop: str = "hand", dtype: str = "float32"
):
    """The pure training step ``(params, opt_state, x, t, key=None) -> (params, opt_state,
    metrics)``; wrap it in ``jax.jit``. ``t`` as ``net.cost`` takes it: ``(n, K)`` targets or
    integer labels ``(n,)`` for cross_entropy (one-hot inside the step; ``net.targets``).
    metrics: ``loss``, ``correct``, ``grad_norm``, ``finite``."""
    grads_and_metrics, update = step_halves(net, tx, backprop, dtype)

    def step(params, opt_state, x, t, key=None):
        t = net.targets(t, jnp.shape(x)[0], metric_dtype(params))
        grads, metrics = grads_and_metrics(params, x, t, key)
        return (*update(grads, opt_state, params, x, t), metrics)

    return step


def step_halves(net, tx, backprop: str, dtype: str, squares: bool = False, clips=False, sums=False):
    """The step as ``grads_and_metrics(params, x, t, key, sample_weight, opt_state) -> (grads,
    metrics)`` (metrics: ``loss``, ``correct``, ``grad_norm`` in ``metric_dtype``, and
    ``finite``, see ``finite``: of the gradients' squares too with ``squares``, for ``tx`` whose
    state holds them, of ``grad_norm`` with ``clips``, for ``tx`` that clips to a global norm:
    one that overflows makes the clipped step g / inf = 0, a silent no-op, and with ``sums``
    and ``opt_state`` given, of the state ``tx`` would leave, for one that sums the squares
    (``optim.SUMS``: finite squares overflow the sum in time), and with ``opt_state`` given
    to a first-order ``tx``, of the parameters it would leave; ``quick_finite``, what an
    unguarded step checks, ``epochs.make_epoch``: its loss, and with ``clips`` that norm, which
    nothing non-finite left behind would show) and
    ``update(grads, opt_state, params, x, t) -> (params, opt_state)`` (the batch: for a
    curvature solver), so the fused loops can skip the update of a non-finite step
    (``update_if``)."""
    grads_of = gradient_source(net, backprop)
    # A curvature solver also takes the net and the batch (second_order.Transformation).
    extra = isinstance(tx, second_order.Transformation)
    compute = jnp.bfloat16 if dtype == "bfloat16" else None

    def grads_and_metrics(params, x, t, key=None, sample_weight=None, opt_state=None):
        p, dtype = params, metric_dtype(params)
        if compute is not None:  # bfloat16 compute, float32 master weights (and weights)
            p, x, t = jax.tree.map(lambda a: a.astype(compute), (params, x, t))
        cost, y, grads = grads_of(p, x, t, key, sample_weight)
        grads = jax.tree.map(lambda g, w: g.astype(w.dtype), grads, params)
        metrics = {
            "loss": cost.astype(dtype),
            "correct": correct(net, y, t, sample_weight).astype(dtype),
            "grad_norm": optax.tree.norm(grads).astype(dtype),
        }
        norm = metrics["grad_norm"] if clips else None
        # the parameters (and with ``sums`` the state) the step would leave: the update itself
        # runs in ``update_if``'s cond. Twice on purpose: handing this update to the cond changed
        # XLA's fusion (other last bits) and made it copy the state (not in place: ~20 % slower
        # for Adagrad's online steps)
        new, after = None, None
        if opt_state is not None and not extra:
            updates, state = tx.update(grads, opt_state, params)
            new, after = optax.apply_updates(params, updates), state if sums else None
        metrics["quick_finite"], metrics["finite"] = finite(
            metrics["loss"], grads, squares, norm, after, new
        )
        return grads, metrics

    def update(grads, opt_state, params, x=None, t=None):
        kwargs = {"net": net, "x": x, "t": t} if extra else {}
        updates, opt_state = tx.update(grads, opt_state, params, **kwargs)
        return optax.apply_updates(params, updates), opt_state

    return grads_and_metrics, update


def metric_dtype(params):
    """The dtype of a run's metrics (losses, counts of correct predictions, weights): that of its
    master weights, float64 in a float64 run, float32 otherwise (bfloat16 computes on float32
    masters). Early stopping compares the validation losses as they are: a float64 run's rounded
    to float32 would count an improvement below float32's resolution (6e-8) as none."""
    return jax.tree.leaves(params)[0].dtype


def finite(loss, grads, squares: bool = False, norm=None, after=None, new=None):
    """``(quick, whole)``: whether a step is finite, ``quick`` by its loss (and ``norm``, the
    gradients' global norm, given with clipping: an overflowing one makes the clipped step
    g / inf = 0), ``whole`` also by every element of its gradients (not their norm, which
    overflows for finite gradients of ~1e19 in float32), and with ``squares`` (an
    optimizer whose state holds g**2: ``optim.SQUARES``) every element's square: past ~1.8e19
    in float32 it overflows Adam's second moment, whose weight then never moves again
    (m / sqrt(inf) = 0) while every parameter and loss stays finite; and by ``after``, the
    optimizer state the step would leave, given for one that sums the squares (Adagrad,
    ``optim.SUMS``: finite squares overflow its sum in time, with the same frozen weight); and
    by ``new``, the parameters the step would leave, given for a first-order step: finite
    gradients times a large learning rate overflow them (lr 1e38 in float32), and the run
    would hold (and return, save or restore) inf parameters. A fit stops at the first step
    that is not (``Diverged``)."""
    quick = jnp.isfinite(loss) if norm is None else jnp.isfinite(loss) & jnp.isfinite(norm)
    checked = jax.tree.map(jnp.square, grads) if squares else grads
    each = [jnp.isfinite(a) for a in jax.tree.leaves(checked)]
    if new is not None:  # in the same pass over each leaf (online SGD: ~+5 %; ~+20 % apart)
        each = [f & jnp.isfinite(p) for f, p in zip(each, jax.tree.leaves(new), strict=True)]
    whole = quick & jnp.all(jnp.stack([f.all() for f in each]))
    return quick, whole if after is None else whole & all_finite(after)


def all_finite(tree):
    """Whether every element of every leaf of ``tree`` is finite (a boolean scalar)."""
    return jnp.all(finite_each(*jax.tree.leaves(tree)))


def finite_each(*arrays):
    """Per array, whether every value is finite (an integer array always is)."""
    return jnp.stack([jnp.isfinite(a).all() for a in arrays])


def update_if(ok, update, grads, opt_state, params, held=None):
    """``update(grads, opt_state, params)`` if ``ok``, else ``(params, opt_state)`` unchanged
    (``held(opt_state)`` instead of the state, where given). A ``lax.cond``, not a select
    between both results: the select made XLA copy the optimizer state every step
    (experiments/BENCHMARKS.md); the cond updates in place."""
    keep = (lambda o: o) if held is None else held
    return lax.cond(ok, update, lambda g, o, p: (p, keep(o)), grads, opt_state, params)
