"""A fold sweep's data: fold f's members train and validate on inputs standardised by a
``Standardizer`` fitted on fold f's training rows alone, as scikit-learn's
``Pipeline(StandardScaler(), model)`` inside ``cross_val_score`` scales them, so that no fold's
validation rows shape how its training inputs are scaled.

Standardised inputs are k copies of the training rows, one array of ``(k n, d)``: copy f
standardised by fold f's standardiser (``datasets.standardize.by_folds``: in float64 from the
inputs as read, rounded once to the run's dtype, as a run's ``data.load_data`` does), and fold
f's rows are those of ``search.kfold_rows`` in copy f. Every member runs ``fit_population``'s
one program on its rows of one shared array; the data take k times the memory of the training
rows. Inputs a sweep does not standardise are the training rows as they are, once.

Sweeps begun before (config.json's ``sweep`` record without ``standardizer``) scaled every fold
by one standardiser fitted on all training rows: ``check_resume`` refuses to resume one.
"""

from typing import NamedTuple

import numpy as np

from jaxmlp import datasets, folds, search
from jaxmlp.datasets.standardize import by_folds
from jaxmlp.run import data

RULE = "each fold's own, fitted on its training rows"  # config.json's sweep["standardizer"]


class Folds(NamedTuple):
    """The members' inputs ``x`` and targets ``t`` (as the net takes them), and each fold's
    ``train`` ``(k, (k - 1) m)`` and ``val`` ``(k, m)`` rows of them."""

    x: np.ndarray
    t: np.ndarray
    train: np.ndarray
    val: np.ndarray

    def rows(self, fold_ids) -> tuple[np.ndarray, np.ndarray]:
        """``fit_population``'s ``rows`` of members holding out the folds ``fold_ids``."""
        return self.train[list(fold_ids)], self.val[list(fold_ids)]


def standardized(settings: dict) -> bool:
    """Whether the sweep of ``settings`` (resolved, or config.json's) standardises its folds."""
    return bool(settings.get("folds")) and settings.get("standardize") == "yes"


def check_resume(saved: dict, out) -> None:
    """A ValueError where the sweep in ``out`` (its config.json ``saved``) standardised its
    folds by the older rule: its chunks hold members of another standardisation."""
    sweep = saved["sweep"] if isinstance(saved["sweep"], dict) else {}
    if standardized(saved["settings"]) and sweep.get("standardizer") != RULE:
        raise ValueError(
            f"{out}: a fold sweep begun by an older jaxmlp, which scaled every fold by one "
            "standardiser fitted on every training row (each fold's validation rows "
            "included); this one standardises each fold by its own training rows, and its "
            "chunks would mix both rules: start a new sweep."
        )


def left_over(k: int, n: int) -> str:
    """What a sweep says of the ``n mod k`` training rows in no fold (``search.kfold_rows``:
    one program, so folds of one size)."""
    return (
        f"--folds {k}: {n % k} of the {n} training rows are in no fold ({k} folds of {n // k} "
        "rows): no member trains or validates on them"
    )


def check_classes(settings: dict, ds: datasets.Dataset) -> None:
    """A ValueError where a fold's training rows hold no example of a class (binary or
    multiclass), or of a label's value (multilabel: a label never set, or always), that its
    validation rows hold, or where only the rows in no fold hold one (``folds.check_classes``,
    ``search.grid_search``'s rule): no member could learn it."""
    if ds.task in ("binary", "multiclass", "multilabel"):
        folds.check_classes(
            ds.t_train, settings["folds"], settings["seed"], multilabel=ds.task == "multilabel",
            names=data.classes(ds) or (), cli=True,
        )  # fmt: skip


def fold_data(settings: dict, ds: datasets.Dataset, net, raw) -> Folds:
    """The ``Folds`` of the sweep of ``settings`` (resolved) on its data ``ds``
    (``data.load_data``'s, for the net ``net``), whose training inputs as read are ``raw``
    (``data.load_data(keep_raw=True)``'s, where it standardises: ``data.split_raw``)."""
    k, n = settings["folds"], len(ds.x_train)
    train, val = search.kfold_rows(n, k, settings["seed"])
    t = data.targets(net, ds.task, ds.t_train)
    if not standardized(settings):
        return Folds(ds.x_train, t, train, val)
    try:
        x, train, val = by_folds(raw, train, val, ds.x_train.dtype)
    except ValueError as error:
        raise ValueError(f"--folds {k}: {error}") from None
    return Folds(x, np.concatenate([t] * k), train, val)
