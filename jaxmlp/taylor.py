"""How finite differences and Taylor remainders converge: the eps sweep and the Taylor test.

    eps_sweep(net, params, x, t)        the central-difference error against eps (a V: truncation
                                        ~eps^2 on the right, round-off ~1/eps on the left)
    taylor_test(net, params, x, t)      the order of |E(w + eps d) - E(w) - eps <g, d>|: 2 if g is
                                        the gradient, 1 if not

The curvature's Taylor test (order 3 with the Hessian) is ``curvature_check.taylor_test_hessian``.
"""

import math
from functools import partial
from typing import NamedTuple

import numpy as np

from jaxmlp.finite_differences import costs, flatten
from jaxmlp.gradient_check import (
    FLOOR,
    _hand,
    _leaves,
    _params_dtype,
    _static,
    gradcheck,
)


def _unit_direction(w: np.ndarray, seed: int) -> np.ndarray:
    d = np.random.default_rng(seed).standard_normal(w.size)
    return d / np.linalg.norm(d)


def _flat_grad(grad_fn, params, x, t) -> np.ndarray:
    g = _leaves(grad_fn(params, x, t), params, "grad_fn")
    return np.concatenate([gi.ravel() for gi in g]).astype(np.float64)


class EpsSweep(NamedTuple):
    """Central-difference error along random unit directions for each eps: truncation
    (~eps^2) dominates at large eps, round-off (~1/eps) at small eps."""

    eps: tuple
    abs_err: tuple
    rel_err: tuple

    @property
    def best_eps(self) -> float:
        return self.eps[int(np.argmin(self.abs_err))]

    def __str__(self) -> str:
        lines = [f"{'eps':>8} {'abs err':>9} {'rel err':>9}"]
        lines += [f"{e:>8.0e} {a:>9.2e} {r:>9.2e}" for e, a, r in zip(*self)]
        return "\n".join(lines + [f"best eps {self.best_eps:.0e}"])


def eps_sweep(
    net, params, x, t, eps_values=None, *, grad_fn=None, n_directions: int = 4, seed: int = 0
) -> EpsSweep:
    """The worst error over ``n_directions`` random unit directions d of the central difference
    ``(E(w + eps d) - E(w - eps d)) / 2 eps`` against ``<g, d>``, for each eps.

    ``eps_values`` defaults to 1e-1 ... 1e-12 (float64) or 1e-0 ... 1e-6 (float32). The relative
    error divides by ``max(|<g, d>|, 1e-3 ||g||)``."""
    net.check_params(params)
    dtype = _params_dtype(params)
    if eps_values is None:
        eps_values = 10.0 ** -np.arange(1, 13) if dtype == np.float64 else 10.0 ** -np.arange(7)
    eps_values = tuple(float(e) for e in eps_values)
    x, t = net._check_xt(params, x, t)
    key = _static(net)
    g = _flat_grad(grad_fn or partial(_hand, key), params, x, t)
    named, w = flatten(params)
    steps = np.concatenate([eps_values, -np.asarray(eps_values)])
    m = len(eps_values)
    abs_err, rel_err = np.zeros(m), np.zeros(m)
    for k in range(n_directions):
        d = _unit_direction(w, seed + k)
        e = costs(key, named, (w + steps[:, None] * d).astype(dtype), x, t)
        fd = (e[:m] - e[m:]) / (2 * np.asarray(eps_values))
        exact = float(g @ d)
        err = np.abs(fd - exact)
        abs_err = np.maximum(abs_err, err)
        rel_err = np.maximum(rel_err, err / max(abs(exact), FLOOR * np.linalg.norm(g), 1e-300))
    return EpsSweep(eps_values, tuple(map(float, abs_err)), tuple(map(float, rel_err)))


class TaylorResult(NamedTuple):
    """The remainder ``|E(w + eps d) - E(w) - eps <g, d>|`` against eps, and its fitted order
    over the smallest eps still clear of round-off. ``ok`` when the order is near 2."""

    eps: tuple
    remainder: tuple
    order: float
    ok: bool

    def __str__(self) -> str:
        lines = [f"{'eps':>9} {'remainder':>10}"]
        lines += [f"{e:>9.2e} {r:>10.2e}" for e, r in zip(self.eps, self.remainder)]
        verdict = "ok" if self.ok else "FAILED (a wrong gradient leaves a first-order remainder)"
        return "\n".join(lines + [f"order {self.order:.2f}: {verdict}"])


def taylor_test(net, params, x, t, grad_fn=None, *, seed: int = 0, n_eps: int = 25) -> TaylorResult:
    """Fit the order p of ``|E(w + eps d) - E(w) - eps <g, d>| ~ eps^p`` along a random unit
    direction d: p = 2 when g is the gradient, p = 1 when it is not, whatever eps.

    The eps halve from 1e-1 (float64) or 1 (float32); the slope of log remainder against
    log eps is fitted over the six smallest eps whose remainder exceeds 1000 round-offs of E.
    """
    net.check_params(params)
    dtype = _params_dtype(params)
    x, t = net._check_xt(params, x, t)
    key = _static(net)
    g = _flat_grad(grad_fn or partial(_hand, key), params, x, t)
    named, w = flatten(params)
    d = _unit_direction(w, seed)
    start = 1e-1 if dtype == np.float64 else 1.0
    eps = start * 2.0 ** -np.arange(n_eps)
    rows = (w + np.concatenate([[0.0], eps])[:, None] * d).astype(dtype)
    e = costs(key, named, rows, x, t)
    remainder = np.abs(e[1:] - e[0] - eps * float(g @ d))
    noise = 1e3 * np.finfo(dtype).eps * max(abs(e[0]), np.finfo(dtype).tiny)
    valid = np.flatnonzero(remainder > noise)
    if len(valid) < 3:
        order = math.nan  # the remainder is round-off at every eps: no verdict
    else:
        use = valid[-6:]
        order = float(np.polyfit(np.log(eps[use]), np.log(remainder[use]), 1)[0])
    ok = bool(order >= 1.8)
    return TaylorResult(tuple(map(float, eps)), tuple(map(float, remainder)), order, ok)


gradcheck.eps_sweep = eps_sweep
gradcheck.taylor_test = taylor_test
