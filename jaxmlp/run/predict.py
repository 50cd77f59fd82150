"""Reading a run back: ``evaluate_run`` and ``predict_run``, the input files they read
(through ``jaxmlp.files``) and the predictions they write. Both go through ``model.load_run``,
so the command line and ``jaxmlp.load_run`` predict with one code path."""

import csv
import io
import pathlib
import sys

import numpy as np

from jaxmlp import checkpoint, datasets, files
from jaxmlp.run import data, folder
from jaxmlp.run.model import check_inputs, load_run
from jaxmlp.run.settings import as_json, precision
from jaxmlp.train import evaluate


def evaluate_run(run_dir, data_name=None, data_dir=None) -> dict:
    """``{split: {"n", "loss", "accuracy"}}`` of the run's final parameters on its own data
    (the same splits), or on the data set or file ``data_name`` (inputs standardised as in
    training)."""
    model = load_run(run_dir)
    config = folder.read_config(run_dir)
    settings = config["settings"] | ({"data_dir": data_dir} if data_dir else {})
    if data_name is None and "data" not in settings:
        raise ValueError(f"{run_dir}: saved from Python, it names no data; pass --data.")
    with precision(model.dtype):
        if data_name is None or data_name == settings.get("data"):
            ds, _ = data.load_data(settings)
        else:
            ds = _other_data(config, model, data_name, data_dir)
        results = {}
        for split, x, t in data.splits(ds):
            params = model.params
            result = evaluate(model.net, params, x, data.targets(model.net, ds.task, t))
            results[split] = {"n": len(x), **result}
    return results


def _other_data(config, model, name, data_dir) -> datasets.Dataset:
    """The data set or file ``name`` as the run's model takes it: inputs standardised by the
    run's scaler, no validation split."""
    settings = config["settings"]
    ds = datasets.load(name, data_dir=data_dir, seed=settings.get("seed", 0), standardize=False)
    if ds.task != model.task:
        raise ValueError(f"{name!r} is a {ds.task} data set; the run learned {model.task}.")
    classes, run_classes = ds.info.get("classes"), model.classes
    if classes is not None and run_classes is not None and as_json(classes) != as_json(run_classes):
        raise ValueError(
            f"{name!r} has classes {classes}, the run's are {run_classes}: they must be the same."
        )
    scale = model.scaler.apply if model.scaler is not None else (lambda a: a)
    x_test = None if ds.x_test is None else scale(ds.x_test)
    return datasets.Dataset(
        ds.name, ds.task, ds.n_classes, scale(ds.x_train), ds.t_train, None, None, x_test,
        ds.t_test, ds.info,
    )  # fmt: skip


def predict_run(run_dir, input_path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(columns, labels, outputs)`` for the inputs in ``input_path`` (.csv with a header, .npz
    with an array ``x``, or .npy): ``labels`` are the predicted classes (their names) or the
    regression outputs, ``outputs`` the network's ``y (n, K)``."""
    model = load_run(run_dir)
    x = read_inputs(input_path, model.net.sizes[0], model.label_name)
    y = model.outputs(x)
    labels = model.labels(y)
    if model.task in ("binary", "multiclass"):
        names = model.class_names()
        probabilities = [names[1]] if y.shape[1] == 1 else names
        return ["prediction", *(f"p_{c}" for c in probabilities)], labels, y
    if model.task == "multilabel":
        names = model.classes or [f"label{k}" for k in range(y.shape[1])]
        return [*names, *(f"p_{c}" for c in names)], labels, y
    names = ["prediction"] if y.shape[1] == 1 else [f"y{k}" for k in range(y.shape[1])]
    return names, y, np.zeros((len(y), 0), y.dtype)


def read_inputs(path, n_features: int, label_name: str | None = None) -> np.ndarray:
    """Inputs ``x (n, n_features)`` float32 from a .csv (header row; a column named
    ``label_name`` is dropped), an .npz (array ``x``) or an .npy file."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file.")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        x, names = files.read_features(path, skip=(label_name,) if label_name else ())
        if len(names) != n_features:
            raise ValueError(
                f"{path}: expected {n_features} feature columns, got {len(names)}: {names}."
            )
    elif suffix in (".npz", ".npy"):
        x = files.read_array(path, "x")
    else:
        raise ValueError(f"{path}: unknown input format {suffix!r}; use .csv, .npz or .npy.")
    return check_inputs(x, n_features, str(path))


def write_predictions(columns, labels, y, stream=None, path=None) -> None:
    """Predictions as CSV (header ``columns``) to ``stream`` or ``path`` (.csv), or as an .npz
    with arrays ``prediction`` and ``y``."""
    if path is not None and pathlib.Path(path).suffix.lower() == ".npz":
        buffer = io.BytesIO()
        np.savez(buffer, prediction=np.asarray(labels), y=np.asarray(y))
        checkpoint.write_atomic(path, buffer.getvalue())
        return
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    labels = np.asarray(labels)
    for label, outputs in zip(labels.reshape(len(labels), -1).tolist(), np.asarray(y).tolist()):
        writer.writerow([*label, *(f"{v:.6g}" for v in outputs)])
    if path is not None:
        checkpoint.write_atomic(path, text.getvalue())
    else:
        (stream or sys.stdout).write(text.getvalue())
