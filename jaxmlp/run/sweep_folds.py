"""A fold sweep's data: fold f's members train and validate on inputs standardised by a
``Standardizer`` fitted on fold f's training rows alone, as scikit-learn's
``Pipeline(StandardScaler(), model)`` inside ``cross_val_score`` scales them, so that no fold's
validation rows shape how its training inputs are scaled.

Standardised inputs are k copies of the training rows, one array of ``(k n, d)``: copy f
standardised by fold f's standardiser (in float64 from the inputs as read, rounded once to
the run's dtype, as a run's ``data.load_data`` does), and fold f's rows are those of
``search.kfold_rows`` in copy f. Every member runs ``fit_population``'s one program on
its rows of one shared array; the data take k times the memory of the training rows. Inputs
a sweep does not standardise are the training rows as they are, once.

Sweeps begun before (config.json's ``sweep`` record without ``standardizer``) scaled every fold
by one standardiser fitted on all training rows: ``check_resume`` refuses to resume one.
"""

from typing import NamedTuple

import numpy as np

from jaxmlp import datasets, search
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


def fold_data(settings: dict, ds: datasets.Dataset, net) -> Folds:
    """The ``Folds`` of the sweep of ``settings`` (resolved) on its data ``ds``
    (``data.load_data``'s, for the net ``net``)."""
    k, n = settings["folds"], len(ds.x_train)
    train, val = search.kfold_rows(n, k, settings["seed"])
    t = data.targets(net, ds.task, ds.t_train)
    if not standardized(settings):
        return Folds(ds.x_train, t, train, val)
    raw = data.load_data(settings | {"standardize": "no", "dtype": "float64"})[0].x_train
    left = np.setdiff1d(np.arange(n), val)  # the n mod k rows in no fold
    copies = []
    for f in range(k):
        try:
            scaler = datasets.Standardizer.fit(raw[train[f]])
            inputs = raw.copy()
            inputs[left] = scaler.mean  # in no fold: 0 once scaled, so never out of range
            copies.append(scaler.apply(inputs, ds.x_train.dtype))
        except ValueError as error:
            raise ValueError(
                f"--folds {k}: fold {f}'s inputs, standardised by its training rows: {error}"
            ) from None
    offsets = n * np.arange(k)[:, None]
    return Folds(np.concatenate(copies), np.concatenate([t] * k), train + offsets, val + offsets)
