"""A training run on disk: what ``jaxmlp train`` writes, ``--resume`` continues, and ``jaxmlp
evaluate`` and ``jaxmlp predict`` read.

    RUN_DIR/config.json     the resolved settings (enough to rerun) and the data's fingerprint
    RUN_DIR/metrics.jsonl   one JSON object per finished epoch
    RUN_DIR/checkpoint.npz  the TrainState after the last saved epoch (``jaxmlp.checkpoint``)
    RUN_DIR/summary.json    final losses and accuracies, speed, params_sha256, gradcheck
    RUN_DIR/*.png           loss and accuracy curves; the decision boundary of 2-D data

A run is a function of its settings: the data, its split, the initial parameters and each
epoch's shuffling all derive from ``seed``, so a run resumed from its checkpoint ends with
bitwise the parameters of an uninterrupted one.
"""

import contextlib
import csv
import dataclasses
import datetime
import functools
import hashlib
import io
import json
import os
import pathlib
import shlex
import signal
import sys
import time
import zipfile
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp import backprop, checkpoint, datasets, plots, sharding
from jaxmlp.mlp import MLP
from jaxmlp.optim import Optimizer
from jaxmlp.train import Diverged, TrainConfig, evaluate, fit

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
SAVE_SHARE = 0.1  # at most this share of a run's time goes to regular checkpoints
GRADCHECK_BATCH = 256
GRADCHECK_TOL = 1e-10  # float64 relative error of hand vs autodiff


class RunStopped(Exception):
    """A run that ended before its last epoch: ``status`` 3 (diverged) or 128 + signal number
    (interrupted); the message is one line for the user."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


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


# -- settings -------------------------------------------------------------------------------------


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
    hidden = settings["hidden"]
    activation = settings["activation"]
    if not isinstance(activation, str):
        activation = tuple(activation)
    k = 2 if (data.task == "binary" and output == "softmax") else _n_outputs(data)
    net = MLP(
        (data.x.shape[1], *hidden, k),
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


# -- training -------------------------------------------------------------------------------------


def train(
    given: dict,
    out=None,
    *,
    resume: bool = False,
    progress: bool = False,
    handle_signals: bool = False,
    echo=print,
) -> dict:
    """Train with the settings ``given`` (the rest from ``DEFAULTS``) into the folder ``out``;
    returns the summary (also written to ``out/summary.json``).

    ``resume``: continue the run in ``out`` from its checkpoint, with its saved settings (a
    given setting that differs is an error). ``progress``: a progress bar (tqdm) or one line per
    epoch. ``handle_signals``: SIGINT / SIGTERM save a checkpoint and raise ``RunStopped``.
    Raises ``RunStopped`` (status 3) on divergence, keeping the last good checkpoint.
    """
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"Unknown settings {unknown}; known: {sorted(DEFAULTS)}.")
    started = time.perf_counter()
    out = _out_folder(out, given, resume)
    saved = _read_config(out) if resume and (out / "config.json").exists() else None
    settings = _merge(given, saved, out)
    with _precision(settings["dtype"]):
        data, settings = load_data(settings)
        net, optimizer, config, settings = build(settings, data)
        if saved is not None and saved["data"]["sha256"] != data.sha256():
            raise ValueError(
                f"the data of {settings['data']!r} differ from those the run in {out} was "
                "trained on (their SHA-256 changed): resume needs the same data."
            )
        if saved is None:
            out.mkdir(parents=True, exist_ok=True)
            _write_config(out, settings, data, net, optimizer, config)
        return _train(
            out, settings, data, net, optimizer, config, resume, progress, handle_signals,
            echo, started,
        )  # fmt: skip


def _train(out, settings, data, net, optimizer, config, resume, progress, signals, echo, started):
    state, history, wall_before = None, [], 0.0
    if resume and (out / "checkpoint.npz").exists():
        ckpt = checkpoint.load(out / "checkpoint.npz", net=net, optimizer=optimizer)
        if ckpt.config != config:
            raise ValueError(
                f"{out / 'checkpoint.npz'}: saved with {ckpt.config}, but the run's settings "
                f"give {config}."
            )
        extra = ckpt.meta.get("extra") if isinstance(ckpt.meta.get("extra"), dict) else {}
        state, wall_before = ckpt.state, float(extra.get("wall_seconds", 0.0))
        history = _read_metrics(out / "metrics.jsonl", state.epoch)
    checkpoint.write_atomic(out / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in history))
    echo(_banner(data, net, config, out, state.epoch if state else 0))
    t, t_val = targets(net, data.task, data.t), targets(net, data.task, data.t_val)
    saver = _Saver(out, net, optimizer, config, data, settings, wall_before, started, state)
    with (
        _Recorder(out, config, saver, history, progress) as recorder,
        _signals(recorder.stop, signals),
    ):
        try:
            if state is not None and _finished(state, config):
                final = _final_params(state, config)
            else:
                result = fit(
                    net, data.x, t, optimizer, config,
                    x_val=data.x_val, t_val=t_val, state=state, callback=recorder,
                )  # fmt: skip
                state, final = result.state, result.params
        except Diverged as error:
            raise _diverged(error, out, optimizer, saver) from None
    if saver.epoch != state.epoch:  # a signal after the callback's decision, or a late finish
        saver.save(state)
    if recorder.stop:
        raise RunStopped(
            f"interrupted at epoch {state.epoch}/{config.epochs}: checkpoint saved; continue "
            f"with: jaxmlp train --out {shlex.quote(str(out))} --resume",
            128 + recorder.stop[0],
        )
    summary = _summarize(out, data, net, config, state, final, history, saver)
    echo(_closing(summary, out))
    return summary


class _Saver:
    """Writes the checkpoint, with the standardizer and the run's wall time beside the state;
    ``epoch`` is that of the checkpoint on disk (None: none yet).

    A durable save (write, fsync, rename, fsync) takes ~5-20 ms. By default every epoch is
    saved, except that epochs much shorter than a save are grouped: a save is due once
    ``SAVE_SHARE`` of the time since the last one pays for it (at most ~10 % overhead; a crash
    loses at most ~10 save-times of work). Epochs of a tenth of a second and more are each
    saved; XOR's 5000 one-step epochs take dozens of saves, not 5000. ``checkpoint_every = N``
    saves exactly every N-th epoch instead.
    """

    def __init__(self, out, net, optimizer, config, data, settings, wall_before, started, state):
        self.path = out / "checkpoint.npz"
        self.net, self.optimizer, self.config = net, optimizer, config
        self.every = settings["checkpoint_every"]
        self.extra = {} if data.scaler is None else dict(data.scaler._asdict())
        self.data_sha256 = data.sha256()
        self.wall_before, self.started = wall_before, started
        self.epoch = None if state is None else state.epoch
        self.last_end, self.last_cost = time.perf_counter(), 0.0

    def due(self, epoch: int) -> bool:
        """Whether the regular save after ``epoch`` is due."""
        return save_due(epoch, self.every, time.perf_counter() - self.last_end, self.last_cost)

    def wall_seconds(self) -> float:
        return self.wall_before + time.perf_counter() - self.started

    def save(self, state):
        start = time.perf_counter()
        checkpoint.save(
            self.path, state, net=self.net, optimizer=self.optimizer, config=self.config,
            extra=self.extra,
            extra_meta={"wall_seconds": self.wall_seconds(), "data_sha256": self.data_sha256},
        )  # fmt: skip
        self.epoch = state.epoch
        self.last_end = time.perf_counter()
        self.last_cost = self.last_end - start


def save_due(epoch: int, every: int | None, waited: float, last_cost: float) -> bool:
    """Every ``every``-th epoch; with ``every`` None, once the ``waited`` seconds since the last
    save reach ``last_cost / SAVE_SHARE`` (``last_cost``: that save's duration)."""
    if every is not None:
        return epoch % every == 0
    return SAVE_SHARE * waited >= last_cost


class _Recorder:
    """fit's callback: logs each epoch to metrics.jsonl and the progress display, saves the
    checkpoint when ``_Saver.due``, at the end, when patience runs out and on a signal, and
    stops fit once a signal number is in ``stop``."""

    def __init__(self, out, config, saver, history, progress):
        self.config, self.saver, self.history = config, saver, history
        self.metrics = open(out / "metrics.jsonl", "a")  # noqa: SIM115 (closed by __exit__)
        self.bar = _Progress(config.epochs, saver.epoch or 0, progress)
        self.stop: list[int] = []

    def __call__(self, record, state) -> bool:
        self.metrics.write(json.dumps(record) + "\n")
        self.metrics.flush()
        self.history.append(record)
        self.bar.update(record)
        if self.stop or _finished(state, self.config) or self.saver.due(state.epoch):
            os.fsync(self.metrics.fileno())  # the log is durable before the checkpoint is
            self.saver.save(state)
        return bool(self.stop)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.bar.close()
        self.metrics.close()


def _finished(state, config) -> bool:
    patience_out = bool(config.early_stopping) and state.bad_epochs >= config.early_stopping
    return state.epoch >= config.epochs or patience_out


def _final_params(state, config):
    if config.early_stopping and config.restore_best and state.best_params is not None:
        return state.best_params
    return state.params


def _diverged(error: Diverged, out, optimizer, saver) -> RunStopped:
    kept = (
        "no checkpoint was written"
        if saver.epoch is None
        else f"the last good checkpoint (epoch {saver.epoch}) is kept in {out}"
    )
    summary = {
        "status": "diverged",
        "diverged_epoch": error.epoch,
        "diverged_step": error.step,
        "wall_seconds": saver.wall_seconds(),
    }
    checkpoint.write_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return RunStopped(
        f"training diverged at epoch {error.epoch}, step {error.step}: the loss or gradient "
        f"is not finite. Try a lower learning rate (--lr {optimizer.lr / 10:g}); {kept}.",
        3,
    )


def _summarize(out, data, net, config, state, final, history, saver) -> dict:
    classifier = net.output in ("softmax", "sigmoid")
    summary = {"status": "finished" if state.epoch >= config.epochs else "early_stopped"}
    for split, x, t in data.splits():
        result = evaluate(net, final, x, targets(net, data.task, t))
        summary[f"{split}_loss"] = result["loss"]
        if classifier:
            summary[f"{split}_accuracy"] = result["accuracy"]
    n = len(data.x)
    batch = n if config.batch_size == "full" else min(config.batch_size, n)
    steps = n // batch
    seconds = sum(r["seconds"] for r in history)
    typical = float(np.median([r["seconds"] for r in history])) if history else 0.0
    summary |= {
        "epochs": state.epoch,
        "epochs_planned": config.epochs,
        "steps": state.epoch * steps,
        "train_seconds": seconds,
        # a typical epoch's throughput: the median ignores the first epochs, which compile
        "examples_per_second": steps * batch / typical if typical > 0 else None,
        "devices": config.devices or len(jax.devices()),
        "platform": jax.devices()[0].platform,
        "n_params": net.n_params,
        "params_sha256": checkpoint.params_sha256(final),
        "gradcheck": gradcheck(net, final, data.x, targets(net, data.task, data.t)),
        "figures": _figures(out, data, net, final, history),
    }
    summary["wall_seconds"] = saver.wall_seconds()
    checkpoint.write_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def gradcheck(net: MLP, params, x, t, batch: int = GRADCHECK_BATCH) -> dict:
    """Hand backprop against ``jax.grad`` on the first ``batch`` examples, in float64:
    ``max_rel_err = max |hand - autodiff| / max |autodiff|`` over all parameters."""
    with jax.enable_x64(True):
        p64 = jax.tree.map(lambda a: jnp.asarray(np.asarray(a, np.float64)), params)
        xb = net.inputs(np.asarray(x[:batch]), jnp.float64)
        tb = net.targets(np.asarray(t[:batch]), xb.shape[0], jnp.float64)
        diff, scale = map(float, _hand_vs_autodiff(net, p64, xb, tb))
    rel = diff / scale if scale > 0 else diff
    return {
        "batch": int(xb.shape[0]),
        "dtype": "float64",
        "max_rel_err": rel,
        "ok": rel <= GRADCHECK_TOL,
    }


@functools.partial(jax.jit, static_argnums=0)
def _hand_vs_autodiff(net, params, x, t):
    hand = backprop.value_and_grad(net, params, x, t)[1]
    auto = jax.grad(lambda p: backprop.cost_of(net, backprop.forward(net, p, x), t))(params)
    leaves = zip(jax.tree.leaves(hand), jax.tree.leaves(auto))
    diff = jnp.max(jnp.stack([jnp.max(jnp.abs(h - a)) for h, a in leaves]))
    scale = jnp.max(jnp.stack([jnp.max(jnp.abs(a)) for a in jax.tree.leaves(auto)]))
    return diff, scale


def _figures(out, data, net, params, history) -> list[str]:
    if not plots.available():
        return []
    paths = plots.curves(history, out)
    if data.x.shape[1] == 2 and data.task in ("binary", "multiclass"):
        labels = np.asarray(data.t).reshape(len(data.t), -1)[:, 0].astype(np.int32)
        paths.append(
            plots.decision_boundary(
                net,
                params,
                data.x,
                labels,
                out / "boundary.png",
                title=f"{data.name}: decision boundary",
            )
        )
    return [p.name for p in paths]


# -- the folder ------------------------------------------------------------------------------------


def _out_folder(out, given, resume) -> pathlib.Path:
    if out is None:
        if resume:
            raise ValueError("--resume needs --out DIR: the folder of the run to continue.")
        name = pathlib.Path(str(given.get("data", DEFAULTS["data"]))).stem or "run"
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = pathlib.Path("runs") / f"{stamp}-{name}"
        for i in range(2, 1000):
            if not out.exists():
                break
            out = pathlib.Path("runs") / f"{stamp}-{name}-{i}"
    out = pathlib.Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: exists and is not a folder.")
    if (
        not resume
        and out.is_dir()
        and any((out / f).exists() for f in ("config.json", "checkpoint.npz", "metrics.jsonl"))
    ):
        raise ValueError(
            f"--out {out} already holds a run: continue it with --resume, or pick another --out."
        )
    return out


def _merge(given, saved, out) -> dict:
    if saved is None:
        return DEFAULTS | given
    base = saved["settings"]
    for name, value in given.items():
        if name not in LOCAL and _json(value) != _json(base.get(name)):
            flag = "--" + name.replace("_", "-")
            raise ValueError(
                f"{flag} {_json(value)} differs from the {_json(base.get(name))} of the run in "
                f"{out}: a resumed run keeps its settings (drop {flag}, or start a new run)."
            )
    return DEFAULTS | base | {k: v for k, v in given.items() if k in LOCAL}


def _json(value):
    return json.loads(json.dumps(list(value) if isinstance(value, tuple) else value))


def _write_config(out, settings, data, net, optimizer, config):
    record = {
        "jaxmlp_version": _version(),
        "command": command_line(settings, out),
        "settings": settings,
        "data": {
            "name": data.name,
            "task": data.task,
            "n_train": len(data.x),
            "n_val": 0 if data.x_val is None else len(data.x_val),
            "n_test": 0 if data.x_test is None else len(data.x_test),
            "n_features": data.x.shape[1],
            "n_classes": data.n_classes,
            "classes": data.classes,
            "label_name": data.label_name,
            "standardized": data.scaler is not None,
            "sha256": data.sha256(),
        },
        "model": checkpoint.architecture(net),
        "optimizer": dataclasses.asdict(optimizer),
        "train": dataclasses.asdict(config),
        "rng": {"seed": config.seed, "rule": checkpoint.RNG_RULE},
    }
    checkpoint.write_atomic(
        out / "config.json", json.dumps(record, indent=2, default=_plain) + "\n"
    )


def _plain(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _version() -> str:
    import jaxmlp

    return jaxmlp.__version__


def _read_json(path) -> dict:
    try:
        return json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: cannot read ({error}).") from None


def _read_config(folder) -> dict:
    path = pathlib.Path(folder) / "config.json"
    config = _read_json(path)
    if not (
        isinstance(config, dict)
        and isinstance(config.get("settings"), dict)
        and isinstance(config.get("data"), dict)
        and "sha256" in config["data"]
    ):
        raise ValueError(f"{path}: not a jaxmlp run config (no settings or data).")
    return config


def _read_metrics(path, epochs: int) -> list[dict]:
    """The records of epochs 1..``epochs`` from ``metrics.jsonl`` (later or torn lines, written
    after the checkpoint, are dropped)."""
    records = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line torn by a kill
            epoch = record.get("epoch") if isinstance(record, dict) else None
            if isinstance(epoch, int) and 1 <= epoch <= epochs:
                records[epoch] = record
    return [records[e] for e in sorted(records)]


@contextlib.contextmanager
def _precision(dtype: str):
    with jax.enable_x64(True) if dtype == "float64" else contextlib.nullcontext():
        yield


@contextlib.contextmanager
def _signals(stop: list, enabled: bool):
    """SIGINT and SIGTERM append their number to ``stop``; a second one acts as usual."""
    if not enabled:
        yield
        return
    previous = {}

    def handler(signum, frame):
        del frame
        stop.append(signum)
        signal.signal(signum, previous[signum])

    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


# -- what the user sees -------------------------------------------------------------------------


class _Progress:
    """A tqdm bar over epochs with the latest loss and accuracy, or one plain line per epoch
    where tqdm is missing; nothing when off."""

    def __init__(self, total: int, initial: int, enabled: bool):
        self.total, self.bar, self.enabled = total, None, enabled
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self.bar = tqdm(
                total=total, initial=initial, unit="epoch", file=sys.stdout, dynamic_ncols=True
            )

    def update(self, record):
        if not self.enabled:
            return
        shown = {k: record[k] for k in _SHOWN if record.get(k) is not None}
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in shown.items()}, refresh=False)
            self.bar.update(1)
        else:
            values = "  ".join(f"{k} {v:.4g}" for k, v in shown.items())
            print(f"epoch {record['epoch']}/{self.total}  {values}", flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


_SHOWN = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")


def _banner(data, net, config, out, first) -> str:
    sizes = "-".join(map(str, net.sizes))
    act = net.activation if isinstance(net.activation, str) else ",".join(net.activation)
    counts = f"{len(data.x)} train" + "".join(
        f", {len(x)} {name}" for name, x, _ in data.splits()[1:]
    )
    start = f", resuming at epoch {first}" if first else ""
    return (
        f"{data.name} ({data.task}; {counts}): MLP {sizes} {act} -> {net.output}/{net.loss}, "
        f"{net.n_params} params, {config.epochs} epochs{start} -> {out}"
    )


def _closing(summary, out) -> str:
    parts = []
    for split in ("train", "val", "test"):
        if f"{split}_accuracy" in summary:
            parts.append(f"{split}_accuracy {summary[f'{split}_accuracy']:.4f}")
        elif f"{split}_loss" in summary:
            parts.append(f"{split}_loss {summary[f'{split}_loss']:.4g}")
    speed = summary["examples_per_second"]
    rate = f", {speed:,.0f} examples/s" if speed else ""
    return (
        f"{summary['status']} after {summary['epochs']} epochs: {', '.join(parts)} "
        f"({summary['wall_seconds']:.1f} s{rate}); gradcheck max_rel_err "
        f"{summary['gradcheck']['max_rel_err']:.1e}; wrote {out}"
    )


# -- reading a run back -------------------------------------------------------------------------


def open_run(run_dir) -> tuple[dict, "checkpoint.Checkpoint"]:
    """``(config, checkpoint)`` of the run in ``run_dir``; float64 runs must be opened inside
    ``jax.enable_x64(True)`` (``evaluate_run`` and ``predict_run`` do)."""
    run_dir = pathlib.Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"{run_dir}: no such run folder.")
    if not (run_dir / "config.json").is_file():
        raise ValueError(f"{run_dir}: not a jaxmlp run folder (no config.json).")
    return _read_config(run_dir), checkpoint.load(run_dir / "checkpoint.npz")


def _run_dtype(run_dir) -> str:
    path = pathlib.Path(run_dir) / "config.json"
    config = _read_json(path) if path.is_file() else {}
    settings = config.get("settings") if isinstance(config, dict) else None
    return settings.get("dtype", "float32") if isinstance(settings, dict) else "float32"


def evaluate_run(run_dir, data=None, data_dir=None) -> dict:
    """``{split: {"n", "loss", "accuracy"}}`` of the run's final parameters on its own data
    (the same splits), or on the data set or file ``data`` (inputs standardised as in
    training)."""
    with _precision(_run_dtype(run_dir)):
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
    if classes is not None and run_classes is not None and _json(classes) != _json(run_classes):
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
    with _precision(_run_dtype(run_dir)):
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


def describe_datasets() -> list[dict]:
    """The named data sets, one dict each (``datasets.describe()``)."""
    return datasets.describe()
