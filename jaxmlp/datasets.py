"""Data sets as numpy arrays: the seeds' toy problems, real benchmarks, and the user's own files.

``load(name_or_path)`` returns a ``Dataset`` with train, validation and test splits and what a
model needs to know: the task, the number of classes and of features. ``x`` is float32 ``(n, d)``;
targets ``t`` follow the task (``TARGETS``). Synthetic sets are drawn from ``seed``; real sets have
a fixed test split and ``seed`` draws only the validation split and the ``n``-example subset.
Standardisation is fitted on the training split alone and applied to validation and test.

>>> from jaxmlp import datasets
>>> ds = datasets.load("xor")
>>> ds.task, ds.x_train.shape, ds.t_train.shape, ds.x_test
('binary', (4, 2), (4, 1), None)
>>> datasets.default_output_and_loss(ds.task)
('sigmoid', 'bce')
"""

import copy
import dataclasses
import functools
import importlib.resources
import json
import os
import pathlib
import random
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from numbers import Integral, Real
from typing import NamedTuple

import jax
import numpy as np

from jaxmlp import files, idx

TASKS = ("regression", "binary", "multiclass", "multilabel")
TARGETS = {
    "multiclass": "integer labels (n,) int32 in [0, K)",
    "binary": "(n, 1) float32 in {0, 1}",
    "multilabel": "(n, K) float32 in {0, 1}",
    "regression": "(n, K) float32",
}
_OUTPUT_AND_LOSS = {
    "multiclass": ("softmax", "cross_entropy"),
    "binary": ("sigmoid", "bce"),
    "multilabel": ("sigmoid", "bce"),
    "regression": ("identity", "sse"),
}
# What ``task=`` accepts: "auto" (or None) infers it, "classification" reads the labels as classes
# (binary, multiclass or multilabel), the others name it.
TASK_CHOICES = ("auto", "classification", *TASKS)
MAX_CLASSES = 50  # integer labels with more distinct values are read as regression targets
DATA_ENV, CACHE_ENV = "JAXMLP_DATA", "JAXMLP_CACHE"
DIGITS_TEST_FRACTION = 0.2
_DEBIAN_FASHION_MNIST = pathlib.Path("/usr/share/datasets/fashion-mnist")
_TRAIN, _TEST, _SUBSET = 0, 1, 3  # independent streams of one seed


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """Train, validation and test arrays of one data set, and what a model needs to know.

    ``x_*`` are float32 ``(n, d)``; ``t_*`` are encoded as ``TARGETS[task]`` says. Validation and
    test arrays are ``None`` where there are none. ``n_classes`` is 0 for regression, 2 for
    binary, the number of labels for multilabel. ``info`` holds extras: ``standardizer`` (a
    ``Standardizer`` or None), ``classes`` (original label values), the true parameters of
    synthetic sets.
    """

    name: str
    task: str
    n_classes: int
    x_train: np.ndarray
    t_train: np.ndarray
    x_val: np.ndarray | None
    t_val: np.ndarray | None
    x_test: np.ndarray | None
    t_test: np.ndarray | None
    info: dict

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]

    @property
    def n_outputs(self) -> int:
        """Output units K: one per class (multiclass), per label or target; 1 for binary."""
        return self.n_classes if self.task == "multiclass" else self.t_train.shape[1]


class Standardizer(NamedTuple):
    """Per-feature x' = (x - mean) / std, fitted on training inputs; a constant feature keeps
    std 1, so it maps to 0. ``mean``, ``std``: float32 ``(d,)``."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x) -> "Standardizer":
        x = np.asarray(x, np.float32)
        mean = x.mean(axis=0, dtype=np.float64)
        std = np.sqrt(np.square(x - mean.astype(np.float32)).mean(axis=0, dtype=np.float64))
        return cls(mean.astype(np.float32), np.where(std > 0, std, 1.0).astype(np.float32))

    def apply(self, x) -> np.ndarray:
        return (np.asarray(x, np.float32) - self.mean) / self.std

    def invert(self, x) -> np.ndarray:
        return np.asarray(x, np.float32) * self.std + self.mean


# -- the public entry points ------------------------------------------------------------------


def load(
    name_or_path,
    *,
    data_dir=None,
    seed=0,
    val_fraction=0.0,
    label_column=-1,
    standardize=True,
    n=None,
    task=None,
    header=None,
) -> Dataset:
    """The data set called ``name_or_path`` (``names()``), or read from a .csv or .npz file.

    Args:
      data_dir: a folder holding Fashion-MNIST's IDX files, searched before ``$JAXMLP_DATA`` and
        the Debian package's folder.
      seed: non-negative int; draws synthetic sets, the validation split and the subset.
      val_fraction: share of the training examples moved to ``x_val``, in [0, 1); stratified.
      label_column: CSV only: the label column's index (negative from the end) or name.
      standardize: fit a ``Standardizer`` on the training split (xor keeps its 0/1 inputs).
      n: number of training examples: drawn for synthetic sets, a stratified subset otherwise.
      task: ``TASK_CHOICES``; for files, "auto" (None) infers it from the labels by the rule
        of ``from_arrays``; a named set has its own task.
      header: CSV only: True if the first row names the columns, False if it is data, None to
        detect (a first row of numbers only is data).
    """
    seed, n, val_fraction = _check_options(seed, n, val_fraction, standardize)
    task = _check_task(task)
    if isinstance(name_or_path, str) and name_or_path in _SETS:
        spec = _SETS[name_or_path]
        if task not in (None, spec.task) and not (
            task == "classification" and spec.task != "regression"
        ):
            raise ValueError(f"{name_or_path!r} is a {spec.task} data set, got task={task!r}.")
        *arrays, info = spec.load(seed, n, data_dir)
        standardize = standardize and spec.standardize
        return _assemble(
            name_or_path,
            spec.task,
            spec.n_classes,
            arrays,
            info,
            seed=seed,
            val_fraction=val_fraction,
            standardize=standardize,
        )
    path = _user_file(name_or_path)
    if path.suffix.lower() == ".csv":
        x, y, feature_names, label_name = files.read_csv(path, label_column, header=header)
        arrays = {"x": x, "y": y}
        info = {"path": str(path), "feature_names": feature_names, "label_name": label_name}
    else:
        arrays, info = files.read_npz(path), {"path": str(path)}
    return from_arrays(
        **arrays,
        name=path.name,
        task=task,
        seed=seed,
        val_fraction=val_fraction,
        standardize=standardize,
        n=n,
        info=info,
    )


def from_arrays(
    x,
    y,
    x_test=None,
    y_test=None,
    *,
    name="arrays",
    task=None,
    seed=0,
    val_fraction=0.0,
    standardize=True,
    n=None,
    info=None,
) -> Dataset:
    """A ``Dataset`` from the user's arrays: ``x (n, d)`` (more axes are flattened) and labels or
    targets ``y (n,)`` or ``(n, K)``. ``task`` (``TASK_CHOICES``): "auto" (None) infers it
    from ``y``: integer values with 2 to ``MAX_CLASSES`` distinct values or strings are classes,
    0/1 columns are multilabel, anything else is regression; "classification" reads the labels
    as classes (binary, multiclass or multilabel), "regression" as numbers. Classes are
    renumbered 0..K-1 (``info["classes"]``).
    """
    seed, n, val_fraction = _check_options(seed, n, val_fraction, standardize)
    task = _check_task(task)
    if (x_test is None) != (y_test is None):
        raise ValueError("x_test and y_test go together: pass both or neither.")
    x, y = _check_xy(x, y, "x", "y")
    if x_test is not None:
        x_test, y_test = _check_xy(x_test, y_test, "x_test", "y_test")
        if x_test.shape[1] != x.shape[1]:
            raise ValueError(
                f"x_test has {x_test.shape[1]} features but x has {x.shape[1]}: they must match."
            )
        if y_test.shape[1:] != y.shape[1:]:
            raise ValueError(f"y_test has shape {y_test.shape}, y has {y.shape}: K must match.")
    t, t_test, task, n_classes, classes = _encode_targets(y, y_test, task)
    if n is not None:
        x, t = _subset(x, t, n, seed)
    info = dict(info or {}) | ({"classes": classes} if classes is not None else {})
    return _assemble(
        name,
        task,
        n_classes,
        (x, t, x_test, t_test),
        info,
        seed=seed,
        val_fraction=val_fraction,
        standardize=standardize,
    )


def names() -> tuple[str, ...]:
    """The names ``load`` knows."""
    return tuple(_SETS)


def describe() -> list[dict]:
    """One dict per named data set: name, task, n_train, n_test, n_features, n_classes, source.
    Read from the registry: nothing is loaded."""
    return [
        dict(
            name=name,
            task=s.task,
            n_train=s.n_train,
            n_test=s.n_test,
            n_features=s.n_features,
            n_classes=s.n_classes,
            source=_SOURCES[name],
        )
        for name, s in _SETS.items()
    ]


def default_output_and_loss(task: str) -> tuple[str, str]:
    """The canonical (output, loss) pair of a task, for which dE/dz_L = y - t."""
    if task not in _OUTPUT_AND_LOSS:
        raise ValueError(f"Unknown task: {task!r}. It needs to be one of {list(TASKS)}.")
    return _OUTPUT_AND_LOSS[task]


def posterior(ds_or_info, x) -> np.ndarray:
    """The true P(C1|x), ``(n,)``, of the ``gaussians`` set, for ``x (n, 2)`` in the data set's
    space (standardised inputs are mapped back first).

    Two Gaussians with a shared covariance S make Bayes' rule a sigmoid of a linear function
    (seed 001): P(C1|x) = g(w^T x + w0), w = S^-1 (m1 - m2),
    w0 = (m2^T S^-1 m2 - m1^T S^-1 m1) / 2 + ln(P(C1) / P(C2)).
    """
    info = ds_or_info.info if isinstance(ds_or_info, Dataset) else ds_or_info
    if not isinstance(info, dict) or "means" not in info:
        raise ValueError("posterior is known only for the 'gaussians' data set (or its info).")
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x must have shape (n, 2), got {x.shape}.")
    if info.get("standardizer") is not None:
        scaler = info["standardizer"]
        x = x * scaler.std + scaler.mean
    (m1, m2), s_inv = info["means"], np.linalg.inv(info["cov"])
    w = s_inv @ (m1 - m2)
    w0 = (m2 @ s_inv @ m2 - m1 @ s_inv @ m1) / 2 + np.log(info["priors"][0] / info["priors"][1])
    return np.exp(-np.logaddexp(0.0, -(x @ w + w0)))  # g(a), without overflow


def stratified_split(x, t, fraction, key_or_seed):
    """``(x_a, t_a, x_b, t_b)`` with ``floor(fraction * n)`` examples in b, in their order.

    Classification targets (integer labels, or rows of 0/1) are stratified: each class, or each
    label combination, is split in the same proportion; other targets are split at random.
    ``key_or_seed``: an int seed, a ``jax.random`` key or a ``np.random.Generator``.
    """
    x, t = np.asarray(x), np.asarray(t)
    if len(x) != len(t):
        raise ValueError(f"x has {len(x)} examples but t has {len(t)}: they must match.")
    if isinstance(fraction, bool) or not isinstance(fraction, Real) or not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}.")
    n_b = int(fraction * len(x))
    if not 0 < n_b < len(x):
        raise ValueError(
            f"fraction {fraction} of {len(x)} examples puts {n_b} in one part: both need some."
        )
    in_b = _stratified_mask(t, n_b, _rng(key_or_seed))
    return x[~in_b], t[~in_b], x[in_b], t[in_b]


def validation_split(x, t, fraction, seed: int):
    """``(x, t, x_val, t_val)``: the validation split of seed ``seed``, the one rule that
    ``load(val_fraction=...)``, the run layer and ``fit(val_fraction=...)`` share."""
    return stratified_split(x, t, fraction, seed)


def one_hot(labels, k: int) -> np.ndarray:
    """Integer labels ``(n,)`` in [0, k) as float32 rows ``(n, k)`` of the identity."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be integers of shape (n,), got {labels.dtype} {labels.shape}."
        )
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        bad = labels[(labels < 0) | (labels >= k)][0]
        raise ValueError(f"labels must lie in [0, {k - 1}] for k = {k}, got {bad}.")
    return np.eye(k, dtype=np.float32)[labels]


# -- the registry ----------------------------------------------------------------------------


class _Spec(NamedTuple):
    task: str
    n_classes: int
    n_features: int
    n_train: int
    n_test: int
    load: Callable  # (seed, n, data_dir) -> (x, t, x_test, t_test, info)
    standardize: bool = True


def _synthetic(
    task, n_classes, n_features, n_train, n_test, make, make_test=None, info=None, standardize=True
):
    """A generated set: ``make(rng, n) -> (x, t)`` on independent train and test streams
    (``make_test`` draws the test set where it differs); ``n`` sets the training size."""

    def load_(seed, n, data_dir):
        del data_dir
        x, t = make(_stream(seed, _TRAIN), n_train if n is None else n)
        x_test, t_test = (
            (make_test or make)(_stream(seed, _TEST), n_test) if n_test else (None,) * 2
        )
        return x, t, x_test, t_test, copy.deepcopy(info or {})

    return _Spec(task, n_classes, n_features, n_train, n_test, load_, standardize)


def _real(task, n_classes, n_features, n_train, n_test, read):
    """A fixed set: ``read(data_dir) -> (x, t, x_test, t_test, info)``; ``n`` takes a stratified
    subset of its training split."""

    def load_(seed, n, data_dir):
        x, t, x_test, t_test, info = read(data_dir)
        if n is not None:
            x, t = _subset(x, t, n, seed)
        return x, t, x_test, t_test, info

    return _Spec(task, n_classes, n_features, n_train, n_test, load_)


# -- synthetic sets: make(rng, n) -> (x (n, d), t) ----------------------------------------------


def _xor(rng, n):
    del rng
    if n != 4:
        raise ValueError(f"xor is the 4-row truth table of seed 003: n must be None or 4, got {n}.")
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    return x, np.array([[0], [1], [1], [0]], np.float32)


def _balanced(rng, n):
    return rng.permutation(np.arange(n) % 2)


def _rings(rng, n):  # t = 0 for A = {d < 1/3}, 1 for B = {2/3 < d < 1}, each uniform in area
    c = _balanced(rng, n)
    u = rng.random(n)
    r = np.where(c == 0, np.sqrt(u) / 3, np.sqrt(4 / 9 + 5 / 9 * u))
    return _polar(r, rng.uniform(0, 2 * np.pi, n)), c[:, None]


_GAUSSIANS = dict(
    means=np.array([[1.0, 1.0], [-1.0, -0.5]]),  # m1 (class C1, t = 1), m2
    cov=np.array([[1.0, 0.3], [0.3, 0.5]]),  # shared S
    priors=np.array([0.6, 0.4]),  # P(C1), P(C2)
)


def _gaussians(rng, n):
    c1 = rng.random(n) < _GAUSSIANS["priors"][0]
    z = rng.standard_normal((n, 2)) @ np.linalg.cholesky(_GAUSSIANS["cov"]).T
    return np.where(c1[:, None], *_GAUSSIANS["means"][:, None]) + z, c1[:, None]


def _spirals(rng, n):  # two arms of 1.5 turns, uniform along their length, radius 0.1 to 1
    c = _balanced(rng, n)
    s = np.sqrt(0.01 + 0.99 * rng.random(n))
    x = _polar(s, 3 * np.pi * s + np.pi * c)
    return x + 0.02 * rng.standard_normal((n, 2)), c[:, None]


def _moons(rng, n):  # two interleaved half circles
    c = _balanced(rng, n)
    a = rng.uniform(0, np.pi, n)
    x = np.where(
        c[:, None] == 0,
        np.stack([np.cos(a), np.sin(a)], 1),
        np.stack([1 - np.cos(a), 0.5 - np.sin(a)], 1),
    )
    return x + 0.1 * rng.standard_normal((n, 2)), c[:, None]


def _sine(rng, n):
    x = rng.uniform(-np.pi, np.pi, (n, 1))
    return x, np.sin(x)


def _surface(rng, n):
    x = rng.random((n, 2))
    return x, (np.sin(2 * np.pi * x[:, 0]) * np.cos(2 * np.pi * x[:, 1]))[:, None]


_OUTLIERS = dict(slope=2.0, intercept=1.0, noise=0.1, outlier_fraction=0.1)


def _outliers(rng, n, with_outliers=True):  # t = 2x + 1 + noise; 10% shifted by 5 to 10
    x = rng.uniform(-1, 1, (n, 1))
    t = (
        _OUTLIERS["slope"] * x
        + _OUTLIERS["intercept"]
        + _OUTLIERS["noise"] * rng.standard_normal((n, 1))
    )
    if with_outliers:
        bad = rng.choice(n, int(_OUTLIERS["outlier_fraction"] * n), replace=False)
        t[bad, 0] += rng.choice([-1.0, 1.0], len(bad)) * rng.uniform(5, 10, len(bad))
    return x, t


_line = functools.partial(_outliers, with_outliers=False)  # the clean test set
_LABELS = {"labels": ["spam", "urgent"]}


def _multilabel(rng, n):  # spam = [x1 + x2 > 0], urgent = [x3 x4 > 0]: disjoint inputs
    x = rng.standard_normal((n, 4))
    return x, np.stack([x[:, 0] + x[:, 1] > 0, x[:, 2] * x[:, 3] > 0], 1)


def _polar(r, angle):
    return np.stack([r * np.cos(angle), r * np.sin(angle)], 1)


# -- real sets: read(data_dir) -> (x, t, x_test, t_test, info) ---------------------------------


def _digits(data_dir):
    del data_dir
    resource = importlib.resources.files("jaxmlp").joinpath("_data/digits.npz")
    with resource.open("rb") as f, np.load(f, allow_pickle=False) as archive:
        images, labels = archive["images"], archive["labels"]
    x = images.reshape(len(images), -1) * np.float32(1 / 16)  # pixels 0..16 -> [0, 1]
    x, t, x_test, t_test = stratified_split(x, labels.astype(np.int32), DIGITS_TEST_FRACTION, 0)
    return x, t, x_test, t_test, {"classes": list(range(10))}


_FASHION_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def _fashion_mnist(data_dir):
    folder = _find_fashion_mnist(data_dir)
    parts = [_idx_pair(folder, *_FASHION_FILES[part]) for part in ("train", "test")]
    info = {"classes": list(FASHION_CLASSES), "folder": str(folder)}
    return (*parts[0], *parts[1], info)


def _find_fashion_mnist(data_dir) -> pathlib.Path:
    roots = [pathlib.Path(root) for root in (data_dir, os.environ.get(DATA_ENV)) if root]
    folders = [f for root in roots for f in (root, root / "fashion-mnist")]
    folders.append(_DEBIAN_FASHION_MNIST)
    for folder in folders:
        if all(_idx_path(folder, name) for pair in _FASHION_FILES.values() for name in pair):
            return folder
    wanted = [f"{name}[.gz]" for pair in _FASHION_FILES.values() for name in pair]
    raise ValueError(
        f"Fashion-MNIST IDX files not found; looked in {[str(f) for f in folders]}. Install "
        "them with `apt-get install dataset-fashion-mnist`, or pass data_dir (--data-dir) or "
        f"set {DATA_ENV} to a folder holding {wanted}."
    )


def _idx_path(folder, name):
    for path in (folder / f"{name}.gz", folder / name):
        if path.is_file():
            return path
    return None


def _idx_pair(folder, images_name, labels_name):
    images_path, labels_path = _idx_path(folder, images_name), _idx_path(folder, labels_name)
    images, labels = idx.read(images_path), idx.read(labels_path)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise ValueError(
            f"{images_path}: expected uint8 images of shape (n, 28, 28), got {images.dtype} "
            f"{images.shape}."
        )
    if labels.ndim != 1 or labels.dtype != np.uint8 or (labels.size and labels.max() > 9):
        top = labels.max() if labels.size else None
        raise ValueError(
            f"{labels_path}: expected uint8 labels 0..9 of shape (n,), got {labels.dtype} "
            f"{labels.shape} with largest {top}."
        )
    if len(images) != len(labels):
        raise ValueError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} "
            "labels: they must match."
        )
    x = images.reshape(len(images), -1) * np.float32(1 / 255)  # pixels 0..255 -> [0, 1]
    return x, labels.astype(np.int32)


def _mnist1d(data_dir):
    """The standard MNIST-1D (4,000 + 1,000 signals of 40 samples, the generator's defaults,
    seed 42), generated by the ``mnist1d`` package on first use, then read from the cache."""
    del data_dir
    path = _cache_dir() / "mnist1d-standard.npz"
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in ("x", "t", "x_test", "t_test", "args")}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        arrays = _generate_mnist1d()
        try:
            _save_atomic(path, arrays)
        except OSError as error:
            warnings.warn(f"Could not cache MNIST-1D at {path}: {error}", stacklevel=3)
    info = {"cache": str(path), "generator_args": json.loads(str(arrays["args"]))}
    return arrays["x"], arrays["t"], arrays["x_test"], arrays["t_test"], info


def _generate_mnist1d() -> dict:
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:
        raise ValueError(
            "mnist1d is generated by the optional mnist1d package: pip install 'jaxmlp[data]'."
        ) from None
    args = get_dataset_args()
    state = np.random.get_state(), random.getstate()
    try:  # make_dataset seeds numpy's and Python's global generators: restore them after
        data = make_dataset(args)
    finally:
        np.random.set_state(state[0])
        random.setstate(state[1])
    settings = {k: v for k, v in vars(args).items() if k != "url"}
    return {
        "x": data["x"].astype(np.float32),
        "t": data["y"].astype(np.int32),
        "x_test": data["x_test"].astype(np.float32),
        "t_test": data["y_test"].astype(np.int32),
        "args": np.array(json.dumps(settings)),
    }


def _cache_dir() -> pathlib.Path:
    if os.environ.get(CACHE_ENV):
        return pathlib.Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(base) / "jaxmlp"


def _save_atomic(path: pathlib.Path, arrays: dict) -> None:
    """Write an .npz beside ``path`` and rename it into place: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# fmt: off
_SETS = {  # name: task, n_classes, n_features, n_train, n_test, make or read
    "xor":           _synthetic("binary", 2, 2, 4, 0, _xor, standardize=False),
    "rings":         _synthetic("binary", 2, 2, 1000, 1000, _rings),
    "gaussians":     _synthetic("binary", 2, 2, 1000, 1000, _gaussians, info=_GAUSSIANS),
    "spirals":       _synthetic("binary", 2, 2, 1000, 1000, _spirals),
    "moons":         _synthetic("binary", 2, 2, 1000, 1000, _moons),
    "sine":          _synthetic("regression", 0, 1, 1000, 1000, _sine),
    "surface":       _synthetic("regression", 0, 2, 1000, 1000, _surface),
    "outliers":      _synthetic("regression", 0, 1, 200, 200, _outliers, _line, info=_OUTLIERS),
    "multilabel":    _synthetic("multilabel", 2, 4, 1000, 1000, _multilabel, info=_LABELS),
    "digits":        _real("multiclass", 10, 64, 1438, 359, _digits),
    "fashion-mnist": _real("multiclass", 10, 784, 60000, 10000, _fashion_mnist),
    "mnist1d":       _real("multiclass", 10, 40, 4000, 1000, _mnist1d),
}
READS_DATA_DIR = ("fashion-mnist",)  # the sets whose files data_dir (--data-dir) locates
_SOURCES = {  # where each set comes from, in words a newcomer understands
    "xor":           "generated: the four rows of the XOR truth table",
    "rings":         "generated: a disc (class 0) inside a ring (class 1)",
    "gaussians":     "generated: two overlapping Gaussian clouds; the best boundary is known",
    "spirals":       "generated: two interleaved spirals",
    "moons":         "generated: two interleaved half circles",
    "sine":          "generated: t = sin(x) on [-pi, pi], for curve fitting",
    "surface":       "generated: t = sin(2 pi x1) cos(2 pi x2) on [0, 1]^2",
    "outliers":      "generated: the line t = 2x + 1 with 10% wild points in the training part",
    "multilabel":    "generated: two yes/no labels (spam, urgent) per example",
    "digits":        "real: 8x8 images of handwritten digits (UCI), shipped with jaxmlp",
    "fashion-mnist": "real: 28x28 photos of clothes (Zalando); needs the Debian package "
                     "dataset-fashion-mnist or --data-dir",
    "mnist1d":       "real: 1-D signals of digits (Greydanus 2020), made by the mnist1d package",
}
# fmt: on


# -- checks, encoding, splitting ---------------------------------------------------------------


def _check_options(seed, n, val_fraction, standardize):
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    if n is not None and (isinstance(n, bool) or not isinstance(n, Integral) or n <= 0):
        raise ValueError(f"n must be a positive integer or None, got {n!r}.")
    if (
        isinstance(val_fraction, bool)
        or not isinstance(val_fraction, Real)
        or not 0 <= val_fraction < 1
    ):
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}.")
    if not isinstance(standardize, bool):
        raise ValueError(f"standardize must be True or False, got {standardize!r}.")
    return int(seed), None if n is None else int(n), float(val_fraction)


def _user_file(name_or_path) -> pathlib.Path:
    path = pathlib.Path(name_or_path)
    if path.suffix.lower() not in (".csv", ".npz"):
        raise ValueError(
            f"Unknown dataset: {str(name_or_path)!r}. It needs to be one of {list(_SETS)}, or "
            "a path to a .csv or .npz file."
        )
    if not path.is_file():
        raise ValueError(f"{path}: {'a folder, not a file' if path.is_dir() else 'no such file'}.")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: empty file.")
    return path


def _check_xy(x, y, x_name, y_name):
    x, y = np.asarray(x), np.asarray(y)
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ValueError(f"{x_name} must be numeric, got dtype {x.dtype}.")
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(
            f"{x_name} must have shape (n, d) with n >= 1, got {x.shape}; one feature is "
            f"{x_name}[:, None]."
        )
    if y.ndim not in (1, 2):
        raise ValueError(f"{y_name} must have shape (n,) or (n, K), got {y.shape}.")
    if len(y) != len(x):
        raise ValueError(
            f"{x_name} has {len(x)} examples but {y_name} has {len(y)} labels: they must match."
        )
    x = x.reshape(len(x), -1)
    _check_finite(x, x_name)
    if y.dtype == bool:
        y = y.astype(np.int8)
    if np.issubdtype(y.dtype, np.number):
        _check_finite(y, y_name)
    return x, y


def _check_finite(a, name):
    bad = ~np.isfinite(a)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} contains NaN or Inf ({int(bad.sum())} values, first at index {where}); "
            "remove or impute them."
        )


def _encode_targets(y, y_test, task):
    """``(t, t_test, task, n_classes, classes)``: ``y`` encoded as ``TARGETS[task]`` says."""
    both = y if y_test is None else np.concatenate([y, y_test])
    numeric = np.issubdtype(y.dtype, np.number) or y.dtype == bool
    if not numeric and y.dtype.kind not in "US":
        raise ValueError(f"y must hold numbers or class names, got dtype {y.dtype}.")
    if task is None or task == "classification":
        task = _infer_task(both, numeric, classification=task == "classification")
    if task in ("regression", "multilabel"):
        if not numeric:
            raise ValueError(f"A {task} task needs numeric targets, got {y.dtype} labels.")
        as_rows = lambda a: None if a is None else a.reshape(len(a), -1).astype(np.float32)  # noqa: E731
        if task == "multilabel" and not np.isin(both, (0, 1)).all():
            raise ValueError("multilabel targets must be 0 or 1.")
        k = as_rows(y).shape[1]
        return as_rows(y), as_rows(y_test), task, k if task == "multilabel" else 0, None
    if y.ndim == 2 and y.shape[1] != 1:
        raise ValueError(f"A {task} task needs one label per example, got y of shape {y.shape}.")
    classes = np.unique(both)
    if numeric and not np.array_equal(classes, np.round(classes)):
        raise ValueError(f"Class labels must be integers, got values like {classes[:5]}.")
    if len(classes) < 2 or (task == "binary" and len(classes) != 2):
        want = "exactly 2" if task == "binary" else "at least 2"
        raise ValueError(f"A {task} task needs {want} classes, got {len(classes)}: {classes[:10]}.")
    if task == "binary":
        encode = lambda a: (a.reshape(-1) == classes[1]).astype(np.float32)[:, None]  # noqa: E731
    else:
        encode = lambda a: np.searchsorted(classes, a.reshape(-1)).astype(np.int32)  # noqa: E731
    t_test = None if y_test is None else encode(y_test)
    return encode(y), t_test, task, len(classes), classes.tolist()


def _check_task(task) -> str | None:
    """``task`` checked; None for "auto"."""
    if task is not None and task not in TASK_CHOICES:
        raise ValueError(f"Unknown task: {task!r}. It needs to be one of {list(TASK_CHOICES)}.")
    return None if task == "auto" else task


def _infer_task(y, numeric, classification=False) -> str:
    """The task of labels ``y`` by ``from_arrays``' rule; ``classification``: classes always."""
    if not numeric:
        return "binary" if len(np.unique(y)) == 2 else "multiclass"
    if y.ndim == 2 and y.shape[1] > 1:
        if np.isin(y, (0, 1)).all():
            return "multilabel"
        if classification:
            raise ValueError(
                f"A classification needs one label per example or 0/1 columns, got y of shape "
                f"{y.shape} with other values."
            )
        return "regression"
    values = np.unique(y)
    if classification or (
        np.array_equal(values, np.round(values)) and 2 <= len(values) <= MAX_CLASSES
    ):
        return "binary" if len(values) == 2 else "multiclass"
    return "regression"


def _assemble(name, task, n_classes, arrays, info, *, seed, val_fraction, standardize) -> Dataset:
    x, t, x_test, t_test = arrays
    x_val = t_val = None
    if val_fraction:
        x, t, x_val, t_val = validation_split(x, t, val_fraction, seed)
    scaler = Standardizer.fit(x) if standardize else None
    prepare = scaler.apply if scaler else functools.partial(np.asarray, dtype=np.float32)
    encode = _TARGET_DTYPES[task]
    return Dataset(
        name=name,
        task=task,
        n_classes=n_classes,
        x_train=prepare(x),
        t_train=encode(t),
        x_val=None if x_val is None else prepare(x_val),
        t_val=None if t_val is None else encode(t_val),
        x_test=None if x_test is None else prepare(x_test),
        t_test=None if t_test is None else encode(t_test),
        info=info | {"standardizer": scaler},
    )


_TARGET_DTYPES = {
    "multiclass": lambda t: np.asarray(t, np.int32).reshape(-1),
    "binary": lambda t: np.asarray(t, np.float32).reshape(len(t), 1),
    "multilabel": lambda t: np.asarray(t, np.float32),
    "regression": lambda t: np.asarray(t, np.float32).reshape(len(t), -1),
}


def _subset(x, t, n, seed):
    if n > len(x):
        raise ValueError(f"n = {n} is more than the {len(x)} training examples.")
    if n == len(x):
        return x, t
    keep = _stratified_mask(t, n, _stream(seed, _SUBSET))
    return x[keep], t[keep]


def _stratified_mask(t, m, rng) -> np.ndarray:
    """A mask of ``m`` of the ``n`` examples: shuffled, grouped by class, and every (n/m)-th
    taken, so each class gives floor or ceil of m n_c / n."""
    n = len(t)
    order = rng.permutation(n)
    t = t.reshape(n, -1)
    if np.issubdtype(t.dtype, np.integer) or t.dtype == bool or np.isin(t, (0, 1)).all():
        strata = np.unique(t, axis=0, return_inverse=True)[1].reshape(-1)
        order = order[np.argsort(strata[order], kind="stable")]
    i = np.arange(n)
    mask = np.zeros(n, bool)
    mask[order[(i + 1) * m // n > i * m // n]] = True
    return mask


def _stream(seed: int, stream: int) -> np.random.Generator:
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
