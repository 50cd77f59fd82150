"""Data sets as numpy arrays: the seeds' toy problems, real benchmarks, and the user's own files.

``load(name_or_path)`` returns a ``Dataset`` with train, validation and test splits and what a
model needs to know: the task, the number of classes and of features. ``x`` is float32 ``(n, d)``;
targets ``t`` follow the task (``TARGETS``). Synthetic sets are drawn from ``seed``; real sets have
a fixed test split and ``seed`` draws only the validation split and the ``n``-example subset.
Standardisation is fitted on the training split alone and applied to validation and test.

This module composes six: ``named`` (the named sets: generators and readers; ``mnist1d``'s
generated set and its cache in a module of its own), ``options`` (load's options checked, and
which each source takes: one it would ignore is refused), ``targets`` (the user's arrays
checked, labels encoded, the task inferred), ``split`` (the one validation split rule, and the
seeds' streams) and ``standardize`` (the ``Standardizer``).

>>> from jaxmlp import datasets
>>> ds = datasets.load("xor")
>>> ds.task, ds.x_train.shape, ds.t_train.shape, ds.x_test
('binary', (4, 2), (4, 1), None)
>>> datasets.default_output_and_loss(ds.task)
('sigmoid', 'bce')
"""

import dataclasses
import functools

import numpy as np

from jaxmlp import files
from jaxmlp.datasets import named, options, split, targets
from jaxmlp.datasets.named import (
    CACHE_ENV,
    DATA_ENV,
    DIGITS_TEST_FRACTION,
    FASHION_CLASSES,
    PIXEL_LEVELS,
    READS_DATA_DIR,
    check_pixels,
    describe,
)
from jaxmlp.datasets.split import SEED_LIMIT, check_seed, stratified_split, validation_split
from jaxmlp.datasets.standardize import Standardizer, check_apart, prepare
from jaxmlp.datasets.targets import (
    MAX_CLASSES,
    MIN_PER_CLASS,
    TARGETS,
    TASK_CHOICES,
    TASKS,
    as_rows,
    check_example_shape,
    encode_as,
    example_shape,
    one_hot,
)
from jaxmlp.numeric import not_one_of

__all__ = [
    "CACHE_ENV",
    "DATA_ENV",
    "DIGITS_TEST_FRACTION",
    "FASHION_CLASSES",
    "MAX_CLASSES",
    "MIN_PER_CLASS",
    "PIXEL_LEVELS",
    "READS_DATA_DIR",
    "SEED_LIMIT",
    "TARGETS",
    "TASKS",
    "TASK_CHOICES",
    "Dataset",
    "Standardizer",
    "as_rows",
    "check_example_shape",
    "check_pixels",
    "check_seed",
    "default_output_and_loss",
    "describe",
    "encode_as",
    "example_shape",
    "from_arrays",
    "load",
    "names",
    "one_hot",
    "posterior",
    "prepare",
    "stratified_split",
    "validation_split",
]

_OUTPUT_AND_LOSS = {
    "multiclass": ("softmax", "cross_entropy"),
    "binary": ("sigmoid", "bce"),
    "multilabel": ("sigmoid", "bce"),
    "regression": ("identity", "sse"),
}


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
    task="auto",
    header=None,
    encoding="utf-8",
    dtype=np.float32,
    classes=None,
    min_examples=2,
) -> Dataset:
    """The data set called ``name_or_path`` (``names()``), or read from a .csv or .npz file.

    Args:
      data_dir: the folder of Fashion-MNIST's IDX files, the only place looked when given (else
        ``$JAXMLP_DATA`` when set, also alone, else the Debian package's folder); a folder named
        without them is an error.
      seed: non-negative int; draws synthetic sets, the validation split and the subset.
      val_fraction: share of the training examples moved to ``x_val``, in [0, 1); stratified.
      label_column: CSV only: the label column's index (negative from the end) or name.
      standardize: fit a ``Standardizer`` on the training split (xor keeps its 0/1 inputs).
      n: number of training examples, at least 2: drawn for synthetic sets, a stratified
        subset otherwise.
      task: ``TASK_CHOICES``; for files, "auto" infers it from the labels by the rule of
        ``from_arrays``; a named set has its own task.
      header: CSV only: True if the first row names the columns, False if it is data, None to
        detect (a first row of numbers only is data).
      encoding: CSV only: the file's text encoding (a Python codec name).
      dtype: of the inputs ``x_*`` and regression targets, float32 or float64 (as read).
      classes: files only: a trained model's classes, as ``from_arrays`` takes them.
      min_examples: files only: 2 to train on (the default), 1 to evaluate on (``from_arrays``).

    An option that the source does not take (``options.takes``: the CSV options of an .npz
    file or a named set, ``data_dir`` of a set that reads no folder), given a value other than
    its default, is a ValueError naming the options it takes: it would be ignored.
    """
    seed, n, val_fraction, dtype = options.check(seed, n, val_fraction, standardize, dtype)
    task = targets.check_task(task)
    options.check_data_dir(data_dir)
    given = dict(label_column=label_column, header=header, encoding=encoding, classes=classes)
    options.check_taken(name_or_path, given | dict(min_examples=min_examples, data_dir=data_dir))
    if isinstance(name_or_path, str) and name_or_path in named.SETS:
        spec = named.SETS[name_or_path]
        if task not in ("auto", spec.task) and not (
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
            dtype=dtype,
        )
    path = options.user_file(name_or_path)
    if path.suffix.lower() == ".csv":
        x, y, feature_names, label_name, lines = files.read_csv(
            path, label_column, header=header, encoding=encoding, lines=True
        )
        arrays = {"x": x, "y": y}
        info = {"path": str(path), "feature_names": feature_names, "label_name": label_name}
        info["lines"] = lines  # for messages only: from_arrays keeps it out of the data set
    else:
        arrays, info = files.read_npz(path), {"path": str(path)}
    try:
        return from_arrays(
            **arrays,
            name=path.name,
            task=task,
            seed=seed,
            val_fraction=val_fraction,
            standardize=standardize,
            n=n,
            info=info,
            dtype=dtype,
            classes=classes,
            min_examples=min_examples,
        )
    except ValueError as error:  # the arrays' problem, in the file that holds them
        if str(error).startswith(str(path)):
            raise
        raise ValueError(f"{path}: {error}") from None


def from_arrays(
    x,
    y,
    x_test=None,
    y_test=None,
    *,
    name="arrays",
    task="auto",
    seed=0,
    val_fraction=0.0,
    standardize=True,
    n=None,
    info=None,
    dtype=np.float32,
    classes=None,
    min_examples=2,
) -> Dataset:
    """A ``Dataset`` from the user's arrays: ``x (n, d)`` (more axes are flattened; the shape of
    an example is kept in ``info["example_shape"]``, and ``x_test``'s must be it), at least
    ``min_examples`` examples (2 to train on; 1 where a trained model is evaluated on them: the
    loss and accuracy of one example are defined), and labels or targets ``y (n,)`` or
    ``(n, K)``. Classes are renumbered 0..K-1 (``info["classes"]``). Values must fit float32;
    the inputs ``x_*`` are standardised in float64 and kept in ``dtype`` (float32, the dtype a
    model computes in by default, or float64), as are regression targets.

    ``task`` (``TASK_CHOICES``): "auto" reads ``y`` by this rule: strings or booleans are
    classes; several columns all 0 or 1 are multilabel, other columns regression; one column of
    integer values with 2 to ``MAX_CLASSES`` distinct values is classes (binary for 2), with a
    warning when there are fewer than ``MIN_PER_CLASS`` examples per class (a count, say, is
    better read with task="regression"); a single value, or more than ``MAX_CLASSES`` distinct
    whole numbers (class codes, or a count?), is refused: the task is not guessed; anything else
    (fractions) is regression. "classification" reads the labels as classes (binary, multiclass or
    multilabel); "regression" as numbers. Test labels are of ``y``'s kind (numbers, or names of
    one type: str or bytes); those of a class absent from ``y`` warn. One name written two ways
    (two Unicode spellings, a truth value in two cases, spaces around it) is refused, as in a
    CSV file (``csv_fields.one_spelling``): as names it would be two classes; so is an empty
    name, a missing label, and a missing value's word (``nan``, ``None``) warns, as there.
    ``classes`` (a trained model's, in its order; a binary or multiclass ``task``) encodes the
    labels as their indices: any class may be absent, a label outside them is an error.
    """
    seed, n, val_fraction, dtype = options.check(seed, n, val_fraction, standardize, dtype)
    task = targets.check_task(task)
    info = dict(info or {})
    if (x_test is None) != (y_test is None):
        raise ValueError("x_test and y_test go together: pass both or neither.")
    shape = example_shape(x)  # before check_xy makes rows of x; x_test's examples are x's
    check_example_shape(None if x_test is None else example_shape(x_test), shape, "x_test", "x's")
    x, y = targets.check_xy(x, y, "x", "y")
    if min_examples not in (1, 2) or isinstance(min_examples, bool):
        raise ValueError(
            f"min_examples must be 1 (to evaluate) or 2 (to train), got {min_examples!r}."
        )
    if len(x) < min_examples:
        raise ValueError(
            f"x has {len(x)} example: training needs at least 2 (one to learn from and a "
            "second to make it a data set)."
        )
    columns = info.get("feature_names")
    targets.check_range(x, "x", columns)
    if x_test is not None:
        x_test, y_test = targets.check_xy(x_test, y_test, "x_test", "y_test")
        targets.check_range(x_test, "x_test", columns)
        if x_test.shape[1] != x.shape[1]:
            raise ValueError(
                f"x_test has {x_test.shape[1]} features but x has {x.shape[1]}: they must match."
            )
        if y_test.shape[1:] != y.shape[1:]:
            raise ValueError(f"y_test has shape {y_test.shape}, y has {y.shape}: K must match.")
    targets.check_range(y, "y")
    if y_test is not None:
        targets.check_range(y_test, "y_test")
    lines = info.pop("lines", None)
    t, t_test, task, n_classes, classes = targets.encode_targets(y, y_test, task, classes, lines)
    if n is not None:
        x, t = split.subset(x, t, n, seed)
    info |= {"classes": classes} if classes is not None else {}
    info |= {"example_shape": shape} if shape else {}  # the run records it
    return _assemble(
        name,
        task,
        n_classes,
        (x, t, x_test, t_test),
        info,
        seed=seed,
        val_fraction=val_fraction,
        standardize=standardize,
        dtype=dtype,
    )


def names() -> tuple[str, ...]:
    """The names ``load`` knows."""
    return tuple(named.SETS)


def default_output_and_loss(task: str) -> tuple[str, str]:
    """The canonical (output, loss) pair of a task, for which dE/dz_L = y - t."""
    if task not in _OUTPUT_AND_LOSS:
        raise not_one_of("task", task, TASKS)
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


# -- checks, encoding, splitting ---------------------------------------------------------------


def _assemble(
    name, task, n_classes, arrays, info, *, seed, val_fraction, standardize, dtype
) -> Dataset:
    x, t, x_test, t_test = arrays
    x_val = t_val = None
    if val_fraction:
        x, t, x_val, t_val = validation_split(x, t, val_fraction, seed)
    scaler = Standardizer.fit(x) if standardize else None
    if scaler is None:
        check_apart(x, dtype, info.get("feature_names"), stacklevel=4)
    inputs = functools.partial(prepare, scaler, dtype=dtype)
    encode = functools.partial(targets.TARGET_DTYPES[task], dtype=dtype)
    return Dataset(
        name=name,
        task=task,
        n_classes=n_classes,
        x_train=inputs(x),
        t_train=encode(t),
        x_val=None if x_val is None else inputs(x_val),
        t_val=None if t_val is None else encode(t_val),
        x_test=None if x_test is None else inputs(x_test),
        t_test=None if t_test is None else encode(t_test),
        info=info | {"standardizer": scaler},
    )
