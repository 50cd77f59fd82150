"""Independent jobs (chunks of members) one after another, or up to ``workers`` at once on host
threads of their own (the cores of a CPU, which runs a population of tiny members on one core):
``finished`` gives each job's result in the calling thread as it finishes.

A job is a function of ``stop``, a callable it runs at its own safe points (before each compiled
call of epochs: ``population._train``); what ``stop`` raises ends it there. On threads, the
first error of any job (or of the caller, while it waits) stops the others too, at their next
safe point: a caller's ``stop`` that raises once (``interrupt.check`` takes the signal it acts
on) ended one job while the others trained on to their ends.

JAX's settings entered in a context (``jax.enable_x64``, ``jax.default_device``,
``jax.threefry_partitionable``, ``jax.debug_nans``, ...) are thread-local, and a thread does
not inherit them: each job runs under every one the caller has entered (read when ``finished``
begins), as it would one after another in the caller's thread. Every one of jax.config's, from
jax's own table of them (a list of five by hand lost the others), but ``NOT_INHERITED``; jax's
contexts that are no jax.config setting (``jax.set_mesh``'s, ``jax.make_user_context``'s) are
not carried.
"""

import contextlib
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from jax._src import config as jax_config  # (its settings, public one by one only)

NOT_INHERITED = {  # jax.config's name: why a worker does not take the caller's value
    "jax_thread_guard": "guards the thread that set it: a second one entering it raises",
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
            for setting, value in settings:
                stack.enter_context(setting(value))  # (jax's own context for each)
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


def _callers_settings() -> list:
    """``(setting, value)`` of each jax setting this thread has set in a context (its value
    here, not the global one), but ``NOT_INHERITED``."""
    settings = jax_config.config_states.items()  # every jax.config setting, by name
    unset = jax_config.config_ext.unset  # a setting's local value where none is
    return [
        (setting, value)
        for name, setting in settings
        if name not in NOT_INHERITED and (value := setting.get_local()) is not unset
    ]
