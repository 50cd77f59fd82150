"""Independent jobs (chunks of members) one after another, or up to ``workers`` at once on host
threads of their own (the cores of a CPU, which runs a population of tiny members on one core):
``finished`` gives each job's result in the calling thread as it finishes.

A job is a function of ``stop``, a callable it runs at its own safe points (before each compiled
call of epochs: ``population._train``); what ``stop`` raises ends it there. On threads, the
first error of any job (or of the caller, while it waits) stops the others too, at their next
safe point: a caller's ``stop`` that raises once (``interrupt.check`` takes the signal it acts
on) ended one job while the others trained on to their ends.

JAX's x64 and default-device settings are thread-local contexts that a thread does not
inherit: a job enters what it computes under itself, or is compiled in the calling thread
(``population._compiled``).
"""

import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait


class _Halted(Exception):
    """A job stopped because another one (or the caller) failed: its error is the one raised."""


def finished(jobs, workers: int, stop=None):
    """``(i, result)`` of each of ``jobs`` (an iterator of functions of ``stop``, each taken in
    this thread when a worker is free, so that at most ``workers`` are held), as they finish:
    in order, one after another here, when ``workers`` is 1. Close the generator (``with
    contextlib.closing(...)``) where its caller may stop early: the running jobs then stop at
    their next safe point, and it returns once they have."""
    if workers == 1:
        for i, job in enumerate(jobs):
            yield i, job(stop)
        return
    halt = threading.Event()

    def guarded():  # every worker's ``stop``
        if halt.is_set():
            raise _Halted
        if stop is not None:
            stop()

    running, jobs = {}, enumerate(jobs)
    with ThreadPoolExecutor(workers, thread_name_prefix="jaxmlp-chunk") as pool:
        try:
            while True:
                while len(running) < workers and (taken := next(jobs, None)) is not None:
                    i, job = taken
                    running[pool.submit(job, guarded)] = i
                if not running:
                    return
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for f in sorted(done, key=running.get):
                    yield running.pop(f), f.result()
        except BaseException:
            halt.set()  # the others stop at their next safe point; the pool waits for them
            raise
