"""What a run's names say, checked where they are saved or read: its class names (strings or
numbers, each once) and the prediction columns they make (``prediction_columns``, what
``jaxmlp predict`` writes), the scaler and feature names that ``save_run`` records."""

import numbers

import numpy as np

from jaxmlp import datasets, files, outputs
from jaxmlp.mlp import MLP
from jaxmlp.run.tasks import CLASSIFICATION


def check_classes(classes, task: str, net: MLP, where: str) -> None:
    """A ValueError naming ``where`` and the problem unless ``classes`` (None: indices) name
    each of ``net``'s classes (binary: 2) or labels (multilabel), all strings or all numbers
    (mixed, they would be saved as strings), each once, with prediction columns
    (``prediction_columns``) each named once: a multilabel net's ``spam`` and ``p_spam`` would
    make two columns ``p_spam``."""
    if classes is None or task not in (*CLASSIFICATION, "multilabel"):
        return
    k = 2 if task == "binary" else net.sizes[-1]
    classes = list(classes)
    if len(classes) != k:
        raise ValueError(
            f"{where}: {len(classes)} class names for a {task} model of {net.sizes[-1]} "
            f"outputs, which needs {k}."
        )
    kinds = {_kind(c) for c in classes}
    if len(kinds) > 1 or not kinds <= {"string", "number", "bool"}:
        raise ValueError(
            f"{where}: the class names {classes} mix numbers and strings (or hold other "
            f"values: {sorted(kinds)}); saved, they would all become strings. Give them all as "
            "strings or all as numbers."
        )
    odd = [c for c in classes if _kind(c) == "number" and (c != c or abs(c) == float("inf"))]
    if odd:
        raise ValueError(
            f"{where}: the class name {odd[0]!r} is not a finite number: JSON writes it as a "
            "string, and predictions could not name it; give the classes finite numbers or "
            "strings ('nan' as a string)."
        )
    saved = np.asarray(classes).tolist()  # as save_run writes them: 1 and 1.0 are both 1.0
    twice = [c for i, c in enumerate(saved) if c in saved[:i]]
    if twice:
        raise ValueError(
            f"{where}: the class names {twice} are given more than once (as saved: {saved}); "
            "give each class a name of its own."
        )
    probabilities = outputs.get(net.output).probabilities
    columns = prediction_columns(task, saved, net.sizes[-1], probabilities)
    files.check_unique(
        f"{where}: the class names {saved} make the prediction columns {columns}", columns
    )


def _kind(value) -> str:
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool | np.bool_):
        return "bool"
    return "number" if isinstance(value, numbers.Real) else type(value).__name__


def prediction_columns(task: str, names: list, n_outputs: int, probabilities: bool) -> list:
    """The columns of ``predict_run``'s output for a model of ``task`` with ``n_outputs``
    outputs and class (or label) ``names``: regression's ``prediction`` (``y0``, ``y1``, ...
    for several); a classifier's ``prediction``, a multilabel net's one column per label; then,
    where the outputs are ``probabilities``, a ``p_`` column per class (a binary unit's: the
    second class's) or label."""
    if task == "regression":
        return ["prediction"] if n_outputs == 1 else [f"y{k}" for k in range(n_outputs)]
    if task in CLASSIFICATION:
        columns, shown = ["prediction"], [names[1]] if n_outputs == 1 else list(names)
    else:
        columns = shown = list(names)
    return [*columns, *(f"p_{c}" for c in shown)] if probabilities else columns


def check_scaler(where: str, scaler, n_inputs: int) -> None:
    """A ValueError naming ``where`` unless the ``datasets.Standardizer`` ``scaler`` holds one
    finite real value per input (``n_inputs``) in its ``mean`` and ``std``, each std > 0 (as
    ``Standardizer.fit`` makes them): what ``save_run`` writes and ``load_run`` reads back."""
    for name, values in scaler._asdict().items():
        a, allowed = np.asarray(values), "finite and > 0" if name == "std" else "finite"
        if a.shape != (n_inputs,):
            raise ValueError(
                f"{where}'s {name} has shape {a.shape}; the net has {n_inputs} inputs, so it "
                f"needs shape ({n_inputs},)."
            )
        real = np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)
        if not real or not np.isfinite(a).all() or (name == "std" and not (a > 0).all()):
            raise ValueError(f"{where}'s {name} holds {a.dtype} values, not all real, {allowed}.")


def check_inputs_described(n_inputs: int, scaler, feature_names) -> None:
    """A ValueError for save_run unless ``scaler`` (None, or a ``datasets.Standardizer`` of
    one value per input: ``check_scaler``) and ``feature_names`` (None, or one distinct
    name per input) describe the net's ``n_inputs`` inputs: a name given twice would feed one
    data-frame column to both inputs."""
    if scaler is not None:
        if not isinstance(scaler, datasets.Standardizer):
            raise ValueError(
                f"save_run: scaler must be a datasets.Standardizer (Standardizer(mean, std), "
                f"or Standardizer.fit(x)) or None, got {type(scaler).__name__}."
            )
        check_scaler("save_run: the scaler", scaler, n_inputs)
    if feature_names is None:
        return
    names = [str(c) for c in feature_names]
    if len(names) != n_inputs:
        raise ValueError(
            f"save_run: {len(names)} feature names {names} for a net of {n_inputs} inputs; give "
            f"one name per input ({n_inputs}), or None for inputs by position (named columns: "
            "column_0, ...)."
        )
    files.check_unique("save_run: feature_names", names)
