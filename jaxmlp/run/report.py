"""What a run tells the user: the banner, summary.json and its figures, the closing line, and
the message of a diverged run."""

import functools
import json

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp import backprop, checkpoint, plots
from jaxmlp.mlp import MLP
from jaxmlp.run.settings import Run, targets
from jaxmlp.train import Diverged, evaluate

GRADCHECK_BATCH = 256
GRADCHECK_TOL = 1e-10  # float64 relative error of hand vs autodiff


class RunStopped(Exception):
    """A run that ended before its last epoch: ``status`` 3 (diverged) or 128 + signal number
    (interrupted); the message is one line for the user."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def banner(run: Run, first: int) -> str:
    data, net = run.data, run.net
    sizes = "-".join(map(str, net.sizes))
    act = net.activation if isinstance(net.activation, str) else ",".join(net.activation)
    counts = f"{len(data.x)} train" + "".join(
        f", {len(x)} {name}" for name, x, _ in data.splits()[1:]
    )
    start = f", resuming at epoch {first}" if first else ""
    return (
        f"{data.name} ({data.task}; {counts}): MLP {sizes} {act} -> {net.output}/{net.loss}, "
        f"{net.n_params} params, {run.config.epochs} epochs{start} -> {run.out}"
    )


def summarize(run: Run, state, final, history, wall_seconds: float) -> dict:
    """The run's summary, also written to summary.json (with its figures)."""
    data, net, config = run.data, run.net, run.config
    classifier = net.output in ("softmax", "sigmoid")
    summary = {"status": "finished" if state.epoch >= config.epochs else "early_stopped"}
    for split, x, t in data.splits():
        result = evaluate(net, final, x, targets(net, data.task, t))
        summary[f"{split}_loss"] = result["loss"]
        if classifier:
            summary[f"{split}_accuracy"] = result["accuracy"]
    n = len(data.x)
    batch = n if config.batch_size == "full" else min(config.batch_size, n)
    steps = n // batch
    seconds = sum(r["seconds"] for r in history)
    typical = float(np.median([r["seconds"] for r in history])) if history else 0.0
    summary |= {
        "epochs": state.epoch,
        "epochs_planned": config.epochs,
        "steps": state.epoch * steps,
        "train_seconds": seconds,
        # a typical epoch's throughput: the median ignores the first epochs, which compile
        "examples_per_second": steps * batch / typical if typical > 0 else None,
        "devices": config.devices or len(jax.devices()),
        "platform": jax.devices()[0].platform,
        "n_params": net.n_params,
        "params_sha256": checkpoint.params_sha256(final),
        "gradcheck": gradcheck(net, final, data.x, targets(net, data.task, data.t)),
        "figures": figures(run, final, history),
    }
    summary["wall_seconds"] = wall_seconds
    checkpoint.write_atomic(run.out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def gradcheck(net: MLP, params, x, t, batch: int = GRADCHECK_BATCH) -> dict:
    """Hand backprop against ``jax.grad`` on the first ``batch`` examples, in float64:
    ``max_rel_err = max |hand - autodiff| / max |autodiff|`` over all parameters."""
    with jax.enable_x64(True):
        p64 = jax.tree.map(lambda a: jnp.asarray(np.asarray(a, np.float64)), params)
        xb = net.inputs(np.asarray(x[:batch]), jnp.float64)
        tb = net.targets(np.asarray(t[:batch]), xb.shape[0], jnp.float64)
        diff, scale = map(float, _hand_vs_autodiff(net, p64, xb, tb))
    rel = diff / scale if scale > 0 else diff
    return {
        "batch": int(xb.shape[0]),
        "dtype": "float64",
        "max_rel_err": rel,
        "ok": rel <= GRADCHECK_TOL,
    }


@functools.partial(jax.jit, static_argnums=0)
def _hand_vs_autodiff(net, params, x, t):
    hand = backprop.value_and_grad(net, params, x, t)[1]
    auto = jax.grad(lambda p: backprop.cost_of(net, backprop.forward(net, p, x), t))(params)
    leaves = zip(jax.tree.leaves(hand), jax.tree.leaves(auto))
    diff = jnp.max(jnp.stack([jnp.max(jnp.abs(h - a)) for h, a in leaves]))
    scale = jnp.max(jnp.stack([jnp.max(jnp.abs(a)) for a in jax.tree.leaves(auto)]))
    return diff, scale


def figures(run: Run, params, history) -> list[str]:
    """The loss and accuracy curves, and the decision boundary of 2-D classification data."""
    data, net, out = run.data, run.net, run.out
    if not plots.available():
        return []
    paths = plots.curves(history, out)
    if data.x.shape[1] == 2 and data.task in ("binary", "multiclass"):
        labels = np.asarray(data.t).reshape(len(data.t), -1)[:, 0].astype(np.int32)
        title = f"{data.name}: decision boundary"
        paths.append(
            plots.decision_boundary(net, params, data.x, labels, out / "boundary.png", title=title)
        )
    return [p.name for p in paths]


def closing(summary: dict, out) -> str:
    parts = []
    for split in ("train", "val", "test"):
        if f"{split}_accuracy" in summary:
            parts.append(f"{split}_accuracy {summary[f'{split}_accuracy']:.4f}")
        elif f"{split}_loss" in summary:
            parts.append(f"{split}_loss {summary[f'{split}_loss']:.4g}")
    speed = summary["examples_per_second"]
    rate = f", {speed:,.0f} examples/s" if speed else ""
    return (
        f"{summary['status']} after {summary['epochs']} epochs: {', '.join(parts)} "
        f"({summary['wall_seconds']:.1f} s{rate}); gradcheck max_rel_err "
        f"{summary['gradcheck']['max_rel_err']:.1e}; wrote {out}"
    )


def diverged(error: Diverged, run: Run, saved_epoch, wall_seconds: float) -> RunStopped:
    """The diverged run's summary.json, and the error that tells the user."""
    kept = (
        "no checkpoint was written"
        if saved_epoch is None
        else f"the last good checkpoint (epoch {saved_epoch}) is kept in {run.out}"
    )
    summary = {
        "status": "diverged",
        "diverged_epoch": error.epoch,
        "diverged_step": error.step,
        "wall_seconds": wall_seconds,
    }
    checkpoint.write_atomic(run.out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return RunStopped(
        f"training diverged at epoch {error.epoch}, step {error.step}: the loss or gradient "
        f"is not finite. Try a lower learning rate (--lr {run.optimizer.lr / 10:g}); {kept}.",
        3,
    )
