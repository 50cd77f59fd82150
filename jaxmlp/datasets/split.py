"""The one split rule of jaxmlp: held-out examples drawn by class (stratified) from a seed.

``validation_split`` is THE validation split, used by ``datasets.load``, ``from_arrays``, ``fit``
(``TrainConfig.val_fraction``, on the task's labels: ``arrays.strata``) and the command line, so
one seed holds out the same examples everywhere. (The scikit-learn estimators' early stopping
holds out scikit-learn's ``train_test_split`` from ``random_state``, as scikit-learn does.)
Each use of a seed draws from its own stream (``stream(seed, VAL_STREAM)``), so drawing data,
subsets and splits never share numbers.
"""

import warnings
from numbers import Integral

import jax
import numpy as np

from jaxmlp.numeric import as_int, is_real

# Seeds are 32-bit: jax.random.key keeps only a seed's low 32 bits unless x64 is on, so the
# seeds 0 and 2**32 drew the same network (and float32 and float64 runs of 2**32 differed).
SEED_LIMIT = 2**32
TRAIN_STREAM, TEST_STREAM, VAL_STREAM, SUBSET_STREAM = range(4)  # independent streams of a seed


def stratified_split(x, t, fraction, key_or_seed):
    """``(x_a, t_a, x_b, t_b)`` with ``floor(fraction * n)`` examples in b, in their order.

    Classification targets (integer labels, or rows of 0/1) are stratified: each class, or each
    label combination, is split in the same proportion; other targets are split at random.
    ``key_or_seed``: an int seed, a ``jax.random`` key or a ``np.random.Generator``.
    """
    x, t = np.asarray(x), np.asarray(t)
    if len(x) != len(t):
        raise ValueError(f"x has {len(x)} examples but t has {len(t)}: they must match.")
    if not (is_real(fraction) and 0 < fraction < 1):
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}.")
    n_b = int(fraction * len(x))
    if not 0 < n_b < len(x):
        raise ValueError(
            f"fraction {fraction} of {len(x)} examples puts {n_b} in one part: both need some."
        )
    in_b = _stratified_mask(t, n_b, _rng(key_or_seed))
    return x[~in_b], t[~in_b], x[in_b], t[in_b]


def validation_split(x, t, fraction, seed: int):
    """``(x_train, t_train, x_val, t_val)``: THE validation split of jaxmlp, used by ``load``,
    ``from_arrays``, ``fit`` (``TrainConfig.val_fraction``) and the command line, so one seed
    holds out the same examples everywhere. ``stratified_split`` on the seed's own stream,
    independent of the streams that draw data or subsets."""
    seed = check_seed(seed)
    parts = stratified_split(x, t, fraction, stream(seed, VAL_STREAM))
    train, val = _labels(parts[1]), _labels(parts[3])
    unseen = [] if val is None else np.setdiff1d(np.unique(val), np.unique(train))
    if len(unseen):
        warnings.warn(
            f"The validation rows hold {len(unseen)} class(es) absent from the training rows "
            f"(every example of each; labels as encoded: {unseen[:10].tolist()}): the model "
            "cannot learn them and their validation examples count as errors.",
            UserWarning,
            stacklevel=3,
        )
    return parts


def check_seed(seed) -> int:
    """``seed`` as a Python int; ValueError unless it is an integer in [0, 2**32)."""
    number = as_int(seed)
    if number is None or not 0 <= number < SEED_LIMIT:
        raise ValueError(f"seed must be an integer in [0, 2**32 - 1], got {seed!r}.")
    return number


def subset(x, t, n, seed):
    """``n`` of the examples ``(x, t)``, stratified, drawn from the seed's subset stream."""
    if n > len(x):
        raise ValueError(f"n = {n} is more than the {len(x)} training examples.")
    if n == len(x):
        return x, t
    keep = _stratified_mask(t, n, stream(seed, SUBSET_STREAM))
    return x[keep], t[keep]


def _stratified_mask(t, m, rng) -> np.ndarray:
    """A mask of ``m`` of the ``n`` examples: shuffled, grouped by class, and every (n/m)-th
    taken, so each class gives floor or ceil of m n_c / n."""
    n = len(t)
    order = rng.permutation(n)
    labels = _labels(t)
    if labels is not None:
        strata = np.unique(labels, axis=0, return_inverse=True)[1].reshape(-1)
        order = order[np.argsort(strata[order], kind="stable")]
    i = np.arange(n)
    mask = np.zeros(n, bool)
    mask[order[(i + 1) * m // n > i * m // n]] = True
    return mask


def _labels(t) -> np.ndarray | None:
    """The class of each row of ``t`` (integer or 0/1 labels; one-hot rows as their index;
    rows of 0/1, multilabel, as the row), or None for other targets (split at random)."""
    t = t.reshape(len(t), -1)
    if t.shape[1] > 1 and np.isin(t, (0, 1)).all() and (t.sum(axis=1) == 1).all():
        return np.argmax(t, axis=1)[:, None]  # one-hot rows: the labels' strata, in their order
    if np.issubdtype(t.dtype, np.integer) or t.dtype == bool or np.isin(t, (0, 1)).all():
        return t
    return None


def stream(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


def _rng(key_or_seed) -> np.random.Generator:
    if isinstance(key_or_seed, np.random.Generator):
        return key_or_seed
    if isinstance(key_or_seed, Integral) and not isinstance(key_or_seed, bool):
        if key_or_seed < 0:
            raise ValueError(f"A seed must be non-negative, got {key_or_seed}.")
        return np.random.default_rng(int(key_or_seed))
    if isinstance(key_or_seed, jax.Array):
        if jax.dtypes.issubdtype(key_or_seed.dtype, jax.dtypes.prng_key):
            key_or_seed = jax.random.key_data(key_or_seed)
        return np.random.default_rng(np.asarray(key_or_seed, np.uint32).reshape(-1).tolist())
    raise ValueError(
        f"key_or_seed must be an int seed, a jax.random key or a np.random.Generator, got "
        f"{type(key_or_seed).__name__}."
    )
