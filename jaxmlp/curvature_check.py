"""Curvature checks: are the hand curvature passes the second derivatives of the cost? In float64.

    check_curvature(net, params, x, t)     every hand pass against jax, Hv against differences
    taylor_test_hessian(net, params, x, t) the order of the second-order Taylor remainder: 3 if
                                           Hv is right, 2 if not
    curvature_matrix()                     every activation x (output, loss) pair x depth 1-3

``check_curvature`` compares, for one random direction v (every element standard normal):

    hvp       hand Hv (``curvature.hvp``) against ``jax.jvp(jax.grad(E))(w; v)``
    fd        hand Hv against ``(g(w + h v) - g(w - h v)) / 2h`` of the hand gradient g
    gn        hand Gv (``curvature.gnvp``) against jax's ``J^T (d2E/dz_L2) J v`` (a jvp of z_L,
              ``jax.hessian``-vector product of E in z_L, a vjp), of y instead of z_L for a
              pair that is not canonical
    diagonal  ``curvature.hessian_diagonal`` against the diagonal of ``jax.hessian(E)``
    input     ``curvature.input_hessian`` against ``jax.hessian`` of each example's y in x

Relative error of a pytree a against a reference r, leaf by leaf: ``max |a - r| / max(max |r|,
1e-3 max over every leaf |r| + tiny)``, the worst leaf (NaN if any leaf is). Tolerances: 1e-10
against jax (round-off agreement, 1e-14 seen), 1e-6 against the central differences of the
gradient (truncation h^2 |E'''| and round-off 1e-16 / h at h = 1e-5). An h'' 1 % off, a wrong
output curvature or a dropped term of the R-backward pass leaves errors of 1e-4 and more: caught.
"""

import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from jaxmlp import activations as _activations
from jaxmlp import backprop, curvature, kinks, losses, outputs, reduction
from jaxmlp.array_checks import real_array
from jaxmlp.finite_differences import noise_of_e, roundoff_rows
from jaxmlp.gradient_check import _clear_of_kinks, worst
from jaxmlp.gradient_matrix import (
    KINK_MARGIN,
    _cell_data,
    _cells,
    _failing,
    kink_distance,
    matrix_axes,
)
from jaxmlp.gradient_report import _examples
from jaxmlp.mlp import MLP
from jaxmlp.numeric import check_int

FLOOR = 1e-3
EPS = 1e-5  # central difference of the hand gradient, float64
RTOL_AUTODIFF = 1e-10
RTOL_FD = 1e-6
CHECKS = ("hvp", "fd", "gn", "diagonal", "input")


def relative_error(a, r) -> float:
    """The worst leaf's ``max |a - r| / max(max |r_leaf|, FLOOR max |r| + tiny)``; NaN (or inf)
    in any leaf of either makes it NaN (or inf), and the check fail."""
    a = [np.asarray(v, np.float64) for v in jax.tree.leaves(a)]
    r = [np.asarray(v, np.float64) for v in jax.tree.leaves(r)]
    floor = FLOOR * worst(np.max(np.abs(v), initial=0.0) for v in r) + np.finfo(np.float64).tiny
    with np.errstate(invalid="ignore"):  # inf / inf (an inf in r): NaN, as meant
        return worst(
            np.max(np.abs(ai - ri), initial=0.0)
            / np.maximum(np.max(np.abs(ri), initial=0.0), floor)
            for ai, ri in zip(a, r, strict=True)
        )


def _real(product, what: str = "hvp_fn"):
    """``product`` (a pytree of arrays), once every leaf is real and unmasked: a complex Hv
    passed the checks by its real part (the cast to float64 drops the rest)."""
    for path, leaf in jax.tree_util.tree_leaves_with_path(product):
        real_array(f"{what}: {jax.tree_util.keystr(path)}", leaf)
    return product


def _float64(net, params, x, t):
    """params and x in float64, then t checked as ``net.cost`` takes it, in float64 (integer
    labels one-hot: cast first, they would read as one target per example)."""
    params, x = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), (params, x))
    return params, *net._check_xt(params, x, t)


def _cost(net, params, x, t):
    return backprop.cost_of(net, backprop.forward(net, params, x), t)


def _jax_gnvp(net, params, x, t, v):
    """``J^T (d2E/dz_L2) J v`` (``J = dz_L/dw``) for a canonical pair, ``J_y^T (d2E/dy2) J_y
    v`` (``J_y = dy/dw``) for any other, by jax alone (the reference for ``gnvp``)."""
    canonical = losses.is_canonical(net.output, net.loss)

    def out(p):  # z_L, or y = a_L
        trace = backprop.forward(net, p, x)
        return trace.zs[-1] if canonical else trace.as_[-1]

    def cost_of(o):  # of z_L, or of y: the loss record's l(y, t) (softmax + bce's pair is of z)
        if canonical:
            per = losses.per_example(net.output, net.loss, o, outputs.get(net.output).fn(o), t)
        else:
            per = losses.get(net.loss).fn(o, outputs.get(net.output).loss_targets(t))
        return reduction.reduce(per, net.reduction)

    o, jv = jax.jvp(out, (params,), (v,))
    u = jax.jvp(jax.grad(cost_of), (o,), (jv,))[1]
    return jax.vjp(out, params)[1](u)[0]


def check_curvature(net, params, x, t, *, seed=0, fd=True, hvp_fn=None, checks=CHECKS) -> dict:
    """Relative errors ``{check: float}`` of the hand curvature passes (module docstring), in
    float64 (x64 on while it runs). ``hvp_fn(params, x, t, v)`` replaces ``curvature.hvp`` in
    the hvp, fd and Taylor checks (a mutation twin); ``fd=False`` skips the central differences
    (data at a kink): with fd, examples near a kink for their step (``kinks.near``) are a
    ValueError naming them, where the gradient has no derivative to difference (one relu unit
    at z = 0 among eight examples read 1.0, a FAIL of the right Hv)."""
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a jaxmlp.MLP, got {type(net).__name__}.")
    seed = check_int("seed", seed, 0)
    if not isinstance(checks, list | tuple):
        raise ValueError(f"checks must be a list or tuple of names, e.g. ('hvp',), got {checks!r}.")
    unknown = set(checks) - set(CHECKS)
    if unknown:
        raise ValueError(f"Unknown checks: {sorted(unknown)}. They need to be among {CHECKS}.")
    if not set(checks) - ({"fd"} if not fd else set()):  # an empty verdict would pass
        raise ValueError(f"No check to run: checks={tuple(checks)!r} with fd={fd}.")
    with jax.enable_x64(True):
        params, x, t = _float64(net, params, x, t)
        hvp_fn = hvp_fn or (lambda p, x_, t_, v_: curvature.hvp(net, p, x_, t_, v_))
        rng = np.random.default_rng(seed)
        v = jax.tree.map(lambda p: jnp.asarray(rng.standard_normal(p.shape)), params)
        out = {}
        if "hvp" in checks or "fd" in checks:
            hv = _real(hvp_fn(params, x, t, v))
        if "hvp" in checks:
            ref = jax.jvp(jax.grad(lambda p: _cost(net, p, x, t)), (params,), (v,))[1]
            out["hvp"] = relative_error(hv, ref)
        if "fd" in checks and fd:
            flat_v = ravel_pytree(v)[0]
            h = EPS / max(float(jnp.max(jnp.abs(flat_v))), 1.0)
            at = kinks.near(net, params, x, t, h * float(jnp.linalg.norm(flat_v)), KINK_MARGIN)
            if at.any():
                raise ValueError(
                    f"fd: {_examples(tuple(np.flatnonzero(at).tolist()))} sit near a kink of "
                    "the cost, where its gradient has no derivative for central differences to "
                    "measure; leave them out, or pass fd=False."
                )
            plus, minus = (jax.tree.map(lambda w, d, s=s: w + s * d, params, v) for s in (h, -h))
            g = net.backprop(plus, x, t), net.backprop(minus, x, t)
            out["fd"] = relative_error(hv, jax.tree.map(lambda a, b: (a - b) / (2 * h), *g))
        if "gn" in checks:
            gv = curvature.gnvp(net, params, x, t, v)
            out["gn"] = relative_error(gv, _jax_gnvp(net, params, x, t, v))
        if "diagonal" in checks:
            flat, unravel = ravel_pytree(params)
            ref = jnp.diag(jax.hessian(lambda w: _cost(net, unravel(w), x, t))(flat))
            got = ravel_pytree(curvature.hessian_diagonal(net, params, x, t))[0]
            out["diagonal"] = relative_error(unravel(got), unravel(ref))
        if "input" in checks:

            def y_of(xi):
                return backprop.forward(net, params, xi[None]).as_[-1][0]

            ref = jax.vmap(jax.hessian(y_of))(x)
            out["input"] = relative_error(curvature.input_hessian(net, params, x), ref)
    return out


def passes(errors: dict) -> bool:
    """True when every error in ``check_curvature``'s dict is within its tolerance; no
    errors (nothing checked) is a ValueError, not a pass."""
    if not errors:
        raise ValueError("passes needs check_curvature's errors; got none: nothing was checked.")
    return all(e <= (RTOL_FD if k == "fd" else RTOL_AUTODIFF) for k, e in errors.items())


class TaylorResult(NamedTuple):
    """``|E(w + eps d) - E(w) - eps <g, d> - eps^2 <d, H d> / 2|`` against eps and its fitted
    order: 3 when H is the Hessian, 2 when it is not; inf when the remainder is round-off at
    every eps (E quadratic along d, the model exact), NaN when too few remainders rise above
    the round-off to fit an order, or any is NaN. ``ok`` when the order is at least 2.8.
    ``excluded``: the examples left out near a kink of the cost (``taylor_test_hessian``)."""

    eps: tuple
    remainder: tuple
    order: float
    ok: bool
    excluded: tuple = ()


def taylor_test_hessian(net, params, x, t, *, hvp_fn=None, seed=0, n_eps=20) -> TaylorResult:
    """Fit the order of the second-order Taylor remainder along a random unit direction d, in
    float64, over the six smallest eps (halving from 0.1) whose remainder is above the round-off
    of E, measured at w (``finite_differences.noise_of_e``: at least 1000 round-offs of |E|).
    A coarse check: a whole product 1 % off fits order ~2, but one 1e-4 off
    still fits ~3 (its error hides under the cubic term at these eps), and so can a product
    with one leaf's block 1 % off (the output bias's, say: a small part of <d, H d>): a pass.
    ``check_curvature`` (its "hvp" against ``jax``, leaf by leaf) is the sharp one. Every
    remainder (finite) within the round-off, up to eps = 0.1, is an exact quadratic model (a
    cost quadratic in w, as a net without hidden layers, identity output and sse): order inf,
    ok. One or two above it fit nothing: order NaN, not ok (nor is any NaN remainder, or a NaN
    E). ``n_eps``: an integer >= 3 (a fit needs three points); ``seed``: an integer >= 0. The
    examples near a kink for eps = 0.1 are left out (``excluded``), as ``gradcheck`` leaves them
    (every one: ``kinks.AtKinks``): one relu or elu unit at z = 0 fitted order 1 or 2, a FAIL
    of the right Hv."""
    seed = check_int("seed", seed, 0)
    n_eps = check_int("n_eps", n_eps, 3)
    eps = 0.1 * 2.0 ** -np.arange(n_eps)
    with jax.enable_x64(True):
        params, x, t = _float64(net, params, x, t)
        x, t, excluded = _clear_of_kinks(net, params, x, t, eps[0])
        flat, unravel = ravel_pytree(params)
        d = np.random.default_rng(seed).standard_normal(flat.size)
        d = jnp.asarray(d / np.linalg.norm(d))
        hvp_fn = hvp_fn or (lambda p, x_, t_, v_: curvature.hvp(net, p, x_, t_, v_))
        g = ravel_pytree(net.backprop(params, x, t))[0]
        hd = ravel_pytree(_real(hvp_fn(params, x, t, unravel(d))))[0]
        costs = jax.jit(jax.vmap(lambda w: _cost(net, unravel(w), x, t)))
        w, d = np.asarray(flat), np.asarray(d)
        e = np.asarray(
            costs(np.concatenate([w + np.outer([0.0, *eps], d), roundoff_rows(w, d[None])]))
        )
        remainder = np.abs(
            e[1 : n_eps + 1] - e[0] - eps * float(g @ d) - eps**2 * float(d @ hd) / 2
        )
    noise = noise_of_e(e[0], e[n_eps + 1 :])
    valid = np.flatnonzero(remainder > noise)
    order = np.nan
    if len(valid) >= 3:
        use = valid[-6:]
        order = float(np.polyfit(np.log(eps[use]), np.log(remainder[use]), 1)[0])
    elif np.isfinite(noise) and np.all(remainder <= noise):  # a NaN compares False: not exact
        order = np.inf
    return TaylorResult(
        tuple(eps), tuple(map(float, remainder)), order, bool(order >= 2.8), excluded
    )


# -- the matrix -----------------------------------------------------------------------------------


class CurvatureCell(NamedTuple):
    """One net's relative errors (``errors``: check -> float; no "fd" when no draw of the data
    kept clear of the kinks) and its verdict."""

    activation: str
    output: str
    loss: str
    depth: int
    errors: dict
    ok: bool


class CurvatureMatrixReport(NamedTuple):
    """One ``CurvatureCell`` per cell, and the activations left out (no h'' registered)."""

    rows: tuple
    seconds: float
    left_out: tuple = ()

    cells = property(_cells)
    failing = property(_failing)

    @property
    def ok(self) -> bool:
        return self.failing == 0

    def worst(self, check: str) -> float:
        return worst(r.errors[check] for r in self.rows if check in r.errors)

    def to_dict(self) -> dict:
        """As JSON data, with its verdict and what it was judged by (``MatrixReport.to_dict``)."""
        return {
            "ok": self.ok,
            "dtype": "float64",
            "rtol_autodiff": RTOL_AUTODIFF,
            "rtol_fd": RTOL_FD,
            "cells": self.cells,
            "failing": self.failing,
            "left_out": list(self.left_out),
            "worst": {check: self.worst(check) for check in CHECKS},
            "rows": [row._asdict() for row in self.rows],
        }

    def __str__(self) -> str:
        head = " ".join(f"{c:>9}" for c in CHECKS)
        w = max([12] + [len(r.activation) for r in self.rows])  # the longest spec
        lines = [f"{'activation':<{w}} {'output':<11} {'loss':<14} {'depth':>5} {head}  verdict"]
        for r in self.rows:
            errs = " ".join(
                f"{r.errors[c]:>9.1e}" if c in r.errors else f"{'n/a':>9}" for c in CHECKS
            )
            verdict = "ok" if r.ok else "FAIL"
            lines.append(
                f"{r.activation:<{w}} {r.output:<11} {r.loss:<14} {r.depth:>5} {errs}  {verdict}"
            )
        worst = ", ".join(f"{c} {self.worst(c):.1e}" for c in CHECKS)
        lines.append(
            f"curvature: {self.cells} cells (float64), {self.failing} failing; worst relative "
            f"error {worst}; {self.seconds:.1f} s"
        )
        if self.left_out:
            lines.append(f"not checked (registered without grad2): {', '.join(self.left_out)}")
        return "\n".join(lines)


def curvature_matrix(depths=(1, 2, 3), activations=None, pairs=None, *, seed=0):
    """``check_curvature`` for every activation spec (``activations.specs()`` by default, as the
    gradient matrix has them) x (output, loss) pair x depth, float64.

    Each cell is a net ``(3, 4, ..., 4, 3)`` with ``depth`` hidden layers, mean reduction and 4
    examples, drawn as the gradient matrix draws them (redrawn until clear of the kinks; a cell
    that stays at a kink skips the central differences). Activations registered without h''
    are listed in ``left_out``; no cell left to check is a ValueError. For example (one cell;
    ~15 s of compiling, so not a doctest: tests/test_curvature.py runs it)::

        report = curvature_matrix(depths=(1,), activations=["tanh"], pairs=[("softmax", "bce")])
        report.cells, report.failing  # (1, 0)
    """
    acts = _activations.specs() if activations is None else tuple(activations)
    left_out = tuple(a for a in acts if _activations.get(a).grad2 is None)
    checked = tuple(a for a in acts if a not in left_out)
    why = f" once those without grad2 are left out ({', '.join(left_out)})" if left_out else ""
    pairs = matrix_axes(checked, pairs, depths, why)
    start = time.perf_counter()
    rows = []
    with jax.enable_x64(True):
        for act in checked:
            for output, loss in pairs:
                for depth in depths:
                    net = MLP((3,) + (4,) * depth + (3,), act, output, loss)
                    rows.append(_cell(net, seed))
    return CurvatureMatrixReport(tuple(rows), time.perf_counter() - start, left_out)


def _cell(net: MLP, seed: int) -> CurvatureCell:
    for attempt in range(20):
        w, x, t = _cell_data(net, np.dtype("float64"), seed * 1000 + attempt)
        params = jax.device_put(w)
        clear = kink_distance(net, params, x, t) > KINK_MARGIN
        g = net.backprop(params, x, t)
        if clear and max(float(jnp.max(jnp.abs(v))) for v in jax.tree.leaves(g)) > 1e-6:
            break  # (softmax + mae has gradient and Hv 0 when y - t has one sign per example)
    errors = check_curvature(net, params, x, t, seed=seed, fd=clear)
    return CurvatureCell(
        net.hidden_activations[0], net.output, net.loss, len(net.sizes) - 2, errors, passes(errors)
    )
