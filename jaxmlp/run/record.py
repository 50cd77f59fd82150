"""Recording a run while ``fit`` trains it: each epoch's line in metrics.jsonl, the checkpoint
cadence, the progress display, and SIGINT / SIGTERM.

``Recorder`` is fit's callback; it holds a ``Saver`` (the checkpoint and when it is due) and a
``jaxmlp.progress.Progress`` (what the user sees, as ``fit(..., progress=True)`` shows it).
"""

import contextlib
import os
import signal
import time

from jaxmlp import checkpoint
from jaxmlp.progress import Progress
from jaxmlp.run import data, folder
from jaxmlp.run.settings import Run

SAVE_SHARE = 0.1  # at most this share of a run's time goes to regular checkpoints


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

    def __init__(self, run: Run, state, wall_before: float, started: float):
        self.path = run.out / "checkpoint.npz"
        self.net, self.optimizer, self.config = run.net, run.optimizer, run.config
        self.every = run.settings["checkpoint_every"]
        scaler = run.data.info["standardizer"]
        self.extra = {} if scaler is None else dict(scaler._asdict())
        self.data_sha256 = data.sha256(run.data)
        self.wall_before, self.started = wall_before, started
        self.epoch = None if state is None else state.epoch
        self.last_end, self.last_cost = time.perf_counter(), 0.0

    def due(self, epoch: int) -> bool:
        """Whether the regular save after ``epoch`` is due."""
        return save_due(epoch, self.every, time.perf_counter() - self.last_end, self.last_cost)

    def wall_seconds(self) -> float:
        return self.wall_before + time.perf_counter() - self.started

    def save(self, state):
        start = time.perf_counter()
        checkpoint.save(
            self.path, state, net=self.net, optimizer=self.optimizer, config=self.config,
            extra=self.extra,
            extra_meta={"wall_seconds": self.wall_seconds(), "data_sha256": self.data_sha256},
        )  # fmt: skip
        self.epoch = state.epoch
        self.last_end = time.perf_counter()
        self.last_cost = self.last_end - start


def save_due(epoch: int, every: int | None, waited: float, last_cost: float) -> bool:
    """Every ``every``-th epoch; with ``every`` None, once the ``waited`` seconds since the last
    save reach ``last_cost / SAVE_SHARE`` (``last_cost``: that save's duration)."""
    if every is not None:
        return epoch % every == 0
    return SAVE_SHARE * waited >= last_cost


class Recorder:
    """fit's callback: logs each epoch to metrics.jsonl and the progress display, saves the
    checkpoint when ``Saver.due``, at the end, when patience runs out and on a signal, and
    stops fit once a signal number is in ``stop``."""

    def __init__(self, run: Run, saver: Saver, history: list, progress):
        self.config, self.saver, self.history = run.config, saver, history
        self.metrics = open(run.out / "metrics.jsonl", "a")  # noqa: SIM115 (closed by __exit__)
        self.bar = Progress(run.config.epochs, saver.epoch or 0, progress)
        self.stop: list[int] = []

    def __call__(self, record, state) -> bool:
        self.metrics.write(folder.to_json(record) + "\n")
        self.metrics.flush()
        self.history.append(record)
        self.bar.update(record)
        if self.stop or finished(state, self.config) or self.saver.due(state.epoch):
            os.fsync(self.metrics.fileno())  # the log is durable before the checkpoint is
            self.saver.save(state)
        return bool(self.stop)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.bar.close()
        self.metrics.close()


def finished(state, config) -> bool:
    """Whether the run of ``config`` is over at ``state``: all epochs, or patience ran out."""
    patience_out = bool(config.early_stopping) and state.bad_epochs >= config.early_stopping
    return state.epoch >= config.epochs or patience_out


@contextlib.contextmanager
def signals(stop: list, enabled: bool):
    """SIGINT and SIGTERM append their number to ``stop``; a second one acts as usual."""
    if not enabled:
        yield
        return
    previous = {}

    def handler(signum, frame):
        del frame
        stop.append(signum)
        signal.signal(signum, previous[signum])

    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
