"""Curvature by hand: Hessian-vector products by the R-operator, Gauss-Newton, the Fisher, the
exact Hessian, its diagonal, the outer-product approximation and the input Hessian d2y/dx2.

Seed 000: backpropagation "can be applied also to compute ... the Jacobian and the Hessian
matrices". Notation as in ``backprop``: ``a_0 = x``, ``z_l = a_{l-1} w_l + b_l``,
``a_l = h_l(z_l)``, ``G_l = dE/dz_l``, ``g_a = G_l w_l^T = dE/da_{l-1}``. A vector ``v`` is shaped
like ``params``.

The R-operator (Pearlmutter 1994), ``R{f} = d/dr f(w + r v)`` at r = 0, applied to the forward
pass (the R-forward pass, ``R{z_L} = (dz_L/dw) v``):

    R{a_0} = 0,    R{z_l} = R{a_{l-1}} w_l + a_{l-1} v_wl + v_bl,
    R{a_l} = h' R{z_l} + h_alpha v_alpha       (h_alpha = dh/dalpha: a learnable slope only)

and to the backward pass (the R-backward pass), starting from the pair's output curvature:

    R{G_L}      = (d2E/dz_L2) R{z_L}
    R{dE/dw_l}  = R{a_{l-1}}^T G_l + a_{l-1}^T R{G_l},        R{dE/db_l} = 1^T R{G_l}
    R{g_a}      = R{G_l} w_l^T + G_l v_wl^T
    R{G_{l-1}}  = R{g_a} * h' + g_a * (h'' R{z_{l-1}} + h_z_alpha v_alpha)
    R{dE/dalpha} = 1^T (R{g_a} * h_alpha + g_a * (h_z_alpha R{z_{l-1}} + h_alpha_alpha v_alpha))

gives ``Hv = R{dE/dw}`` exactly, for about the cost of two gradients. Dropping every second-order
term (those in h'', in the output's curvature of y, and in ``v_w``, ``R{a}`` on the backward
side) leaves the Gauss-Newton product ``G v = J^T (d2E/dz_L2) J v`` (Schraudolph 2002), ``J =
dz_L/dw``: the plain backward pass (``backprop.backward_from``) run from ``(d2E/dz_L2) R{z_L}``,
for a canonical pair; for any other, whose d2E/dz_L2 keeps the output's curvature of y and is
indefinite, from ``J_out^T (d2E/dy2) J_out R{z_L}`` (``J_out = dy/dz_L``): ``J_y^T (d2E/dy2)
J_y``, positive semi-definite as the loss is convex in y.

No dropout here (no key): curvature is of the deterministic network. Every function is pure jnp
code of ``(params, x, t, v)`` and composes with ``jit`` and ``vmap``. Matrices are over the
parameters flattened in ``jax.flatten_util.ravel_pytree(params)`` order.
"""

import functools
import operator

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from jaxmlp import activations, array_checks, backprop, losses, outputs


def _records(net):
    """The hidden activation records, refusing one registered without h''."""
    acts = [activations.get(name) for name in net.hidden_activations]
    for act in acts:
        if act.grad2 is None:
            raise ValueError(
                f"Activation {act.name!r} was registered without its second derivative: pass "
                "grad2= to activations.register to use the curvature."
            )
    return acts


def _checked(net, params, x, t=None, v=None, *, needs_t=None, of=None):
    """``_records(net)``, after the shapes a product needs (values are not looked at: these
    run under ``jit``): ``params`` of ``net``, ``x (n, d)``, ``t (n, K)`` (labels or ``(n,)``
    broadcast silently: ``MLP.targets`` makes them ``(n, K)``; not None where ``needs_t``, the
    product's name, is given) and ``v`` shaped like params, leaf by leaf of params' dtype. A
    product of the cost (``needs_t``, or ``of``: its name) needs n >= 1, as ``MLP.cost``."""
    net.check_params(params)
    if needs_t and t is None:
        raise ValueError(f"{needs_t} needs targets t, got None: (n, K) targets or (n,) labels.")
    if jnp.ndim(x) != 2 or jnp.shape(x)[1] != net.sizes[0]:
        raise ValueError(f"x must have shape (n, {net.sizes[0]}), got {jnp.shape(x)}.")
    if needs_t or of:
        array_checks.check_nonempty(x, "x", needs_t or of)
    n, k = jnp.shape(x)[0], net.sizes[-1]
    if t is not None and jnp.shape(t) != (n, k):
        raise ValueError(
            f"t must have shape (n, K) = {(n, k)}, got {jnp.shape(t)}: labels and (n,) "
            "targets become (n, K) by net.targets(t, n)."
        )
    if v is not None:
        want, got = (jax.tree.map(jnp.shape, tree) for tree in (params, v))
        if jax.tree.structure(v) != jax.tree.structure(params) or want != got:
            raise ValueError(f"v must be shaped like params, {want}; got {got}.")
        for (path, p), vi in zip(
            *(jax.tree_util.tree_leaves_with_path(params), jax.tree.leaves(v))
        ):
            if jnp.result_type(vi) != jnp.result_type(p):
                raise ValueError(
                    f"v{jax.tree_util.keystr(path)} has dtype {jnp.result_type(vi)}; v must have "
                    f"the dtype of params, {jnp.result_type(p)}."
                )
    return _records(net)


def r_forward(net, params, trace, v):
    """``R{z_l}`` and ``R{a_l}`` for every layer: ``(rzs, ras)``; ``ras[0] = R{x} = 0`` is None
    (its products are skipped, not computed as zeros)."""
    acts = _records(net)
    rzs, ras = [], [None]
    for l, layer in enumerate(params):
        rz = trace.as_[l] @ v[l]["w"] + v[l]["b"]
        if l > 0:
            rz = rz + ras[-1] @ layer["w"]
        rzs.append(rz)
        if l == len(params) - 1:
            break
        act, z = acts[l], trace.zs[l]
        ra = act.grad(z, *act.slope(layer)) * rz
        if act.learnable:
            ra = ra + act.grad_alpha(z, *act.slope(layer)) * v[l]["alpha"]
        ras.append(ra)
    return rzs, ras


def hvp(net, params, x, t, v):
    """The Hessian-vector product ``Hv = (d2E/dw2) v``, shaped like ``params``, by one forward,
    one R-forward and one R-backward pass (the module docstring's recursion).

    >>> import jax, jax.numpy as jnp
    >>> from jaxmlp import MLP
    >>> net = MLP((2, 3, 1), "tanh")
    >>> params = net.init(jax.random.key(0))
    >>> x, t = jnp.ones((4, 2)), jnp.zeros((4, 1))
    >>> hv = hvp(net, params, x, t, params)
    >>> jax.tree.map(jnp.shape, hv) == jax.tree.map(jnp.shape, params)
    True
    """
    acts = _checked(net, params, x, t, v, needs_t="hvp")
    trace = backprop.forward(net, params, x)
    rzs, ras = r_forward(net, params, trace, v)
    z_out, y = trace.zs[-1], trace.as_[-1]
    g = losses.delta(net.output, net.loss, net.reduction, z_out, y, t)
    rg = losses.curvature(net.output, net.loss, net.reduction, z_out, y, t, rzs[-1])
    hv = [{} for _ in params]
    for l in reversed(range(len(params))):
        a, ra = trace.as_[l], ras[l]
        pairs = [(a, rg)] if ra is None else [(ra, g), (a, rg)]  # R{a}^T G + a^T R{G}
        hv[l].update(w=_sum_of_products(pairs), b=jnp.sum(rg, axis=0))
        if l == 0:
            break
        w = params[l]["w"]
        g_a, rg_a = g @ w.T, rg @ w.T + g @ v[l]["w"].T
        act, z, rz = acts[l - 1], trace.zs[l - 1], rzs[l - 1]
        slope = act.slope(params[l - 1])
        second = act.grad2(z, *slope) * rz
        if act.learnable:
            va = v[l - 1]["alpha"]
            second = second + act.grad_z_alpha(z, *slope) * va
            hv[l - 1]["alpha"] = jnp.sum(
                rg_a * act.grad_alpha(z, *slope)
                + g_a * (act.grad_z_alpha(z, *slope) * rz + act.grad2_alpha(z, *slope) * va),
                axis=0,
            )
        g, rg = g_a * act.grad(z, *slope), rg_a * act.grad(z, *slope) + g_a * second
    return backprop.like(params, hv)


def _sum_of_products(pairs):
    """``sum_i a_i^T g_i`` over ``pairs`` of ``(a (n, p), g (n, q))``: a ``(p, q)`` weight
    gradient. Where the layer narrows (q < p) it is computed as ``(sum_i g_i^T a_i)^T``: the same
    sums, but XLA:CPU's matmul is several times slower when its output's last dimension is the
    short one (``a^T g``, (256, 128) -> (128, 10): 5x). The transpose of a sum stays as written;
    that of a single product XLA folds back into ``a^T g`` (experiments/BENCHMARKS.md)."""
    narrow = pairs[0][1].shape[-1] < pairs[0][0].shape[-1]
    total = functools.reduce(operator.add, [g.T @ a if narrow else a.T @ g for a, g in pairs])
    return total.T if narrow else total


def gnvp(net, params, x, t, v):
    """The Gauss-Newton-vector product ``G v``, positive semi-definite for every pair: the
    R-forward pass to ``J v``, ``J = dz_L/dw``, the output factor of
    ``losses.gauss_newton_curvature``, and the plain backward pass. For a canonical pair ``G =
    J^T (d2E/dz_L2) J``; for any other ``G = J_y^T (d2E/dy2) J_y``, ``J_y = dy/dw`` (the
    network's outputs linearised, the loss's curvature in y kept: Schraudolph 2002's split where
    the loss is convex), the same as ``outer_product_vp``. ``J^T (d2E/dz_L2) J`` of such a pair
    keeps the output's own curvature and is indefinite (sigmoid, softmax or tanh with mse)."""
    _checked(net, params, x, t, v, needs_t="gnvp")
    trace = backprop.forward(net, params, x)
    rzs, _ = r_forward(net, params, trace, v)
    z, y = trace.zs[-1], trace.as_[-1]
    u = losses.gauss_newton_curvature(net.output, net.loss, net.reduction, z, y, t, rzs[-1])
    return backprop.backward_from(net, params, trace, u)[0]


def fisher_vp(net, params, x, v):
    """The Fisher information times v, ``F v = J^T Cov(t | z_L) J v`` (scaled as the cost), for
    the canonical pairs, whose model is a distribution over targets: a Gaussian of unit variance
    (identity + sse), Bernoulli (sigmoid + bce), categorical (softmax + cross_entropy). It equals
    ``gnvp`` for targets that sum to one; it does not depend on t."""
    pair = losses.pair(net.output, net.loss)
    if pair.fisher is None:
        taken = [
            [output, loss]
            for loss in losses.NAMES
            for output in outputs.specs_where(lambda r, l=loss: losses.is_canonical(r.name, l))
        ]  # CANONICAL's, the threshold's and a tempered softmax's
        raise ValueError(
            f"The Fisher needs a canonical (output, loss) pair, one of {taken}; got "
            f"{[net.output, net.loss]}."
        )
    _checked(net, params, x, v=v, of="fisher_vp")
    trace = backprop.forward(net, params, x)
    rzs, _ = r_forward(net, params, trace, v)
    u = pair.fisher(trace.zs[-1], trace.as_[-1], rzs[-1])
    u = u / x.shape[0] if net.reduction == "mean" else u
    return backprop.backward_from(net, params, trace, u)[0]


def outer_product_vp(net, params, x, t, v):
    """The outer-product (Levenberg-Marquardt) approximation times v (Bishop 1995, PRML 5.84):
    ``J_y^T diag(d2l/dy2) J_y v``, ``J_y = dy/dw``: the network linearised at its outputs y, the
    loss's curvature kept. For sse it is ``sum_n sum_k grad y_nk grad y_nk^T v``, the Hessian
    that MATLAB's trainlm uses; for the canonical pairs PRML 5.85 is ``gnvp`` instead. Finite
    where the outputs saturate (y = 0 or 1 in bce, cross_entropy, poisson: ``losses.Pair``'s
    ``outer``), as the cost is."""
    _checked(net, params, x, t, v, needs_t="outer_product_vp")
    trace = backprop.forward(net, params, x)
    rzs, _ = r_forward(net, params, trace, v)
    z, y = trace.zs[-1], trace.as_[-1]
    u = losses.outer_curvature(net.output, net.loss, net.reduction, z, y, t, rzs[-1])
    return backprop.backward_from(net, params, trace, u)[0]


def matrix(product, params):
    """The ``(|w|, |w|)`` matrix of a symmetric product ``product(v)``, one column per basis
    vector (vmapped), in ``ravel_pytree(params)`` order."""
    flat, unravel = ravel_pytree(params)
    eye = jnp.eye(flat.size, dtype=flat.dtype)
    return jax.vmap(lambda e: ravel_pytree(product(unravel(e)))[0])(eye)


def hessian(net, params, x, t):
    """The exact Hessian d2E/dw2, ``(|w|, |w|)`` (small nets), as ``hvp`` of every basis vector.

    This is Bishop's (1992) exact evaluation by extended backpropagation, reorganised: Bishop
    forward-propagates, for each unit, the derivatives of every later unit's input with respect
    to it, and back-propagates their second-order counterparts; the R-forward and R-backward
    passes propagate the same quantities for one direction, and a basis vector e_i selects one
    weight, the unit it enters and its input activation. Both cost O(|w|^2) per example
    (Pearlmutter 1994, section 4). The tests check it against PRML's closed form (5.93-5.95) for
    one hidden layer and against ``jax.hessian`` everywhere.
    """
    return matrix(lambda v: hvp(net, params, x, t, v), params)


def gauss_newton(net, params, x, t):
    """The Gauss-Newton matrix ``(|w|, |w|)`` of ``gnvp``: ``J^T (d2E/dz_L2) J`` for a canonical
    pair, ``J_y^T (d2E/dy2) J_y`` for any other."""
    return matrix(lambda v: gnvp(net, params, x, t, v), params)


def outer_product(net, params, x, t):
    """The outer-product approximation ``J_y^T diag(d2l/dy2) J_y``, ``(|w|, |w|)``."""
    return matrix(lambda v: outer_product_vp(net, params, x, t, v), params)


def hessian_diagonal(net, params, x, t):
    """The exact diagonal of d2E/dw2, shaped like ``params``, by back-propagating each example's
    Hessian with respect to the pre-activations (exact: ``z_l`` depends on ``z_{l-1}`` alone),

        M_L = d2E/dz_L2,   A_{l-1} = w_l M_l w_l^T = d2E/da_{l-1}2,
        M_{l-1} = h' A_{l-1} h'^T + diag(h'' * g_a),

    then ``d2E/dw_l[j,i]2 = sum_n a_{l-1,nj}^2 M_l[n,i,i]`` (w_l reaches E_n only through
    z_{l,n,i}), ``d2E/db_l[i]2 = sum_n M_l[n,i,i]`` and ``d2E/dalpha_i2 = sum_n h_alpha_i^2
    A[n,i,i] + g_a,i h_alpha_alpha,i``. Cost O(n p^2) per layer, not O(|w|) Hessian products.
    """
    acts = _checked(net, params, x, t, needs_t="hessian_diagonal")
    trace = backprop.forward(net, params, x)
    z_out, y = trace.zs[-1], trace.as_[-1]
    k = z_out.shape[-1]

    def curvature(u):
        return losses.curvature(net.output, net.loss, net.reduction, z_out, y, t, u)

    eye = jnp.broadcast_to(jnp.eye(k, dtype=z_out.dtype), (z_out.shape[0], k, k))
    m = jax.vmap(curvature, in_axes=1, out_axes=2)(eye)  # (n, K, K), column j = M e_j
    g = losses.delta(net.output, net.loss, net.reduction, z_out, y, t)
    diag = [{} for _ in params]
    for l in reversed(range(len(params))):
        m_ii = jnp.diagonal(m, axis1=1, axis2=2)
        diag[l].update(w=(trace.as_[l] ** 2).T @ m_ii, b=jnp.sum(m_ii, axis=0))
        if l == 0:
            break
        w = params[l]["w"]
        g_a, a2 = g @ w.T, jnp.einsum("pi,nij,qj->npq", w, m, w)  # A = w M w^T
        act, z = acts[l - 1], trace.zs[l - 1]
        slope = act.slope(params[l - 1])
        d1 = act.grad(z, *slope)
        if act.learnable:
            h_alpha = act.grad_alpha(z, *slope)
            diag[l - 1]["alpha"] = jnp.sum(
                h_alpha**2 * jnp.diagonal(a2, axis1=1, axis2=2) + g_a * act.grad2_alpha(z, *slope),
                axis=0,
            )
        m = d1[:, :, None] * a2 * d1[:, None, :] + jax.vmap(jnp.diag)(act.grad2(z, *slope) * g_a)
        g = g_a * d1
    return backprop.like(params, diag)


def input_hessian(net, params, x):
    """d2y/dx2 per example, ``(n, K, d, d)``, by forward accumulation of first and second
    derivatives of the pre-activations, ``T_l = dz_l/dx (n, p_l, d)``, ``S_l = d2z_l/dx2``:

        da/dx = h' T,   d2a/dx2 = h'' T T^T + h' S,   T_{l+1} = w_{l+1}^T da/dx,  S_{l+1} likewise,

    and at the output ``d2y_k/dx2 = T^T (d2y_k/dz2) T + sum_i J_ki S_i`` (the output record's
    ``curvature`` and ``vjp``). The Jacobian's counterpart (``jacobian.input_jacobian``)."""
    acts = _checked(net, params, x)
    trace = backprop.forward(net, params, x)
    n, d = x.shape
    t_ = jnp.broadcast_to(params[0]["w"].T, (n, *params[0]["w"].T.shape))  # (n, p_1, d)
    s_ = jnp.zeros((*t_.shape, d), x.dtype)
    for l in range(len(params) - 1):
        act, z = acts[l], trace.zs[l]
        slope = act.slope(params[l])
        d1, d2 = act.grad(z, *slope)[..., None], act.grad2(z, *slope)[..., None, None]
        da, d2a = d1 * t_, d2 * t_[..., :, None] * t_[..., None, :] + d1[..., None] * s_
        w = params[l + 1]["w"]
        t_, s_ = jnp.einsum("npd,pq->nqd", da, w), jnp.einsum("npde,pq->nqde", d2a, w)
    out, z, y = outputs.get(net.output), trace.zs[-1], trace.as_[-1]
    k = z.shape[-1]
    # sum_i J_ki S_i: J symmetric, applied along the unit axis moved last.
    first = out.vjp(z[:, None, None], y[:, None, None], jnp.moveaxis(s_, 1, -1))
    first = jnp.moveaxis(first, -1, 1)
    cols = jnp.swapaxes(t_, 1, 2)  # (n, d, K): column b of T as a vector over units

    def second(e_k):  # T^T (d2y_k/dz2) T, (n, d, d)
        hk_t = out.curvature(z[:, None], y[:, None], e_k, cols)  # (n, d, K): H_k T_b
        return jnp.einsum("nia,nbi->nab", t_, hk_t)

    return first + jnp.stack([second(e) for e in jnp.eye(k, dtype=z.dtype)], axis=1)
