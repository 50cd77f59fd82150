"""``GridSearchCV``'s rules for what a search reports: its ``param_*`` columns, a fit's score or
the error score of a scoring that failed, the ranks of the mean scores, the warning of
non-finite ones, the report of the fits that failed (its messages, word for word) and the best
index."""

import numbers
import warnings
from collections import Counter

import numpy as np
from scipy.stats import rankdata
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection._validation import _score


def param_columns(candidates: list[dict]) -> dict:
    """``GridSearchCV``'s ``param_<name>`` columns (scikit-learn >= 1.5), in the order the names
    first appear: masked arrays, masked where a candidate lacks the parameter, in the NumPy
    dtype of the values present (float64, int64, bool), object where that dtype would be a
    string or not one-dimensional (sequences as values) or NumPy cannot stack them."""
    present = {}
    for c, point in enumerate(candidates):
        for name, value in point.items():
            present.setdefault(f"param_{name}", {})[c] = value
    columns = {}
    for key, values in present.items():
        try:
            stacked = np.array(list(values.values()))
            dtype = stacked.dtype if stacked.dtype.kind != "U" and stacked.ndim == 1 else object
        except ValueError:  # sequences of different lengths
            dtype = object
        column = np.ma.MaskedArray(np.empty(len(candidates), dtype), mask=True)
        for c, value in values.items():
            column[c] = value  # unmasks it
        columns[key] = column
    return columns


def score(scorer, est, x, y, error_score, params=None) -> float:
    """``GridSearchCV``'s score of a fitted ``est`` on rows ``x, y``, by its own rule
    (``sklearn.model_selection._validation._score``): ``scorer(est, x, y, **params)`` (its
    rows' sample weights, or none), which must be a
    number (else its ValueError); where scoring raises (an estimator refuses rows whose outputs
    are not finite), the error with ``error_score="raise"``, else ``error_score`` and a
    UserWarning with the traceback. Not a failed fit: it counts in no fit failure report. A
    scorer that returns a dict of metrics is refused: the population search scores one."""
    value = _score(est, x, y, scorer, params, error_score)
    if isinstance(value, dict):
        raise ValueError(
            "PopulationSearchCV scores one metric, but the scoring callable returned "
            f"{len(value)}: {sorted(value)}; return one number, or use "
            "sklearn.model_selection.GridSearchCV for several metrics."
        )
    return value


def warn_non_finite(name: str, mean) -> None:
    """``GridSearchCV``'s UserWarning when a mean ``name`` score (``test_score``,
    ``train_score``) over the folds is not finite."""
    if not np.isfinite(mean).all():
        warnings.warn(
            f"One or more of the {name.split('_')[0]} scores are non-finite: {mean}",
            UserWarning,
            stacklevel=4,
        )


def report_failures(errors: list, total: int, error_score) -> None:
    """``GridSearchCV``'s report of the fits that failed (``errors``, their messages): a
    ValueError when all ``total`` did, else a FitFailedWarning (they score ``error_score``)."""
    if not errors:
        return
    details = "\n".join(
        f"{'-' * 80}\n{n} fits failed with the following error:\n{error}"
        for error, n in Counter(errors).items()
    )
    if len(errors) == total:
        raise ValueError(
            f"\nAll the {total} fits failed.\nIt is very likely that your model is "
            f"misconfigured.\n\nBelow are more details about the failures:\n{details}"
        )
    warnings.warn(
        f"\n{len(errors)} fits failed out of a total of {total}.\nThe score on these "
        f"train-test partitions for these parameters will be set to {error_score}.\nIf these "
        "failures are not expected, you can try to debug them by setting error_score='raise'."
        f"\n\nBelow are more details about the failures:\n{details}",
        FitFailedWarning,
        stacklevel=3,
    )


def ranks(mean) -> np.ndarray:
    """``GridSearchCV``'s ranks of the mean scores: 1 the highest, ties sharing the lowest
    rank, nan last; all 1 when every mean is nan (every point failed somewhere)."""
    if np.isnan(mean).all():
        return np.ones(len(mean), np.int32)
    filled = np.nan_to_num(mean, nan=np.nanmin(mean) - 1)
    return rankdata(-filled, method="min").astype(np.int32)


def best_index(refit, results: dict) -> int:
    """``GridSearchCV``'s ``best_index_``: the index a callable ``refit`` returns for
    ``cv_results_`` (``results``), else the first ranked 1."""
    if not callable(refit):
        return int(results["rank_test_score"].argmin())
    best, n = refit(results), len(results["params"])
    if not isinstance(best, numbers.Integral):  # GridSearchCV's errors and messages
        raise TypeError(f"best_index_ returned is not an integer: refit returned {best!r}.")
    if not 0 <= best < n:
        raise IndexError(
            f"best_index_ index out of range: refit returned {best}, the grid points are "
            f"0 to {n - 1}."
        )
    return int(best)
