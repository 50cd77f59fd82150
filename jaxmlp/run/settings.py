"""A run's settings and the parts built from them: ``DEFAULTS``, ``merge``, ``build``, and the
``Run`` record that carries them from step to step.

A run is a function of its settings: the data, its split, the initial parameters and each
epoch's shuffling all derive from ``seed``.
"""

import contextlib
import json
import pathlib
import shlex
from typing import NamedTuple

import jax

from jaxmlp import activations, datasets, losses, optim, outputs, sharding
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
    "init_from": None,
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


class Run(NamedTuple):
    """One run's parts, handed from step to step: where it lives, its resolved settings, its
    data (split and standardised) and what ``fit`` takes."""

    out: pathlib.Path
    settings: dict
    data: datasets.Dataset
    net: MLP
    optimizer: Optimizer
    config: TrainConfig


def choices() -> dict[str, tuple[str, ...]]:
    """The names each named setting takes, read from their registries (``--help`` lists them)."""
    return {
        "activation": activations.names(),
        "output": outputs.NAMES,
        "loss": losses.NAMES,
        "optimizer": optim.OPTIMIZERS,
        "schedule": optim.SCHEDULES,
    }


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


def build(settings: dict, data: datasets.Dataset) -> tuple[MLP, Optimizer, TrainConfig, dict]:
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
    k = 2 if (data.task == "binary" and output == "softmax") else data.n_outputs
    net = MLP(
        (data.n_features, *settings["hidden"], k),
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
    n = len(data.x_train)
    if config.early_stopping and data.x_val is None:
        raise ValueError(
            "--early-stopping watches the validation loss: pass --val-fraction > 0 "
            f"(the data has {n} training examples)."
        )
    sharding.check_batch(config.batch(n), sharding.data_mesh(config.devices))
    every = settings["checkpoint_every"]
    if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
        raise ValueError(f"checkpoint_every must be an integer >= 1 or None, got {every!r}.")
    return net, optimizer, config, settings | {"output": output, "loss": loss}


_OUTPUT_FOR = {"cross_entropy": "softmax", "bce": "sigmoid"}
_LOSS_FOR = {"softmax": "cross_entropy", "sigmoid": "bce"}


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
