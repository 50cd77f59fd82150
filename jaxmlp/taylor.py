"""How finite differences and Taylor remainders converge: the eps sweep and the Taylor test.

    eps_sweep(net, params, x, t)        the central-difference error against eps (a V: truncation
                                        ~eps^2 on the right, round-off ~1/eps on the left)
    taylor_test(net, params, x, t)      the order of |E(w + eps d) - E(w) - eps <g, d>|: 2 if g is
                                        the gradient, 1 if not

Both take E in float64 (x64 on while they run), as ``gradcheck``'s central differences do: a
float32 point is exact in float64, and float32 round-off of E (~1e-7 |E|) hid the first-order
remainder of a float32 gradient 1 % off (fitted order 2.25: a pass). The gradient under test
stays in the dtype of params.

Both leave out the examples near a kink of the cost for their largest step, as ``gradcheck``
does (``gradient_check._clear_of_kinks``, named in ``excluded``), and refuse data of which every
example is: there E has no derivative, and one relu unit at z = 0 among eight examples fitted
order 1, a FAILED for the right gradient.

The curvature's Taylor test (order 3 with the Hessian) is ``curvature_check.taylor_test_hessian``.
"""

import math
from functools import partial
from typing import NamedTuple

import jax
import numpy as np

from jaxmlp.finite_differences import costs, flatten, noise_of_e, roundoff_rows
from jaxmlp.gradient_check import (
    FLOOR,
    _cast,
    _clear_of_kinks,
    _hand,
    _leaves,
    _params_dtype,
    _static,
    gradcheck,
    settings_for,
)
from jaxmlp.gradient_report import _examples
from jaxmlp.numeric import check_int, is_real


def _unit_direction(w: np.ndarray, seed: int) -> np.ndarray:
    d = np.random.default_rng(seed).standard_normal(w.size)
    return d / np.linalg.norm(d)


def _costs64(key, params, x, t, rows) -> np.ndarray:
    """E in float64 (x64 on while it runs; module docstring) at each row of ``rows(w)``, w the
    point of params as one float64 vector: the one way both tests take E."""
    with jax.enable_x64(True):
        params64, x64, t64 = _cast((params, x, t), np.float64)
        named, w = flatten(params64)
        return costs(key, named, rows(w), x64, t64)


def _clear(net, params, x, t, step: float):
    """``(x, t, excluded)``: the checked inputs and targets, less the examples near a kink for
    steps up to ``step`` (``gradient_check._clear_of_kinks``; AtKinks where every one is)."""
    x, t = net._check_xt(params, x, t)
    return _clear_of_kinks(net, params, x, t, step)


def _left_out(excluded) -> list[str]:
    return [f"left out at a kink of the cost: {_examples(excluded)}"] if excluded else []


def _flat_grad(grad_fn, params, x, t) -> np.ndarray:
    g = _leaves(grad_fn(params, x, t), params, "grad_fn")
    return np.concatenate([gi.ravel() for gi in g]).astype(np.float64)


class EpsSweep(NamedTuple):
    """Central-difference error along random unit directions for each eps: truncation
    (~eps^2) dominates at large eps, round-off (~1/eps) at small eps."""

    eps: tuple
    abs_err: tuple
    rel_err: tuple
    excluded: tuple = ()  # the examples left out at a kink of the cost (``kinks.near``)

    @property
    def best_eps(self) -> float:
        return self.eps[int(np.argmin(self.abs_err))]

    def __str__(self) -> str:
        lines = [f"{'eps':>8} {'abs err':>9} {'rel err':>9}"]
        rows = zip(self.eps, self.abs_err, self.rel_err)
        lines += [f"{e:>8.0e} {a:>9.2e} {r:>9.2e}" for e, a, r in rows]
        return "\n".join(_left_out(self.excluded) + lines + [f"best eps {self.best_eps:.0e}"])


def eps_sweep(
    net, params, x, t, eps_values=None, *, grad_fn=None, n_directions: int = 4, seed: int = 0
) -> EpsSweep:
    """The worst error over ``n_directions`` random unit directions d of the central difference
    ``(E(w + eps d) - E(w - eps d)) / 2 eps`` against ``<g, d>``, for each eps; E in float64
    (module docstring), g in params' dtype.

    ``eps_values`` defaults to 1e-1 ... 1e-12 (float64) or 1e-0 ... 1e-6 (float32). The relative
    error divides by ``max(|<g, d>|, 1e-3 ||g||)``. params must be float32 or float64
    (ValueError otherwise, as for ``gradcheck``). The examples near a kink for the largest eps
    are left out (``excluded``; module docstring)."""
    net.check_params(params)
    dtype = _params_dtype(params)
    settings_for(dtype)  # float32 or float64, as for gradcheck
    if eps_values is None:
        eps_values = 10.0 ** -np.arange(1, 13) if dtype == np.float64 else 10.0 ** -np.arange(7)
    given = tuple(eps_values) if np.iterable(eps_values) else eps_values
    if not (isinstance(given, tuple) and given and all(is_real(e) and e > 0 for e in given)):
        raise ValueError(f"eps_values must be finite numbers > 0, one or more, got {given!r}.")
    n_directions = check_int("n_directions", n_directions, 1)
    seed = check_int("seed", seed, 0)
    eps_values = tuple(float(e) for e in given)
    x, t, excluded = _clear(net, params, x, t, max(eps_values))
    key = _static(net)
    g = _flat_grad(grad_fn or partial(_hand, key), params, x, t)
    steps = np.concatenate([eps_values, -np.asarray(eps_values)])
    m = len(eps_values)
    abs_err, rel_err = np.zeros(m), np.zeros(m)
    for k in range(n_directions):
        d = _unit_direction(g, seed + k)
        e = _costs64(key, params, x, t, lambda w, d=d: w + steps[:, None] * d)
        fd = (e[:m] - e[m:]) / (2 * np.asarray(eps_values))
        exact = float(g @ d)
        err = np.abs(fd - exact)
        abs_err = np.maximum(abs_err, err)
        rel_err = np.maximum(rel_err, err / max(abs(exact), FLOOR * np.linalg.norm(g), 1e-300))
    return EpsSweep(eps_values, *(tuple(map(float, e)) for e in (abs_err, rel_err)), excluded)


# Why an order between 1 and 2 is no verdict where g's resolution ended the fitted eps.
UNRESOLVED = (
    "an order between 1 and 2 at the smallest eps the gradient's dtype resolves: the remainder "
    "is not second-order yet there, and a first-order part under the resolution cannot be told "
    "apart; take the test in float64"
)


class TaylorResult(NamedTuple):
    """The remainder ``|E(w + eps d) - E(w) - eps <g, d>|`` against eps along each direction d,
    and its fitted order over the smallest eps still clear of round-off. ``ok`` when the order
    along every direction is near 2. ``eps``, ``remainder`` and ``order`` are the worst
    direction's (the lowest order, NaN lowest); ``orders`` every direction's. ``unresolved``:
    no verdict, neither ok nor a wrong gradient (``taylor_test``). ``not_finite``: g holds a NaN
    or Inf where E is finite, a wrong gradient (every remainder NaN: no order to fit)."""

    eps: tuple
    remainder: tuple
    order: float
    ok: bool
    orders: tuple = ()
    unresolved: bool = False
    excluded: tuple = ()  # the examples left out at a kink of the cost (``kinks.near``)
    not_finite: bool = False

    def __str__(self) -> str:
        lines = _left_out(self.excluded) + [f"{'eps':>9} {'remainder':>10}"]
        lines += [f"{e:>9.2e} {r:>10.2e}" for e, r in zip(self.eps, self.remainder)]
        lines.append("orders along the directions: " + " ".join(f"{o:.2f}" for o in self.orders))
        verdict = (
            "ok" if self.ok
            else "FAILED (the gradient is not finite where the cost is)" if self.not_finite
            else "no verdict (the remainder is round-off at every eps)" if math.isnan(self.order)
            else f"no verdict ({UNRESOLVED})" if self.unresolved
            else "FAILED (a wrong gradient leaves a first-order remainder)"
        )  # fmt: skip
        return "\n".join(lines + [f"order {self.order:.2f}: {verdict}"])


def taylor_test(
    net, params, x, t, grad_fn=None, *, seed: int = 0, n_eps: int = 25, n_directions: int = 4
) -> TaylorResult:
    """Fit the order p of ``|E(w + eps d) - E(w) - eps <g, d>| ~ eps^p`` along ``n_directions``
    random unit directions d: p = 2 when g is the gradient, p = 1 when it is not (a gradient
    1 % off fits p ~ 1, in float32 as in float64). ``ok`` only if every direction fits
    p >= 1.8: one direction can be all but orthogonal to the error by chance (a float32 tanh'
    0.001 off passed along seed 0's); several, each with its own seed (``seed``,
    ``seed + 1``...), rarely are all.

    E is taken in float64 at the point w of params (module docstring), every point of every
    direction in one batch; g in params' dtype. The eps halve from 1e-1; along each direction
    the slope of log remainder against log eps is fitted over the six smallest eps whose
    remainder exceeds the round-off of E, measured at w (``finite_differences.noise_of_e``: at
    least 1000 float64 round-offs of |E|; a small E computed from large logits carries far
    more), plus ``eps * 10 u ||g||`` (u: the unit round-off of params' dtype; below it, g's own
    round-off, ~u ||g||, would read as a wrong gradient). A float32 check thus resolves
    ``|<g - grad E, d>|`` above about ``1e-6 ||g||``; fewer than three such eps along a
    direction give order NaN: no verdict, and no pass. Verdicts: ok when every direction fits
    p >= 1.8; a wrong gradient (FAILED) when one fits p <= 1.2, or one fits 1.2 < p < 1.8
    over eps that E's round-off alone would have let go smaller; else ``unresolved``, no
    verdict: g's resolution ended the eps before the remainder became second-order (a correct
    float32 gradient on inputs of ~100 fitted 1.67 and FAILED).
    params must be float32 or float64 (ValueError otherwise, as for ``gradcheck``). The
    examples near a kink for eps = 0.1 are left out (``excluded``; module docstring).
    """
    net.check_params(params)
    dtype = _params_dtype(params)
    settings_for(dtype)  # float32 or float64, as for gradcheck
    n_eps = check_int("n_eps", n_eps, 3)
    seed = check_int("seed", seed, 0)
    n_directions = check_int("n_directions", n_directions, 1)
    eps = 1e-1 * 2.0 ** -np.arange(n_eps)
    x, t, excluded = _clear(net, params, x, t, eps[0])
    key = _static(net)
    g = _flat_grad(grad_fn or partial(_hand, key), params, x, t)
    d = np.stack([_unit_direction(g, seed + k) for k in range(n_directions)])

    def rows(w):
        steps = w + (d[:, None, :] * eps[None, :, None]).reshape(-1, w.size)
        return np.concatenate([w[None], steps, roundoff_rows(w, d)])

    e = _costs64(key, params, x, t, rows)
    m = n_directions * n_eps
    with np.errstate(invalid="ignore"):  # an Inf in g: NaN remainders, judged by not_finite
        along = d @ g
    remainder = np.abs(e[1 : m + 1].reshape(n_directions, n_eps) - e[0] - np.outer(along, eps))
    of_e = noise_of_e(e[0], e[m + 1 :])
    noise = of_e + eps * 10 * np.finfo(dtype).eps * np.linalg.norm(g)
    fits = [_order(eps, r, noise, of_e) for r in remainder]
    orders = [order for order, _ in fits]
    i = min(range(n_directions), key=lambda k: -math.inf if math.isnan(orders[k]) else orders[k])
    wrong = any(o <= 1.2 or (o < 1.8 and not cut) for o, cut in fits)  # a NaN compares False
    ok = all(o >= 1.8 for o in orders)  # a NaN compares False: no pass
    return TaylorResult(
        tuple(map(float, eps)),
        tuple(map(float, remainder[i])),
        orders[i],
        ok,
        tuple(orders),
        not ok and not wrong and not math.isnan(orders[i]),
        excluded,
        bool(np.isfinite(e[0]) and not np.all(np.isfinite(g))),
    )


def _order(eps: np.ndarray, remainder: np.ndarray, noise: np.ndarray, of_e: float):
    """``(order, cut)``: the slope of log remainder against log eps over the six smallest eps
    whose remainder is above ``noise`` (NaN for fewer than three), and whether a smaller eps
    had a remainder above E's round-off ``of_e`` alone: the gradient's resolution, not E's,
    ended the fit."""
    valid = np.flatnonzero(remainder > noise)
    if len(valid) < 3:
        return math.nan, False  # the remainder is round-off at every eps: no verdict
    use = valid[-6:]
    cut = bool(np.any(remainder[use[-1] + 1 :] > of_e))
    return float(np.polyfit(np.log(eps[use]), np.log(remainder[use]), 1)[0]), cut


gradcheck.eps_sweep = eps_sweep
gradcheck.taylor_test = taylor_test
