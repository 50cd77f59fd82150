"""Independent jobs (chunks of members) one after another, or up to ``workers`` at once on host
threads of their own (the cores of a CPU, which runs a population of tiny members on one core):
``finished`` gives each job's result in the calling thread as it finishes.

A job is a function of ``stop``, a callable it runs at its own safe points (before each compiled
call of epochs: ``population._train``); what ``stop`` raises ends it there. On threads, the
first error of any job (or of the caller, while it waits) stops the others too, at their next
safe point: a caller's ``stop`` that raises once (``interrupt.check`` takes the signal it acts
on) ended one job while the others trained on to their ends.

JAX's x64, default device, matmul precision and promotion rules are thread-local contexts
that a thread does not inherit: each job runs under the caller's (``INHERITED``, read when
``finished`` begins), as it would one after another in the caller's thread.
"""

import contextlib
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import jax

INHERITED = {  # jax's thread-local settings (jax.config's name: the context that sets one)
    "jax_enable_x64": jax.enable_x64,
    "jax_default_device": jax.default_device,
    "jax_default_matmul_precision": jax.default_matmul_precision,
    "jax_numpy_rank_promotion": jax.numpy_rank_promotion,
    "jax_numpy_dtype_promotion": jax.numpy_dtype_promotion,
}


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
    halt, settings = threading.Event(), _callers_settings()

    def guarded():  # every worker's ``stop``
        if halt.is_set():
            raise _Halted
        if stop is not None:
            stop()

    def run(job):
        with contextlib.ExitStack() as stack:
            for name, value in settings.items():
                stack.enter_context(INHERITED[name](value))
            return job(guarded)

    running, jobs = {}, enumerate(jobs)
    with ThreadPoolExecutor(workers, thread_name_prefix="jaxmlp-chunk") as pool:
        try:
            while True:
                while len(running) < workers and (taken := next(jobs, None)) is not None:
                    i, job = taken
                    running[pool.submit(run, job)] = i
                if not running:
                    return
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for f in sorted(done, key=running.get):
                    yield running.pop(f), f.result()
        except BaseException:
            halt.set()  # the others stop at their next safe point; the pool waits for them
            raise


def _callers_settings() -> dict:
    """This thread's value of each of ``INHERITED``."""
    values = {name: getattr(jax.config, name) for name in INHERITED}
    promotion = values["jax_numpy_dtype_promotion"]  # an enum, whose context takes its name
    values["jax_numpy_dtype_promotion"] = getattr(promotion, "value", promotion)
    return values
