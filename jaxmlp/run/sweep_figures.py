"""A sweep's figures as PNG files, in ``jaxmlp.plots``' style and written atomically:

loss_vs_NAME.png     final training loss against each swept value: median over the seeds
                     and folds (the titles say which vary), with the 10-90 % band; one line
                     per other grid point
success_vs_NAME.png  classification: success rate against the value, 95 % Wilson interval
curves.png           training loss per epoch, median and 10-90 % band, per grid point, over
                     the members still training at that epoch (stopped ones drop out; a
                     member that diverges counts until it does)
"""

import io
import itertools
import pathlib

import numpy as np

from jaxmlp import checkpoint, plots, search


def draw(records: list, rows: list, grid: dict, curves: dict, out) -> list[str]:
    """Every figure of the sweep into ``out``; returns the file names written."""
    out = pathlib.Path(out)
    written = []
    for name in grid:
        written.append(_against(records, grid, name, "train_loss", out / f"loss_vs_{name}.png"))
        if records[0]["success"] is not None:
            path = out / f"success_vs_{name}.png"
            written.append(_success(rows, grid, name, path, _over(records)))
    written.append(_curves(records, grid, curves, out / "curves.png"))
    return [p.name for p in written]


def _others(grid: dict, name: str) -> list[dict]:
    """Each combination of the swept values other than ``name``'s (one line per combination)."""
    names = [n for n in grid if n != name]
    return [dict(zip(names, v, strict=True)) for v in itertools.product(*(grid[n] for n in names))]


def value_text(v) -> str:
    """A swept value as the table and the figures name it: ``:g``'s six digits, or as many as
    tell it from its neighbours (``repr``: 0.1000001 is not 0.1)."""
    short = f"{v:g}"
    return short if float(short) == v else repr(v)


def _over(records: list) -> str:
    """What a grid point's members differ by: ``over seeds``, ``over folds`` or both."""
    seeds, folds = len({r["seed"] for r in records}) > 1, records[0].get("fold") is not None
    return "over " + (" and ".join(["seeds"] * seeds + ["folds"] * folds) or "seeds")


def _label(point: dict) -> str | None:
    return ", ".join(f"{k} {value_text(v)}" for k, v in point.items()) or None


def _against(records, grid, name, metric, path):
    fig, ax = plots._figure()
    xs = sorted(grid[name])
    shown = []
    for other in _others(grid, name):
        low, mid, high = [], [], []
        for x in xs:
            v = [
                r[metric] for r in records
                if r[name] == x and r["diverged_epoch"] is None and r[metric] is not None
                and all(r[k] == w for k, w in other.items())
            ]  # fmt: skip
            q = search.quantiles(v, (0.1, 0.5, 0.9)) if v else (np.nan,) * 3
            low.append(q[0]), mid.append(q[1]), high.append(q[2])
            shown += v
        (line,) = ax.plot(xs, mid, marker="o", label=_label(other))
        ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.2)
    if shown:  # else every member diverged: no data, and so no log axis
        _log_x(ax, xs)
        _log_y(ax, shown)
    else:
        ax.text(0.5, 0.5, "every member diverged", transform=ax.transAxes, ha="center")
    ax.set(xlabel=name, ylabel=f"final {metric.replace('_', ' ')}")
    ax.set_title(f"final {metric.replace('_', ' ')}: median, 10-90 % {_over(records)}")
    return _finish(fig, ax, path)


def _success(rows, grid, name, path, over: str):
    fig, ax = plots._figure()
    xs = sorted(grid[name])
    for other in _others(grid, name):
        picked = {r[name]: r for r in rows if all(r[k] == w for k, w in other.items())}
        rate = np.array([picked[x]["success_rate"] for x in xs])
        low = np.maximum(rate - np.array([picked[x]["success_low"] for x in xs]), 0)
        high = np.maximum(np.array([picked[x]["success_high"] for x in xs]) - rate, 0)
        ax.errorbar(xs, rate, yerr=[low, high], marker="o", capsize=3, label=_label(other))
    _log_x(ax, xs)
    ax.set(xlabel=name, ylabel="success rate", ylim=(-0.02, 1.02))
    ax.set_title(f"success rate, 95 % Wilson interval {over}")
    return _finish(fig, ax, path)


def _curves(records, grid, curves, path):
    fig, ax = plots._figure()
    epochs, losses = curves["epoch"], curves["train_loss"]
    points = itertools.product(*grid.values()) if grid else [()]
    for point in points:
        pick = [all(r[n] == v for n, v in zip(grid, point)) for r in records]
        member = losses[np.asarray(pick)]
        alive = ~np.isnan(member).all(axis=0)  # epochs some member reached
        if not alive.any():
            continue
        q = search.quantiles(member[:, alive], (0.1, 0.5, 0.9), axis=0, skip_nan=True)
        label = _label(dict(zip(grid, point))) or f"{len(member)} members"
        (line,) = ax.plot(epochs[alive], q[1], label=label)
        ax.fill_between(epochs[alive], q[0], q[2], color=line.get_color(), alpha=0.2)
    _log_y(ax, losses)
    ax.set(xlabel="epoch", ylabel="training loss")
    ax.set_title("training loss: median, 10-90 % over the members training at each epoch")
    return _finish(fig, ax, path)


def _log_y(ax, values):
    """A log y axis when the finite ``values`` shown are all > 0 (and there are some)."""
    v = np.asarray(values, np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size and (v > 0).all():
        ax.set_yscale("log")


def _log_x(ax, xs):
    if min(xs) > 0 and max(xs) / min(xs) >= 10:
        ax.set_xscale("log")


def _finish(fig, ax, path) -> pathlib.Path:
    if ax.get_legend_handles_labels()[1]:
        ax.legend()
    ax.grid(alpha=0.3)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    checkpoint.write_atomic(path, buffer.getvalue())
    return path
