"""The run folder and its files:

    RUN_DIR/config.json     the resolved settings (enough to rerun) and the data's fingerprint
    RUN_DIR/metrics.jsonl   one JSON object per finished epoch
    RUN_DIR/checkpoint.npz  the TrainState after the last saved epoch (``jaxmlp.checkpoint``)
    RUN_DIR/summary.json    final losses and accuracies, speed, params_sha256, gradcheck
    RUN_DIR/*.png           loss and accuracy curves; the decision boundary of 2-D data
    RUN_DIR/.lock           while a process trains or resumes the run: its pid and host

Every file is written whole or not at all (``checkpoint.write_atomic``: a temporary file
``.<name>.<random>.tmp`` beside it, renamed over it), and JSON is read back checked. One
process at a time writes a run: ``lock`` holds an advisory lock (``fcntl.flock``) on ``.lock``
for the whole of a train or resume, and a second writer is refused naming the holder. The
folder's name, its lock and its temporaries are ``place``'s (imported here).
"""

import dataclasses
import hashlib
import json
import os
import pathlib

from jaxmlp import checkpoint, files, optim
from jaxmlp.numeric import check_int, for_json, from_json
from jaxmlp.run import data
from jaxmlp.run.place import (  # noqa: F401 (where a run lives: folder.out_folder, folder.lock)
    LOCK,
    RUN_FILES,
    TEMPORARY,
    claim,
    lock,
    out_folder,
    remove_temporaries,
)
from jaxmlp.run.settings import LOCAL, MACHINE, OLDER, Run, check_every, command_line


def write_config(run: Run, facts: dict) -> None:
    """config.json of the new ``run``; ``facts``: its ``initial_loss`` (the divergence rule's
    reference) and ``devices`` (how many it trains on). It records the format of the run's
    checkpoints, ``checkpoint_version`` (``load_checkpoint``)."""
    record = config_record(run) | {"initial_loss": facts["initial_loss"]}
    record["checkpoint_version"] = checkpoint.VERSION  # the format its checkpoints are of
    record["devices"] = facts["devices"]
    if "init_from_params_sha256" in facts:
        record["init_from_params_sha256"] = facts["init_from_params_sha256"]
    write_json(run.out / "config.json", record)


def extend_config(run: Run, saved: dict, length: int) -> None:
    """config.json of the resumed ``run``, extended to more epochs: the ``saved`` one with the
    new length and command (its device count the run's own, as the settings keep it; the rest
    as it was, so its run_id holds by the rule that made it), and ``extended_from``: the
    ``length`` of its checkpoint's run, until whose next save the two lengths differ
    (``load_checkpoint``)."""
    epochs = run.settings["epochs"]
    record = saved | {"settings": saved["settings"] | {"epochs": epochs}}
    record |= {"train": saved.get("train", {}) | {"epochs": epochs}, "extended_from": length}
    own = {name: saved["settings"].get(name) for name in MACHINE}  # as the settings keep them
    command = command_line(run.settings | own, run.out)
    write_json(run.out / "config.json", record | {"command": command})


def config_record(run: Run) -> dict:
    """What config.json holds: the settings, the command that reruns them, the run's identity,
    and the data's, model's, optimizer's and training's facts."""
    facts = data.record(run.data)
    return {
        "jaxmlp_version": version(),
        "command": command_line(run.settings, run.out),
        "settings": run.settings,
        "data": facts,
        "model": checkpoint.architecture(run.net),
        "optimizer": dataclasses.asdict(run.optimizer),
        "train": dataclasses.asdict(run.config),
        "rng": {"seed": run.config.seed, "rule": checkpoint.RNG_RULE},
        "run_id": identity(run.settings, facts),
    }


def run_id(run: Run) -> str:
    """The identity of ``run`` (``identity``)."""
    return identity(run.settings, data.record(run.data))


def identity(settings: dict, facts: dict) -> str:
    """A run's identity: SHA-256 of its settings (those a resume may change and ``epochs`` left
    out; a missing ``OLDER`` one counts as its old value, as ``merge`` reads it) and of its data
    record ``facts`` (``data.record``: fingerprint, task, classes, columns, standardisation),
    all as JSON reads them back. config.json and every checkpoint of the run carry it;
    ``check_config`` recomputes it from config.json, so an edited file is refused."""
    fixed = {k: v for k, v in (OLDER | settings).items() if k not in (*LOCAL, "epochs")}
    return _sha256({"settings": fixed, "data": facts})


def _old_identity(settings: dict, facts: dict) -> str:
    """The identity of runs written before the data record joined it: settings and data
    SHA-256 only (their classes, columns and standardisation go unchecked)."""
    fixed = {k: v for k, v in settings.items() if k not in (*LOCAL, "epochs")}
    return _sha256({"settings": fixed, "data_sha256": facts.get("sha256")})


def _sha256(value) -> str:
    return hashlib.sha256(to_json(value, sort_keys=True).encode()).hexdigest()


def check_config(config: dict, path) -> None:
    """A ValueError unless config.json (``config``, read from ``path``) holds the settings and
    data record its ``run_id`` was made of (``identity``; folders written before the data
    record joined it are checked by the older rule, ``_old_identity``). A config without a
    run_id (from before run ids, or an older ``save_run``) is not checked here."""
    recorded = config.get("run_id")
    if recorded is None:
        return
    settings, facts = config["settings"], config["data"]
    if recorded not in (identity(settings, facts), _old_identity(settings, facts)):
        raise ValueError(f"{path}: its settings or data record do not match its run_id {EDITED}")


EDITED = "(the file was edited or damaged): it cannot be trusted; retrain, or restore the file."


def to_json(value, indent=None, sort_keys=False) -> str:
    """Strict JSON text of ``value`` by ``numeric.for_json``'s rule: arrays become lists, NaN
    and Inf the strings "nan", "inf" and "-inf" (JSON has no such numbers; Python's json would
    write bare ``NaN`` that other readers refuse)."""
    return json.dumps(for_json(value), indent=indent, allow_nan=False, sort_keys=sort_keys)


def write_json(path, value) -> None:
    """``value`` as indented strict JSON in ``path``, written atomically."""
    checkpoint.write_atomic(path, to_json(value, indent=2) + "\n")


def version() -> str:
    import jaxmlp

    return jaxmlp.__version__


def read_json(path) -> dict:
    regular(path)
    try:
        return json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: cannot read ({error}).") from None


def regular(path) -> bool:
    """Whether the file ``path`` of a run folder exists; a ValueError where it is there but
    no regular file (``files.check_regular``: a FIFO would block its reader, a device never
    end)."""
    if not os.path.exists(path):
        return False
    files.check_regular(path)
    return True


def read_config(folder) -> dict:
    """The run's config.json, checked to be one: against its run_id (``check_config``), and the
    settings the run_id leaves out by their own rules: ``epochs`` (a resume may extend it;
    ``TrainConfig``'s rule; a ``save_run`` folder has none), ``checkpoint_every`` and
    ``data_dir``."""
    path = pathlib.Path(folder) / "config.json"
    config = read_json(path)
    if not (
        isinstance(config, dict)
        and isinstance(config.get("settings"), dict)
        and isinstance(config.get("data"), dict)
        and "sha256" in config["data"]
    ):
        raise ValueError(f"{path}: not a jaxmlp run config (no settings or data).")
    check_config(config, path)
    settings = config["settings"]
    try:
        if "epochs" in settings:
            check_int("epochs", settings["epochs"], 1)
        check_every(settings.get("checkpoint_every"))
        data.check_data_dir(settings.get("data_dir"))
    except ValueError as error:
        raise ValueError(f"{path}: {str(error).removesuffix('.')} {EDITED}") from None
    return config


def read_saved(out: pathlib.Path, sweep: bool) -> dict:
    """The config.json of the run (``sweep``: of the sweep) that a resume continues in ``out``
    (``read_config``), checked to be of that kind, written by ``jaxmlp train`` or ``sweep`` (a
    ``save_run`` folder has no training to resume), and to hold what a resume reads beside the
    run_id's settings: ``epochs``, the ``initial_loss`` (the divergence rule's reference) and
    the ``train`` record (a sweep: its run_id, which every sweep wrote)."""
    path = out / "config.json"
    config = read_config(out)
    if sweep and "sweep" not in config:
        raise ValueError(f"{out} holds a training run, not a sweep: resume it with jaxmlp train.")
    if not sweep and "sweep" in config:
        raise ValueError(f"{out} holds a sweep, not a run: resume it with jaxmlp sweep.")
    if "train" not in config:  # every folder of train or sweep has its train record
        raise ValueError(
            f"{out}: saved from Python (save_run), it has no training to resume; start a new "
            f"run (--init-from {out} starts from its weights)."
        )
    loss = config.get("initial_loss")
    problems = {
        "settings' epochs": "epochs" not in config["settings"],
        "initial_loss": isinstance(loss, bool) or not isinstance(loss, int | float | None),
        "train record": not isinstance(config["train"], dict),
        "run_id": sweep and not isinstance(config.get("run_id"), str),
    }
    for name, wrong in problems.items():
        if wrong:
            raise ValueError(f"{path}: its {name} is missing or malformed {EDITED}")
    return config


def read_metrics(path, epochs: int, recorded: dict | None = None) -> list[dict]:
    """The records of epochs 1..``epochs`` (the checkpoint's) from ``metrics.jsonl``, each once
    and in order; later lines (logged just before a save a kill prevented) are dropped. The log
    is written whole or not at all, so a line that is no record, a missing epoch, or lines
    other than those whose ``log_sha256`` the checkpoint ``recorded`` (its metadata's
    ``metrics_sha256``; older checkpoints have none) are damage: a ValueError names the file."""
    raw = path.read_bytes() if regular(path) else b""
    lines = raw.decode(errors="replace").splitlines()
    found = []
    for number, line in enumerate(lines, 1):
        try:
            record = from_json(json.loads(line))  # "nan" and "inf" as floats again
        except ValueError:
            record = None
        epoch = record.get("epoch") if isinstance(record, dict) else None
        if isinstance(epoch, bool) or not isinstance(epoch, int):
            raise ValueError(f"{path}: line {number} is not an epoch's record; {DAMAGED}")
        if epoch <= epochs:
            found.append(record)
    expected, logged = list(range(1, epochs + 1)), [r["epoch"] for r in found]
    if logged != expected:
        missing = [e for e in expected if e not in logged]
        problem = f"epoch {missing[0]} is missing" if missing else "epochs repeat or are disordered"
        raise ValueError(f"{path}: {problem} (the checkpoint is at epoch {epochs}); {DAMAGED}")
    digest = (recorded or {}).get("metrics_sha256")
    if digest is not None and log_sha256(raw.splitlines(keepends=True)[:epochs]) != digest:
        raise ValueError(
            f"{path}: its records of epochs 1 to {epochs} are not those the checkpoint "
            f"recorded (their SHA-256 differs); {DAMAGED}"
        )
    return found


def log_sha256(lines) -> str:
    """SHA-256 of metrics.jsonl's ``lines`` (text or bytes, each with its newline) of epochs
    1..k: each save records it in the checkpoint of epoch k, ``read_metrics`` compares."""
    return hashlib.sha256(
        b"".join(x if isinstance(x, bytes) else x.encode() for x in lines)
    ).hexdigest()


DAMAGED = "the log was damaged or edited: restore it, or start a new run in another folder."


def open_run(run_dir) -> tuple[dict, "checkpoint.Checkpoint"]:
    """``(config, checkpoint)`` of the run in ``run_dir``; float64 runs must be opened inside
    ``jax.enable_x64(True)`` (``evaluate_run`` and ``predict_run`` do)."""
    run_dir = pathlib.Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"{run_dir}: no such run folder.")
    if not (run_dir / "config.json").is_file():
        raise ValueError(f"{run_dir}: not a jaxmlp run folder (no config.json).")
    config = read_config(run_dir)
    if "sweep" in config:
        raise ValueError(
            f"{run_dir} holds a sweep, which keeps no network (its members' results are in "
            "members.jsonl): pass the folder of a jaxmlp train run."
        )
    return config, load_checkpoint(run_dir, config)


def load_checkpoint(run_dir, config: dict, **kwargs) -> "checkpoint.Checkpoint":
    """The checkpoint of the run in ``run_dir`` whose config.json is ``config`` (``kwargs``:
    ``checkpoint.load``'s): it must carry config.json's run_id (one without: a folder from
    before run ids, or from an older ``save_run``, whose checkpoint has none either), lie
    within the run's ``epochs``, be of a run of that length (or, killed while a resume
    extended it, of the length it was ``extended_from``: shorter, and of a schedule that does not
    span the run's length, as ``settings.check_resume`` allows), hold the network config.json
    describes (``_check_model``), have recorded config.json's ``initial_loss``
    (checkpoints record it since it was found editable: an older one has none to compare), and
    be of the format config.json records its run writing (``_written_format``)."""
    path, where = pathlib.Path(run_dir) / "checkpoint.npz", pathlib.Path(run_dir) / "config.json"
    recorded, epochs = config.get("run_id"), config["settings"].get("epochs")
    written = _written_format(config, where)
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
    facts = ckpt.meta.get("extra") if isinstance(ckpt.meta.get("extra"), dict) else {}
    loss = config.get("initial_loss")
    if "initial_loss" in facts and to_json(loss) != to_json(facts["initial_loss"]):
        raise ValueError(
            f"{where}: its initial_loss {loss!r} is not the {facts['initial_loss']!r} its "
            f"checkpoint recorded {EDITED}"
        )
    return ckpt


def _written_format(config: dict, where) -> int:
    """The format version of the checkpoints of the run whose config.json is ``config`` (read
    from ``where``): its ``checkpoint_version``, 1 (any format) in a folder written before
    config.json recorded it. An older format lacks digests (version 2 that of the whole state,
    version 1 that of the settings too): a checkpoint passed off as one is refused."""
    written = config.get("checkpoint_version", 1)
    if isinstance(written, bool) or not isinstance(written, int) or written < 1:
        raise ValueError(
            f"{where}: its checkpoint_version {written!r} is not a checkpoint format version "
            f"(1 to {checkpoint.VERSION}) {EDITED}"
        )
    return written


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
    those of its checkpoint ``ckpt`` (at ``path``), but for the run's ``epochs`` and
    ``devices``, which a resume may change (``load_checkpoint`` checks the length); and unless a
    resume's ``optimizer`` (its settings', given) is the checkpoint's. A ``save_run`` folder has
    no such records."""
    saved = dict(zip(("optimizer", "train"), checkpoint.recorded_settings(ckpt.meta), strict=True))
    for index, part in enumerate(saved):
        try:
            record = ckpt.meta | {part: config.get(part, ckpt.meta[part])}
            value = checkpoint.recorded_settings(record)[index]
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
    if optimizer is not None and optimizer != saved["optimizer"]:
        raise ValueError(
            f"{path}: saved with {saved['optimizer']}, but the run's settings give {optimizer}: "
            f"{OTHER_MODEL}"
        )


def run_dtype(run_dir) -> str:
    """The compute dtype of the run in ``run_dir`` (float32 where unreadable: opening it then
    names the problem)."""
    path = pathlib.Path(run_dir) / "config.json"
    config = read_json(path) if path.is_file() else {}
    settings = config.get("settings") if isinstance(config, dict) else None
    return settings.get("dtype", "float32") if isinstance(settings, dict) else "float32"
