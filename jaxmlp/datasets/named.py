"""The named data sets: the seeds' toy problems, drawn from a seed, and real benchmarks read
from the package, the Debian package's files or the mnist1d generator.

A set is a ``Spec``: its task, sizes and ``load(seed, n, data_dir) -> (x, t, x_test, t_test,
info)``. Adding a data set is one ``make(rng, n)`` or ``read(data_dir)`` function and one line in
``SETS`` and ``SOURCES``.
"""

import copy
import functools
import importlib.resources
import os
import pathlib
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from jaxmlp import idx
from jaxmlp.datasets import mnist1d
from jaxmlp.datasets.mnist1d import CACHE_ENV  # noqa: F401 (datasets exports it)
from jaxmlp.datasets.split import (
    TEST_STREAM,
    TRAIN_STREAM,
    stratified_split,
    stream,
    subset,
)

DATA_ENV = "JAXMLP_DATA"
DIGITS_TEST_FRACTION = 0.2
# The named sets of images and their pixels' levels N: a pixel 0..N is read as pixel / N, in
# [0, 1], so a model trained on one takes inputs in [0, 1] (``check_pixels``).
PIXEL_LEVELS = {"digits": 16, "fashion-mnist": 255}
_DEBIAN_FASHION_MNIST = pathlib.Path("/usr/share/datasets/fashion-mnist")


# -- the registry ----------------------------------------------------------------------------


class Spec(NamedTuple):
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
        x, t = make(stream(seed, TRAIN_STREAM), n_train if n is None else n)
        x_test, t_test = (
            (make_test or make)(stream(seed, TEST_STREAM), n_test) if n_test else (None,) * 2
        )
        return x, t, x_test, t_test, copy.deepcopy(info or {})

    return Spec(task, n_classes, n_features, n_train, n_test, load_, standardize)


def _real(task, n_classes, n_features, n_train, n_test, read):
    """A fixed set: ``read(data_dir) -> (x, t, x_test, t_test, info)``; ``n`` takes a stratified
    subset of its training split."""

    def load_(seed, n, data_dir):
        x, t, x_test, t_test, info = read(data_dir)
        if n is not None:
            x, t = subset(x, t, n, seed)
        return x, t, x_test, t_test, info

    return Spec(task, n_classes, n_features, n_train, n_test, load_)


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
    x = images.reshape(len(images), -1) * np.float32(1 / PIXEL_LEVELS["digits"])  # -> [0, 1]
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
    """The folder of the IDX files: ``data_dir`` (or its fashion-mnist subfolder) when given,
    else ``$JAXMLP_DATA`` (or its subfolder) when set, and only there: a folder the user names is
    never passed over for another; else the Debian package's folder. A folder and its subfolder
    both holding the files is refused: MNIST's files have the same names."""
    named, by = (data_dir, "data_dir") if data_dir else (os.environ.get(DATA_ENV), f"${DATA_ENV}")
    root = pathlib.Path(named) if named else None
    folders = [root, root / "fashion-mnist"] if root else [_DEBIAN_FASHION_MNIST]
    names = [name for pair in _FASHION_FILES.values() for name in pair]
    missing = {f: [f"{n}[.gz]" for n in names if not _idx_path(f, n)] for f in folders}
    found = [folder for folder in folders if not missing[folder]]
    some = next((f for f in folders if len(missing[f]) < len(names)), None)  # a part of them
    part = some and (
        f"holds {len(names) - len(missing[some])} of the {len(names)} Fashion-MNIST IDX files, "
        f"not {missing[some]}"
    )
    if len(found) > 1:
        raise ValueError(
            f"{by} {str(named)!r}: both {found[0]} and {found[1]} hold IDX files of these names "
            "(MNIST's are named so too), and which is Fashion-MNIST is not known: name the one "
            "that is (--data-dir)."
        )
    if found:
        return found[0]
    wanted = [f"{name}[.gz]" for name in names]
    if root:
        problem = "is not a folder" if root.exists() else "does not exist"
        if root.is_dir():
            problem = "holds no Fashion-MNIST IDX files (nor does its fashion-mnist subfolder)"
        if some:
            problem = part if some == root else f"holds none; its subfolder {some} {part}"
        instead = (
            f"leave data_dir out to search ${DATA_ENV} or {_DEBIAN_FASHION_MNIST}"
            if data_dir
            else f"unset ${DATA_ENV} to read {_DEBIAN_FASHION_MNIST}"
        )
        raise ValueError(
            f"{by} {str(named)!r} {problem}: looked there for {wanted}; name the folder that "
            f"holds them (--data-dir), or {instead}."
        )
    if some:
        raise ValueError(
            f"{some} {part}: reinstall them (`apt-get install --reinstall "
            "dataset-fashion-mnist`), or pass data_dir (--data-dir) or set "
            f"{DATA_ENV} to a folder holding {wanted}."
        )
    raise ValueError(
        f"Fashion-MNIST IDX files not found; looked in {[str(f) for f in folders]}. Install "
        "them with `apt-get install dataset-fashion-mnist`, or pass data_dir (--data-dir) or "
        f"set {DATA_ENV} to a folder holding {wanted}."
    )


def check_pixels(x, name, where: str) -> None:
    """A ValueError naming ``where`` unless the inputs ``x`` (float, checked finite) lie in
    [0, 1] where ``name`` (a run's data) is a named set of images (``PIXEL_LEVELS``), which
    reads its pixels 0..N as pixel / N: the pixels as they are (sklearn's load_digits, uint8
    images) would go into its model N times too large."""
    levels = PIXEL_LEVELS.get(name) if isinstance(name, str) else None
    outside = (x < 0) | (x > 1)
    if levels is None or not outside.any():
        return
    at = tuple(int(i) for i in np.argwhere(outside)[0])
    raise ValueError(
        f"{where}: inputs span {x.min():.6g} to {x.max():.6g} (the first outside [0, 1] at "
        f"index {at}), but the run trained on {name}'s pixels read as pixel / {levels}, in "
        f"[0, 1]: raw pixels 0..{levels}? divide them by {levels}."
    )


def _idx_path(folder, name):
    for path in (folder / f"{name}.gz", folder / name):
        if path.is_file():
            return path
    return None


def _idx_read(folder, name) -> tuple[pathlib.Path, np.ndarray]:
    """The path and array of the IDX file ``name`` in ``folder``: ``name.gz`` or ``name``; the
    two of one array where both are there (``gunzip -k``), else a ValueError naming them."""
    paths = [path for path in (folder / f"{name}.gz", folder / name) if path.is_file()]
    arrays = [idx.read(path) for path in paths]
    if len(arrays) == 2 and not (
        arrays[0].dtype == arrays[1].dtype and np.array_equal(arrays[0], arrays[1])
    ):
        raise ValueError(
            f"{paths[1]} and {paths[0]} hold other data, and which is meant is not known: keep "
            "one of them."
        )
    return paths[0], arrays[0]


def _idx_pair(folder, images_name, labels_name):
    (images_path, images), (labels_path, labels) = (
        _idx_read(folder, name) for name in (images_name, labels_name)
    )
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
    if len(images) == 0:
        raise ValueError(
            f"{images_path}: holds no images (shape {images.shape}); expected uint8 images of "
            "shape (n, 28, 28) with n >= 1."
        )
    if len(images) != len(labels):
        raise ValueError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} "
            "labels: they must match."
        )
    x = images.reshape(len(images), -1) * np.float32(1 / PIXEL_LEVELS["fashion-mnist"])
    return x, labels.astype(np.int32)


# fmt: off
SETS = {  # name: task, n_classes, n_features, n_train, n_test, make or read
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
    "mnist1d":       _real("multiclass", mnist1d.N_CLASSES, mnist1d.N_FEATURES, mnist1d.N_TRAIN,
                           mnist1d.N_TEST, mnist1d.read),
}
READS_DATA_DIR = ("fashion-mnist",)  # the sets whose files data_dir (--data-dir) locates
SOURCES = {  # where each set comes from, in words a newcomer understands
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
            source=SOURCES[name],
        )
        for name, s in SETS.items()
    ]
