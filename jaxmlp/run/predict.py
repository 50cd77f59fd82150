"""Reading a run back: ``evaluate_run`` and ``predict_run``, the inputs they read and the
predictions they write."""

import csv
import io
import pathlib
import sys
import zipfile

import numpy as np

from jaxmlp import checkpoint, datasets
from jaxmlp.run.folder import open_run, run_dtype
from jaxmlp.run.settings import Data, as_json, load_data, precision, targets
from jaxmlp.train import evaluate


def evaluate_run(run_dir, data=None, data_dir=None) -> dict:
    """``{split: {"n", "loss", "accuracy"}}`` of the run's final parameters on its own data
    (the same splits), or on the data set or file ``data`` (inputs standardised as in
    training)."""
    with precision(run_dtype(run_dir)):
        config, ckpt = open_run(run_dir)
        settings = config["settings"] | ({"data_dir": data_dir} if data_dir else {})
        if data is None or data == settings["data"]:
            loaded, _ = load_data(settings)
        else:
            loaded = _other_data(config, ckpt, data, data_dir)
        net, params = ckpt.net, ckpt.final_params
        results = {}
        for split, x, t in loaded.splits():
            result = evaluate(net, params, x, targets(net, loaded.task, t))
            results[split] = {"n": len(x), **result}
    return results


def _other_data(config, ckpt, data, data_dir) -> Data:
    settings = config["settings"]
    ds = datasets.load(data, data_dir=data_dir, seed=settings["seed"], standardize=False)
    if ds.task != config["data"]["task"]:
        raise ValueError(
            f"{data!r} is a {ds.task} data set; the run learned {config['data']['task']}."
        )
    classes, run_classes = ds.info.get("classes"), config["data"]["classes"]
    if classes is not None and run_classes is not None and as_json(classes) != as_json(run_classes):
        raise ValueError(
            f"{data!r} has classes {classes}, the run's are {config['data']['classes']}: "
            "they must be the same."
        )
    scale = _scaler_of(ckpt)
    return Data(
        ds.name, ds.task, ds.n_classes, classes, None, scale(ds.x_train), ds.t_train, None, None,
        None if ds.x_test is None else scale(ds.x_test), ds.t_test, None,
    )  # fmt: skip


def _scaler_of(ckpt):
    if "mean" in ckpt.extra:
        return datasets.Standardizer(ckpt.extra["mean"], ckpt.extra["std"]).apply
    return lambda x: np.asarray(x, np.float32)


def predict_run(run_dir, input_path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(columns, labels, outputs)`` for the inputs in ``input_path`` (.csv with a header, .npz
    with an array ``x``, or .npy): ``labels`` are the predicted classes (their names) or the
    regression outputs, ``outputs`` the network's ``y (n, K)``."""
    with precision(run_dtype(run_dir)):
        config, ckpt = open_run(run_dir)
        meta = config["data"]
        x = read_inputs(input_path, meta["n_features"], meta.get("label_name"))
        net = ckpt.net
        y = np.asarray(net.apply(ckpt.final_params, _scaler_of(ckpt)(x)))
    task, classes = meta["task"], meta.get("classes")
    if task in ("binary", "multiclass"):
        index = (y[:, 0] > 0.5).astype(int) if y.shape[1] == 1 else y.argmax(1)
        names = list(classes) if classes else list(range(max(2, y.shape[1])))
        labels = np.array([names[i] for i in index])
        columns = ["prediction"] + (
            [f"p_{names[1]}"] if y.shape[1] == 1 else [f"p_{c}" for c in names]
        )
        return columns, labels, y
    if task == "multilabel":
        names = list(classes) if classes else [f"label{k}" for k in range(y.shape[1])]
        return [*names, *(f"p_{c}" for c in names)], (y > 0.5).astype(int), y
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
        x = _read_csv_inputs(path, n_features, label_name)
    elif suffix in (".npz", ".npy"):
        x = _read_npz_inputs(path)
    else:
        raise ValueError(f"{path}: unknown input format {suffix!r}; use .csv, .npz or .npy.")
    if x.ndim == 1 and n_features == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != n_features or len(x) == 0:
        raise ValueError(
            f"{path}: inputs must have shape (n, {n_features}) with n >= 1, got {x.shape}."
        )
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ValueError(f"{path}: inputs must be numbers, got dtype {x.dtype}.")
    bad = ~np.isfinite(x.astype(np.float64))
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{path}: inputs contain NaN or Inf (first at index {where}).")
    return x.astype(np.float32)


def _read_csv_inputs(path, n_features, label_name) -> np.ndarray:
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [row for row in csv.reader(f) if any(field.strip() for field in row)]
    if not rows:
        raise ValueError(f"{path}: empty file; expected a header row, then data rows.")
    header, rows = [h.strip() for h in rows[0]], rows[1:]
    keep = [i for i, h in enumerate(header) if not (label_name and h == label_name)]
    if len(keep) != n_features:
        raise ValueError(
            f"{path}: expected {n_features} feature columns, got {len(keep)} of header {header}."
        )
    values = []
    for line, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise ValueError(f"{path}, line {line}: expected {len(header)} fields, got {len(row)}.")
        try:
            values.append([float(row[i]) for i in keep])
        except ValueError:
            raise ValueError(f"{path}, line {line}: a field is not a number: {row}.") from None
    return np.array(values, np.float64).reshape(len(values), len(keep))


def _read_npz_inputs(path) -> np.ndarray:
    try:
        with open(path, "rb") as f:  # ours to close, whatever np.load raises
            loaded = np.load(f, allow_pickle=False)
            if isinstance(loaded, np.ndarray):
                return loaded
            with loaded:
                names = loaded.files
                if "x" in names or len(names) == 1:
                    return loaded["x" if "x" in names else names[0]]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: not a readable numpy file ({error}).") from None
    raise ValueError(f"{path}: needs an array named 'x'; it holds {names}.")


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
