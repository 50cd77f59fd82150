"""What every experiment script shares: the ``--quick`` flag, the results JSON, the figures.

An experiment is ``experiments/<name>.py`` using only jaxmlp's public API. It runs the full
experiment by default and a reduced one with ``--quick`` (a minute at most on 2 CPU cores), and
writes ``<out>/<name>.json``:

    {"claim": the seed and the claim in one sentence, "criterion": how the verdict is decided,
     "reproduced": bool computed from the run, "quick": bool, "metrics": {...}}

plus figures ``<out>/<name>*.png``. ``--out`` defaults to ``experiments/results``; tests pass a
temporary folder so quick runs never overwrite the full results.
"""

import argparse
import json
import os
import pathlib
import platform
import tempfile

import jax.numpy as jnp

from jaxmlp import search

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def parse_args(doc: str, argv=None, rows=()) -> argparse.Namespace:
    """The experiments' common flags; ``rows``: the names ``--only`` may pick (all by default)."""
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a reduced run (<= 1 min on 2 cores)")
    if rows:
        parser.add_argument("--only", choices=rows, nargs="+", default=list(rows), help="rows")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS, help="results folder")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def save(args, name: str, *, claim: str, criterion: str, reproduced: bool, metrics: dict):
    """Write ``<out>/<name>.json`` atomically; returns the record."""
    record = {
        "claim": claim,
        "criterion": criterion,
        "reproduced": bool(reproduced),
        "quick": bool(args.quick),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.system()}",
        "metrics": metrics,
    }
    path = args.out / f"{name}.json"
    with tempfile.NamedTemporaryFile("w", dir=args.out, delete=False, suffix=".tmp") as f:
        json.dump(record, f, indent=2, default=_plain)
    os.replace(f.name, path)
    verdict = "reproduced" if reproduced else "NOT reproduced"
    print(f"{name}: {verdict} -- {criterion}")
    return record


def figure(args, name: str, fig) -> pathlib.Path:
    """Save a matplotlib figure as ``<out>/<name>.png`` and close it."""
    import matplotlib.pyplot as plt

    path = args.out / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson's score interval for ``successes`` of ``n``: the library's rule
    (``jaxmlp.search.wilson``, exact at 0/n and n/n), at z = 1.96, the z of the recorded
    results."""
    return search.wilson(successes, n, z)


def quadratic_minimum(g, h, *, step: float, ratio: float = 0.0) -> dict:
    """The local-minimum test of a point with gradient ``g (m,)`` and Hessian ``h (m, m)``: the
    quadratic model E + g.d + d.H d / 2 has its minimum close by, i.e. ``h`` is positive
    definite (its eigenvalues finite, the smallest > ``ratio`` times the largest) and the Newton
    step to that minimum, |H^-1 g|, is shorter than ``step``. In jax.numpy, so it traces under
    ``jit`` and ``vmap``, in float64 where the script enables it. Returns ``eig`` (H's
    eigenvalues, ascending), ``newton_step`` (inf where H is singular) and ``minimum``."""
    eig = jnp.linalg.eigvalsh(h)
    newton_step = jnp.linalg.norm(jnp.linalg.solve(h, g))
    newton_step = jnp.where(jnp.isfinite(newton_step), newton_step, jnp.inf)
    definite = jnp.all(jnp.isfinite(eig)) & (eig[0] > ratio * eig[-1])
    minimum = definite & (newton_step < step)
    return {"eig": eig, "newton_step": newton_step, "minimum": minimum}


def _plain(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
