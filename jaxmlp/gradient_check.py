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
They are ``jaxmlp.finite_differences``'s, many points of E to one compiled program.
Relative error, element by element, of ``g`` against a reference ``r``:

    rel_i = |g_i - r_i| / max(|g_i|, |r_i|, floor)
    floor = 1e-3 max_leaf |a| + u max |a| + tiny        against autodiff (u: params' unit round-off)
    floor = max(1e-3 max |a|, r / (2 eps rtol)) + tiny  against finite differences

with ``max_leaf`` over the leaf's own autodiff gradient and ``max`` over every leaf. An element
far below its scale (cancellation) is judged by its absolute error against that scale, which is
all its round-off allows; 0/0 cannot happen. Autodiff shares the dtype and the round-off of g,
which scale with each leaf's own terms: per leaf, a leaf of gradients 1e-6 of the largest (the
first layers of a deep sigmoid net) that is zeroed or doubled fails. The round-off of central
differences is absolute: against them the floor is the whole gradient's, or more where E's
round-off r, measured at w (``finite_differences.roundoff``; only where an element fails the
lesser floor, since a higher floor only lowers the errors), puts the quotient's round-off
``r / 2 eps`` above ``rtol`` of it: an error within the round-off carries no verdict (E =
1.5e-5 computed from logits ~11 carries r ~ 2e-14, not ~1e-16 |E|). Where that round-off is
1 % of the largest element or more (a tiny eps, a huge E with a small gradient), a zero
gradient would pass too: the differences judge nothing (``ok_fd`` None, said in the report)
and autodiff alone judges. A 1 % error in any element above
the floor gives rel ~ 1e-2, above every tolerance in ``SETTINGS``. A leaf whose gradient
vanishes (to round-off) has no relative error worth the name: check at a point where it does
not.

Finite differences are only meaningful away from kinks, and at one the cost has no derivative for
autodiff to agree on (mae's hand sign(0) = 0, jax's 1): ``gradcheck`` leaves out the examples that
sit within reach of its steps of a kink (``kinks.near``), named in ``Report.excluded``, and
refuses data of which every example does; the matrix (``gradient_matrix``) keeps its data away
from them, as the activation and loss records define them.
"""

import importlib
from collections.abc import Callable
from functools import partial
from numbers import Real
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp import activations as _activations
from jaxmlp import kinks
from jaxmlp.array_checks import one_dtype, real_array
from jaxmlp.finite_differences import (
    along_directions,
    central_differences,
    measured_roundoff,
    named_leaves,
)
from jaxmlp.gradient_report import FLOOR, RESOLVE, LeafCheck, Report, worst
from jaxmlp.mlp import MLP
from jaxmlp.numeric import check_int, check_positive, is_real, not_one_of

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

    A limit: the float64 autodiff tolerance (1e-10) is fixed, not measured. At a point where both
    derivatives carry more round-off than that, a right gradient fails against autodiff (softmax
    + bce did at a class probability ~1e-23, 1.1e-10, while its cost took 1 - y from y; from the
    logits it reads 5e-16 there). E's measured round-off sizes the finite-difference floor, not
    the autodiff one: the two gradients' round-off follows their own terms. Check such a point
    against finite differences, or a better-conditioned one.

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
        raise not_one_of("method", method, METHODS)
    n_directions = check_int("n_directions", n_directions, 1)
    seed = check_int("seed", seed, 0)
    eps = EPS if eps is None else eps
    check_positive("eps", eps)
    eps, n_directions = float(eps), int(n_directions)  # numpy's float32 would stay float32
    rtol_autodiff, rtol_fd = _tolerances(rtol, cfg)
    if method == "auto":
        method = "full" if net.n_params <= FULL_MAX else "directions"

    x, t = net._check_xt(params, x, t)  # once, eagerly: labels are range-checked
    x, t, excluded = _clear_of_kinks(net, params, x, t, eps)
    key = _static(net)
    g = _leaves((grad_fn or partial(_hand, key))(params, x, t), params, "grad_fn")
    a = _leaves(_autodiff(key, params, x, t), params, "jax.grad")
    with jax.enable_x64(True):
        x64, t64, params64 = _cast((x, t, params), np.float64)
        if method == "full":  # per element: (g_i, f_i)
            fd_pairs = list(zip(g, central_differences(key, params64, x64, t64, eps)))
        else:  # per leaf and direction: (<g, d_k>, f_k)
            fd_pairs = along_directions(key, params64, x64, t64, g, eps, n_directions, seed)
    largest = worst(np.max(np.abs(ai), initial=0.0) for ai in a)

    def check(floor_fd):
        rows = []
        for (l, name, leaf), gi, ai, (gd, fd) in zip(named_leaves(params), g, a, fd_pairs):
            floor_ad = FLOOR * np.max(np.abs(ai), initial=0.0) + np.finfo(dtype).eps * largest
            ad, fd = _errors(gi, ai, floor_ad + np.finfo(dtype).tiny), _errors(gd, fd, floor_fd)
            rows.append(
                LeafCheck(
                    l, name, tuple(leaf.shape), *ad, *fd,
                    ok_autodiff=bool(ad[1] <= rtol_autodiff),
                    ok_fd=bool(fd[1] <= rtol_fd),
                )
            )  # fmt: skip
        return tuple(rows)

    rows, noise_fd = check(FLOOR * largest + np.finfo(dtype).tiny), 0.0
    if not all(row.ok_fd for row in rows):  # a higher floor only lowers the errors: measure now
        with jax.enable_x64(True):
            noise_fd = measured_roundoff(key, params64, x64, t64, seed) / (2 * eps)
        rows = check(max(FLOOR * largest, noise_fd / rtol_fd) + np.finfo(dtype).tiny)
        if noise_fd >= RESOLVE * largest:  # (a NaN compares False: judged, and fails)
            rows = tuple(row._replace(ok_fd=None) for row in rows)
    return Report(
        rows, dtype.name, method, float(eps), rtol_autodiff, rtol_fd, net.n_params,
        _describe(net), excluded, float(noise_fd),
    )  # fmt: skip


def _clear_of_kinks(net, params, x, t, eps: float):
    """``(x, t, excluded)``: the examples clear of the cost's kinks, and the rows left out,
    those ``kinks.near`` a kink for the central differences' largest step: there the cost has
    no derivative (mae's hand sign(0) = 0 against jax's 1), or a difference straddles it, and
    neither reference is one. ValueError where every example is."""
    with jax.enable_x64(True):
        x64, t64, params64 = _cast((x, t, params), np.float64)
        largest = worst(np.max(np.abs(leaf), initial=0.0) for leaf in jax.tree.leaves(params64))
        at = kinks.near(net, params64, x64, t64, eps * max(1.0, largest), KINK_MARGIN)
    if at.all():
        raise kinks.AtKinks.every(len(at), _describe(net))
    keep = ~at
    return (x[keep], t[keep], tuple(np.flatnonzero(at).tolist())) if at.any() else (x, t, ())


def _tolerances(rtol, cfg: Settings) -> tuple[float, float]:
    if rtol is None:
        return cfg.rtol_autodiff, cfg.rtol_fd
    pair = (rtol, rtol) if isinstance(rtol, Real) or not np.iterable(rtol) else tuple(rtol)
    if len(pair) != 2 or not all(is_real(r) and r > 0 for r in pair):
        raise ValueError(f"rtol must be a positive number or a pair of them, got {rtol!r}.")
    return float(pair[0]), float(pair[1])


def _params_dtype(params) -> np.dtype:
    return np.dtype(one_dtype(params))  # one dtype, the one rule of array_checks


def _leaves(grads, params, what: str) -> list[np.ndarray]:
    """The leaves of ``grads`` as NumPy arrays in ``named_leaves`` order, once each is real,
    unmasked and shaped like its parameter: a complex one was judged by its real part (the
    cast to float64 drops the rest), a masked one by the numbers under its mask."""
    named = named_leaves(params)
    try:
        given = [grads[l][k] for l, k, _ in named]
    except (KeyError, IndexError, TypeError):
        raise ValueError(f"{what} must return a pytree shaped like params.") from None
    out = [real_array(f"{what}: grads[{l}][{k!r}]", o) for (l, k, _), o in zip(named, given)]
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


def _describe(net: MLP) -> str:
    act = net.activation if isinstance(net.activation, str) else "/".join(net.activation)
    return f"{net.sizes} {act} -> {net.output} + {net.loss} ({net.reduction})"


# The matrix and convergence tests live in modules that import this one: their names stay reachable
# here (``gradient_check.gradcheck_matrix``); imported, they attach to ``gradcheck`` (``.matrix``).
_MATRIX = ("CellCheck", "MatrixReport", "gradcheck_matrix", "kink_distance", "valid_pairs")
_TAYLOR = ("EpsSweep", "TaylorResult", "eps_sweep", "taylor_test")
_ELSEWHERE = dict.fromkeys(_MATRIX, "jaxmlp.gradient_matrix") | dict.fromkeys(
    _TAYLOR, "jaxmlp.taylor"
)


def __getattr__(name: str):
    if name in _ELSEWHERE:
        return getattr(importlib.import_module(_ELSEWHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


gradcheck.settings = SETTINGS
