"""Ctrl-C and SIGTERM in the ``jaxmlp`` command (no JAX here: ``install`` runs before anything
heavy is imported, ``jaxmlp.__main__``).

A first SIGINT or SIGTERM only records its number in ``PENDING``; the command acts on it at its
next safe point (``check``: after the imports and before the command; ``record.signals``: the
run saves its checkpoint and stops; a sweep between a chunk's compiled calls of epochs,
abandoning that chunk, whose resume trains it). A second one stops the process at
once, by the signal's default action. The handler raises nothing: a KeyboardInterrupt raised
while native code runs Python (a C extension being imported, XLA compiling, JAX's
garbage-collector callback) crashed the process (SIGSEGV, abort) or was dropped ("Exception
ignored in _xla_gc_callback") and the command ran on to exit 0. Commands without safe points
(evaluate, predict, gradcheck) take Python's ordinary KeyboardInterrupt after the imports
(``raising``).
"""

import os
import signal

SIGNALS = (signal.SIGINT, signal.SIGTERM)
PENDING: list[int] = []  # received, not yet acted on
RECEIVED: list[int] = []  # received in all (record.signals' handler notes its own here)


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM (``signum``) stopped the command; its exit status is ``status``."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum, self.status = signum, 128 + signum


def install() -> None:
    """SIGINT and SIGTERM: the first recorded in ``PENDING``, a second one fatal."""
    for signum in SIGNALS:
        signal.signal(signum, _handler)


def _handler(signum, frame):
    del frame
    if RECEIVED:  # the second: the user insists
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    RECEIVED.append(signum)
    PENDING.append(signum)


def raising() -> None:
    """Where ``install`` ran: SIGINT and SIGTERM raise ``Interrupted`` where Python runs (a
    pending one at once)."""
    if signal.getsignal(signal.SIGINT) is not _handler:  # not the command: leave them be
        return

    def handler(signum, frame):
        del frame
        raise Interrupted(signum)

    for signum in SIGNALS:
        signal.signal(signum, handler)
    check()


def take() -> list[int]:
    """The signal numbers received and not yet acted on (emptied)."""
    pending = list(PENDING)
    PENDING.clear()
    return pending


def check() -> None:
    """Raise ``Interrupted`` if a signal is pending (``take``)."""
    pending = take()
    if pending:
        raise Interrupted(pending[0])


def status(error: BaseException) -> int:
    """The exit status of a command stopped by ``error`` (a KeyboardInterrupt): 128 + its
    signal's number (SIGINT's 130 when it has none)."""
    return getattr(error, "status", 128 + signal.SIGINT)
