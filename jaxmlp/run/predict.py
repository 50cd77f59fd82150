"""Reading a run back: ``evaluate_run`` and ``predict_run``, the input files they read
(through ``jaxmlp.files``) and the predictions they write. Both go through ``model.load_run``,
so the command line and ``jaxmlp.load_run`` predict with one code path."""

import csv
import dataclasses
import io
import os
import pathlib
import sys
import warnings

import numpy as np

from jaxmlp import checkpoint, datasets, files, outputs
from jaxmlp.arrays import precision
from jaxmlp.datasets import targets
from jaxmlp.run import data, folder, status
from jaxmlp.run.model import CLASSIFICATION, check_inputs, column_order, load_run
from jaxmlp.run.settings import DEFAULTS


def evaluate_run(
    run_dir, data_name=None, data_dir=None, *, label_column=None, header=None, encoding=None,
    model=None,
) -> dict:  # fmt: skip
    """``{split: {"n", "loss", "accuracy"}}`` of the run's checkpoint (``model``: its
    ``load_run``, if read already) on its own data (the same splits), or on the data set or file
    ``data_name`` (inputs standardised as in training; a CSV's labels in the run's label
    column, or ``label_column``): other data with a test part (a named set's, an npz file's
    ``x_test``) as ``train`` and ``test``, other data without as one split ``data``. The path
    of the run's data file, changed since, is other data (``data.whose``), and a UserWarning
    says so. Rows whose outputs are not finite are refused, as predict refuses them
    (``Model.scores``)."""
    model = model or load_run(run_dir)
    config = folder.read_config(run_dir)
    data.check_data_dir(data_dir)  # "" (an unset variable) is no folder, as train says
    settings = config["settings"] | ({"data_dir": data_dir} if data_dir is not None else {})
    if data_name is None and "data" not in settings:
        raise ValueError(f"{run_dir}: saved from Python, it names no data; pass --data.")
    which = data.whose(data_name, settings, config)
    own = which == "own"
    if which == "changed":
        warnings.warn(
            f"{data_name}: changed since the run in {run_dir} trained on it (its SHA-256 "
            "differs): evaluated as other data, one set without the run's splits.",
            UserWarning,
            stacklevel=2,
        )
    said = "--header" if header else "--no-header"
    given = {"--label-column": label_column, said: header, "--encoding": encoding}
    if any(v is not None for v in given.values()) and (
        own or not str(data_name).lower().endswith(".csv")
    ):
        flag = next(flag for flag, v in given.items() if v is not None)
        raise ValueError(f"{flag} applies to --data FILE.csv only (other data than the run's).")
    name = settings.get("data") if own else data_name
    if data_dir is not None and name not in datasets.READS_DATA_DIR:
        raise ValueError(f"--data-dir would be ignored: {name!r} reads no folder.")
    with precision(model.dtype):
        if own:
            data.check_source(settings, config, run_dir)
            ds, _ = data.load_data(DEFAULTS | settings, config["data"])
            data.check_same(ds, config["data"], run_dir, "evaluating it on its own data")
        else:
            ds = _other_data(
                config, model, data_name, data_dir, label_column, header, encoding or "utf-8"
            )
        results = {}
        for split, x, t in data.splits(ds):
            if not own and ds.x_test is None:  # one set, not the run's training split
                split = "data"
            try:
                results[split] = {"n": len(x), **model.scores(x, t)}
            except ValueError as error:  # rows numbered within the split: name it
                raise ValueError(f"{split} split: {error}") from None
    return results


def _other_data(config, model, name, data_dir, label_column, header, encoding):
    """The data set or file ``name`` as the run's model takes it: labels from the run's label
    column (or ``label_column``) read as the run's task (a file's or named set's classes as
    indices into the run's: any may be absent, others are refused), inputs by name and
    standardised by the run's scaler, no validation split; one row is enough."""
    settings = config["settings"]
    csv_file, named = str(name).lower().endswith(".csv"), name in datasets.names()
    classes = model.class_names() if model.task in CLASSIFICATION and not named else None
    if csv_file and header is None and model.feature_names is not None:
        known = _known(model.feature_names, model.label_name)
        if files.read_header(name, encoding=encoding, known=known) is None:
            raise ValueError(
                f"{name}: its first row is numbers, so no header names the run's columns "
                f"{model.feature_names}; say which it is: a header (--header) or data, the "
                "columns in training order with the label where the run's was (--no-header)."
            )
        header = True  # detected, a row of the run's own names too: read as one below
    if csv_file and label_column is None:
        label_column = _label_column(name, model, settings, header, encoding)
    ds = datasets.load(
        name, data_dir=data_dir, seed=settings.get("seed", 0), standardize=False,
        label_column=-1 if label_column is None else label_column, header=header,
        encoding=encoding, dtype=np.float64, task=None if named else model.task,
        classes=classes, min_examples=2 if named else 1,  # a file evaluated: one row is data
    )  # fmt: skip
    if ds.task != model.task:
        raise ValueError(f"{name!r} is a {ds.task} data set; the run learned {model.task}.")
    if named and model.task in CLASSIFICATION:
        ds = _as_run_classes(ds, model, name)
    order = list(range(ds.n_features))
    headed = (
        csv_file
        and header is not False
        and (
            model.feature_names is not None
            or files.read_header(name, header=header, encoding=encoding) is not None
        )
    )
    if headed:  # by name; a run without names takes column_0, ...
        names, n = ds.info["feature_names"], model.net.sizes[0]
        order = column_order(names, model.feature_names, ds.info["label_name"], str(name), n)
    check_inputs(ds.x_train[:, order], model.net.sizes[0], str(name))
    for x in (ds.x_train, ds.x_test):
        if x is not None:
            datasets.check_pixels(x[:, order], model.data, str(name))
    datasets.check_example_shape(ds.info.get("example_shape"), model.example_shape, str(name))
    x_test = None if ds.x_test is None else model.scale(ds.x_test[:, order])
    return datasets.Dataset(
        ds.name, ds.task, ds.n_classes, model.scale(ds.x_train[:, order]), ds.t_train, None,
        None, x_test, ds.t_test, ds.info,
    )  # fmt: skip


def _known(feature_names, label_name) -> list:
    """The names of a run's columns, its ``feature_names`` and ``label_name``: a first row of
    them is a CSV file's header (``files.read_table``'s ``known``)."""
    return [*(feature_names or ()), *([label_name] if label_name else [])]


def _as_run_classes(ds, model, name):
    """The named set ``ds`` with its labels as indices into the run's classes, by the rule of a
    file's (``targets.encode_as``: any class may be absent, a label outside them is an error):
    a label is its class's name where the set names its classes (digits' 0..9), else its index;
    a run that names no classes knows them by index too (``class_names``' -1/+1 of a threshold
    output are the labels it predicts, not indices)."""
    own = data.classes(ds) or list(range(max(2, ds.n_classes)))
    run = model.classes or list(range(max(2, model.net.sizes[-1])))

    def encode(t, split):
        values = np.asarray(own, dtype=object)[np.asarray(t).reshape(-1).astype(np.int64)]
        return targets.encode_as(values, run, model.task, f"{name!r}: {split}")

    t_train = encode(ds.t_train, "y")
    t_test = None if ds.t_test is None else encode(ds.t_test, "y_test")
    return dataclasses.replace(
        ds, n_classes=len(run), t_train=t_train, t_test=t_test, info=ds.info | {"classes": run}
    )


def _label_column(name, model, settings, header, encoding):
    """The run's label column in the CSV file ``name``: by name where both have a header, else
    the run's index (default: the last); a ValueError when the file lacks it."""
    names, run_column = (
        files.read_header(name, header=header, encoding=encoding),
        settings.get("label_column"),
    )
    if names is None or model.label_name is None:
        if isinstance(run_column, str):
            raise ValueError(
                f"{name}: has no header row, so the run's label column {run_column!r} cannot "
                "be found by name; pass --label-column INDEX."
            )
        return run_column
    if model.label_name not in names:
        raise ValueError(
            f"{name}: has no column {model.label_name!r}, the run's label column: evaluate "
            f"needs the labels (the file's columns are {names}; --label-column names another)."
        )
    return model.label_name


def predict_run(
    run_dir, input_path, header=None, encoding=None, model=None
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(columns, labels, outputs)`` for the inputs in ``input_path`` (.csv whose header names
    the columns, or with ``header`` False the features in training order: ``read_inputs``;
    .npz: its ``x`` or its only array; or .npy): ``labels`` are the predicted classes (their
    names) or the regression outputs, ``outputs`` the network's ``y (n, K)`` where they are
    probabilities (the p_ columns; else none: ``outputs.Output.probabilities``). ``model``:
    the run's ``load_run``, if read already."""
    model = model or load_run(run_dir)
    x = read_inputs(
        input_path, model.net.sizes[0], model.label_name, model.feature_names, header, encoding,
        example_shape=model.example_shape,
    )  # fmt: skip
    datasets.check_pixels(x, model.data, str(input_path))
    y = model.outputs(x)
    labels, none = model.labels(y), np.zeros((len(y), 0), y.dtype)  # refuses outputs not finite
    if model.task == "regression":  # the outputs are the predictions, (n, K)
        return model.columns(), y, none
    if not outputs.get(model.net.output).probabilities:  # y are no probabilities: no p_ columns
        return model.columns(), labels, none
    return model.columns(), labels, y


def read_inputs(
    path, n_features: int, label_name=None, feature_names=None, header=None, encoding=None,
    example_shape=None,
) -> np.ndarray:  # fmt: skip
    """Inputs ``x (n, n_features)`` float64 from a .csv, an .npz (its array ``x``, or its only
    array whatever its name: ``files.read_array``) or an .npy file. A CSV's header names its
    columns, matched to ``feature_names`` by ``column_order`` (a column named ``label_name`` is
    ignored): ``header`` None requires one (a first row of numbers is refused), True takes the
    first row for one whatever it holds; with ``header`` False its columns are the features in
    training order; ``encoding`` is its text's (None: UTF-8). The columns are chosen, and
    counted, before any is read as numbers, so a label column left in is named, not read as a
    number. An array of more axes must have the run's ``example_shape``; ``header`` and
    ``encoding`` are refused with one (they would be ignored)."""
    path = pathlib.Path(path)
    files.check_regular(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        known = _known(feature_names, label_name)
        names, rows, has_header = files.read_table(
            path, header=header, encoding=encoding or "utf-8", known=known
        )
        if header is None and not has_header:
            raise ValueError(
                f"{path}: the first row must be a header naming the columns, got numbers; say "
                "which it is: a header (--header, header=True) or data, the columns in training "
                "order (--no-header, header=False)."
            )
        if not rows:
            raise ValueError(f"{path}: has a header but no data rows.")
        keep = list(range(len(names)))  # chosen before any is read: a label column is named
        if has_header:
            keep = column_order(names, feature_names, label_name, str(path), n_features)
        if len(keep) != n_features:
            raise ValueError(
                f"{path}: expected {n_features} feature columns, got {len(keep)}"
                + (f": {[names[i] for i in keep]}." if has_header else " (no header: the "
                   "columns go by position; a label column left in? remove it).")
            )  # fmt: skip
        x = files.columns_of_numbers(path, names, rows, keep)
    elif suffix in (".npz", ".npy"):
        said = {"--header" if header else "--no-header": f"header={header}",
                "--encoding": f"encoding={encoding!r}"}  # fmt: skip
        for flag, value in zip(said, (header, encoding), strict=True):
            if value is not None:
                raise ValueError(f"{flag} ({said[flag]}) applies to .csv inputs, not to {path}.")
        x = files.read_array(path, "x")
    else:
        raise ValueError(f"{path}: unknown input format {suffix!r}; use .csv, .npz or .npy.")
    return check_inputs(x, n_features, str(path), example_shape)


OUTPUTS = (".csv", ".json", ".npz")


def check_output(path, input_path=None, run_dir=None) -> None:
    """A ValueError unless ``path`` (None: stdout) names a format ``write_predictions`` writes,
    is not a folder, is not the file ``input_path`` (the inputs, by any name or link) nor the
    data file that the run in ``run_dir`` trained on (its config.json's), and is not a file of
    a run or sweep (``status.owner_of``: predictions go beside a run's files under new names,
    never over them)."""
    if path is None:
        return
    path = pathlib.Path(path)
    if path.suffix.lower() not in OUTPUTS:
        raise ValueError(
            f"--output {path}: unknown format {path.suffix or '(no extension)'!r}; the "
            f"extension names it: {', '.join(OUTPUTS)}."
        )
    status.check_free(path, "--output", "predictions")
    exists = path.exists() and input_path is not None and os.path.exists(input_path)
    if exists and os.path.samefile(path, input_path):
        raise ValueError(
            f"--output {path}: is the --input file {input_path}, which predictions would "
            "overwrite; name another file."
        )
    trained_on = _data_file(run_dir) if path.exists() else None
    if trained_on is not None and os.path.samefile(path, trained_on):
        raise ValueError(
            f"--output {path}: is the data file the run in {run_dir} trained on ({trained_on}), "
            "which predictions would overwrite: the run could no longer be evaluated or resumed "
            "on it; name another file."
        )


def _data_file(run_dir) -> str | None:
    """The data file that the run in ``run_dir`` trained on, where its config.json names one
    that exists; None otherwise (a data set, a save_run folder, no run: ``load_run`` says)."""
    if run_dir is None or not (pathlib.Path(run_dir) / "config.json").is_file():
        return None
    try:
        name = folder.read_config(run_dir)["settings"].get("data")
    except ValueError:  # not a run's config: load_run refuses it, saying why
        return None
    return name if isinstance(name, str) and os.path.isfile(name) else None


def write_predictions(columns, labels, y, stream=None, path=None, classes=None) -> None:
    """Predictions to ``stream`` (CSV) or ``path`` in the format its extension names: .csv
    (header ``columns``; each number in the digits that read back as it, not rounded: the
    probabilities that decided a near tie differ), .json (one object per row, keyed by
    ``columns``) or .npz (arrays ``prediction`` and, where ``y`` has columns (a classifier's
    or multilabel net's outputs; regression's are the predictions), ``y``, and ``classes``
    where given: the run's class names, in ``y``'s order; a binary net's one output is the
    probability of the second)."""
    check_output(path)
    suffix = None if path is None else pathlib.Path(path).suffix.lower()
    labels = np.asarray(labels)
    rows = [
        [*label, *outputs]
        for label, outputs in zip(labels.reshape(len(labels), -1).tolist(), np.asarray(y).tolist())
    ]
    if suffix == ".npz":
        buffer = io.BytesIO()
        named = {} if classes is None else {"classes": np.asarray(classes)}
        if np.shape(y)[1]:
            named["y"] = np.asarray(y)
        np.savez(buffer, prediction=labels, **named)
        checkpoint.write_atomic(path, buffer.getvalue())
        return
    if suffix == ".json":
        records = [dict(zip(columns, row, strict=True)) for row in rows]
        checkpoint.write_atomic(path, folder.to_json(records, indent=1) + "\n")
        return
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)  # each number in the digits that read back as it (as JSON's)
    if path is not None:
        checkpoint.write_atomic(path, text.getvalue())
    else:
        (stream or sys.stdout).write(text.getvalue())
