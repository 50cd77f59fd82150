"""Recording a run while ``fit`` trains it: each epoch's line in metrics.jsonl, the checkpoint
cadence, the divergence rule, the progress display, and SIGINT / SIGTERM.

``Recorder`` is fit's callback; it holds a ``Saver`` (the checkpoint and when it is due) and a
``jaxmlp.progress.Progress`` (what the user sees, as ``fit(..., progress=True)`` shows it).
metrics.jsonl and checkpoint.npz are written together, each atomically, the log first, into the
folder the run locked (``folder.check_held``: not one made again meanwhile): the log
holds the epochs of the checkpoint, no fewer (more after a kill between the two writes: a resume
drops them), and the checkpoint records the SHA-256 of the log's lines of its epochs, which a
resume compares (``folder.read_metrics``).

The divergence rule: a run has diverged once an epoch's training or validation loss is not
finite, or its training loss exceeds ``EXPLOSION`` (1e4) times the initial loss (that of the
initial parameters on the training set), or its state, when saved, is not what a checkpoint may
hold (parameters or optimizer state not finite: ``checkpoint_checks.non_finite``), or its
parameters do not give a finite loss on the first ``probe.PROBE`` training examples (the rule
``fit`` applies to the state it ends with, ``jaxmlp.probe``; a state saved before the end must
pass it too). Only states and losses that pass are saved, so the kept checkpoint is the last
good one: finite and evaluable.
"""

import contextlib
import math
import signal
import time

from jaxmlp import checkpoint, interrupt, probe
from jaxmlp.arrays import as_arrays, storage_dtype
from jaxmlp.checkpoint_checks import non_finite
from jaxmlp.evaluation import evaluate
from jaxmlp.progress import Progress
from jaxmlp.resume import finished
from jaxmlp.run import data, folder
from jaxmlp.run.settings import Run

SAVE_SHARE = 0.1  # at most this share of a run's time goes to regular checkpoints
EXPLOSION = 1e4  # a training loss this many times the initial loss: diverged


class Saver:
    """Writes the checkpoint, with the standardizer and the run's wall time beside the state;
    ``epoch`` is that of the checkpoint on disk (None: none yet).

    A durable save (write, fsync, rename, fsync) takes ~5-20 ms. By default every epoch is
    saved, except that epochs much shorter than a save are grouped: a save is due once
    ``SAVE_SHARE`` of the time since the last one pays for it (at most ~10 % overhead; a crash
    loses at most ~10 save-times of work). Epochs of a tenth of a second and more are each
    saved; XOR's 5000 one-step epochs take dozens of saves, not 5000. ``checkpoint_every = N``
    saves exactly every N-th epoch instead.
    """

    def __init__(self, run: Run, state, wall_before: float, started: float, facts: dict):
        self.path = run.out / "checkpoint.npz"
        self.net, self.optimizer, self.config = run.net, run.optimizer, run.config
        self.every = run.settings["checkpoint_every"]
        scaler = run.data.info["standardizer"]
        self.extra = {} if scaler is None else dict(scaler._asdict())
        self.facts = {"data_sha256": data.sha256(run.data)} | facts  # kept in the metadata
        self.wall_before, self.started = wall_before, started
        self.epoch = None if state is None else state.epoch
        self.last_end, self.last_cost = time.perf_counter(), 0.0

    def due(self, epoch: int) -> bool:
        """Whether the regular save after ``epoch`` is due."""
        return save_due(epoch, self.every, time.perf_counter() - self.last_end, self.last_cost)

    def wall_seconds(self) -> float:
        return self.wall_before + time.perf_counter() - self.started

    def save(self, state, log_sha256: str, arrays=None):
        """Save ``state``, recording ``log_sha256`` (``folder.log_sha256``: of metrics.jsonl's
        lines of its epochs, written just before); ``arrays``: its ``state_arrays``, if made."""
        start = time.perf_counter()
        checkpoint.save(
            self.path, state, net=self.net, optimizer=self.optimizer, config=self.config,
            extra=self.extra, run_id=self.facts.get("run_id"), arrays=arrays,
            extra_meta={"wall_seconds": self.wall_seconds(), **self.facts,
                        "metrics_sha256": log_sha256},
        )  # fmt: skip
        self.epoch = state.epoch
        self.last_end = time.perf_counter()
        # epoch 0's save does not count: the first trained epoch is saved as well
        self.last_cost = self.last_end - start if state.epoch else 0.0


def save_due(epoch: int, every: int | None, waited: float, last_cost: float) -> bool:
    """Every ``every``-th epoch; with ``every`` None, once the ``waited`` seconds since the last
    save reach ``last_cost / SAVE_SHARE`` (``last_cost``: that save's duration)."""
    if every is not None:
        return epoch % every == 0
    return SAVE_SHARE * waited >= last_cost


class Recorder:
    """fit's callback: logs each epoch to the progress display, saves metrics.jsonl and the
    checkpoint when ``Saver.due``, at the end, when patience runs out and on a signal; stops
    fit once a signal number is in ``stop`` or the run has ``diverged`` (then ``(epoch,
    reason)``)."""

    def __init__(self, run: Run, saver: Saver, history: list, progress, initial_loss):
        self.config, self.saver, self.history = run.config, saver, history
        self.optimizer = run.optimizer
        self.metrics_path = run.out / "metrics.jsonl"
        self.lines = [folder.to_json(r) + "\n" for r in history]
        self.initial_loss = initial_loss
        self.net, ds = run.net, run.data  # the probe: a fixed batch each save must evaluate
        t = data.targets(run.net, ds.task, ds.t_train[: probe.PROBE])
        dtype = storage_dtype(run.config.dtype)  # the parameters' (the checkpoint's)
        self.probe = as_arrays(run.net, ds.x_train[: probe.PROBE], t, dtype)
        self.sample = (ds.x_train[: probe.PROBE], t, len(ds.x_train))  # for ``exploded``
        self.bar = Progress(run.config.epochs, saver.epoch or 0, progress)
        self.stop: list[int] = []
        self.diverged: tuple[int, str] | None = None

    def __call__(self, record, state) -> bool:
        self.history.append(record)
        self.lines.append(folder.to_json(record) + "\n")
        self.bar.update(record)
        reason = divergence(record, self.initial_loss)
        if reason is not None:
            self.diverged = (record["epoch"], reason)
        elif self.stop or finished(state, self.config) or self.saver.due(state.epoch):
            self.save(state)
        return bool(self.stop) or self.diverged is not None

    def save(self, state) -> bool:
        """Save metrics.jsonl and the checkpoint at ``state`` if its parameters and optimizer
        state are finite and the parameters evaluable; else mark the run diverged and keep the
        last checkpoint."""
        arrays = checkpoint.state_arrays(state)  # on the host once: checked here, then saved
        bad = non_finite(arrays, self.optimizer)  # what a checkpoint cannot hold
        if bad is not None:
            self.diverged = (state.epoch, not_finite(*bad))
            return False
        if not probe.evaluable(self.net, state.params, *self.probe):
            self.diverged = (state.epoch, probe.reason(len(self.probe[0])))
            return False
        # (epoch 0's are the initial parameters, the rule's reference: on the probe only, a
        # data set sorted by its targets might put them over it)
        reason = state.epoch and exploded(self.net, state.params, self.sample, self.initial_loss)
        if reason:
            self.diverged = (state.epoch, reason)
            return False
        folder.check_held(self.metrics_path.parent)  # still the run's folder
        checkpoint.write_atomic(self.metrics_path, "".join(self.lines))
        self.saver.save(state, folder.log_sha256(self.lines[: state.epoch]), arrays)
        return True

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.bar.close()


def divergence(record: dict, initial_loss: float | None) -> str | None:
    """Why the epoch of ``record`` shows a diverged run (see the module docstring), or None."""
    for name in ("train_loss", "val_loss"):
        value = record.get(name)
        if value is not None and not math.isfinite(value):
            return f"the {name.replace('_', ' ')} is not finite"
    loss = record.get("train_loss")
    if initial_loss and loss is not None and loss > EXPLOSION * initial_loss:
        return (
            f"the training loss {loss:.3g} exceeds {EXPLOSION:g} x the initial loss "
            f"{initial_loss:.3g}"
        )
    return None


def exploded(net, params, sample: tuple, initial_loss: float | None) -> str | None:
    """Why ``params`` show a diverged run by the explosion rule (module docstring), or None:
    their loss on the probe ``sample`` (``x``, ``t`` and the training set's size ``n``: with
    ``reduction="sum"`` the loss of ``len(x)`` examples, scaled to ``n``) exceeds ``EXPLOSION``
    times the ``initial_loss``."""
    x, t, n = sample
    if not initial_loss or not len(x):
        return None
    summed = net.reduction == "sum"
    loss = evaluate(net, params, x, t)["loss"] * (n / len(x) if summed else 1)
    if not loss > EXPLOSION * initial_loss:
        return None
    scaled = f" (scaled to the {n} of the training set)" if summed and n != len(x) else ""
    return (
        f"the parameters give the first {len(x)} training example{'s' * (len(x) > 1)} a loss "
        f"of {loss:.3g}{scaled}, over {EXPLOSION:g} x the initial loss {initial_loss:.3g}"
    )


def not_finite(name: str, count: int) -> str:
    """Why a state whose array ``name`` (as ``checkpoint.state_arrays`` names it) holds
    ``count`` NaN or Inf values shows a diverged run."""
    tree = name.split("/")[0]
    if tree == "params":
        return "the parameters are not finite (an update overflowed)"
    what = {"best_params": "the best parameters are", "opt_state": "the optimizer state is"}[tree]
    return f"{what} not finite ({name} holds {count} NaN or Inf values: an update overflowed)"


@contextlib.contextmanager
def signals(stop: list, enabled: bool):
    """SIGINT and SIGTERM append their number to ``stop``; a second one acts as usual. A
    signal received before, which Python dropped (``interrupt``), is in ``stop`` from the
    start; with one in ``stop`` already, the handlers are left as they are: the next is the
    second."""
    if enabled:
        stop.extend(interrupt.take())
    if not enabled or stop:
        yield
        return
    previous = {}

    def handler(signum, frame):
        del frame
        stop.append(signum)
        interrupt.RECEIVED.append(signum)  # a second one: interrupt's handler stops at once
        signal.signal(signum, previous[signum])

    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
