"""What a user sees while a network trains, for ``jaxmlp train`` and ``fit(..., progress=True)``
alike: a progress bar over epochs on a terminal, periodic plain lines elsewhere (CI, nohup,
pipes, a notebook's log).

The first epoch waits for XLA to compile the training step; the display says so ("compiling")
until that epoch ends. The bar's line fits 80 columns with the validation metrics on it.

An output whose reader has gone (a closed pipe: ``jaxmlp train ... | head -1``) goes quiet
(``say``, ``quiet``): it is what the user sees, never the run's result, so the run goes on.
"""

import contextlib
import os
import sys
import time

from jaxmlp.resume import finished

MODES = ("bar", "lines")
LINE_SECONDS = 10.0  # plain lines: at most one per this many seconds, plus the first and last
BAR_FORMAT = "epoch {n_fmt}/{total_fmt} {bar:10} {elapsed}<{remaining}{postfix}"


class Progress:
    """A display of a run of ``total`` epochs that starts after epoch ``initial``.

    ``mode``: "bar" (tqdm; plain lines where tqdm is missing), "lines", True (a bar when stdout
    is a terminal, else lines), or False / None (nothing). Without a stream (stdout closed
    from the start: Python's ``sys.stdout`` is None) it shows nothing.
    """

    def __init__(self, total: int, initial: int = 0, mode="bar", stream=None):
        self.stream = stream or sys.stdout
        if self.stream is None:
            mode = None
        if mode is True:
            mode = "bar" if self.stream.isatty() else "lines"
        self.total, self.mode, self.bar, self.unshown = total, mode or None, None, None
        self.last_line, self.started = -LINE_SECONDS, time.perf_counter()
        if self.mode == "bar":
            try:
                from tqdm import tqdm
            except ImportError:
                self.mode = "lines"
            else:
                with self._quiet_on_epipe():
                    self.bar = tqdm(total=total, initial=initial, file=self.stream, ncols=80,
                                    bar_format=BAR_FORMAT, postfix="compiling...")  # fmt: skip
        if self.mode == "lines" and initial < total:
            say(f"epoch {initial}/{total}  compiling...", self.stream)

    @contextlib.contextmanager
    def _quiet_on_epipe(self):
        """The bar's writes: where its reader has gone, the bar goes quiet (``quiet``)."""
        try:
            yield
        except BrokenPipeError:
            quiet(self.stream)
            if self.bar is not None:
                self.bar.disable = True  # (its close would write again)
            self.bar, self.mode = None, None

    def update(self, record: dict) -> None:
        """Show the epoch of ``record`` (a history record of ``fit``)."""
        if self.bar is not None:
            with self._quiet_on_epipe():
                self.bar.set_postfix_str(metrics(record), refresh=False)
                self.bar.update(1)
        elif self.mode == "lines":
            now = time.perf_counter()
            last = record["epoch"] >= self.total
            self.unshown = record
            if last or record["epoch"] == 1 or now - self.last_line >= LINE_SECONDS:
                self._line(now)

    def _line(self, now: float) -> None:
        record, self.unshown, self.last_line = self.unshown, None, now
        elapsed = f"{now - self.started:.0f} s"
        line = f"epoch {record['epoch']}/{self.total}  {metrics(record)}  ({elapsed})"
        say(line, self.stream)

    def close(self) -> None:
        """End the display: the bar closed; in plain lines, the last epoch's line shown (a run
        that stopped early, or was stopped, ends on the epoch it reached)."""
        if self.bar is not None:
            with self._quiet_on_epipe():
                self.bar.close()
            self.bar = None
        if self.unshown is not None:
            self._line(time.perf_counter())


def say(line: str, stream=None) -> None:
    """Print ``line`` to ``stream`` (stdout), flushed: what ``jaxmlp train`` and ``sweep`` tell
    the user. Where the reader has gone (EPIPE), the stream goes quiet (``quiet``) and the run
    goes on: a write that failed stopped it with "Broken pipe" (exit 2), at its first progress
    line, or once finished, its summary written."""
    stream = stream or sys.stdout
    try:
        print(line, file=stream, flush=True)
    except BrokenPipeError:
        quiet(stream)


def quiet(stream) -> None:
    """Send what ``stream``, whose reader has gone, is given from now on to the null device
    (no later write, nor the interpreter's last flush, fails), and say so once on stderr."""
    with contextlib.suppress(OSError, ValueError, AttributeError):  # (no descriptor: it stays)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)
    if not QUIETED:
        QUIETED.append(stream)
        name = "stdout" if stream in (sys.stdout, sys.__stdout__) else "the progress output"
        with contextlib.suppress(OSError, ValueError):
            print(f"warning: {name} was closed (its reader has gone): the run goes on without "
                  "it, its results are in its folder", file=sys.stderr, flush=True)  # fmt: skip


# The stream that went quiet (``quiet``), once said. The process's, as the stream is: stdout,
# whose descriptor ``quiet`` points at the null device for every writer (``say`` has no owner).
QUIETED: list = []


def metrics(record: dict) -> str:
    """The epoch's losses and accuracies, short: ``loss 0.1234 acc 0.9512 | val 0.1401 0.948``
    (validation loss, then accuracy)."""

    def value(key):
        v = record.get(key)
        return None if v is None else f"{v:.4g}"

    shown = [f"{name} {value(key)}" for name, key in (("loss", "train_loss"),
             ("acc", "train_accuracy")) if value(key) is not None]  # fmt: skip
    val = [value(key) for key in ("val_loss", "val_accuracy") if value(key) is not None]
    return " ".join(shown + (["| val", *val] if val else []))


def callback(config, initial: int, mode, user=None):
    """``fit``'s callback that shows each epoch of the run of ``config`` (a ``TrainConfig``),
    then calls the ``user``'s callback (if any) and returns its answer; the display ends where
    the run does (``resume.finished``: its last epoch, patience, a stall) or the answer stops
    it. None when ``mode`` is off."""
    if not mode:
        return user
    display = Progress(config.epochs, initial, mode)

    def show(record, state):
        display.update(record)
        stop = bool(user and user(record, state))
        if stop or finished(state, config):
            display.close()
        return stop

    return show
