"""Standardisation: per-feature ``(x - mean) / std``, fitted on the training inputs alone and
applied to validation, test and later inputs, in float32 (the dtype the model computes in)."""

from typing import NamedTuple

import numpy as np

from jaxmlp.datasets import targets


class Standardizer(NamedTuple):
    """Per-feature x' = (x - mean) / std, fitted on training inputs; a constant feature keeps
    std 1, so it maps to 0. ``mean``, ``std``: float32 ``(d,)``, computed in float64 from the
    float32 inputs (so a feature of size 1e20 does not overflow its variance)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x) -> "Standardizer":
        """ValueError for a feature that float32 cannot hold or scale."""
        x32 = targets.as_float32(x, "x")
        x = x32.astype(np.float64)
        mean = x.mean(axis=0)
        size = np.abs(x - mean).max(axis=0, initial=0.0)  # scaled first: no overflow in x**2
        scale = np.where(size > 0, size, 1.0)
        std = size * np.sqrt(np.square((x - mean) / scale).mean(axis=0))
        std32 = np.where(std > 0, std, 1.0).astype(np.float32)
        tiny = np.flatnonzero(std32 == 0)
        if tiny.size:
            j = int(tiny[0])
            raise ValueError(
                f"feature {j} varies by only {std[j]:.3g}: too little to scale in float32; "
                "drop it or rescale it."
            )
        return cls(mean.astype(np.float32), std32)

    def apply(self, x) -> np.ndarray:
        """``(x - mean) / std`` in float32; ValueError for values that leave its range."""
        with np.errstate(over="ignore", invalid="ignore"):
            y = (targets.as_float32(x, "x") - self.mean) / self.std
        bad = ~np.isfinite(y)
        if bad.any():
            i, j = (int(k) for k in np.argwhere(bad)[0])
            raise ValueError(
                f"x[{i}, {j}] = {np.asarray(x)[i, j].item()!r} is too far from the training data: "
                f"standardised it exceeds the float32 range ({np.finfo(np.float32).max:.3g})."
            )
        return y

    def invert(self, x) -> np.ndarray:
        return np.asarray(x, np.float32) * self.std + self.mean
