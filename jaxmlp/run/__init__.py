"""A training run on disk: what ``jaxmlp train`` writes, ``--resume`` continues, ``jaxmlp
evaluate`` and ``jaxmlp predict`` read, and ``load_run`` / ``save_run`` exchange with Python.
The command line imports only this package.

The protocol: a run flows

    settings -> data -> (net, optimizer, config) -> fit(callback) -> run folder

``settings.merge`` lays the given settings over ``DEFAULTS`` (or a resumed run's own);
``data.load_data`` reads the ``datasets.Dataset`` (a file by its absolute path, its SHA-256
kept), splits off validation by ``datasets.validation_split`` and standardises it;
``settings.build`` makes the network, optimizer and train config (an output that decides by
another rule than the task predicts by is refused: ``tasks``). The resolved settings are
then checked: a given flag the setup ignores is refused (``check_used``), and a resumed run's
given settings must resolve to its own (``check_resume``; ``epochs`` may grow). These travel
together as one ``settings.Run`` record.
``trainer.train`` calls ``jaxmlp.fit`` with ``record.Recorder`` as its callback (metrics.jsonl,
checkpoint cadence, progress, signals); ``report`` writes summary.json, the figures and the
closing line; ``folder`` owns the run folder's files, ``place`` its name (a default one made
atomically), its lock and the temporaries a killed write left. Reading back:
``model.load_run`` gives a ``Model`` (standardiser, column and class names applied), which
``predict.predict_run`` and ``predict.evaluate_run`` use; CSV columns are matched by name
(``model.column_order``); ``names`` checks the class names and the prediction columns they make.
``cache`` points JAX's persistent compilation cache at the user's cache folder.
``status`` says where a run folder stands (the checkpoint's epoch; finished, diverged,
interrupted or running) and which files it owns.
``sweeper.sweep`` runs many members of one network as populations into one folder (``jaxmlp
sweep``), saving each finished chunk of them (``chunks``).

A run is a function of its settings: the data, its split, the initial parameters and each
epoch's shuffling all derive from ``seed``, so a run resumed from its checkpoint ends with
bitwise the parameters of an uninterrupted one.

A train or resume holds the folder's lock (``folder.lock``) throughout, checks everything before
it writes anything (a refused command leaves the folder as it was), saves epoch 0 first, and
saves only finite parameters and losses within the divergence rule's bound (``record.exploded``
judges a saved state's own): ``record.divergence`` stops a diverged run, which
``report.diverged`` closes with exit 3 and a retry from the kept weights (``--init-from``).
config.json's ``run_id`` (``folder.run_id``) and ``initial_loss`` are in every checkpoint of the
run.
"""

from jaxmlp import datasets as _datasets
from jaxmlp import gradient_check as _gradient_check
from jaxmlp.progress import Progress
from jaxmlp.run import cache, status
from jaxmlp.run.data import load_data, targets
from jaxmlp.run.folder import to_json, write_json
from jaxmlp.run.model import Model, load_run, save_run
from jaxmlp.run.opening import open_run
from jaxmlp.run.predict import (
    check_output,
    evaluate_run,
    predict_run,
    read_inputs,
    write_predictions,
)
from jaxmlp.run.record import save_due
from jaxmlp.run.report import RunStopped, gradcheck
from jaxmlp.run.settings import AUTO_TASK_RULE, DEFAULTS, Run, build, choices
from jaxmlp.run.sweep_lists import seed_list, value_list
from jaxmlp.run.sweeper import SWEPT, SweepInterrupted, sweep
from jaxmlp.run.trainer import train

__all__ = [
    "AUTO_TASK_RULE",
    "DEFAULTS",
    "Model",
    "Progress",
    "Run",
    "RunStopped",
    "SWEPT",
    "SweepInterrupted",
    "build",
    "cache",
    "check_output",
    "choices",
    "describe_datasets",
    "evaluate_run",
    "gradcheck",
    "gradcheck_matrix",
    "load_data",
    "load_run",
    "open_run",
    "predict_run",
    "read_inputs",
    "save_due",
    "save_run",
    "seed_list",
    "status",
    "sweep",
    "targets",
    "to_json",
    "train",
    "value_list",
    "write_json",
    "write_predictions",
]


def describe_datasets() -> list[dict]:
    """The named data sets, one dict each (``datasets.describe()``)."""
    return _datasets.describe()


def gradcheck_matrix(dtype: str, curvature: bool = False):
    """``jaxmlp.gradcheck_matrix(dtype)``: what ``jaxmlp gradcheck`` prints; ``curvature``:
    with the curvature cells (Hv, Gauss-Newton, Hessian diagonal, input Hessian; float64)."""
    if curvature:
        return _gradient_check.gradcheck_matrix(dtype, curvature=True)
    return _gradient_check.gradcheck_matrix(dtype)
