"""``GridSearchCV``'s rules for what a search reports: the ranks of the mean scores and the
report of the fits that failed (its messages, word for word)."""

import warnings
from collections import Counter

import numpy as np
from scipy.stats import rankdata
from sklearn.exceptions import FitFailedWarning


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
