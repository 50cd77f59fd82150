"""Standardisation: per-feature ``(x - mean) / std``, fitted on the training inputs alone and
applied to validation, test and later inputs, computed in float64 from the inputs as given and
rounded once to the dtype the model computes in."""

import warnings
from typing import NamedTuple

import numpy as np

from jaxmlp import files
from jaxmlp.datasets import targets


class Standardizer(NamedTuple):
    """Per-feature x' = (x - mean) / std, fitted on training inputs; a constant feature keeps
    its value as mean and std 1, so it maps to 0 (its float64 mean may be 1 ulp off the value,
    whose rounding error is no spread to scale by). ``mean``, ``std``: ``(d,)``, computed in
    float64 (a feature of size 1e20 does not overflow its variance), kept in the dtype
    ``apply`` computes in: float64, so a timestamp column (~1.7e9 s) keeps every second; float32
    in the run folders written before inputs kept their precision (their inputs were cast to
    float32 first; ``fit(x, dtype=np.float32)`` rebuilds them bit for bit)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x, dtype=np.float64) -> "Standardizer":
        """The scaler of inputs ``x (n, d)``, n >= 1, finite; a ValueError for other ``x``, a
        feature that float32 cannot hold, or one that ``dtype`` cannot scale."""
        dtype, x = np.dtype(dtype), np.asarray(x)
        if x.ndim != 2 or len(x) == 0:
            raise ValueError(f"x must have shape (n, d) with n >= 1, got {x.shape}.")
        _check_finite(x)
        x = targets.as_dtype(x, dtype).astype(np.float64)
        mean = x.mean(axis=0)
        # a constant feature's mean is its value (1000 x 0.1 average 1 ulp off 0.1)
        mean = np.where((x == x[0]).all(axis=0), x[0], mean)
        size = np.abs(x - mean).max(axis=0, initial=0.0)  # scaled first: no overflow in x**2
        scale = np.where(size > 0, size, 1.0)
        std = size * np.sqrt(np.square((x - mean) / scale).mean(axis=0))
        kept = np.where(std > 0, std, 1.0).astype(dtype)
        tiny = np.flatnonzero(kept == 0)
        if tiny.size:
            j = int(tiny[0])
            raise ValueError(
                f"feature {j} varies by only {std[j]:.3g}: too little to scale in {dtype}; "
                "drop it or rescale it."
            )
        return cls(mean.astype(dtype), kept)

    def apply(self, x, dtype=np.float32) -> np.ndarray:
        """``(x - mean) / std`` of finite inputs ``x (n, d)``, d the features fitted, in
        ``dtype``; ValueError for other ``x`` (``_rows``) and for values that leave ``dtype``'s
        range."""
        x = self._rows(x)
        _check_finite(x)
        with np.errstate(over="ignore", invalid="ignore"):
            y = ((targets.as_dtype(x, self.mean.dtype) - self.mean) / self.std).astype(dtype)
        bad = ~np.isfinite(y)
        if bad.any():
            i, j = (int(k) for k in np.argwhere(bad)[0])
            raise ValueError(
                f"x[{i}, {j}] = {np.asarray(x)[i, j].item()!r} is too far from the training data: "
                f"standardised it exceeds the {np.dtype(dtype)} range "
                f"({np.finfo(dtype).max:.3g})."
            )
        return y

    def invert(self, x) -> np.ndarray:
        """``x (n, d)`` standardised, as given: ``x * std + mean``."""
        return np.asarray(self._rows(x), self.mean.dtype) * self.std + self.mean

    def _rows(self, x) -> np.ndarray:
        """``x`` as an array; a ValueError unless it is ``(n, d)`` of the d features fitted
        (numpy would broadcast one column over all of them)."""
        x, width = np.asarray(x), np.shape(self.mean)  # (d,); () scales every feature alike
        if x.ndim != 2 or (width and x.shape[1] != width[0]):
            raise ValueError(
                f"x has shape {x.shape}; this Standardizer takes inputs (n, "
                f"{width[0] if width else 'd'}) of the features it was fitted on."
            )
        return x


def _check_finite(x) -> None:
    """``targets.check_finite`` for inputs of numbers (others fail in ``as_dtype``)."""
    if files.numeric(x.dtype):
        targets.check_finite(x, "x")


def prepare(scaler: Standardizer | None, x, dtype=np.float32) -> np.ndarray:
    """Inputs ``x`` as a model takes them: standardised by ``scaler`` (None: as they are), in
    ``dtype``."""
    return targets.as_dtype(x, dtype) if scaler is None else scaler.apply(x, dtype)


def check_apart(x, dtype, columns=None, stacklevel=3) -> None:
    """A UserWarning where inputs ``x (n, d)`` (floats or integers) kept as they are
    (unstandardised) in ``dtype`` float32 make one more than a twentieth of the distinct values
    of a column: a timestamp column (~1.7e9 s) steps by 128 s there, and rows that the data tell
    apart are one to the model. (A few merge by chance in any long column of continuous values,
    their difference below float32's resolution: 2 % of a million uniform values in [0, 1].)
    Standardised, the values are differences from the mean, which float32 holds apart
    (``Standardizer``); float64 holds them as given. Names the first such column (``columns``:
    its name, else its index)."""
    x = np.asarray(x)
    held = x.dtype.kind == "f" and x.dtype.itemsize <= 4 or x.dtype.itemsize <= 2  # exactly
    if np.dtype(dtype) != np.float32 or x.dtype.kind not in "fiu" or held:
        return
    with np.errstate(over="ignore"):
        kept = x.astype(np.float32)
    for j in np.flatnonzero((kept != x).any(axis=0)):  # columns float32 does not hold as given
        ordered = np.sort(x[:, j])  # the cast keeps the order: neighbours merge, or none do
        before = 1 + np.count_nonzero(np.diff(ordered))
        after = 1 + np.count_nonzero(np.diff(ordered.astype(np.float32)))
        if (before - after) * 20 > before:
            name = repr(columns[j]) if columns else j
            warnings.warn(
                f"x column {name} holds {before} distinct values, {after} in float32, the "
                "dtype the model computes in, unstandardised: rows that the data tell apart "
                "are one to the model. Standardise the inputs (standardize=True, --standardize "
                "yes) or compute in float64 (--dtype float64).",
                UserWarning,
                stacklevel=stacklevel,
            )
            return


def by_folds(x, train_rows, val_rows, dtype=np.float32) -> tuple[np.ndarray, ...]:
    """Cross-validation folds' inputs, each fold's standardised by a ``Standardizer`` fitted on
    its own training rows (as scikit-learn's ``Pipeline(StandardScaler(), model)`` in
    ``cross_val_score``): ``(x_folds (k n, d), train_rows, val_rows)``, copy f of ``x (n, d)``
    standardised by fold f's rows ``train_rows[f]`` (float64 from ``x`` as given, rounded once
    to ``dtype``), and each fold's rows ``(k, m)`` moved into its copy. Rows in no fold map to
    0. ValueError naming the fold where its scaling fails (``fit``, ``apply``)."""
    x = targets.as_dtype(x, np.float64)
    train_rows, val_rows = np.asarray(train_rows), np.asarray(val_rows)
    n, k = len(x), len(train_rows)
    left = np.setdiff1d(np.arange(n), np.concatenate([train_rows.ravel(), val_rows.ravel()]))
    copies = []
    for f in range(k):
        try:
            scaler = Standardizer.fit(x[train_rows[f]])
            inputs = x.copy()
            inputs[left] = scaler.mean  # in no fold: 0 once scaled, so never out of range
            copies.append(scaler.apply(inputs, dtype))
        except ValueError as error:
            raise ValueError(
                f"fold {f}'s inputs, standardised by its training rows: {error}"
            ) from None
    offsets = n * np.arange(k)[:, None]
    return np.concatenate(copies), train_rows + offsets, val_rows + offsets
