"""Opening a run folder: its checkpoint, read back only as its config.json describes it
(``load_checkpoint``). config.json is checked against its run_id first (``folder.read_config``);
the checkpoint must then carry that run_id, be of the run's length, of the network, optimizer
and training config.json records, of the format its run writes (``checkpoint_version``: an
older format lacks digests) and, where the run standardised its inputs, hold a standardiser of
one finite value per input (an older checkpoint may have no digest of it). A folder without its
config.json or checkpoint says why: a run starting there (a process holds it: retry), one stopped
before its first save (resume it), or a checkpoint lost beside a log of trained epochs. Each
refusal is a ValueError naming the file and the way on.
"""

import dataclasses
import os
import pathlib
import shlex

from jaxmlp import checkpoint, datasets, optim
from jaxmlp.run.folder import EDITED, check_not_lost, read_config, to_json, written_format
from jaxmlp.run.names import check_scaler
from jaxmlp.run.place import LOCK, read_text
from jaxmlp.run.status import held


def open_run(run_dir) -> tuple[dict, "checkpoint.Checkpoint"]:
    """``(config, checkpoint)`` of the run in ``run_dir``; float64 runs must be opened inside
    ``jax.enable_x64(True)`` (``evaluate_run`` and ``predict_run`` do)."""
    run_dir = pathlib.Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"{run_dir}: no such run folder.")
    if not (run_dir / "config.json").is_file():
        _check_starting(run_dir, "config.json")
        raise ValueError(f"{run_dir}: not a jaxmlp run folder (no config.json).")
    config = read_config(run_dir)
    if "sweep" in config:
        raise ValueError(
            f"{run_dir} holds a sweep, which keeps no network (its members' results are in "
            "members.jsonl): pass the folder of a jaxmlp train run."
        )
    path = run_dir / "checkpoint.npz"
    if not path.exists():
        check_not_lost(run_dir)  # a log of trained epochs: the checkpoint was deleted or moved
    if not os.path.lexists(path) and "train" in config:  # (a link to none, or a save_run
        # folder's checkpoint gone: checkpoint.load names it)
        _check_starting(run_dir, "checkpoint")
        raise ValueError(
            f"{run_dir}: its run was stopped before its first save (no checkpoint.npz): continue "
            f"it with jaxmlp train --out {shlex.quote(str(run_dir))} --resume."
        )
    return config, load_checkpoint(run_dir, config)


def _check_starting(run_dir: pathlib.Path, missing: str) -> None:
    """A ValueError where a process holds ``run_dir`` (``status.held``) that has written no
    ``missing`` there yet: a run being set up (its config.json, then its epoch 0's save)."""
    if held(run_dir):
        holder = read_text(run_dir / LOCK).strip()
        raise ValueError(
            f"{run_dir}: no {missing} yet: the run there is starting ({holder} holds the "
            "folder); retry once it has saved its first epoch."
        )


def load_checkpoint(run_dir, config: dict, **kwargs) -> "checkpoint.Checkpoint":
    """The checkpoint of the run in ``run_dir`` whose config.json is ``config`` (``kwargs``:
    ``checkpoint.load``'s): it must carry config.json's run_id (one without: a folder from
    before run ids, or from an older ``save_run``, whose checkpoint has none either), lie
    within the run's ``epochs``, be of a run of that length (or, killed while a resume
    extended it, of the length it was ``extended_from``: shorter, and of a schedule that does not
    span the run's length, as ``settings.check_resume`` allows), hold the network config.json
    describes (``_check_model``), trained as its optimizer and train records say
    (``_check_settings``), have recorded config.json's ``initial_loss`` (checkpoints record it
    since it was found editable: an older one has none to compare), be of the format
    config.json records its run writing (``folder.written_format``), and hold the standardiser
    config.json's data record says the run has (``_check_scaler``)."""
    path, where = pathlib.Path(run_dir) / "checkpoint.npz", pathlib.Path(run_dir) / "config.json"
    recorded, epochs = config.get("run_id"), config["settings"].get("epochs")
    written = written_format(config, where)
    ckpt = checkpoint.load(path, run_id=recorded, max_epoch=epochs, since=written, **kwargs)
    if recorded is None and ckpt.meta.get("run_id") is not None:
        raise ValueError(
            f"{path}: carries a run id, but {where} has none (the file was edited): it cannot "
            "be trusted; retrain, or restore the file."
        )
    length = ckpt.config.epochs
    if epochs is not None and length not in (epochs, config.get("extended_from")):
        raise ValueError(
            f"{where}: epochs {epochs}, but its checkpoint is of a run of {length} epochs (the "
            f"file was edited): restore epochs {length}, or start a new run in another folder."
        )
    schedule = ckpt.meta["optimizer"].get("schedule", "constant")
    spans = schedule in optim.RUN_LENGTH_SCHEDULES  # extended_from: only what a resume writes
    if epochs is not None and length != epochs and not optim.extends(schedule, length, epochs):
        why = f"the {schedule} schedule spans the run's length" if spans else "it only extends"
        raise ValueError(
            f"{where}: epochs {epochs} and extended_from {length}, but a resume never makes a "
            f"run of {length} epochs one of {epochs} ({why}) {EDITED}"
        )
    _check_model(config, ckpt, where)
    _check_settings(config, ckpt, path, where, kwargs.get("optimizer"))
    _check_scaler(config, ckpt, path)
    facts = ckpt.meta.get("extra") if isinstance(ckpt.meta.get("extra"), dict) else {}
    loss = config.get("initial_loss")
    if "initial_loss" in facts and to_json(loss) != to_json(facts["initial_loss"]):
        raise ValueError(
            f"{where}: its initial_loss {loss!r} is not the {facts['initial_loss']!r} its "
            f"checkpoint recorded {EDITED}"
        )
    return ckpt


MODEL = ("sizes", "activation", "output", "loss", "reduction")  # what the network computes
OTHER_MODEL = "the checkpoint of another model, or the file was edited; restore the run's files."


def _check_model(config: dict, ckpt, where) -> None:
    """A ValueError unless config.json (``config``) describes the network of its checkpoint
    ``ckpt``: its ``model`` record's ``MODEL`` fields as the checkpoint recorded them, and its
    ``params_sha256`` (``save_run`` records it: its run_id names no network) the checkpoint's."""
    model, saved = config.get("model"), ckpt.meta.get("architecture")
    if isinstance(model, dict) and isinstance(saved, dict):
        for name in (k for k in MODEL if k in model and k in saved):
            if to_json(model[name]) != to_json(saved[name]):
                raise ValueError(
                    f"{where}: its model has {name} {model[name]!r}, but its checkpoint's is "
                    f"{saved[name]!r}: {OTHER_MODEL}"
                )
    digest = config.get("params_sha256")
    if digest is not None and digest != ckpt.meta.get("params_sha256"):
        raise ValueError(
            f"{where}: its params_sha256 is not that of its checkpoint's parameters: {OTHER_MODEL}"
        )


def _check_settings(config: dict, ckpt, path, where, optimizer=None) -> None:
    """A ValueError unless config.json's (``config``, read from ``where``) ``optimizer`` and
    ``train`` records, read by the checkpoint's rule (``checkpoint.recorded_settings``), are
    those of its checkpoint ``ckpt`` (at ``path``), each optimizer with the momentum it trains
    with (``_as_trained``), but for the run's ``epochs`` and ``devices``, which a resume may
    change (``load_checkpoint`` checks the length); and unless a resume's ``optimizer`` (its
    settings', given) is the checkpoint's. A ``save_run`` folder has no such records."""
    saved = dict(zip(("optimizer", "train"), checkpoint.recorded_settings(ckpt.meta), strict=True))
    saved["optimizer"] = _as_trained(saved["optimizer"])
    for index, part in enumerate(saved):
        try:
            record = ckpt.meta | {part: config.get(part, ckpt.meta[part])}
            value = checkpoint.recorded_settings(record)[index]
            value = _as_trained(value) if part == "optimizer" else value
        except ValueError as error:
            why = f"its {part} record is malformed ({error})"
            raise ValueError(f"{where}: {why} {EDITED}") from None
        if part == "train":  # the run's own: a resume may change them
            own = {name: getattr(saved[part], name) for name in ("epochs", "devices")}
            value = dataclasses.replace(value, **own)
        a, b = dataclasses.asdict(value), dataclasses.asdict(saved[part])
        for name in (k for k in a if a[k] != b[k]):
            raise ValueError(
                f"{where}: its {part} record has {name} {a[name]!r}, but its checkpoint's is "
                f"{b[name]!r}: {OTHER_MODEL}"
            )
    if optimizer is not None and _as_trained(optimizer) != saved["optimizer"]:
        raise ValueError(
            f"{path}: saved with {saved['optimizer']}, but the run's settings give {optimizer}: "
            f"{OTHER_MODEL}"
        )


def _as_trained(optimizer):
    """``optimizer`` with the momentum it trains with (``Optimizer.momentum_used``): runs of
    momentum and nesterov recorded None for 0.9 before the value used was recorded."""
    return dataclasses.replace(optimizer, momentum=optimizer.momentum_used)


def _check_scaler(config: dict, ckpt, path) -> None:
    """A ValueError unless the checkpoint ``ckpt`` (at ``path``) holds a standardiser (its
    ``extra`` arrays ``mean`` and ``std``, both) exactly where config.json's data record
    (``config``, of its run_id) says the run standardised its inputs (``standardized``; either
    way where an older record does not say), of one finite value per input, each std > 0
    (``names.check_scaler``, as save_run writes it). A checkpoint of format version 3 has the
    digest of its arrays; a version 2 file from before ``extra_sha256`` has none, and one edited
    so was used: a std of one value broadcast over every input, or none left the inputs raw."""
    said, held = config["data"].get("standardized"), sorted({"mean", "std"} & set(ckpt.extra))
    where, both = f"{path}: its input standardiser", ["mean", "std"]
    if said is not None and not isinstance(said, bool):
        raise ValueError(
            f"{path}: config.json's standardized {said!r} is not true or false {EDITED}"
        )
    if held not in ([[], both] if said is None else [both if said else []]):
        says = {None: "", True: ", but config.json says the run standardised its inputs",
                False: ", but config.json says the run did not standardise its inputs"}  # fmt: skip
        raise ValueError(f"{where} has the arrays {held or 'none'}{says[said]} {EDITED}")
    if held:
        scaler = datasets.Standardizer(ckpt.extra["mean"], ckpt.extra["std"])
        try:
            check_scaler(where, scaler, ckpt.net.sizes[0])
        except ValueError as error:
            raise ValueError(f"{str(error).removesuffix('.')} {EDITED}") from None
