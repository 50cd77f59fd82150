"""A run's settings, its data, and the parts built from them: ``DEFAULTS``, ``merge``,
``load_data`` and ``build``.

A run is a function of its settings: the data, its split, the initial parameters and each
epoch's shuffling all derive from ``seed``.
"""

import contextlib
import hashlib
import json
import pathlib
import shlex
from typing import NamedTuple

import jax
import numpy as np

from jaxmlp import datasets, sharding
from jaxmlp.mlp import MLP
from jaxmlp.optim import Optimizer
from jaxmlp.train import TrainConfig

# Every setting of a run, with its default. None means "from the data": output and loss from the
# task, val_fraction 0.1 when there are at least MIN_VAL_EXAMPLES training examples (else 0).
# standardize "auto" standardises inputs unless they already lie in [0, 1] (pixels): on digits,
# standardising the rarely-inked border pixels costs about 1 % of test accuracy (measured).
DEFAULTS = {
    "data": "digits",
    "data_dir": None,
    "label_column": None,
    "standardize": "auto",
    "hidden": [256],
    "activation": "relu",
    "output": None,
    "loss": None,
    "reduction": "mean",
    "init": None,
    "dropout": 0.0,
    "optimizer": "adam",
    "lr": 1e-3,
    "momentum": None,
    "weight_decay": 0.0,
    "schedule": "constant",
    "clip_norm": None,
    "batch_size": 32,
    "epochs": 40,
    "backprop": "hand",
    "seed": 0,
    "dtype": "float32",
    "devices": None,
    "val_fraction": None,
    "early_stopping": None,
    "checkpoint_every": None,
}
# Settings a resumed run may change: where the data lives and how often to save.
LOCAL = ("data_dir", "checkpoint_every")
STANDARDIZE = ("auto", "yes", "no")
MIN_VAL_EXAMPLES = 100
DEFAULT_VAL_FRACTION = 0.1


class Run(NamedTuple):
    """One run's parts, handed from step to step: where it lives, its resolved settings, its
    data (split and standardised) and what ``fit`` takes."""

    out: pathlib.Path
    settings: dict
    data: "Data"
    net: MLP
    optimizer: Optimizer
    config: TrainConfig


class Data(NamedTuple):
    """The arrays a run trains on, inputs standardised by ``scaler`` (None: as read)."""

    name: str
    task: str
    n_classes: int
    classes: list | None
    label_name: str | None
    x: np.ndarray
    t: np.ndarray
    x_val: np.ndarray | None
    t_val: np.ndarray | None
    x_test: np.ndarray | None
    t_test: np.ndarray | None
    scaler: datasets.Standardizer | None

    def splits(self):
        """(name, x, t) of each split present."""
        named = (("train", self.x, self.t), ("val", self.x_val, self.t_val))
        return [s for s in (*named, ("test", self.x_test, self.t_test)) if s[1] is not None]

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for _, x, t in self.splits():
            digest.update(np.ascontiguousarray(x).tobytes())
            digest.update(np.ascontiguousarray(t).tobytes())
        return digest.hexdigest()


def merge(given: dict, saved: dict | None, out) -> dict:
    """``DEFAULTS`` overridden by the ``saved`` run's settings (a resumed run) and ``given``;
    a given setting that differs from a saved one (other than ``LOCAL``) is an error."""
    if saved is None:
        return DEFAULTS | given
    base = saved["settings"]
    for name, value in given.items():
        if name not in LOCAL and as_json(value) != as_json(base.get(name)):
            flag = "--" + name.replace("_", "-")
            raise ValueError(
                f"{flag} {as_json(value)} differs from the {as_json(base.get(name))} of the run "
                f"in {out}: a resumed run keeps its settings (drop {flag}, or start a new run)."
            )
    return DEFAULTS | base | {k: v for k, v in given.items() if k in LOCAL}


def as_json(value):
    """``value`` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(list(value) if isinstance(value, tuple) else value))


def load_data(settings: dict) -> tuple[Data, dict]:
    """The data of ``settings`` split and standardised, and the settings with ``val_fraction``
    and ``standardize`` resolved."""
    label_column = settings["label_column"]
    if label_column is not None and not str(settings["data"]).lower().endswith(".csv"):
        raise ValueError(f"--label-column applies to .csv files only, not to {settings['data']!r}.")
    ds = datasets.load(
        settings["data"],
        data_dir=settings["data_dir"],
        seed=settings["seed"],
        standardize=False,
        label_column=-1 if label_column is None else label_column,
    )
    x, t = ds.x_train, ds.t_train
    val_fraction = settings["val_fraction"]
    if val_fraction is not None and not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}.")
    if val_fraction is None:
        val_fraction = DEFAULT_VAL_FRACTION if len(x) >= MIN_VAL_EXAMPLES else 0.0
    x_val = t_val = None
    if val_fraction:
        x, t, x_val, t_val = datasets.stratified_split(x, t, val_fraction, settings["seed"])
    standardize = settings["standardize"]
    if standardize not in STANDARDIZE:
        raise ValueError(
            f"Unknown standardize: {standardize!r}. It needs to be one of {list(STANDARDIZE)}."
        )
    if standardize == "auto":
        standardize = "no" if x.min() >= 0 and x.max() <= 1 else "yes"
    scaler = datasets.Standardizer.fit(x) if standardize == "yes" else None
    scale = scaler.apply if scaler else (lambda a: a)
    data = Data(
        name=ds.name,
        task=ds.task,
        n_classes=ds.n_classes,
        classes=ds.info.get("classes", ds.info.get("labels")),
        label_name=ds.info.get("label_name"),
        x=scale(x),
        t=t,
        x_val=None if x_val is None else scale(x_val),
        t_val=t_val,
        x_test=None if ds.x_test is None else scale(ds.x_test),
        t_test=ds.t_test,
        scaler=scaler,
    )
    return data, settings | {"val_fraction": val_fraction, "standardize": standardize}


def build(settings: dict, data: Data) -> tuple[MLP, Optimizer, TrainConfig, dict]:
    """The network, optimizer and train config of ``settings``, and the settings with output
    and loss resolved from the task."""
    output, loss = settings["output"], settings["loss"]
    task_output, task_loss = datasets.default_output_and_loss(data.task)
    if output is None:
        output = task_output if loss in (None, task_loss) else _OUTPUT_FOR.get(loss, task_output)
    if loss is None:
        loss = task_loss if output == task_output else _LOSS_FOR.get(output, "sse")
    activation = settings["activation"]
    if not isinstance(activation, str):
        activation = tuple(activation)
    k = 2 if (data.task == "binary" and output == "softmax") else _n_outputs(data)
    net = MLP(
        (data.x.shape[1], *settings["hidden"], k),
        activation,
        output,
        loss,
        reduction=settings["reduction"],
        init=settings["init"],
        dropout=settings["dropout"],
    )
    optimizer = Optimizer(
        settings["optimizer"],
        lr=settings["lr"],
        momentum=settings["momentum"],
        weight_decay=settings["weight_decay"],
        schedule=settings["schedule"],
        clip_norm=settings["clip_norm"],
    )
    config = TrainConfig(
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        backprop=settings["backprop"],
        seed=settings["seed"],
        dtype=settings["dtype"],
        early_stopping=settings["early_stopping"],
        devices=settings["devices"],
    )
    if config.early_stopping and data.x_val is None:
        raise ValueError(
            "--early-stopping watches the validation loss: pass --val-fraction > 0 "
            f"(the data has {len(data.x)} training examples)."
        )
    batch = len(data.x) if config.batch_size == "full" else min(config.batch_size, len(data.x))
    sharding.check_batch(batch, sharding.data_mesh(config.devices))
    every = settings["checkpoint_every"]
    if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
        raise ValueError(f"checkpoint_every must be an integer >= 1 or None, got {every!r}.")
    return net, optimizer, config, settings | {"output": output, "loss": loss}


_OUTPUT_FOR = {"cross_entropy": "softmax", "bce": "sigmoid"}
_LOSS_FOR = {"softmax": "cross_entropy", "sigmoid": "bce"}


def _n_outputs(data: Data) -> int:
    return data.n_classes if data.task == "multiclass" else data.t.shape[1]


def targets(net: MLP, task: str, t):
    """``t`` as the net takes it: one-hot rows where the labels are integers but the loss is
    not cross-entropy, or a binary task meets a 2-unit softmax."""
    if t is None:
        return None
    if task == "multiclass" and net.loss != "cross_entropy":
        return datasets.one_hot(t, net.sizes[-1])
    if task == "binary" and net.output == "softmax":
        return datasets.one_hot(np.asarray(t).reshape(-1).astype(np.int32), 2)
    return t


def command_line(settings: dict, out) -> str:
    """The ``jaxmlp train`` command that reruns ``settings`` into ``out``."""
    words = ["jaxmlp", "train"]
    for name, value in settings.items():
        if value is None or name == "data_dir":
            continue
        if name == "hidden":
            value = ",".join(map(str, value)) or "none"
        elif isinstance(value, list | tuple):
            value = ",".join(map(str, value))
        words += [f"--{name.replace('_', '-')}", str(value)]
    return shlex.join([*words, "--out", str(out)])


@contextlib.contextmanager
def precision(dtype: str):
    """float64 runs compute inside ``jax.enable_x64(True)``."""
    with jax.enable_x64(True) if dtype == "float64" else contextlib.nullcontext():
        yield
