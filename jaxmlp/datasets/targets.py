"""Targets and tasks: the user's arrays checked (shapes, finiteness, float32 range, real
numbers) and their labels encoded as the task needs (``TARGETS``), the task inferred by the rule
``from_arrays`` states."""

import contextlib
import math
import warnings

import numpy as np

from jaxmlp import files
from jaxmlp.csv_fields import one_spelling, warn_missing, written_otherwise
from jaxmlp.numeric import first_not_number, not_one_of

TASKS = ("regression", "binary", "multiclass", "multilabel")
TARGETS = {
    "multiclass": "integer labels (n,) int32 in [0, K)",
    "binary": "(n, 1) float32 in {0, 1}",
    "multilabel": "(n, K) float32 in {0, 1}",
    "regression": "(n, K) in the inputs' dtype (float32, or float64: the values as given)",
}
# What ``task=`` accepts: "auto" (or None) infers it, "classification" picks binary, multiclass
# or multilabel from the labels, the others name it.
TASK_CHOICES = ("auto", "classification", *TASKS)
# Task "auto" reads whole numbers with 2 to MAX_CLASSES distinct values as classes; with more it
# refuses to guess (class codes, or a count or measurement?) and asks for the task.
MAX_CLASSES = 50
MIN_PER_CLASS = 3  # an inferred classification with fewer examples per class warns


def check_task(task) -> str:
    """``task`` checked against ``TASK_CHOICES``; None is "auto"."""
    task = "auto" if task is None else task
    if task not in TASK_CHOICES:
        raise not_one_of("task", task, TASK_CHOICES)
    return task


def check_xy(x, y, x_name, y_name):
    x, y = np.asarray(x), np.asarray(y)
    for name, a in ((x_name, x), (y_name, y)):
        if np.issubdtype(a.dtype, np.complexfloating):
            raise ValueError(
                f"{name} must be real numbers, got dtype {a.dtype}; pass the real and imaginary "
                "parts as separate features."
            )
    if not files.numeric(x.dtype):
        raise ValueError(f"{x_name} must be numeric, got dtype {x.dtype}.")
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(
            f"{x_name} must have shape (n, d) with n >= 1, got {x.shape}; one feature is "
            f"{x_name}[:, None]."
        )
    if x.size == 0:
        raise ValueError(
            f"{x_name} has no features: shape {x.shape}; it must have shape (n, d) with d >= 1."
        )
    if y.ndim not in (1, 2):
        raise ValueError(f"{y_name} must have shape (n,) or (n, K), got {y.shape}.")
    if len(y) != len(x):
        raise ValueError(
            f"{x_name} has {len(x)} examples but {y_name} has {len(y)} labels: they must match."
        )
    x = as_rows(x)
    check_finite(x, x_name)
    if y.dtype == bool:
        y = y.astype(np.int8)
    if files.numeric(y.dtype):
        check_finite(y, y_name)
    return x, y


def as_rows(x) -> np.ndarray:
    """Inputs ``x (n, ...)`` as rows ``(n, d)``: the axes after the first flattened in C order
    (``(n, 3, 1)`` is ``(n, 3)``), the one rule for what training and a trained model take."""
    x = np.asarray(x)
    return x.reshape(len(x), math.prod(x.shape[1:])) if x.ndim > 2 else x


def example_shape(x) -> list[int] | None:
    """The shape of one example of inputs ``x (n, ...)`` where it has more than one axis (what
    ``as_rows`` flattens), None for rows ``(n, d)``: a run records it (config.json)."""
    shape = list(np.shape(x)[1:])
    return shape if len(shape) > 1 else None


def check_example_shape(shape, trained, name: str, whose: str = "the model's") -> None:
    """A ValueError naming ``name`` unless examples of ``shape`` (``example_shape``) can be the
    examples of shape ``trained`` (None: unrecorded, any): ``(n, 3, 2)`` flattens to as many
    features as ``(n, 2, 3)`` but to other ones in each column. Rows (``shape`` None) are
    taken (a CSV has no shape), and axes of length 1 do not count (they move no number)."""
    if shape is None or trained is None:
        return
    if [d for d in shape if d != 1] != [d for d in trained if d != 1]:
        width, numbers = math.prod(trained), math.prod(shape)
        why = "other numbers in each feature" if numbers == width else f"{numbers}, not {width}"
        raise ValueError(
            f"{name}: examples of shape {tuple(shape)}, but {whose} are of shape "
            f"{tuple(trained)} (flattened: {why}); give them in that shape, or as rows "
            f"(n, {width})."
        )


def check_finite(a, name):
    bad = ~np.isfinite(a)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} contains NaN or Inf ({int(bad.sum())} values, first at index {where}); "
            "remove or impute them."
        )


def check_range(a, name, columns=None) -> None:
    """ValueError naming the first value of ``a`` (finite) that float32 cannot hold."""
    if not np.issubdtype(a.dtype, np.floating) or a.dtype.itemsize <= 4:
        return
    big = np.abs(a) > np.finfo(np.float32).max
    if big.any():
        where = tuple(int(i) for i in np.argwhere(big)[0])
        column = where[-1] if a.ndim == 2 else None
        named = f" column {columns[column]!r}" if columns and column is not None else ""
        raise ValueError(
            f"{name}{named}: value {a[where]:.6g} at index {where} exceeds the float32 range "
            f"(largest {np.finfo(np.float32).max:.3g}), the dtype the model computes in; "
            "rescale it."
        )


def as_dtype(x, dtype=np.float32, name="x") -> np.ndarray:
    """``x`` in ``dtype`` once its values fit float32 (``check_range``)."""
    x = np.asarray(x)
    check_range(x, name)
    return x.astype(dtype)


def encode_targets(y, y_test, task, classes=None, lines=None):
    """``(t, t_test, task, n_classes, classes)``: ``y`` encoded as ``TARGETS[task]`` says; with
    ``classes`` (a trained model's) as their indices (``encode_as``; ``lines``: each label's
    line in its file, for the message)."""
    if lines is None:  # a file's labels were checked as it was read (csv_fields.read_labels)
        for name, labels in (("y", y), ("y_test", y_test)):
            _check_missing(name, labels)
    if y_test is not None and _kind(y) != _kind(y_test):  # np.concatenate would cast one
        raise ValueError(
            f"y holds {_kind(y)} but y_test holds {_kind(y_test)}: give both as numbers, or "
            "both as names of one type (the name b'a' is no 'a', nor '1' the number 1)."
        )
    if classes is not None:
        if task not in ("binary", "multiclass"):
            raise ValueError(f"classes go with a binary or multiclass task, got task={task!r}.")
        if y.ndim == 2 and y.shape[1] != 1:
            raise ValueError(
                f"A {task} task needs one label per example, got y of shape {y.shape}."
            )
        t_test = None if y_test is None else encode_as(y_test, classes, task, "y_test")
        t = encode_as(y, classes, task, "y", lines)
        return t, t_test, task, len(classes), list(classes)
    y, y_test, both = (y, None, y) if y_test is None else _joined(y, y_test, task)
    numeric = files.numeric(y.dtype)
    if not numeric and y.dtype.kind not in "US":
        raise ValueError(f"y must hold numbers or class names, got dtype {y.dtype}.")
    if y.dtype.kind == "U":  # names: one class in two spellings would be two
        _one_spelling(both, len(y))
    inferred = task == "auto"
    if task in ("auto", "classification"):
        task = _infer_task(y, both, numeric, classification=task == "classification")
    if task in ("regression", "multilabel"):
        if not numeric:
            raise ValueError(f"A {task} task needs numeric targets, got {y.dtype} labels.")
        kind = np.float32 if task == "multilabel" else np.float64  # cast to dtype later
        as_rows = lambda a: None if a is None else a.reshape(len(a), -1).astype(kind)  # noqa: E731
        if task == "multilabel" and not np.isin(both, (0, 1)).all():
            raise ValueError("multilabel targets must be 0 or 1.")
        k = as_rows(y).shape[1]
        return as_rows(y), as_rows(y_test), task, k if task == "multilabel" else 0, None
    if y.ndim == 2 and y.shape[1] != 1:
        raise ValueError(f"A {task} task needs one label per example, got y of shape {y.shape}.")
    classes = np.unique(both)
    if classes.dtype.kind == "f":
        classes = classes + 0.0  # -0.0 is 0.0's class, named 0.0 whichever np.unique kept
    if numeric and not np.array_equal(classes, np.round(classes)):
        raise ValueError(f"Class labels must be integers, got values like {classes[:5]}.")
    if len(classes) < 2 or (task == "binary" and len(classes) != 2):
        want = "exactly 2" if task == "binary" else "at least 2"
        raise ValueError(f"A {task} task needs {want} classes, got {len(classes)}: {classes[:10]}.")
    unseen = np.setdiff1d(classes, np.unique(y)) if y_test is not None else []
    if len(unseen):
        warnings.warn(
            f"y_test holds {len(unseen)} class(es) absent from the training labels y: "
            f"{unseen[:10].tolist()}; the model cannot learn them and their test examples "
            "count as errors.",
            UserWarning,
            stacklevel=4,
        )
    if inferred and len(classes) > 2 and len(y) < MIN_PER_CLASS * len(classes):
        warnings.warn(
            f"y read as {len(classes)} classes for {len(y)} examples ({len(y) / len(classes):.1f} "
            f"per class): if y is a count or a measurement, pass task='regression' "
            "(--task regression).",
            UserWarning,
            stacklevel=4,
        )
    if task == "binary":
        encode = lambda a: (a.reshape(-1) == classes[1]).astype(np.float32)[:, None]  # noqa: E731
    else:
        encode = lambda a: np.searchsorted(classes, a.reshape(-1)).astype(np.int32)  # noqa: E731
    t_test = None if y_test is None else encode(y_test)
    return encode(y), t_test, task, len(classes), classes.tolist()


def _joined(y, y_test, task) -> tuple:
    """``(y, y_test, both)``: ``y`` and ``y_test`` (of one ``_kind``) and the two in one array,
    every label the number it was: two integer dtypes that numpy joins as float64 (int64 and
    uint64) as int64 where it holds both; a ValueError where the joined dtype changes a label
    (2**53 + 1 in float64 is 2**53: as classes two would be one) unless ``task`` is regression
    (its targets are read as floats)."""
    if y.dtype.kind in "iu" and y_test.dtype.kind in "iu":
        info = np.iinfo(np.int64)
        if all(a.size == 0 or info.min <= a.min() and a.max() <= info.max for a in (y, y_test)):
            y, y_test = y.astype(np.int64), y_test.astype(np.int64)
    both = np.concatenate([y, y_test])
    for part, a, name in ((both[: len(y)], y, "y"), (both[len(y) :], y_test, "y_test")):
        changed = files.numeric(a.dtype) and not np.array_equal(part.astype(a.dtype), a)
        if changed and task != "regression":
            at = int(np.argmax(part.astype(a.dtype) != a))
            raise ValueError(
                f"y ({y.dtype}) and y_test ({y_test.dtype}) are joined as {both.dtype}, in which "
                f"{name}'s label {a.reshape(-1)[at].item()!r} (index {at}) is another number: as "
                "classes two labels could be one. Give both in one dtype (int64, or names)."
            )
    return y, y_test, both


def _check_missing(name: str, labels) -> None:
    """The rule of a CSV file's label column for the label names ``labels`` (an array or None)
    of the user's arrays: an empty name is a missing label, refused; a word of
    ``csv_fields.MISSING_LABELS`` (``nan``, ``None``: pandas' ``astype(str)`` of missing values)
    warns that it is taken as a class of its own (``csv_fields.warn_missing``)."""
    if labels is None or labels.dtype.kind not in "US":
        return
    names = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v
             for v in labels.reshape(-1).tolist()]  # fmt: skip
    empty = next((i for i, v in enumerate(names) if not v.strip()), None)
    if empty is not None:
        raise ValueError(
            f"{name}: missing label (an empty name) at index {empty}; remove the row or give "
            "its label."
        )
    warn_missing(name, [(f"index {i}", v) for i, v in enumerate(names)], stacklevel=5)


def _one_spelling(both, n: int) -> None:
    """``csv_fields.one_spelling`` for the label names ``both`` (``y``'s ``n``, then
    ``y_test``'s), each distinct name at its first place."""
    names, first = np.unique(both.reshape(-1), return_index=True)
    place = lambda i: f"index {i}" if i < n else f"y_test index {i - n}"  # noqa: E731
    one_spelling("y", [(place(i), str(name)) for i, name in sorted(zip(first, names))])


def check_evaluated(t, task: str, name: str = "t") -> None:
    """A ValueError naming ``name`` unless the targets ``t`` (an array) that a trained model of
    ``task`` is evaluated on are one per example as the task reads them: a classifier's labels
    of shape ``(n,)`` or ``(n, 1)`` (``(1, n)`` is one row of n labels, not n labels), and the
    numbers of a regression or multilabel task as numbers, not text (Python's ``float`` reads
    ``'1_000'`` as 1000, as no CSV reader does: a file's are read by ``csv_fields``)."""
    if t.ndim == 0:
        raise ValueError(
            f"{name}: the targets are one per example, got a single value {t.item()!r}: give an "
            "array of them, one per row of x."
        )
    if task in ("binary", "multiclass"):
        if t.ndim > 2 or (t.ndim == 2 and t.shape[1] != 1):
            row = " (one row of labels? one label per example is a column, or flat)"
            raise ValueError(
                f"{name}: a {task} model's targets are one label per example, of shape (n,) or "
                f"(n, 1), got shape {t.shape}{row if t.ndim == 2 and len(t) == 1 else ''}."
            )
        return
    odd = first_not_number(t)
    if odd is not None:
        raise ValueError(
            f"{name}: a {task} model's targets are numbers, got {odd[1]!r} at index {odd[0]}: "
            "give them as numbers (text is not read as one here)."
        )


def _kind(y) -> str:
    """What labels ``y`` are: numbers, class names as str or as bytes, or another dtype."""
    if files.numeric(y.dtype):
        return "numbers"
    return {"U": "class names as str", "S": "class names as bytes"}.get(
        y.dtype.kind, f"values of dtype {y.dtype}"
    )


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


def encode_as(y, classes, task: str, name: str = "y", lines=None) -> np.ndarray:
    """Labels ``y`` as indices into ``classes`` (a trained model's, in its order), encoded as
    ``TARGETS[task]`` says; any class may be absent. A number matches an equal number (``1``,
    ``1.0``), a name only itself; a ValueError names the labels outside ``classes`` and where
    the first stands: its index, or its line where ``lines`` gives each label's line."""
    index = {c: i for i, c in enumerate(classes)}
    values = np.asarray(y).reshape(-1).tolist()
    unknown = list(dict.fromkeys(v for v in values if v not in index))
    with contextlib.suppress(TypeError):  # None or pd.NA beside names: in the order met
        unknown.sort()
    if unknown:
        first = next(i for i, v in enumerate(values) if v not in index)
        where = f"at index {first}" if lines is None else f"on line {lines[first]}"
        alike = written_otherwise(unknown, classes)
        also = "" if alike is None else (
            f" ({alike[0]!r} is the class {alike[1]!r} written another way, in another Unicode "
            "spelling, case or spaces around it: write it as the class is written)"
        )  # fmt: skip
        raise ValueError(
            f"{name} has labels {unknown[:10]} outside the classes {list(classes)}; the first, "
            f"{values[first]!r}, {where}{also}."
        )
    labels = np.array([index[v] for v in values], np.int32)
    return labels[:, None].astype(np.float32) if task == "binary" else labels


def _infer_task(y, both, numeric, classification=False) -> str:
    """The task of labels ``y`` (``both``: with the test labels) by ``from_arrays``' rule."""
    columns = both.ndim == 2 and both.shape[1] > 1
    if columns:
        if np.isin(both, (0, 1)).all() if numeric else False:
            return "multilabel"
        if classification:
            raise ValueError(
                f"A classification needs one label per example or 0/1 columns, got y of shape "
                f"{y.shape} with other values."
            )
        return "regression"
    values = np.unique(both)
    if numeric and not classification:
        whole = np.array_equal(values, np.round(values))
        if whole and len(np.unique(y)) == 1:
            raise ValueError(
                f"y holds one value ({np.unique(y)[0].item()!r}) for all {len(y)} examples: "
                "nothing to classify. Pass task='regression' if it is a constant target."
            )
        if not whole:
            return "regression"
        if len(values) > MAX_CLASSES:
            raise ValueError(
                f"y holds {len(values)} distinct whole numbers ({values[0].item()!r} to "
                f"{values[-1].item()!r}): class labels, or a count or a measurement? Task 'auto' "
                f"reads at most {MAX_CLASSES} distinct whole numbers as classes and does not "
                "guess with more: pass task='classification' or task='regression' (--task "
                "classification or --task regression)."
            )
    return "binary" if len(values) == 2 else "multiclass"


TARGET_DTYPES = {  # (t, dtype of the inputs) -> t as TARGETS says
    "multiclass": lambda t, dtype: np.asarray(t, np.int32).reshape(-1),
    "binary": lambda t, dtype: np.asarray(t, np.float32).reshape(len(t), 1),
    "multilabel": lambda t, dtype: np.asarray(t, np.float32),
    "regression": lambda t, dtype: np.asarray(t, dtype).reshape(len(t), -1),
}
