"""K-fold cross-validation's rows, as a search (``search.grid_search``, ``jaxmlp sweep``) trains
them: ``kfold_rows``, k folds of one size drawn at random (one compiled program), and
``check_classes``, which refuses folds a classifier's members could not learn from.

>>> train, val = kfold_rows(10, 3)
>>> train.shape, val.shape
((3, 6), (3, 3))
"""

from numbers import Integral

import numpy as np

from jaxmlp.datasets import check_seed


def kfold_rows(n: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(train_rows (k, (k - 1) m), val_rows (k, m))`` with ``m = n // k``: fold f holds out
    the f-th of k equal blocks of a ``seed``-shuffled order (``n mod k`` examples left out,
    so that every fold has the same shapes and the folds run as one program); ``seed``: an
    integer in [0, 2**32 - 1] (``datasets.check_seed``: None would draw other folds each call)."""
    if isinstance(k, bool) or not isinstance(k, Integral) or not 2 <= k <= n:
        raise ValueError(f"folds must be an integer in [2, n={n}], got {k!r}.")
    k, m = int(k), n // k
    blocks = np.random.default_rng(check_seed(seed)).permutation(n)[: k * m].reshape(k, m)
    train = np.stack(
        [np.concatenate([b for g, b in enumerate(blocks) if g != f]) for f in range(k)]
    )
    return train, blocks


def fold_rows(n: int, folds: int, seed: int, fold_ids) -> tuple[np.ndarray, np.ndarray]:
    """``fit_population``'s ``rows`` for members holding out the folds ``fold_ids`` of
    ``kfold_rows(n, folds, seed)``."""
    train_rows, val_rows = kfold_rows(n, folds, seed)
    return train_rows[list(fold_ids)], val_rows[list(fold_ids)]


def check_classes(labels, k: int, seed: int, *, multilabel=False, names=(), cli=False) -> None:
    """A ValueError where a fold of ``kfold_rows(n, k, seed)`` cannot be learnt: its training
    rows hold no example of a class (multilabel: of a label's value, 0 or 1) that its
    validation rows hold (its member never trained on it, yet its validation accuracy counts
    it, and its training rows, all classified right, call it a success), or where only the
    ``n mod k`` rows in no fold hold one (no member trains or validates on it).

    ``labels``: each row's class ``(n,)``, or its labels ``(n, L)`` with ``multilabel``;
    ``names``: the classes' names, shown beside their numbers; ``cli``: the message names
    ``--folds`` and ``--seed`` (a sweep's), else ``folds`` and ``config.seed``."""
    n = len(labels)
    train, val = kfold_rows(n, k, seed)
    columns = np.asarray(labels).reshape(n, -1).T
    knobs = ("--folds", "--seed") if cli else ("folds", "config.seed")
    where = f"{knobs[0]} {k} ({knobs[1]} {seed})" if cli else f"folds={k} (config.seed={seed})"
    ways = f"use fewer {knobs[0]} or another {knobs[1]}"

    def what(j, value) -> str:
        c = j if multilabel else int(value)
        name = f"{c} ({names[c]!r})" if 0 <= c < len(names) and str(names[c]) != str(c) else c
        return f"label {name} = {int(value)}" if multilabel else f"class {name}"

    for f in range(k):
        for j, column in enumerate(columns):
            missing = np.setdiff1d(column[val[f]], column[train[f]])
            if missing.size:
                raise ValueError(
                    f"{where}: fold {f}'s training rows hold no example of "
                    f"{what(j, missing[0])}, which its validation rows hold: its member cannot "
                    f"learn it (the folds are drawn at random, not by class); {ways}."
                )
    for j, column in enumerate(columns):
        missing = np.setdiff1d(column, column[val.ravel()])
        if missing.size:
            raise ValueError(
                f"{where}: {what(j, missing[0])} is held only by the {n % k} of the {n} rows "
                f"in no fold ({k} folds of {n // k} rows): no member trains or validates on "
                f"it; {ways}, or a number of folds that divides {n}."
            )
