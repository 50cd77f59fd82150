"""A run's settings and the parts built from them: ``DEFAULTS``, ``merge``, ``build``, and the
``Run`` record that carries them from step to step.

A run is a function of its settings: the data, its split, the initial parameters and each
epoch's shuffling all derive from ``seed``.
"""

import dataclasses
import json
import pathlib
import shlex
from typing import NamedTuple

import jax
import numpy as np

from jaxmlp import activations, datasets, initializers, losses, mlp, optim, outputs, sharding
from jaxmlp.mlp import MLP
from jaxmlp.numeric import check_int, for_json, is_real
from jaxmlp.optim import Optimizer
from jaxmlp.run import tasks
from jaxmlp.run.data import same_file
from jaxmlp.search import check_seeds
from jaxmlp.train import TrainConfig

# Every setting of a run, with its default. None means "from the data": output and loss from the
# task, val_fraction 0.1 when there are at least MIN_VAL_EXAMPLES training examples (else 0).
# standardize "auto" standardises inputs unless they already lie in [0, 1] (pixels): on digits,
# standardising the rarely-inked border pixels costs about 1 % of test accuracy (measured).
DEFAULTS = {
    "data": "digits",
    "data_dir": None,
    "label_column": None,
    "header": None,
    "encoding": "utf-8",
    "task": "auto",
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
    "decay_rate": None,
    "decay_steps": None,
    "warmup_steps": None,
    "clip_norm": None,
    "batch_size": 32,
    "epochs": 40,
    "backprop": "hand",
    "seed": 0,
    "dtype": "float32",
    "devices": None,
    "chunk_steps": None,
    "drop_last": False,
    "val_fraction": None,
    "early_stopping": None,
    "checkpoint_every": None,
}
# Settings a resumed run may change: where the data lives and how often to save; and epochs, which
# may grow (the run continues to the new count, as an uninterrupted run of that length would).
LOCAL = ("data_dir", "checkpoint_every")
# Settings a resumed run may change that its run_id keeps (they were in it before they could):
# the device count says where a run trains, not what it computes (the order of its sums aside: a
# resume on another count warns that its bits will differ); config.json keeps the run's own.
MACHINE = ("devices",)
# Settings that ``build`` resolves (None to a default, an alias to its name): a resumed run
# compares them once built; the others before, so a changed one (--optimizer) is refused as changed,
# not by the error of a setting it leaves unused (the run's momentum for a new optimizer).
BUILT = ("output", "loss", "activation", "momentum", "init")
# Settings newer than some saved runs, with the value every run saved before them had: a run
# whose config.json lacks one resumes with that value, never silently with today's default.
OLDER = {"drop_last": True}  # mini-batch epochs dropped the last n mod batch_size examples


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
        "task": datasets.TASK_CHOICES,
    }


# How task "auto" reads a file's labels (``datasets.from_arrays``), for --help.
AUTO_TASK_RULE = (
    f"strings, or whole numbers with 2 to {datasets.MAX_CLASSES} distinct values, are classes; "
    "more whole numbers are refused (name the task); several 0/1 columns are labels "
    "(multilabel); anything else is regression (a count column with few values needs --task "
    "regression)"
)


def merge(given: dict, saved: dict | None) -> dict:
    """``DEFAULTS`` overridden by the ``saved`` run's settings (a resumed run), then by
    ``given``; ``check_resume`` compares the result, once resolved, with the saved run."""
    return DEFAULTS | ({} if saved is None else OLDER | saved["settings"]) | given


def check_resume(given: dict, settings: dict, saved: dict, out, *, built: bool) -> None:
    """A ValueError unless each ``given`` setting resolves (``settings``) to the value the
    ``saved`` run has (``--standardize auto`` matches the ``yes`` it resolved to), apart from
    ``LOCAL`` and ``MACHINE`` ones and ``epochs``, which may grow unless the schedule spans the
    run. Each is compared once: ``built`` False, those ``build`` does not resolve (called before
    it, so that a changed one is named, not what build refuses of it); True, the ``BUILT`` ones
    (called with the built settings)."""
    given = {k: v for k, v in given.items() if (k in BUILT) == built}
    kind = "sweep" if "sweep" in saved else "run"  # (the folder's: folder.read_saved)
    base = DEFAULTS | OLDER | saved["settings"]
    # recorded before the momentum used was (null): the value it used
    base["momentum"] = optim.momentum_used(base["optimizer"], base["momentum"])
    for name in given:
        now, before = as_json(settings.get(name)), as_json(base.get(name))
        if name in (*LOCAL, *MACHINE) or now == before:
            continue
        if name == "epochs" and optim.extends(settings["schedule"], before, now):
            continue
        why = f"a resumed {kind} keeps its settings"
        if name == "init" and before is None:  # a default per layer (own_spellings took a same one)
            why += f", and its None draws its layers {', '.join(layer_inits(base))}"
        if name == "epochs":
            fixed = optim.length_fixed(settings["schedule"], before, now)
            why = fixed or "a resumed run can only be extended (more epochs)"
        now, before = (flag_value(name, v) for v in (now, before))  # as the flag takes them
        flag = as_flag(name, given[name])
        raise ValueError(
            f"{flag} {now} differs from the {before} of the {kind} in {out}: {why} (drop "
            f"{flag}, or start a new {kind})."
        )


def check_devices(given: dict, settings: dict, out, n: int) -> None:
    """A ValueError when a resumed run cannot train on its devices here: config.json's count
    (unless ``given``) is more than this machine has (``MACHINE``: a resume may change it), or
    its batch (of ``n`` training examples) does not divide over the count given. The way on
    names a count the run's batch divides over (a resume keeps its batch size)."""
    devices, here = settings["devices"], len(jax.devices())
    if devices is None or ("devices" not in given and devices <= here):
        return
    size = settings["batch_size"]
    batch = n if size == "full" else min(size, n)
    fits = sharding.largest_divisor(batch, min(devices, here))
    if "devices" not in given:
        raise ValueError(
            f"{pathlib.Path(out) / 'config.json'}: the run trains on devices {devices}, but "
            f"this machine has {here}: resume it here with --devices {fits} (its result will "
            "then not be bitwise that of an uninterrupted run)."
        )
    if devices <= here and batch % devices:
        raise ValueError(
            f"--devices {devices}: the batch size {batch} of the run in {out} does not divide "
            f"over {devices} devices, and a resumed run keeps its batch size: use --devices "
            f"{fits}."
        )


def own_spellings(given: dict, saved: dict | None) -> dict:
    """``given`` without each setting that spells the ``saved`` run's own value otherwise (the
    run's own, repeated: the resumed run goes on with the saved spelling, as config.json, its
    run_id and checkpoints have it): an ``init`` that draws every layer as the run's did
    (``layer_inits``: ``glorot_uniform`` for a tanh run's None), an ``activation`` that gives
    each hidden layer its function (``relu,relu`` for a 2-layer ``relu`` run, or the reverse),
    ``data`` that names its data file by another path (``data.same_file``)."""
    if saved is None:
        return given
    base = DEFAULTS | OLDER | saved["settings"]
    same = {
        "init": given.get("init") is not None
        and base.get("output") is not None  # (an output resolved: built)
        and _same(layer_inits, base, "init", given.get("init")),
        "activation": "activation" in given
        and bool(base["hidden"])  # else check_used refuses the flag
        and _same(layer_activations, base, "activation", given["activation"]),
        "data": "data" in given and same_file(given["data"], base["data"]),
    }
    return {k: v for k, v in given.items() if not same.get(k)}


def _same(per_layer, base: dict, name: str, value) -> bool:
    """Whether ``per_layer`` (``layer_inits``, ``layer_activations``) of ``base`` is the same
    with its ``name`` set to ``value``; False where ``value`` is none (build refuses it, naming
    the flag)."""
    try:
        return per_layer(base | {name: value}) == per_layer(base)
    except (ValueError, TypeError):
        return False


def layer_activations(settings: dict) -> list[str]:
    """The canonical activation spec of each hidden layer of a run of ``settings``."""
    act, n = settings["activation"], len(settings["hidden"])
    return [activations.get(a).name for a in ([act] * n if isinstance(act, str) else list(act))]


def layer_inits(settings: dict) -> list[str]:
    """The init scheme of each layer of a built run of ``settings``, as ``MLP.init`` draws
    them: its ``init``, else the default of the activation (the output's, for the last)."""
    act = settings["activation"]
    hidden = [act] * len(settings["hidden"]) if isinstance(act, str) else list(act)
    return [
        str(s) for s in initializers.layer_schemes(settings.get("init"), hidden, settings["output"])
    ]


def check_used(given: dict, settings: dict) -> None:
    """A ValueError for a ``given`` setting that the run of ``settings`` would ignore, naming
    the flag and why: momentum without a momentum optimizer, decay options of a schedule that
    has none, dropout or activations without hidden layers, --data-dir for a set that reads no
    files, --no-header for data that are not a CSV file, --drop-last with a full batch."""
    hidden, dropout = settings["hidden"], settings["dropout"]
    if not (isinstance(hidden, list | tuple) or np.ndim(hidden) == 1):  # its widths: MLP's rule
        raise ValueError(
            f"hidden must be a list of layer widths, such as [128, 64] ([] for no hidden layer), "
            f"got {hidden!r}."
        )
    schedule, optimizer = settings["schedule"], settings["optimizer"]
    no_hidden = not hidden
    ignored = {
        **optim.unused(optimizer, schedule),  # the rules Optimizer and MLP refuse them by
        # (a dropout that is no number: MLP's error, in build)
        "dropout": is_real(dropout) and dropout > 0 and mlp.unused(len(hidden)).get("dropout"),
        "activation": no_hidden
        and "the activation is that of hidden layers and --hidden none "
        "has none (the output's is --output)",
        "data_dir": settings["data"] not in datasets.READS_DATA_DIR
        and f"{settings['data']!r} reads no folder (only {', '.join(datasets.READS_DATA_DIR)} "
        "does)",
        "header": not str(settings["data"]).lower().endswith(".csv")
        and f"{settings['data']!r} is not a .csv file",
        "encoding": not str(settings["data"]).lower().endswith(".csv")
        and f"{settings['data']!r} is not a .csv file",
        "drop_last": settings["batch_size"] == "full"
        and "it acts on mini-batches and --batch-size full is one batch",
    }
    for name in given:
        if ignored.get(name):
            flag = as_flag(name, given[name])
            raise ValueError(f"{flag} would be ignored: {ignored[name]}.")


def as_flag(name: str, value=None) -> str:
    """The command-line flag of the setting ``name`` (given ``value``)."""
    if name == "header":
        return "--header" if value else "--no-header"
    return "--" + name.replace("_", "-")


def flag_value(name: str, value) -> str:
    """``value`` of the setting ``name`` as its flag takes it: lists comma-separated (no
    ``hidden`` layer: ``none``), booleans ``yes`` and ``no``."""
    if name == "hidden" and isinstance(value, list | tuple) and not value:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return str(value)


def as_json(value):
    """``value`` as it reads back from JSON by config.json's rule (``numeric.for_json``: tuples
    and arrays become lists, NumPy numbers Python's), so a setting given as ``np.int64`` compares
    with the run's own."""
    return json.loads(json.dumps(for_json(value)))


def build(settings: dict, data: datasets.Dataset) -> tuple[MLP, Optimizer, TrainConfig, dict]:
    """The network, optimizer and train config of ``settings``, and the settings with output
    and loss resolved from the task, the activation specs in their canonical form and momentum
    the mu the optimizer uses (``Optimizer.momentum_used``: 0.9 for momentum and nesterov
    when None), as config.json records them."""
    output, loss = settings["output"], settings["loss"]
    task_output, task_loss = datasets.default_output_and_loss(data.task)
    if output is None:
        output = task_output if loss in (None, task_loss) else _OUTPUT_FOR.get(loss, task_output)
    if loss is None:
        out = outputs.get(output)
        base = out.base or out.name
        loss = task_loss if output == task_output else _LOSS_FOR.get(base, "sse")
    activation = settings["activation"]
    if not isinstance(activation, str):
        activation = tuple(activation)
    k = 2 if (data.task == "binary" and outputs.get(output).decides == "argmax") else data.n_outputs
    net = MLP(
        (data.n_features, *settings["hidden"], k),
        activation,
        output,
        loss,
        reduction=settings["reduction"],
        init=settings["init"],
        dropout=settings["dropout"],
    )
    tasks.check_output(data.task, net.output, net.sizes[-1])
    optimizer = Optimizer(
        settings["optimizer"],
        lr=settings["lr"],
        momentum=settings["momentum"],
        weight_decay=settings["weight_decay"],
        schedule=settings["schedule"],
        clip_norm=settings["clip_norm"],
        **{
            k: settings[k]
            for k in ("decay_rate", "decay_steps", "warmup_steps")
            if settings[k] is not None
        },
    )
    optimizer = dataclasses.replace(optimizer, momentum=optimizer.momentum_used)  # 0.9, not None
    config = TrainConfig(
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        backprop=settings["backprop"],
        seed=settings["seed"],
        dtype=settings["dtype"],
        early_stopping=settings["early_stopping"],
        devices=settings["devices"],
        chunk_steps=settings["chunk_steps"],
        drop_last=settings["drop_last"],
    )
    n = len(data.x_train)
    if config.early_stopping and data.x_val is None:
        raise ValueError(
            "--early-stopping watches the validation loss: pass --val-fraction > 0 "
            f"(the data has {n} training examples)."
        )
    if config.devices is not None:  # else fit takes the devices the batch divides over
        sharding.check_batch(config.batch(n), sharding.data_mesh(config.devices), n)
    check_every(settings["checkpoint_every"])
    canonical = net.activation if isinstance(net.activation, str) else list(net.activation)
    resolved = {"output": net.output, "loss": loss, "activation": canonical}  # "elu:1.673260" too
    resolved["momentum"] = optimizer.momentum
    return net, optimizer, config, settings | resolved


def check_every(every) -> None:
    """A ValueError unless ``every`` (``checkpoint_every``) is an integer >= 1 or None."""
    if every is not None:
        check_int("checkpoint_every", every, 1, "or None")


_OUTPUT_FOR = {"cross_entropy": "softmax", "bce": "sigmoid", "poisson": "exp"}
_LOSS_FOR = {"softmax": "cross_entropy", "sigmoid": "bce", "exp": "poisson"}


def sweep_seeds(seeds, seed: int) -> list:
    """A sweep's member seeds: ``seeds`` (``search.check_seeds``, as ``grid_search``'s), or
    ``[seed]`` where None. One seed other than ``seed`` or 0 is refused: no ``--seeds`` value
    says it, so the sweep's recorded ``command_line`` could not rerun it (N: the seeds
    0..N-1)."""
    member_seeds = check_seeds("--seeds", [seed] if seeds is None else seeds)
    if len(member_seeds) == 1 and member_seeds[0] not in (0, seed):
        raise ValueError(
            f"seeds {member_seeds}: one member seed other than --seed's {seed} or 0 is no "
            "--seeds (N: the seeds 0..N-1; a list: two or more): give seed, or two seeds or more."
        )
    return member_seeds


def command_line(settings: dict, out) -> str:
    """The ``jaxmlp train`` command that reruns ``settings`` into ``out``."""
    words = ["jaxmlp", "train"]
    for name, value in settings.items():
        if (
            value is None
            or name == "data_dir"
            or (name == "activation" and not settings["hidden"])
            or (name == "encoding" and value == DEFAULTS["encoding"])
            or (name == "drop_last" and settings["batch_size"] == "full")
        ):
            continue  # (no hidden layer or one batch: check_used would refuse the flag)
        if name == "header":
            words.append("--header" if value else "--no-header")
            continue
        words += [f"--{name.replace('_', '-')}", flag_value(name, value)]
    return shlex.join([*words, "--out", str(out)])
