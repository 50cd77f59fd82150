"""The gradient-check matrix: every activation spec x (output, loss) pair x depth, one small net
each, the hand gradient projected on one random direction against autodiff and central differences.

Finite differences are only meaningful away from kinks: each cell redraws its data until every
pre-activation of an activation or output that is not ``smooth`` (its record says so, user ones
included) and every unit's distance from a kink of the loss (``Loss.kink_distance``: mae at
y = t, huber at |y - t| = 1) is at least ``KINK_MARGIN``; a cell for which that fails is judged
against autodiff alone.
"""

import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp import activations as _activations
from jaxmlp import losses, outputs
from jaxmlp.gradient_check import (
    EPS,
    FLOOR,
    KINK_MARGIN,
    SETTINGS,
    _cast,
    gradcheck,
    settings_for,
    worst,
)
from jaxmlp.kinks import kink_distance
from jaxmlp.mlp import MLP


def valid_pairs() -> tuple[tuple[str, str], ...]:
    """Every (output, loss) pair that ``MLP`` accepts, with a tempered softmax
    (``outputs.EXAMPLES``) for the outputs that take a number."""
    pairs = []
    for output in (*outputs.NAMES, *outputs.EXAMPLES):
        for loss in losses.NAMES:
            try:
                losses.check_pair(output, loss)
            except ValueError:
                continue
            pairs.append((output, loss))
    return tuple(pairs)


class CellCheck(NamedTuple):
    """One cell of the matrix: the relative errors of the worst leaf's ``<g_leaf, d_leaf>``
    against autodiff and of ``<g, d>`` against the central difference along d (``rel_err_fd``
    is None when no draw of the data kept clear of the kinks: then autodiff alone judges the
    cell)."""

    activation: str
    output: str
    loss: str
    depth: int
    rel_err_autodiff: float
    rel_err_fd: float | None
    ok: bool


def _cells(report) -> int:
    """A matrix report's cells: one a row (``cells`` of ``MatrixReport`` and of
    ``curvature_check.CurvatureMatrixReport``)."""
    return len(report.rows)


def _failing(report) -> int:
    """A matrix report's failing cells: its rows that are not ok."""
    return sum(not row.ok for row in report.rows)


class MatrixReport(NamedTuple):
    """One ``CellCheck`` per cell; ``cells`` and ``failing`` are counts."""

    rows: tuple
    dtype: str
    seconds: float
    curvature: object = None  # a curvature_check.CurvatureMatrixReport when asked for

    cells = property(_cells)
    failing = property(_failing)

    @property
    def ok(self) -> bool:
        return self.failing == 0 and (self.curvature is None or self.curvature.ok)

    @property
    def worst_rel_err_autodiff(self) -> float:
        return worst(row.rel_err_autodiff for row in self.rows)

    @property
    def worst_rel_err_fd(self) -> float:
        fd = [row.rel_err_fd for row in self.rows if row.rel_err_fd is not None]
        return worst(fd)

    def to_dict(self) -> dict:
        """The report as JSON data: its verdict (``ok``, the exit status's: the curvature's
        too) and what it was judged by (dtype and tolerances), not only the counts and errors:
        a float32 matrix's errors read as float64's, a failing curvature cell as none."""
        cfg = SETTINGS[self.dtype]
        return {
            "ok": self.ok,
            "dtype": self.dtype,
            "rtol_autodiff": cfg.rtol_autodiff,
            "rtol_fd": cfg.rtol_fd,
            "cells": self.cells,
            "failing": self.failing,
            "worst_rel_err_autodiff": self.worst_rel_err_autodiff,
            "worst_rel_err_fd": self.worst_rel_err_fd,
            "rows": [row._asdict() for row in self.rows],
        } | ({} if self.curvature is None else {"curvature": self.curvature.to_dict()})

    def __str__(self) -> str:
        depths = sorted({row.depth for row in self.rows})
        groups: dict = {}
        for row in self.rows:
            groups.setdefault((row.activation, row.output, row.loss), {})[row.depth] = row
        head = " ".join(f"d{d:<3}" for d in depths)
        w = max([12] + [len(row.activation) for row in self.rows])  # the longest spec
        lines = [
            f"{'activation':<{w}} {'output':<11} {'loss':<14} {head} {'autodiff':>9} {'fd':>9}"
        ]
        for (act, out, loss), by_depth in groups.items():
            marks = " ".join(
                f"{('ok' if by_depth[d].ok else 'FAIL') if d in by_depth else '-':<4}"
                for d in depths
            )
            ad = worst(row.rel_err_autodiff for row in by_depth.values())
            fd = [row.rel_err_fd for row in by_depth.values() if row.rel_err_fd is not None]
            fd_text = f"{worst(fd):>9.1e}" if fd else f"{'n/a':>9}"
            lines.append(f"{act:<{w}} {out:<11} {loss:<14} {marks} {ad:>9.1e} {fd_text}")
        lines.append(
            f"{self.cells} cells ({self.dtype}), {self.failing} failing; worst relative error "
            f"{self.worst_rel_err_autodiff:.1e} against autodiff, {self.worst_rel_err_fd:.1e} "
            f"against finite differences; {self.seconds:.1f} s"
        )
        return "\n".join(lines + ([] if self.curvature is None else ["", str(self.curvature)]))


def matrix_axes(acts: tuple, pairs, depths, why: str = "") -> tuple:
    """``pairs`` (``valid_pairs()`` if None) as ``(output, loss)`` tuples, once ``depths`` are
    positive integers and every axis of the matrix is non-empty: a matrix of no cells checks
    nothing, a ValueError (``why``: why the activations may be none), never a pass."""
    pairs = valid_pairs() if pairs is None else tuple(pairs)
    for p in pairs:
        if isinstance(p, str) or len(tuple(p)) != 2 or not all(isinstance(n, str) for n in p):
            raise ValueError(
                f"pairs must be (output, loss) pairs such as ('softmax', 'cross_entropy'); "
                f"got {p!r} in {pairs!r}."
            )
    for d in depths:
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise ValueError(f"depths must be positive integers, got {d!r} in {depths!r}.")
    for axis, values in (("activations", acts), ("pairs", pairs), ("depths", depths)):
        if not len(values):
            raise ValueError(
                f"{axis} is empty{why if axis == 'activations' else ''}: the matrix would check "
                "no cell; give at least one."
            )
    return tuple(tuple(p) for p in pairs)


def gradcheck_matrix(
    dtype="float64",
    depths=(1, 2, 3, 4),
    activations=None,
    pairs=None,
    *,
    seed: int = 0,
    curvature: bool = False,
) -> MatrixReport:
    """Check ``net.backprop`` for every activation x (output, loss) pair x depth.

    Each cell is a net ``(3, 4, ..., 4, 3)`` with ``depth`` hidden layers, mean reduction and
    4 examples. Its check is the projection on one random direction d, weighted so that every
    unit (each leaf's last axis: a column of w, an element of b or alpha) counts alike: each
    unit's ``<g_unit, d_unit>`` against forward-mode autodiff along d_unit alone (a 1 % error
    in one unit is 1 % of its own projection; over all the leaves it was ~1 / |leaves| of
    ``<g, d>``, and over its leaf's units, one unit of a per-unit group of four 1 % off came to
    ~1e-3, under float32's tolerance), and ``<g, d>`` (d weighted leaf by leaf instead,
    ``_balanced_directions``) against ``(E(w + h d) - E(w - h d)) / 2h``, relative error
    ``|p - q| / max(|p|, |q|, 1e-3 sum |<g_part, d_part>|)`` over the units or the leaves,
    tolerances from ``SETTINGS``; the central difference is taken in float64 whatever the
    dtype. That is a handful of small eager computations per cell (one jvp vmapped over the
    units, one backprop, three evaluations of E), each op compiled once
    for the cell shapes: the 3612 cells of the default matrix (21 activation specs x 43 pairs x
    4 depths, of the activations registered now; README.md gives a run's time), where compiling
    one program per cell would take longer still, and the element-by-element ``gradcheck`` (a
    reverse-mode ``jax.grad`` and 2 |w| evaluations per cell) longer again. ``gradcheck`` gives
    the element by element report of any one cell. float64 enables x64 while it runs.

    Args:
      dtype: "float64" (the verdict) or "float32".
      depths: numbers of hidden layers.
      activations: specs; by default ``activations.specs()``: every registered activation,
        user ones included, one spec per activation constant (``"elu:1.67326"``...) and one
        per-unit group of width 4.
      pairs: ``(output, loss)`` pairs; ``valid_pairs()`` by default.
      curvature: also run ``curvature_check.curvature_matrix`` over the same cells (depths up to
        3, always float64); the report's ``curvature`` holds it and ``ok`` needs it to pass.

    >>> report = gradcheck_matrix(depths=(1, 2), activations=["tanh"], pairs=[("softmax", "bce")])
    >>> report.cells, report.failing, report.to_dict()["ok"], report.to_dict()["dtype"]
    (2, 0, True, 'float64')
    """
    name = jnp.dtype(dtype).name
    settings_for(name)
    acts = _activations.specs() if activations is None else tuple(activations)
    pairs = matrix_axes(acts, pairs, depths)
    start = time.perf_counter()
    with jax.enable_x64(name == "float64"):
        nets = [
            MLP((3,) + (4,) * depth + (3,), act, output, loss)  # validates every name
            for act in acts
            for output, loss in pairs
            for depth in depths
        ]
        rows = [_cell(net, np.dtype(name), seed) for net in nets]
    curv = None
    if curvature:
        from jaxmlp.curvature_check import curvature_matrix  # imports this module

        curv = curvature_matrix(tuple(d for d in depths if d <= 3), acts, pairs, seed=seed)
    return MatrixReport(tuple(rows), name, time.perf_counter() - start, curv)


def _cell(net: MLP, dtype: np.dtype, seed: int) -> CellCheck:
    cfg = SETTINGS[dtype.name]
    for attempt in range(20):  # redraw until clear of the kinks, with a gradient that matters
        w, x, t = _cell_data(net, dtype, seed * 1000 + attempt)
        params = jax.device_put(w)
        clear = kink_distance(net, params, x, t) > KINK_MARGIN
        g = _cast(net.backprop(params, x, t), np.float64)
        if clear and max(np.max(np.abs(v)) for v in jax.tree.leaves(g)) > 1e-6:
            break  # (softmax + mae, say, has gradient 0 when y - t has one sign per example)
    d, d_fd = _balanced_directions(g, np.random.default_rng(seed))
    autodiff = _unit_jvps(net, params, x, t, _cast(d, dtype))
    with jax.enable_x64(True):
        x64, t64, w64 = _cast((x, t, w), np.float64)
        e = [float(net.cost(jax.device_put(_axpy(s, d_fd, w64)), x64, t64)) for s in (EPS, -EPS)]
    parts = [
        float(np.sum(a[..., u] * b[..., u]))
        for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(d))
        for u in range(b.shape[-1])
    ]
    parts_fd = [float(np.sum(a * b)) for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(d_fd))]

    def rel(p, q, parts):
        floor = FLOOR * sum(map(abs, parts)) + float(np.finfo(dtype).tiny)
        return float(abs(p - q) / max(abs(p), abs(q), floor))

    rel_ad = worst(rel(p, q, parts) for p, q in zip(parts, autodiff))  # <g_unit, d_unit>
    rel_fd = rel(sum(parts_fd), (e[0] - e[1]) / (2 * EPS), parts_fd)  # <g, d_fd>
    ok = rel_ad <= cfg.rtol_autodiff and (rel_fd <= cfg.rtol_fd or not clear)
    return CellCheck(
        net.hidden_activations[0], net.output, net.loss, len(net.sizes) - 2,
        rel_ad, rel_fd if clear else None, bool(ok),
    )  # fmt: skip


def _unit_jvps(net: MLP, params, x, t, d) -> list[float]:
    """Forward-mode autodiff along each unit of each leaf of ``d`` alone (its last axis: a
    column of w, an element of b or alpha), ``<grad E_unit, d_unit>``, units in order within
    leaves in ``jax.tree.leaves`` order: one ``jvp`` vmapped over the units' tangents."""
    leaves, tree = jax.tree.flatten(d)
    units = [(j, u) for j, v in enumerate(leaves) for u in range(v.shape[-1])]

    def tangent(i, v):  # leaf i of every unit's tangent, stacked
        v = np.asarray(v)
        out = np.zeros((len(units), *v.shape), v.dtype)
        for k, (j, u) in enumerate(units):
            if j == i:
                out[k, ..., u] = v[..., u]
        return jnp.asarray(out)

    tangents = jax.tree.unflatten(tree, [tangent(i, v) for i, v in enumerate(leaves)])
    along = jax.vmap(lambda v: jax.jvp(lambda p: net.cost(p, x, t), (params,), (v,))[1])
    return [float(q) for q in np.asarray(along(tangents), np.float64)]


def _axpy(s: float, d, w):
    """``w + s d`` for params-shaped pytrees."""
    return jax.tree.map(lambda a, b: a + s * b, w, d)


def _balanced_directions(g, rng) -> tuple[list[dict], list[dict]]:
    """Two random unit directions from one draw: the first's units (each leaf's last axis: a
    column of w, an element of b or alpha) scaled by 1 / |g_unit|, so that each contributes
    alike and an error in any one of them shows against autodiff; the second's leaves scaled
    by 1 / |g_leaf|, for the central difference of ``<g, d>`` (weighting the units alike
    weighs the small ones up, and their round-off: the float64 matrix's worst error against
    finite differences rose from 2e-6 to 6e-6 of its 1e-5)."""
    draw = [{k: rng.standard_normal(v.shape) for k, v in layer.items()} for layer in g]

    def scaled(norms):
        largest = max(float(np.max(norms(v), initial=0.0)) for l in g for v in l.values()) or 1.0

        def scale(v):  # what is below the floor weighs like the largest
            n = norms(v)
            return np.where(n >= FLOOR * largest, 1 / np.maximum(n, 1e-300), 1 / largest)

        d = [{k: r[k] * scale(v) for k, v in layer.items()} for layer, r in zip(g, draw)]
        total = np.sqrt(sum(np.sum(v * v) for layer in d for v in layer.values()))
        return [{k: v / total for k, v in layer.items()} for layer in d]

    return scaled(_unit_norms), scaled(np.linalg.norm)


def _unit_norms(v: np.ndarray) -> np.ndarray:
    """``|v_unit|`` for each unit of the leaf ``v`` (its last axis)."""
    return np.linalg.norm(v.reshape(-1, v.shape[-1]), axis=0)


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
    labels = outputs.get(net.output).labels
    if labels != (0, 1):  # a threshold output takes its labels only
        t = np.asarray(labels, dtype)[rng.integers(0, 2, (n, k))]
    elif net.loss == "cross_entropy":
        t = np.eye(k, dtype=dtype)[rng.integers(0, k, n)]
    else:  # in (0, 1), as every output can reach: the gradient does not vanish
        t = rng.uniform(0.05, 0.95, (n, k)).astype(dtype)
    return _cast(params, dtype), jnp.asarray(x), jnp.asarray(t)


gradcheck.matrix = gradcheck_matrix
