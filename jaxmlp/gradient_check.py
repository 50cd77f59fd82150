"""Gradient checks: is the hand gradient the derivative of the cost? Answered as data.

    gradcheck(net, params, x, t)        hand vs autodiff and vs central differences, per leaf
    eps_sweep(net, params, x, t)        the finite-difference error against eps
    taylor_test(net, params, x, t)      the order of the Taylor remainder: 2 if g is right, 1 if not
    gradcheck_matrix()                  every activation x (output, loss) pair x depth

The gradient under test ``g`` is ``net.backprop`` unless ``grad_fn(params, x, t)`` is given. It is
compared with two references: autodiff ``a`` (``jax.grad(net.cost)``, in the dtype of params) and
central differences ``f_i = (E(w + h_i e_i) - E(w - h_i e_i)) / 2 h_i``, ``h_i = eps max(1,|w_i|)``.
Central differences are always taken in float64 (x64 on while they run): a float32 point is exact
in float64, and float32 round-off of E, ~1e-7 / eps, would swamp a 1 % error in the gradient.
Relative error, element by element, of ``g`` against a reference ``r``:

    rel_i = |g_i - r_i| / max(|g_i|, |r_i|, floor),    floor = 1e-3 * max_j |a_j| + tiny

with the max over every leaf of the autodiff gradient. An element far below the gradient's scale
(cancellation, vanishing layers) is judged by its absolute error against that scale, which is all
its round-off allows; 0/0 cannot happen. A 1 % error in any element above the floor gives
rel ~ 1e-2, above every tolerance in ``SETTINGS``. A gradient that vanishes (to round-off) has
no relative error worth the name: check at a point where it does not.

Step and sign have derivative 0, but their finite differences are not 0 when a step moves a
pre-activation across 0: finite differences are only meaningful away from kinks. The matrix
therefore redraws its data until every pre-activation of a non-smooth activation (and, for mae
and huber, every residual) is at least ``KINK_MARGIN`` away from its kink; a cell for which that
fails is judged against autodiff only.
"""

import math
import time
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp import activations as _activations
from jaxmlp import backprop, losses, outputs
from jaxmlp.mlp import MLP

FLOOR = 1e-3
EPS = 6e-6  # central-difference step in float64: truncation ~eps^2 meets round-off ~1e-16 / eps
KINK_MARGIN = 1e-3  # the matrix's distance from kinks, well beyond what a step of EPS moves
METHODS = ("auto", "full", "directions")
FULL_MAX = 1000  # "auto" takes every element's central difference up to this many parameters


class Settings(NamedTuple):
    """Tolerances on the relative error against autodiff and against finite differences."""

    rtol_autodiff: float
    rtol_fd: float


SETTINGS = {
    # float64: autodiff agrees to round-off (1e-13 seen), finite differences to ~1e-6.
    "float64": Settings(rtol_autodiff=1e-10, rtol_fd=1e-5),
    # float32: the hand gradient carries float32 round-off (up to 7e-4 seen), still short of
    # the 1e-2 of a 1 % error.
    "float32": Settings(rtol_autodiff=5e-3, rtol_fd=5e-3),
}


def settings_for(dtype) -> Settings:
    name = jnp.dtype(dtype).name
    if name not in SETTINGS:
        raise ValueError(f"Unsupported dtype: {name!r}. It needs to be one of {list(SETTINGS)}.")
    return SETTINGS[name]


# -- the report -----------------------------------------------------------------------------------


class LeafCheck(NamedTuple):
    """One leaf of params: errors of the hand gradient against autodiff and finite differences.
    ``worst_*`` is the element index of the largest relative error (for method "directions",
    ``worst_fd`` is ``(k,)``: the k-th random direction)."""

    layer: int
    leaf: str
    shape: tuple
    abs_err_autodiff: float
    rel_err_autodiff: float
    worst_autodiff: tuple
    abs_err_fd: float
    rel_err_fd: float
    worst_fd: tuple
    ok_autodiff: bool
    ok_fd: bool

    @property
    def ok(self) -> bool:
        return self.ok_autodiff and self.ok_fd


class Report(NamedTuple):
    """What ``gradcheck`` found. ``ok`` only if every leaf passes both comparisons."""

    rows: tuple
    dtype: str
    method: str
    eps: float
    rtol_autodiff: float
    rtol_fd: float
    n_params: int
    description: str

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)

    @property
    def rel_err_autodiff(self) -> float:
        return max(row.rel_err_autodiff for row in self.rows)

    @property
    def rel_err_fd(self) -> float:
        return max(row.rel_err_fd for row in self.rows)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "net": self.description,
            "dtype": self.dtype,
            "method": self.method,
            "eps": self.eps,
            "n_params": self.n_params,
            "rtol_autodiff": self.rtol_autodiff,
            "rtol_fd": self.rtol_fd,
            "rel_err": "|g - r| / max(|g|, |r|, 1e-3 max|autodiff| + tiny), elementwise",
            "rows": [row._asdict() | {"ok": row.ok} for row in self.rows],
        }

    def __str__(self) -> str:
        fd = "central differences" if self.method == "full" else "random directions"
        lines = [
            f"gradcheck {self.description}: {self.dtype}, {self.n_params} parameters, "
            f"{fd}, eps {self.eps:.1e}",
            f"relative error |g - r| / max(|g|, |r|, {FLOOR:g} max|autodiff|); tolerances "
            f"{self.rtol_autodiff:.0e} (autodiff), {self.rtol_fd:.0e} (finite differences)",
            f"{'layer':>5} {'leaf':<5} {'shape':<9} {'autodiff abs':>12} {'rel':>8} "
            f"{'at':<8} {'fd abs':>9} {'rel':>8} {'at':<8} verdict",
        ]
        for r in self.rows:
            lines.append(
                f"{r.layer:>5} {r.leaf:<5} {_fmt_shape(r.shape):<9} {r.abs_err_autodiff:>12.1e} "
                f"{r.rel_err_autodiff:>8.1e} {_fmt_shape(r.worst_autodiff):<8} "
                f"{r.abs_err_fd:>9.1e} {r.rel_err_fd:>8.1e} {_fmt_shape(r.worst_fd):<8} "
                + (
                    "ok"
                    if r.ok
                    else "FAIL" + " (autodiff)" * (not r.ok_autodiff) + " (fd)" * (not r.ok_fd)
                )
            )
        lines.append("ok" if self.ok else "FAILED")
        return "\n".join(lines)


def _fmt_shape(shape) -> str:
    return "(" + ",".join(str(s) for s in shape) + ")"


# -- the check ------------------------------------------------------------------------------------


def gradcheck(
    net: MLP,
    params,
    x,
    t,
    *,
    grad_fn: Callable | None = None,
    method: str = "auto",
    n_directions: int = 8,
    eps: float | None = None,
    seed: int = 0,
    rtol=None,
) -> Report:
    """Check ``grad_fn`` (``net.backprop`` by default) against autodiff and finite differences.

    Args:
      net, params: the network and its parameters (float64 for a verdict on correctness).
      x: inputs ``(n, d)``; t: targets ``(n, K)`` (or labels ``(n,)``), as for ``net.cost``.
      grad_fn: ``grad_fn(params, x, t) -> pytree like params``, the gradient under test.
      method: ``"full"``: every element's central difference (2 |w| evaluations, batched);
        ``"directions"``: ``n_directions`` random unit directions d per leaf, ``<g, d>`` against
        ``(E(w + h d) - E(w - h d)) / 2h`` (two evaluations each); ``"auto"``: "full" up to
        ``FULL_MAX`` parameters. Autodiff is ``jax.grad(net.cost)``, element by element.
      eps: the central-difference step, relative to ``max(1, |w|)``; ``EPS`` by default.
      seed: seeds the random directions.
      rtol: ``None`` (per dtype, ``SETTINGS``), one float for both comparisons, or a pair
        ``(autodiff, finite differences)``.

    >>> import jax, jax.numpy as jnp
    >>> with jax.enable_x64(True):
    ...     net = MLP((2, 3, 2), activation="tanh", output="softmax", loss="cross_entropy")
    ...     params = net.init(jax.random.key(0), jnp.float64)
    ...     report = gradcheck(net, params, jnp.ones((4, 2)), jnp.array([0, 1, 1, 0]))
    >>> report.ok, report.method, report.rows[0].leaf
    (True, 'full', 'w')
    """
    if not isinstance(net, MLP):
        raise TypeError(f"net must be a jaxmlp.MLP, got {type(net).__name__}.")
    net.check_params(params)
    dtype = _params_dtype(params)
    cfg = settings_for(dtype)
    if method not in METHODS:
        raise ValueError(f"Unknown method: {method!r}. It needs to be one of {list(METHODS)}.")
    if isinstance(n_directions, bool) or not isinstance(n_directions, int) or n_directions < 1:
        raise ValueError(f"n_directions must be a positive integer, got {n_directions!r}.")
    eps = EPS if eps is None else eps
    if isinstance(eps, bool) or not isinstance(eps, float | int) or not eps > 0:
        raise ValueError(f"eps must be a positive number, got {eps!r}.")
    rtol_autodiff, rtol_fd = _tolerances(rtol, cfg)
    if method == "auto":
        method = "full" if net.n_params <= FULL_MAX else "directions"

    x, t = net._check_xt(params, x, t)  # once, eagerly: labels are range-checked
    key = _static(net)
    g = _leaves((grad_fn or partial(_hand, key))(params, x, t), params, "grad_fn")
    a = _leaves(_autodiff(key, params, x, t), params, "jax.grad")
    with jax.enable_x64(True):
        x64, t64, params64 = _cast((x, t, params), np.float64)
        if method == "full":  # per element: (g_i, f_i)
            fd_pairs = list(zip(g, _central_differences(key, params64, x64, t64, eps)))
        else:  # per leaf and direction: (<g, d_k>, f_k)
            fd_pairs = _directions(key, params64, x64, t64, g, eps, n_directions, seed)
    floor = FLOOR * max(float(np.max(np.abs(ai), initial=0.0)) for ai in a)
    floor += np.finfo(dtype).tiny
    rows = []
    for (l, name, leaf), gi, ai, (gd, fd) in zip(_named(params), g, a, fd_pairs):
        ad, fd = _errors(gi, ai, floor), _errors(gd, fd, floor)
        rows.append(
            LeafCheck(
                l, name, tuple(leaf.shape), *ad, *fd,
                ok_autodiff=bool(ad[1] <= rtol_autodiff),
                ok_fd=bool(fd[1] <= rtol_fd),
            )
        )  # fmt: skip
    return Report(
        tuple(rows), dtype.name, method, float(eps), rtol_autodiff, rtol_fd, net.n_params,
        _describe(net),
    )  # fmt: skip


def _tolerances(rtol, cfg: Settings) -> tuple[float, float]:
    if rtol is None:
        return cfg.rtol_autodiff, cfg.rtol_fd
    pair = (rtol, rtol) if isinstance(rtol, float | int) else tuple(rtol)
    if len(pair) != 2 or not all(isinstance(r, float | int) and r > 0 for r in pair):
        raise ValueError(f"rtol must be a positive number or a pair of them, got {rtol!r}.")
    return float(pair[0]), float(pair[1])


def _params_dtype(params) -> np.dtype:
    dtypes = {np.dtype(leaf.dtype) for _, _, leaf in _named(params)}
    if len(dtypes) != 1:
        raise ValueError(f"params must share one floating dtype, got {sorted(map(str, dtypes))}.")
    return dtypes.pop()


def _named(params):
    """``(layer, leaf name, array)`` in layer order, "w", "b", then "alpha"."""
    order = ("w", "b", "alpha")
    return [(l, k, layer[k]) for l, layer in enumerate(params) for k in order if k in layer]


def _leaves(grads, params, what: str) -> list[np.ndarray]:
    named = _named(params)
    try:
        out = [np.asarray(grads[l][k]) for l, k, _ in named]
    except (KeyError, IndexError, TypeError):
        raise ValueError(f"{what} must return a pytree shaped like params.") from None
    for (l, k, leaf), o in zip(named, out):
        if o.shape != leaf.shape:
            raise ValueError(f"{what}: grads[{l}][{k!r}] has shape {o.shape}, not {leaf.shape}.")
    return out


def _errors(g: np.ndarray, r: np.ndarray, floor: float) -> tuple[float, float, tuple]:
    """``(max abs error, max relative error, index of the worst relative error)``."""
    g, r = np.asarray(g, np.float64), np.asarray(r, np.float64)
    diff = np.abs(g - r)
    if diff.size == 0:
        return 0.0, 0.0, ()
    rel = diff / np.maximum(np.maximum(np.abs(g), np.abs(r)), floor)
    worst = np.unravel_index(np.argmax(rel), rel.shape)
    return float(diff.max()), float(rel[worst]), tuple(int(i) for i in worst)


def _flat(params):
    named = _named(params)
    return named, np.concatenate([np.asarray(leaf).ravel() for _, _, leaf in named])


def _unflat(rows, named) -> list:
    """Rows ``(batch, |w|)`` -> params pytree with a leading batch axis on every leaf."""
    out, start = [{} for _ in range(named[-1][0] + 1)], 0
    for l, k, leaf in named:
        out[l][k] = rows[:, start : start + leaf.size].reshape(len(rows), *leaf.shape)
        start += leaf.size
    return out


def _cast(tree, dtype):
    return jax.tree.map(lambda v: np.asarray(v, dtype), tree)


# One compiled program per net for each reference (a check on one net compiles in about a
# second; op-by-op dispatch would compile every small op for every new shape instead). The
# static key holds the activation records too, so that re-registering a name recompiles.


def _static(net: MLP):
    return net, tuple(_activations.get(a) for a in net.hidden_activations)


@partial(jax.jit, static_argnums=0)
def _hand(key, params, x, t):
    return key[0].backprop(params, x, t)


@partial(jax.jit, static_argnums=0)
def _autodiff(key, params, x, t):
    return jax.grad(key[0].cost)(params, x, t)


@partial(jax.jit, static_argnums=0)
def _batch_costs(key, batch, x, t):
    """E for each params in ``batch`` (a leading axis on every leaf)."""
    return jax.vmap(key[0].cost, in_axes=(0, None, None))(batch, x, t)


@partial(jax.jit, static_argnums=(0, 1, 2))
def _leaf_costs(key, l: int, k: str, params, values, x, t):
    """E for each value of the one leaf ``params[l][k]`` in ``values`` (a leading axis)."""

    def at(v):
        p = [dict(layer) for layer in params]
        p[l][k] = v
        return key[0].cost(p, x, t)

    return jax.vmap(at)(values)


def _costs(key, named, rows, x, t) -> np.ndarray:
    """E at each row ``(|w|,)`` of flat parameters: chunks of one size, one compiled program."""
    chunk = min(len(rows), max(1, 2**22 // rows.shape[1]))
    padded = np.concatenate([rows, np.repeat(rows[-1:], -len(rows) % chunk, axis=0)])
    e = [
        np.asarray(_batch_costs(key, _unflat(jnp.asarray(padded[i : i + chunk]), named), x, t))
        for i in range(0, len(padded), chunk)
    ]
    return np.concatenate(e)[: len(rows)].astype(np.float64)


def _central_differences(key, params, x, t, eps: float) -> list[np.ndarray]:
    """``(E(w + h_i e_i) - E(w - h_i e_i)) / (actual step)`` for every element, per leaf."""
    named, w = _flat(params)
    h = eps * np.maximum(1.0, np.abs(w))
    plus, minus = w + h, w - h
    idx = np.arange(w.size)
    rows = np.broadcast_to(w, (2 * w.size, w.size)).copy()
    rows[idx, idx], rows[w.size + idx, idx] = plus, minus
    e = _costs(key, named, rows, x, t)
    fd = (e[: w.size] - e[w.size :]) / (plus - minus)  # the step actually taken
    ends = np.cumsum([leaf.size for _, _, leaf in named])
    return [f.reshape(leaf.shape) for f, (_, _, leaf) in zip(np.split(fd, ends[:-1]), named)]


def _directions(key, params, x, t, g, eps: float, n_directions: int, seed: int):
    """Per leaf, ``(<g, d_k>, central difference along d_k)`` for random unit ``d_k``."""
    rng = np.random.default_rng(seed)
    out = []
    for (l, k, leaf), gi in zip(_named(params), g):
        d = rng.standard_normal((n_directions, leaf.size))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        h = eps * max(1.0, float(np.max(np.abs(leaf), initial=0.0)))
        values = np.concatenate([leaf.ravel() + h * d, leaf.ravel() - h * d])
        values = values.reshape(-1, *leaf.shape)
        e = np.asarray(_leaf_costs(key, l, k, params, values, x, t), np.float64)
        out.append((d @ gi.ravel(), (e[:n_directions] - e[n_directions:]) / (2 * h)))
    return out


def _describe(net: MLP) -> str:
    act = net.activation if isinstance(net.activation, str) else "/".join(net.activation)
    return f"{net.sizes} {act} -> {net.output} + {net.loss} ({net.reduction})"


# -- eps sweep and Taylor test --------------------------------------------------------------------


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
    named, w = _flat(params)
    steps = np.concatenate([eps_values, -np.asarray(eps_values)])
    m = len(eps_values)
    abs_err, rel_err = np.zeros(m), np.zeros(m)
    for k in range(n_directions):
        d = _unit_direction(w, seed + k)
        e = _costs(key, named, (w + steps[:, None] * d).astype(dtype), x, t)
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
    named, w = _flat(params)
    d = _unit_direction(w, seed)
    start = 1e-1 if dtype == np.float64 else 1.0
    eps = start * 2.0 ** -np.arange(n_eps)
    rows = (w + np.concatenate([[0.0], eps])[:, None] * d).astype(dtype)
    e = _costs(key, named, rows, x, t)
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


# -- the matrix -----------------------------------------------------------------------------------


def valid_pairs() -> tuple[tuple[str, str], ...]:
    """Every (output, loss) pair that ``MLP`` accepts."""
    pairs = []
    for output in outputs.NAMES:
        for loss in losses.NAMES:
            try:
                losses.check_pair(output, loss)
            except ValueError:
                continue
            pairs.append((output, loss))
    return tuple(pairs)


class CellCheck(NamedTuple):
    """One cell of the matrix: the relative errors of ``<g, d>`` against autodiff and against
    the central difference along d (``rel_err_fd`` is None when no draw of the data kept clear
    of the kinks: then autodiff alone judges the cell)."""

    activation: str
    output: str
    loss: str
    depth: int
    rel_err_autodiff: float
    rel_err_fd: float | None
    ok: bool


class MatrixReport(NamedTuple):
    """One ``CellCheck`` per cell; ``cells`` and ``failing`` are counts."""

    rows: tuple
    dtype: str
    seconds: float

    @property
    def cells(self) -> int:
        return len(self.rows)

    @property
    def failing(self) -> int:
        return sum(not row.ok for row in self.rows)

    @property
    def ok(self) -> bool:
        return self.failing == 0

    @property
    def worst_rel_err_autodiff(self) -> float:
        return max((row.rel_err_autodiff for row in self.rows), default=0.0)

    @property
    def worst_rel_err_fd(self) -> float:
        fd = [row.rel_err_fd for row in self.rows if row.rel_err_fd is not None]
        return max(fd, default=0.0)

    def to_dict(self) -> dict:
        return {
            "cells": self.cells,
            "failing": self.failing,
            "worst_rel_err_autodiff": self.worst_rel_err_autodiff,
            "worst_rel_err_fd": self.worst_rel_err_fd,
            "rows": [row._asdict() for row in self.rows],
        }

    def __str__(self) -> str:
        depths = sorted({row.depth for row in self.rows})
        groups: dict = {}
        for row in self.rows:
            groups.setdefault((row.activation, row.output, row.loss), {})[row.depth] = row
        head = " ".join(f"d{d:<3}" for d in depths)
        lines = [f"{'activation':<12} {'output':<9} {'loss':<14} {head} {'autodiff':>9} {'fd':>9}"]
        for (act, out, loss), by_depth in groups.items():
            marks = " ".join(
                f"{('ok' if by_depth[d].ok else 'FAIL') if d in by_depth else '-':<4}"
                for d in depths
            )
            ad = max(row.rel_err_autodiff for row in by_depth.values())
            fd = [row.rel_err_fd for row in by_depth.values() if row.rel_err_fd is not None]
            fd_text = f"{max(fd):>9.1e}" if fd else f"{'n/a':>9}"
            lines.append(f"{act:<12} {out:<9} {loss:<14} {marks} {ad:>9.1e} {fd_text}")
        lines.append(
            f"{self.cells} cells ({self.dtype}), {self.failing} failing; worst relative error "
            f"{self.worst_rel_err_autodiff:.1e} against autodiff, {self.worst_rel_err_fd:.1e} "
            f"against finite differences; {self.seconds:.1f} s"
        )
        return "\n".join(lines)


def gradcheck_matrix(
    dtype="float64", depths=(1, 2, 3, 4), activations=None, pairs=None, *, seed: int = 0
) -> MatrixReport:
    """Check ``net.backprop`` for every activation x (output, loss) pair x depth.

    Each cell is a net ``(3, 4, ..., 4, 3)`` with ``depth`` hidden layers, mean reduction and
    4 examples. Its check is the projection on one random direction d, weighted so that every
    leaf counts alike: ``<g, d>`` against forward-mode autodiff ``jvp(E)(w; d)`` and against
    ``(E(w + h d) - E(w - h d)) / 2h``, relative error ``|p - q| / max(|p|, |q|, 1e-3 sum_leaves
    |<g_leaf, d_leaf>|)``, tolerances from ``SETTINGS``; the central difference is taken in
    float64 whatever the dtype. That is a handful of small eager computations per cell (one
    jvp, one backprop, three evaluations of E), about 15 ms once each op has been compiled for
    the cell shapes: the 1 568 cells of the default matrix take well under a minute, where
    compiling one program per cell would take many minutes and the element-by-element
    ``gradcheck`` (a reverse-mode ``jax.grad`` and 2 |w| evaluations per cell) about three
    times as long. ``gradcheck`` gives the element by element report of any one cell. float64
    enables x64 while it runs.

    Args:
      dtype: "float64" (the verdict) or "float32".
      depths: numbers of hidden layers.
      activations: names; every registered activation by default, user ones included.
      pairs: ``(output, loss)`` pairs; ``valid_pairs()`` by default.

    >>> report = gradcheck_matrix(depths=(1, 2), activations=["tanh"], pairs=[("softmax", "bce")])
    >>> report.cells, report.failing, sorted(report.to_dict())[:2]
    (2, 0, ['cells', 'failing'])
    """
    name = jnp.dtype(dtype).name
    settings_for(name)
    acts = _activations.names() if activations is None else tuple(activations)
    pairs = valid_pairs() if pairs is None else tuple(tuple(p) for p in pairs)
    for d in depths:
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise ValueError(f"depths must be positive integers, got {d!r} in {depths!r}.")
    start = time.perf_counter()
    with jax.enable_x64(name == "float64"):
        nets = [
            MLP((3,) + (4,) * depth + (3,), act, output, loss)  # validates every name
            for act in acts
            for output, loss in pairs
            for depth in depths
        ]
        rows = [_cell(net, np.dtype(name), seed) for net in nets]
    return MatrixReport(tuple(rows), name, time.perf_counter() - start)


def _cell(net: MLP, dtype: np.dtype, seed: int) -> CellCheck:
    cfg = SETTINGS[dtype.name]
    for attempt in range(20):  # redraw until clear of the kinks, with a gradient that matters
        w, x, t = _cell_data(net, dtype, seed * 1000 + attempt)
        params = jax.device_put(w)
        clear = _kink_distance(net, params, x, t) > KINK_MARGIN
        g = _cast(net.backprop(params, x, t), np.float64)
        if clear and max(np.max(np.abs(v)) for v in jax.tree.leaves(g)) > 1e-6:
            break  # (softmax + mae, say, has gradient 0 when y - t has one sign per example)
    d = _balanced_direction(g, np.random.default_rng(seed))
    _, autodiff = jax.jvp(
        lambda p: net.cost(p, x, t), (params,), (jax.device_put(_cast(d, dtype)),)
    )
    with jax.enable_x64(True):
        x64, t64, w64 = _cast((x, t, w), np.float64)
        e = [float(net.cost(jax.device_put(_axpy(s, d, w64)), x64, t64)) for s in (EPS, -EPS)]
    parts = [float(np.sum(a * b)) for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(d))]
    p = sum(parts)  # <g, d>
    floor = FLOOR * sum(map(abs, parts)) + float(np.finfo(dtype).tiny)
    rel_ad, rel_fd = (
        float(abs(p - q) / max(abs(p), abs(q), floor))
        for q in (float(autodiff), (e[0] - e[1]) / (2 * EPS))
    )
    ok = rel_ad <= cfg.rtol_autodiff and (rel_fd <= cfg.rtol_fd or not clear)
    return CellCheck(
        net.hidden_activations[0], net.output, net.loss, len(net.sizes) - 2,
        rel_ad, rel_fd if clear else None, bool(ok),
    )  # fmt: skip


def _axpy(s: float, d, w):
    """``w + s d`` for params-shaped pytrees."""
    return jax.tree.map(lambda a, b: a + s * b, w, d)


def _balanced_direction(g, rng) -> list[dict]:
    """A random unit direction whose leaves are scaled by 1 / |g_leaf|, so that each leaf
    contributes alike to ``<g, d>`` and an error in any one of them shows."""
    largest = max(np.linalg.norm(v) for layer in g for v in layer.values()) or 1.0

    def scale(v):  # leaves whose gradient is below the floor weigh like the largest
        n = np.linalg.norm(v)
        return 1 / n if n >= FLOOR * largest else 1 / largest

    d = [{k: rng.standard_normal(v.shape) * scale(v) for k, v in layer.items()} for layer in g]
    total = np.sqrt(sum(np.sum(v * v) for layer in d for v in layer.values()))
    return [{k: v / total for k, v in layer.items()} for layer in d]


def _cell_data(net: MLP, dtype: np.dtype, seed: int):
    """Parameters (as NumPy arrays), inputs and targets for one cell."""
    rng = np.random.default_rng(seed)
    params = []
    for l, (fan_in, fan_out) in enumerate(zip(net.sizes, net.sizes[1:])):
        layer = {
            "w": rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in),
            "b": 0.5 * rng.standard_normal(fan_out),
        }
        if l < len(net.sizes) - 2 and _activations.get(net.hidden_activations[l]).learnable:
            layer["alpha"] = rng.uniform(0.1, 0.4, fan_out)
        params.append(layer)
    n, k = 4, net.sizes[-1]
    x = rng.standard_normal((n, net.sizes[0])).astype(dtype)
    if net.loss == "cross_entropy":
        t = np.eye(k, dtype=dtype)[rng.integers(0, k, n)]
    else:  # in (0, 1), as every output can reach: the gradient does not vanish
        t = rng.uniform(0.05, 0.95, (n, k)).astype(dtype)
    return _cast(params, dtype), jnp.asarray(x), jnp.asarray(t)


# Activations with two continuous derivatives: their finite differences need no distance from 0.
SMOOTH = ("identity", "sigmoid", "tanh", "arctan", "isru", "softplus", "softmax")


def _kink_distance(net: MLP, params, x, t) -> float:
    """How far the data sit from the kinks: the pre-activations of every activation not in
    ``SMOOTH`` (user ones included) from 0; for mae the residuals y - t from 0, for huber
    |y - t| from 1."""
    acts = (*net.hidden_activations, net.output)
    if all(a in SMOOTH for a in acts) and net.loss not in ("mae", "huber"):
        return math.inf
    trace = backprop.forward(net, params, x)
    distances = [np.min(np.abs(np.asarray(z))) for z, a in zip(trace.zs, acts) if a not in SMOOTH]
    r = np.asarray(trace.as_[-1] - t)
    if net.loss == "mae":
        distances.append(np.min(np.abs(r)))
    if net.loss == "huber":
        distances.append(np.min(np.abs(np.abs(r) - 1)))
    return float(min(distances, default=np.inf))


# ``jaxmlp.gradcheck(...)`` is the check; ``jaxmlp.gradcheck.matrix(...)`` and friends its tools.
gradcheck.eps_sweep = eps_sweep
gradcheck.taylor_test = taylor_test
gradcheck.matrix = gradcheck_matrix
gradcheck.settings = SETTINGS
