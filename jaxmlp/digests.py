"""What names a run and its weights: the JSON form of a network's settings (``architecture``),
the SHA-256 of its parameters (``params_sha256``), of other arrays (``arrays_sha256``) and of its
settings (``config_sha256``), of a checkpoint's whole state (``state_sha256``), and a run's
identity (``run_identity``). A checkpoint records them
and ``checkpoint.load`` checks them; they stay reachable as ``checkpoint.<name>``.
"""

import dataclasses
import hashlib
import json

import jax
import numpy as np

from jaxmlp import mlp, optim
from jaxmlp.mlp import MLP
from jaxmlp.optim import Optimizer
from jaxmlp.train import TrainConfig


def params_sha256(params) -> str:
    """SHA-256 of the parameters' bytes, leaf by leaf in ``jax.tree.leaves`` order (layer by
    layer, names sorted: alpha, b, w), each in C order: equal digests mean bitwise equal
    parameters."""
    digest = hashlib.sha256()
    for leaf in jax.tree.leaves(params):
        digest.update(np.ascontiguousarray(jax.device_get(leaf)).tobytes())
    return digest.hexdigest()


def arrays_sha256(arrays: dict) -> str:
    """SHA-256 of named arrays (a checkpoint's ``extra``): names in sorted order, each with its
    dtype, shape and bytes in C order."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        digest.update(json.dumps([name, a.dtype.str, list(a.shape)]).encode() + a.tobytes())
    return digest.hexdigest()


def state_sha256(meta: dict, arrays: dict) -> str:
    """SHA-256 of a whole checkpoint: its metadata ``meta`` as JSON reads it back (keys sorted,
    its own ``state_sha256`` left out) and every array of ``arrays`` (``arrays_sha256``):
    parameters, best parameters, optimizer state, extra arrays, and the epoch, early-stopping
    state, RNG state and settings beside them. Equal digests mean the same saved state."""
    fields = {k: v for k, v in json.loads(json.dumps(meta)).items() if k != "state_sha256"}
    text = json.dumps(fields, sort_keys=True) + arrays_sha256(arrays)
    return hashlib.sha256(text.encode()).hexdigest()


def config_sha256(net: MLP, optimizer: Optimizer, config: TrainConfig, saved=None) -> str:
    """SHA-256 of the settings that make a run, all but its length: the architecture, the
    optimizer and the train config without ``epochs`` (a run extended to more epochs is the same
    run). Equal digests mean the same settings. ``saved``: the metadata of a checkpoint ``net``
    and ``optimizer`` were loaded from, whose settings they ignore (``mlp.unused``,
    ``optim.unused``: saved before they were refused, reset when loaded) hash as saved."""
    train = dataclasses.asdict(config)
    del train["epochs"]
    if train["drop_last"]:  # every run before the setting existed: it hashes as those did
        del train["drop_last"]
    settings = {
        "architecture": architecture(net),
        "optimizer": dataclasses.asdict(optimizer),
        "train": train,
    }
    ignored = {"architecture": mlp.unused(len(net.sizes) - 2),
               "optimizer": optim.unused(optimizer.name, optimizer.schedule)}  # fmt: skip
    for part, names in ignored.items():
        record = (saved or {}).get(part) or {}
        settings[part] |= {name: record[name] for name in names if name in record}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def run_identity(net: MLP, optimizer: Optimizer, config: TrainConfig, data_sha256: str = "") -> str:
    """A run's identity: 16 hex digits of the SHA-256 of its settings (``config_sha256``) and
    of its data (``data_sha256``, any string the caller uses to name the data, e.g. a content
    hash). Two runs share an id only if they share settings and data."""
    text = f"{config_sha256(net, optimizer, config)}:{data_sha256}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def architecture(net: MLP) -> dict:
    """The JSON form of ``net``'s settings; ``MLP(**architecture(net))`` rebuilds it."""
    activation = net.activation if isinstance(net.activation, str) else list(net.activation)
    return {
        "sizes": list(net.sizes),
        "activation": activation,
        "output": net.output,
        "loss": net.loss,
        "reduction": net.reduction,
        "init": net.init_scheme,
        "dropout": net.dropout,
    }
