"""A run's data: the ``datasets.Dataset`` of its settings, split by ``datasets.validation_split``
and standardised by ``datasets.Standardizer``, what the run reads from it, and what config.json
says of it (``record``).

The run's ``Dataset`` keeps its ``Standardizer`` (or None) in ``info["standardizer"]``; its
arrays are already standardised.
"""

import dataclasses
import functools
import hashlib
import os
import pathlib

import numpy as np

from jaxmlp import datasets, files, outputs
from jaxmlp.datasets.options import check_data_dir
from jaxmlp.datasets.standardize import check_apart
from jaxmlp.mlp import MLP
from jaxmlp.numeric import is_real, not_one_of
from jaxmlp.train import DTYPES

STANDARDIZE = ("auto", "yes", "no")
MIN_VAL_EXAMPLES = 100
DEFAULT_VAL_FRACTION = 0.1
RAW = "x_raw"  # info: the training inputs as read, before standardising (load_data's keep_raw)


def load_data(
    settings: dict, record: dict | None = None, *, keep_raw: bool = False
) -> tuple[datasets.Dataset, dict]:
    """The data of ``settings`` split and standardised, and the settings with ``val_fraction``
    and ``standardize`` resolved: ``val_fraction`` None is ``DEFAULT_VAL_FRACTION`` from
    ``MIN_VAL_EXAMPLES`` training examples on, else 0; ``standardize`` "auto" standardises
    inputs unless they already lie in [0, 1] (pixels: on digits, standardising the rarely-inked
    border pixels costs about 1 % of test accuracy, measured). A data file's path is made
    absolute (the run folder works from any directory) and its SHA-256 kept in
    ``info["file_sha256"]``; ``task`` is resolved to the data set's.

    The inputs are read in float64, standardised in float64 and kept in the run's dtype, as are
    regression targets. A run whose data record ``record`` (config.json's) has no ``x_dtype``
    was written when inputs were cast to float32 first, one without ``t_dtype`` when regression
    targets were: its data are rebuilt by that rule. A run of a CSV file reads its labels
    from the column it recorded (``label_name``) unless ``label_column`` names one, and takes
    its first row for the header where it recorded feature names from one (``settings``
    header None: detected, perhaps by an older rule than ``csv_fields.is_header``'s).
    ``keep_raw``: where it standardises, keep the training inputs as read (float64 but for such
    a ``record``'s) in ``info[RAW]`` too (a fold sweep standardises each fold from them,
    ``sweep_folds.fold_data``; ``split_raw`` takes them out)."""
    if settings["dtype"] not in DTYPES:  # (TrainConfig's rule) before the data are read in it
        raise not_one_of("dtype", settings["dtype"], DTYPES)
    label_column, name = settings["label_column"], absolute(settings["data"])
    old = record is not None and "x_dtype" not in record
    check_data_dir(settings["data_dir"])
    if label_column is not None and not str(name).lower().endswith(".csv"):
        raise ValueError(f"--label-column applies to .csv files only, not to {name!r}.")
    if label_column is None and record is not None and record.get("label_name") is not None:
        label_column = record["label_name"]  # the column it read (the last, by a default since
        # refused beside a column named label: files.LABEL_NAMES), by name
    val_fraction, standardize = settings["val_fraction"], settings["standardize"]
    if val_fraction is not None and not (is_real(val_fraction) and 0 <= val_fraction < 1):
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}.")
    if standardize not in STANDARDIZE:
        raise not_one_of("standardize", standardize, STANDARDIZE)
    header, named = settings["header"], record and record.get("feature_names")
    if header is None and named and not _headerless(named, record.get("label_name")):
        header = True  # the run read a header, detected by the rule of its day (1990,2000,y)
    source = {  # the options its source takes: a flag given to another is check_used's error
        "data_dir": settings["data_dir"],
        "label_column": -1 if label_column is None else label_column,
        "header": header,
        "encoding": settings["encoding"],
    }
    takes = datasets.options.takes(settings["data"])
    ds = datasets.load(
        settings["data"],  # as given: errors name the user's path
        seed=settings["seed"],
        standardize=False,
        task=settings["task"],
        dtype=np.float32 if old else np.float64,
        **{option: value for option, value in source.items() if option in takes},
    )
    if name not in datasets.names():
        ds = dataclasses.replace(
            ds, info=ds.info | {"file_sha256": file_sha256(name), "path": name}
        )
    x, t, x_val, t_val = ds.x_train, ds.t_train, None, None
    if val_fraction is None:
        val_fraction = DEFAULT_VAL_FRACTION if len(x) >= MIN_VAL_EXAMPLES else 0.0
    if val_fraction:
        x, t, x_val, t_val = datasets.validation_split(x, t, val_fraction, settings["seed"])
    if standardize == "auto":
        standardize = "no" if x.min() >= 0 and x.max() <= 1 else "yes"
    dtype = np.float32 if old else np.dtype(settings["dtype"])
    t_dtype = np.float32 if record is not None and "t_dtype" not in record else dtype
    encode = functools.partial(datasets.targets.TARGET_DTYPES[ds.task], dtype=t_dtype)
    scaler, raw = None, {}
    if standardize == "yes":
        scaler = datasets.Standardizer.fit(x, dtype=dtype if old else np.float64)
        raw = {RAW: x} if keep_raw else {}
    else:
        check_apart(x, dtype, ds.info.get("feature_names"))
    scale = functools.partial(datasets.prepare, scaler, dtype=dtype)
    ds = dataclasses.replace(
        ds,
        x_train=scale(x),
        t_train=encode(t),
        x_val=None if x_val is None else scale(x_val),
        t_val=None if t_val is None else encode(t_val),
        x_test=None if ds.x_test is None else scale(ds.x_test),
        t_test=None if ds.t_test is None else encode(ds.t_test),
        info=ds.info | {"standardizer": scaler} | raw,
    )
    resolved = {"data": name, "task": ds.task, "val_fraction": val_fraction}
    return ds, settings | resolved | {"standardize": standardize}


def _headerless(feature_names: list, label_name) -> bool:
    """Whether a run's recorded ``feature_names`` and ``label_name`` are those of a CSV file
    read without a header: ``files.column_names`` of its columns, the label's wherever it stood
    (``column_1``, ``column_2`` beside the label ``column_0``)."""
    names = [*feature_names, *([label_name] if label_name is not None else [])]
    return set(names) <= set(files.column_names(len(feature_names) + 1))


def split_raw(ds: datasets.Dataset) -> tuple[datasets.Dataset, np.ndarray | None]:
    """``(ds without info[RAW], the raw inputs it held there)`` (None where ``load_data`` kept
    none), so that the run's ``Dataset`` does not keep them."""
    info = {name: v for name, v in ds.info.items() if name != RAW}
    return dataclasses.replace(ds, info=info), ds.info.get(RAW)


def absolute(name: str) -> str:
    """A data file's path made absolute; a data set's name as it is."""
    if name in datasets.names() or pathlib.Path(name).suffix.lower() not in (".csv", ".npz"):
        return name
    return str(pathlib.Path(name).expanduser().absolute())


def same_file(name, other) -> bool:
    """Whether the data ``name`` and ``other`` are one: one data set's name, or paths of one
    data file (absolute and resolved: ``../d.csv`` from ``sub`` is ``d.csv``, a link is its
    target); a copy of the file is another."""
    a, b = absolute(str(name)), absolute(str(other))
    if a == b:
        return True
    paths = pathlib.Path(a).is_absolute() and pathlib.Path(b).is_absolute()  # files', not names
    return paths and os.path.realpath(a) == os.path.realpath(b)


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def whose(data_name, settings: dict, config: dict) -> str:
    """Whether evaluating the run (its config.json ``config``, its ``settings``) on
    ``data_name`` (None: the run's) is evaluating it on its ``"own"`` data: none given, the
    run's data set, or the path of its data file with the content it trained on (the SHA-256 in
    the data record); a file gone is the run's own (``check_source`` says it is gone). The
    path of its data file with other content is ``"changed"``, other data; anything else is
    ``"other"``."""
    if data_name is None:
        return "own"
    if "data" not in settings or not same_file(data_name, settings["data"]):
        return "other"
    expected, path = config["data"].get("file_sha256"), pathlib.Path(settings["data"])
    same = expected is None or not path.is_file() or file_sha256(path) == expected
    return "own" if same else "changed"


def check_source(settings: dict, config: dict, run_dir, resume: bool = False) -> None:
    """A ValueError when the data the run in ``run_dir`` (its config.json ``config``) trained
    on are gone or changed since: the folder ``settings["data_dir"]`` (config.json's, or the
    one given instead) is not a folder, or the data file ``settings["data"]`` (its SHA-256 in
    the data record) is gone or another. The way on is ``--data`` other data (evaluate,
    predict), or, for a ``resume``, that file restored (it refuses other data)."""
    restore = " (a resume needs the data it trained on, at that path)." if resume else ""
    where = settings.get("data_dir")
    if where is not None and not pathlib.Path(where).is_dir():
        if where != config["settings"].get("data_dir"):
            raise ValueError(f"--data-dir {where}: not a folder.")
        raise ValueError(
            f"{pathlib.Path(run_dir) / 'config.json'}: data_dir {where!r} is not a folder (the "
            "run read its data there): put them back there, or pass --data-dir DIR where they "
            "are now."
        )
    expected = config["data"].get("file_sha256")
    if expected is None:
        return
    path = pathlib.Path(settings["data"])
    if not path.is_file():
        raise ValueError(
            f"{path}: the data file the run in {run_dir} trained on is gone (moved or "
            "deleted); put it back at that path"
            + (restore or ", or evaluate on other data with --data PATH.")
        )
    now = file_sha256(path)
    if now != expected:
        raise ValueError(
            f"{path}: changed since the run in {run_dir} trained on it (its SHA-256 was "
            f"{expected[:12]}..., is {now[:12]}...); restore it"
            + (restore or ", or pass the data with --data.")
        )


def check_same(ds: datasets.Dataset, meta: dict, run_dir, needs: str) -> None:
    """A ValueError unless ``ds`` has the fingerprint (``sha256``) of the data the run in
    ``run_dir`` trained on (its config's data record ``meta``); ``needs``: who needs them."""
    if meta.get("sha256") is not None and meta["sha256"] != sha256(ds):
        name = ds.info.get("path", ds.name)
        raise ValueError(
            f"the data of {name!r} differ from those the run in {run_dir} was trained on "
            f"(their SHA-256 changed): {needs} needs the same data."
        )


def record(ds: datasets.Dataset) -> dict:
    """What config.json says of the run's data (``evaluate`` and ``predict`` read it back);
    ``example_shape`` only where the inputs had one (``datasets.example_shape``), so the record
    of rows, and the run_id made of it, are those of runs before it was recorded."""
    return {
        "name": ds.name,
        "task": ds.task,
        "n_train": len(ds.x_train),
        "n_val": 0 if ds.x_val is None else len(ds.x_val),
        "n_test": 0 if ds.x_test is None else len(ds.x_test),
        "n_features": ds.n_features,
        "n_classes": ds.n_classes,
        "classes": classes(ds),
        "feature_names": ds.info.get("feature_names"),
        "label_name": ds.info.get("label_name"),
        "standardized": ds.info["standardizer"] is not None,
        "x_dtype": str(ds.x_train.dtype),
        "t_dtype": str(ds.t_train.dtype),
        "sha256": sha256(ds),
        "file_sha256": ds.info.get("file_sha256"),
    } | ({"example_shape": ds.info["example_shape"]} if ds.info.get("example_shape") else {})


def splits(ds: datasets.Dataset) -> list[tuple]:
    """``(name, x, t)`` of each split present: train, val, test."""
    named = [("train", ds.x_train, ds.t_train), ("val", ds.x_val, ds.t_val)]
    return [s for s in (*named, ("test", ds.x_test, ds.t_test)) if s[1] is not None]


def sha256(ds: datasets.Dataset) -> str:
    """The fingerprint of the arrays a run trains on (a resumed run checks it)."""
    digest = hashlib.sha256()
    for _, x, t in splits(ds):
        digest.update(np.ascontiguousarray(x).tobytes())
        digest.update(np.ascontiguousarray(t).tobytes())
    return digest.hexdigest()


def classes(ds: datasets.Dataset) -> list | None:
    """The class names (or multilabel label names) of ``ds``, None where it has none."""
    return ds.info.get("classes", ds.info.get("labels"))


def targets(net: MLP, task: str, t):
    """``t`` as the net takes it: one-hot rows where the labels are integers but the loss is
    not cross-entropy, or a binary task meets a 2-unit softmax; a thresholded output's own
    labels (threshold: -1/+1) for a binary or multilabel task's 0/1."""
    if t is None:
        return None
    out = outputs.get(net.output)
    if task == "multiclass" and net.loss != "cross_entropy":
        return datasets.one_hot(t, net.sizes[-1])
    if task == "binary" and out.decides == "argmax":
        return datasets.one_hot(np.asarray(t).reshape(-1).astype(np.int32), 2)
    if task in ("binary", "multilabel") and out.decides == "threshold" and out.labels != (0, 1):
        negative, positive = out.labels
        return np.where(np.asarray(t) > 0.5, positive, negative).astype(np.float32)
    return t
