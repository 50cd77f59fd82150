"""Figures of a run as PNG files: loss and accuracy curves, and the decision boundary of 2-D data.

matplotlib (the ``plot`` extra) is imported only when a figure is drawn, and only its
object-oriented API is used (``Figure`` on the Agg canvas): no pyplot, no global backend switch,
nothing left open. ``available()`` says whether it is installed.
"""

import importlib.util
import io
import pathlib

import numpy as np

from jaxmlp.checkpoint import write_atomic


def available() -> bool:
    """Whether matplotlib is installed (``pip install 'jaxmlp[plot]'``)."""
    return importlib.util.find_spec("matplotlib") is not None


def curves(history: list[dict], folder) -> list[pathlib.Path]:
    """``loss.png`` (train and validation loss per epoch) and, for classifiers,
    ``accuracy.png`` in ``folder``; returns the paths written."""
    folder = pathlib.Path(folder)
    epochs = [r["epoch"] for r in history]
    written = []
    for metric, log_scale in (("loss", True), ("accuracy", False)):
        series = {
            split: [r[f"{split}_{metric}"] for r in history]
            for split in ("train", "val")
            if history and all(r.get(f"{split}_{metric}") is not None for r in history)
        }
        if not series:
            continue
        fig, ax = _figure()
        for split, values in series.items():
            ax.plot(epochs, values, label={"train": "training", "val": "validation"}[split])
        if log_scale and all(v > 0 for values in series.values() for v in values):
            ax.set_yscale("log")
        ax.set(xlabel="epoch", ylabel=metric, title=f"{metric} per epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend()
        ax.grid(alpha=0.3)
        written.append(_save(fig, folder / f"{metric}.png"))
    return written


def decision_boundary(net, params, x, labels, path, *, title="decision boundary") -> pathlib.Path:
    """The classes ``net`` assigns over the plane around ``x (n, 2)``, with the examples on top
    coloured by their integer ``labels (n,)``."""
    x = np.asarray(x, np.float32)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"a decision boundary needs 2-D inputs x (n, 2), got {x.shape}.")
    low, high = x.min(0), x.max(0)
    pad = 0.1 * np.maximum(high - low, 1e-6)
    g0, g1 = np.meshgrid(*(np.linspace(low[i] - pad[i], high[i] + pad[i], 200) for i in (0, 1)))
    grid = np.stack([g0.ravel(), g1.ravel()], 1).astype(np.asarray(params[0]["w"]).dtype)
    y = np.asarray(net.apply(params, grid), np.float32)
    fig, ax = _figure()
    if y.shape[1] == 1:  # one sigmoid unit: P(class 1), and the 0.5 contour
        cmap, k = "coolwarm", 2
        p = y[:, 0].reshape(g0.shape)
        ax.contourf(g0, g1, p, levels=np.linspace(0, 1, 11), cmap=cmap, alpha=0.5)
        ax.contour(g0, g1, p, levels=[0.5], colors="k", linewidths=1)
    else:
        cmap, k = "tab10", y.shape[1]
        levels = np.arange(k + 1) - 0.5
        ax.contourf(g0, g1, y.argmax(1).reshape(g0.shape), levels=levels, cmap=cmap, alpha=0.35)
    ax.scatter(
        x[:, 0], x[:, 1], c=np.asarray(labels), cmap=cmap, vmin=0, vmax=max(k - 1, 1),
        s=9, edgecolors="k", linewidths=0.2,
    )  # fmt: skip
    ax.set(xlabel="x1", ylabel="x2", title=title)
    return _save(fig, pathlib.Path(path))


def _figure():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 4), dpi=100, layout="tight")
    return fig, fig.add_subplot()


def _save(fig, path: pathlib.Path) -> pathlib.Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()  # rendered whole first: a failed write leaves the old file
    FigureCanvasAgg(fig).print_png(buffer)
    write_atomic(path, buffer.getvalue())
    return path
