"""A training run on disk: what ``jaxmlp train`` writes, ``--resume`` continues, and ``jaxmlp
evaluate`` and ``jaxmlp predict`` read. The command line imports only this package.

The protocol: a run flows

    settings -> data -> (net, optimizer, config) -> fit(callback) -> run folder

``settings.merge`` resolves the given settings over ``DEFAULTS`` (or a resumed run's own);
``settings.load_data`` reads, splits and standardises the data; ``settings.build`` makes the
network, optimizer and train config; these travel together as one ``Run`` record. ``trainer``
calls ``jaxmlp.fit`` with ``record.Recorder`` as its callback (metrics.jsonl, checkpoints,
progress, signals); ``report`` writes summary.json and the figures; ``folder`` owns the files
of the run folder; ``predict`` reads a finished run back (evaluate, predict).

A run is a function of its settings: the data, its split, the initial parameters and each
epoch's shuffling all derive from ``seed``, so a run resumed from its checkpoint ends with
bitwise the parameters of an uninterrupted one.
"""

from jaxmlp import datasets as _datasets
from jaxmlp.run.folder import open_run
from jaxmlp.run.predict import evaluate_run, predict_run, read_inputs, write_predictions
from jaxmlp.run.record import Progress, save_due
from jaxmlp.run.report import RunStopped, gradcheck
from jaxmlp.run.settings import DEFAULTS, Run, build, load_data, targets
from jaxmlp.run.trainer import train

__all__ = [
    "DEFAULTS",
    "Progress",
    "Run",
    "RunStopped",
    "build",
    "describe_datasets",
    "evaluate_run",
    "gradcheck",
    "load_data",
    "open_run",
    "predict_run",
    "read_inputs",
    "save_due",
    "targets",
    "train",
    "write_predictions",
]


def describe_datasets() -> list[dict]:
    """The named data sets, one dict each (``datasets.describe()``)."""
    return _datasets.describe()
