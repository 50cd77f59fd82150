"""What a run tells the user: the banner, summary.json and its figures, the closing line, and
the message of a diverged run."""

import signal

import jax
import numpy as np

from jaxmlp import checkpoint, gradient_check, kinks, plots, probe, stopping
from jaxmlp.epochs import examples_per_epoch, steps_per_epoch
from jaxmlp.evaluation import evaluate
from jaxmlp.mlp import MLP
from jaxmlp.run import data, folder
from jaxmlp.run.settings import Run, command_line

GRADCHECK_BATCH = 256


class RunStopped(Exception):
    """A run that ended before its last epoch: ``status`` 3 (diverged) or 128 + signal number
    (interrupted); the message is one line for the user."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def banner(run: Run, first: int) -> str:
    ds, net = run.data, run.net
    sizes = "-".join(map(str, net.sizes))
    act = net.activation if isinstance(net.activation, str) else ",".join(net.activation)
    counts = ", ".join(f"{len(x)} {name}" for name, x, _ in data.splits(ds))
    start = f", resuming at epoch {first}" if first else ""
    return (
        f"{ds.name} ({ds.task}; {counts}): MLP {sizes} {act} -> {net.output}/{net.loss}, "
        f"{net.n_params} params, {run.config.epochs} epochs{start} -> {run.out}"
    )


def summarize(
    run: Run, state, final, history, wall_seconds: float, warnings=(), *, devices: int
) -> dict:
    """The run's summary, also written to summary.json (with its figures); ``warnings``: what
    the run said on stderr that the reader of its results must know; ``devices``: how many it
    trained on; into the folder the run locked (``folder.check_held``)."""
    folder.check_held(run.out)
    ds, net, config = run.data, run.net, run.config
    summary = {"status": "finished" if state.epoch >= config.epochs else "early_stopped"}
    for split, x, t in data.splits(ds):
        result = evaluate(net, final, x, data.targets(net, ds.task, t))
        summary[f"{split}_loss"] = result["loss"]
        if result["accuracy"] is not None:
            summary[f"{split}_accuracy"] = result["accuracy"]
    n = len(ds.x_train)
    batch = config.batch(n)
    steps = steps_per_epoch(n, batch, config.drop_last)
    seen = examples_per_epoch(n, batch, config.drop_last)
    seconds = sum(r["seconds"] for r in history)
    typical = float(np.median([r["seconds"] for r in history])) if history else 0.0
    summary |= {
        "epochs": state.epoch,
        "params_epoch": stopping.params_epoch(state, config),  # of the metrics above: the best
        "epochs_planned": config.epochs,
        "steps": state.epoch * steps,
        "train_seconds": seconds,
        # a typical epoch's throughput: the median ignores the first epochs, which compile
        "examples_per_second": seen / typical if typical > 0 else None,
        "devices": devices,
        **machine(),
        "n_params": net.n_params,
        "params_sha256": checkpoint.params_sha256(final),
        "gradcheck": gradcheck(net, final, ds.x_train, data.targets(net, ds.task, ds.t_train)),
        "figures": figures(run, final, history),
    }
    summary["warnings"] = list(warnings)
    summary["wall_seconds"] = wall_seconds
    folder.write_json(run.out / "summary.json", summary)
    return summary


def machine() -> dict:
    """What a run's numbers were measured on: the default device's ``platform`` (cpu, gpu,
    tpu) and ``device_kind`` (the chip's name, as the benchmarks record it)."""
    device = jax.devices()[0]
    return {"platform": device.platform, "device_kind": device.device_kind}


def gradcheck(net: MLP, params, x, t, batch: int = GRADCHECK_BATCH) -> dict:
    """``jaxmlp.gradcheck`` of the trained parameters on the first ``batch`` examples, in
    float64: ``max_rel_err`` and ``ok`` compare hand backprop with autodiff, ``fd_rel_err`` and
    ``fd_ok`` with finite differences, on the examples clear of the cost's kinks: ``excluded``
    counts those left out (``Report.excluded``); where every one is, the four are None;
    ``fd_ok`` is None too where the finite differences carry no verdict (``Report.fd_roundoff``)."""
    with jax.enable_x64(True):
        p64 = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
        t = np.asarray(t[:batch])
        t = t if np.issubdtype(t.dtype, np.integer) else t.astype(np.float64)
        try:
            found = gradient_check.gradcheck(net, p64, np.asarray(x[:batch], np.float64), t)
        except kinks.AtKinks:  # every example at a kink (exact fits of mae): nothing to check
            none = dict.fromkeys(("max_rel_err", "ok", "fd_rel_err", "fd_ok"))
            return {"batch": len(t), "excluded": len(t), "dtype": "float64"} | none
    fd_ok = [row.ok_fd for row in found.rows]
    return {
        "batch": len(t),
        "excluded": len(found.excluded),
        "dtype": found.dtype,
        "method": found.method,
        "max_rel_err": found.rel_err_autodiff,
        "ok": all(row.ok_autodiff for row in found.rows),
        "fd_rel_err": found.rel_err_fd,
        "fd_ok": None if None in fd_ok else all(fd_ok),
    }


def figures(run: Run, params, history) -> list[str]:
    """The loss and accuracy curves, and the decision boundary of 2-D classification data."""
    ds, net, out = run.data, run.net, run.out
    if not plots.available():
        return []
    paths = plots.curves(history, out)
    if ds.n_features == 2 and ds.task in ("binary", "multiclass"):
        labels = np.asarray(ds.t_train).reshape(len(ds.t_train), -1)[:, 0].astype(np.int32)
        title = f"{ds.name}: decision boundary"
        paths.append(
            plots.decision_boundary(
                net, params, ds.x_train, labels, out / "boundary.png", title=title
            )
        )
    return [p.name for p in paths]


def closing(summary: dict, out) -> str:
    parts = []
    for split in ("train", "val", "test"):
        if f"{split}_accuracy" in summary:
            parts.append(f"{split}_accuracy {summary[f'{split}_accuracy']:.4f}")
        elif f"{split}_loss" in summary:
            parts.append(f"{split}_loss {summary[f'{split}_loss']:.4g}")
    speed, err = summary["examples_per_second"], summary["gradcheck"]["max_rel_err"]
    rate = f", {speed:,.0f} examples/s" if speed else ""
    return (
        f"{summary['status']} after {summary['epochs']} epochs: {', '.join(parts)} "
        f"({summary['wall_seconds']:.1f} s{rate}); gradcheck max_rel_err "
        f"{'- (every example at a kink)' if err is None else f'{err:.1e}'}; wrote {out}"
    )


def late_signal(summary: dict | None, signum: int) -> str:
    """The note of a run (its ``summary``; None: a sweep) that a signal reached once its
    training had finished: it stopped nothing, the run is complete."""
    if summary is None:
        done, wrote = "the sweep's last chunk", "report"
    elif summary["status"] == "finished":
        done, wrote = f"the run had finished its {summary['epochs']} epochs", "summary"
    else:
        done = f"the run had stopped early at epoch {summary['epochs']}"
        done, wrote = f"{done} of {summary['epochs_planned']}", "summary"
    return (
        f"note: {signal.Signals(signum).name} came after {done}: nothing was stopped; its "
        f"{wrote} is written"
    )


def diverged(run: Run, epoch: int, reason: str, kept_epoch, wall_seconds: float) -> RunStopped:
    """The diverged run's summary.json, and the error that tells the user: where it diverged,
    why, the checkpoint kept (the last good one) and a command that continues from its weights
    with a tenth of the learning rate (``--init-from``)."""
    folder.check_held(run.out)  # (a folder made again meanwhile is not the run's)
    retry = None
    if kept_epoch is not None:
        lr = float(f"{run.optimizer.lr / 10:.6g}")
        retry = command_line(run.settings | {"lr": lr, "init_from": str(run.out)}, _next(run.out))
    summary = {
        "status": "diverged",
        "diverged_epoch": epoch,
        "reason": reason,
        "kept_epoch": kept_epoch,
        "retry": retry,
        "wall_seconds": wall_seconds,
    }
    folder.write_json(run.out / "summary.json", summary)
    if retry is None:
        lower = f" Try a lower learning rate (--lr {run.optimizer.lr / 10:g})."
        return RunStopped(
            f"training diverged at epoch {epoch}: {reason}; no checkpoint was written."
            + lower * (probe.NO_LEARNING_RATE not in reason),  # the start's loss: its data
            3,
        )
    return RunStopped(
        f"training diverged at epoch {epoch}: {reason}. The last good checkpoint (epoch "
        f"{kept_epoch}) is kept in {run.out}; to go on from its weights with a lower learning "
        f"rate: {retry}",
        3,
    )


def _next(out):
    """``out``-2 (or -3, ...): a folder for the retry that holds nothing yet."""
    for i in range(2, 1000):
        candidate = out.with_name(f"{out.name}-{i}")
        if not candidate.exists():
            return candidate
    return out.with_name(f"{out.name}-retry")
