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
folder's name, its lock and its temporaries are ``place``'s (imported here); its checkpoint,
read back as config.json describes it, ``opening``'s.
"""

import dataclasses
import hashlib
import json
import os
import pathlib

from jaxmlp import checkpoint, files
from jaxmlp.numeric import KeyTwice, check_int, for_json, from_json, json_once
from jaxmlp.run import data
from jaxmlp.run.place import (  # noqa: F401 (where a run lives: folder.out_folder, folder.lock)
    LOCK,
    RUN_FILES,
    TEMPORARY,
    check_held,
    claim,
    lock,
    out_folder,
    remove_temporaries,
)
from jaxmlp.run.settings import LOCAL, MACHINE, OLDER, Run, check_every, command_line


def write_config(run: Run, facts: dict) -> None:
    """config.json of the new ``run``; ``facts``: its ``initial_loss`` (the divergence rule's
    reference) and ``devices`` (how many it trains on). It records the format of the run's
    checkpoints, ``checkpoint_version`` (``opening.load_checkpoint``), in its run_id."""
    record = config_record(run, checkpoint.VERSION) | {"initial_loss": facts["initial_loss"]}
    record["devices"] = facts["devices"]
    if "init_from_params_sha256" in facts:
        record["init_from_params_sha256"] = facts["init_from_params_sha256"]
    write_json(run.out / "config.json", record)


def extend_config(run: Run, saved: dict, length: int) -> None:
    """config.json of the resumed ``run``, extended to more epochs: the ``saved`` one with the
    new length and command (its device count the run's own, as the settings keep it; the rest
    as it was, so its run_id holds by the rule that made it), and ``extended_from``: the
    ``length`` of its checkpoint's run, until whose next save the two lengths differ
    (``opening.load_checkpoint``)."""
    epochs = run.settings["epochs"]
    record = saved | {"settings": saved["settings"] | {"epochs": epochs}}
    record |= {"train": saved.get("train", {}) | {"epochs": epochs}, "extended_from": length}
    own = {name: saved["settings"].get(name) for name in MACHINE}  # as the settings keep them
    command = command_line(run.settings | own, run.out)
    write_json(run.out / "config.json", record | {"command": command})


def config_record(run: Run, written: int | None = None) -> dict:
    """What config.json holds: the settings, the command that reruns them, the run's identity,
    and the data's, model's, optimizer's and training's facts; ``written``: the format of the
    run's checkpoints (a sweep has none), as ``checkpoint_version`` and in the identity."""
    facts = data.record(run.data)
    record = {
        "jaxmlp_version": version(),
        "command": command_line(run.settings, run.out),
        "settings": run.settings,
        "data": facts,
        "model": checkpoint.architecture(run.net),
        "optimizer": dataclasses.asdict(run.optimizer),
        "train": dataclasses.asdict(run.config),
        "rng": {"seed": run.config.seed, "rule": checkpoint.RNG_RULE},
        "run_id": identity(run.settings, facts, written),
    }
    return record | ({} if written is None else {"checkpoint_version": written})


def run_id(run: Run, written: int | None = None) -> str:
    """The identity of ``run`` whose checkpoints are of format ``written`` (``identity``)."""
    return identity(run.settings, data.record(run.data), written)


def identity(settings: dict, facts: dict, written: int | None = None) -> str:
    """A run's identity: SHA-256 of its settings (those a resume may change and ``epochs`` left
    out; a missing ``OLDER`` one counts as its old value, as ``merge`` reads it), of its data
    record ``facts`` (``data.record``: fingerprint, task, classes, columns, standardisation),
    all as JSON reads them back, and of ``written``, the format of its checkpoints
    (config.json's ``checkpoint_version``; None: a sweep, or a folder from before it joined).
    config.json and every checkpoint of the run carry it; ``check_config`` recomputes it from
    config.json, so an edited file is refused: one whose checkpoint_version was deleted or
    lowered, to take a checkpoint passed off as an older format, among them."""
    fixed = {k: v for k, v in (OLDER | settings).items() if k not in (*LOCAL, "epochs")}
    version = {} if written is None else {"checkpoint_version": written}
    return _sha256({"settings": fixed, "data": facts} | version)


def _old_identity(settings: dict, facts: dict) -> str:
    """The identity of runs written before the data record joined it: settings and data
    SHA-256 only (their classes, columns and standardisation go unchecked)."""
    fixed = {k: v for k, v in settings.items() if k not in (*LOCAL, "epochs")}
    return _sha256({"settings": fixed, "data_sha256": facts.get("sha256")})


def _sha256(value) -> str:
    return hashlib.sha256(to_json(value, sort_keys=True).encode()).hexdigest()


def check_config(config: dict, path) -> None:
    """A ValueError unless config.json (``config``, read from ``path``) holds the settings, data
    record and checkpoint format (``written_format``) its ``run_id`` was made of (``identity``;
    folders written before the format joined it, on 2026-12-07, are checked without it, and
    those written before the data record joined it by the older rule, ``_old_identity``). A
    config without a run_id (from before run ids, or an older ``save_run``) is not checked
    here."""
    recorded = config.get("run_id")
    if recorded is None:
        return
    settings, facts = config["settings"], config["data"]
    written = written_format(config, path) if "checkpoint_version" in config else None
    rules = (identity(settings, facts, written), identity(settings, facts))
    if recorded not in (*rules, _old_identity(settings, facts)):
        raise ValueError(f"{path}: its settings or data record do not match its run_id {EDITED}")


def written_format(config: dict, where) -> int:
    """The format version of the checkpoints of the run whose config.json is ``config`` (read
    from ``where``): its ``checkpoint_version`` (in its run_id: ``identity``); in a folder
    written before config.json recorded it, 2 where it has a run_id (run ids came with format
    2), else 1 (any format). An older format lacks digests (version 2 that of the whole state,
    version 1 that of the settings too): a checkpoint passed off as one is refused. A folder
    from before checkpoint_version joined the run_id (2026-12-07) can still be edited to take
    one of version 2, as can a genuine one of then."""
    written = config.get("checkpoint_version", 1 if config.get("run_id") is None else 2)
    if isinstance(written, bool) or not isinstance(written, int) or written < 1:
        raise ValueError(
            f"{where}: its checkpoint_version {written!r} is not a checkpoint format version "
            f"(1 to {checkpoint.VERSION}) {EDITED}"
        )
    return written


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
    """The JSON value in the file ``path``; a ValueError where an object holds a key twice
    (``numeric.json_once``)."""
    regular(path)
    try:
        return json_once(pathlib.Path(path).read_text())
    except KeyTwice as twice:
        raise ValueError(f"{path}: {twice} {EDITED}") from None
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
    the ``train`` record (a sweep: its run_id, which every sweep wrote); a run's checkpoint
    must not be lost (``check_not_lost``)."""
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
    if not sweep:
        check_not_lost(out)
    return config


def check_not_lost(out: pathlib.Path) -> None:
    """A ValueError where the run in ``out`` has no checkpoint.npz (or a link to none) but its
    metrics.jsonl records epochs: the checkpoint was deleted or moved (a disk not mounted), and
    a resume would retrain from epoch 0. A run killed before its first save, which a resume
    starts over, logged none: each save writes the log, then the checkpoint, and the first
    (epoch 0's) writes an empty log."""
    path, log = out / "checkpoint.npz", out / "metrics.jsonl"
    if path.exists() or not (regular(log) and log.stat().st_size):
        return
    lines = log.read_bytes().count(b"\n")
    what = f"a link to {os.readlink(path)}, which does not exist" if path.is_symlink() else "gone"
    raise ValueError(
        f"{path}: {what}, but metrics.jsonl records {lines} epoch{'s' * (lines != 1)}: the "
        "checkpoint was deleted or moved; restore it, or start a new run in another folder."
    )


def read_metrics(path, epochs: int, recorded: dict | None = None) -> list[dict]:
    """The records of epochs 1..``epochs`` (the checkpoint's) from ``metrics.jsonl``, each once
    and in order; later lines (logged just before a save a kill prevented) are dropped. The log
    is written whole or not at all, so a line that is no record (or holds a key twice,
    ``numeric.json_once``: older checkpoints have no digest of the log), a missing epoch, or
    lines other than those whose ``log_sha256`` the checkpoint ``recorded`` (its metadata's
    ``metrics_sha256``) are damage: a ValueError names the file."""
    raw = path.read_bytes() if regular(path) else b""
    lines = raw.decode(errors="replace").splitlines()
    found = []
    for number, line in enumerate(lines, 1):
        try:
            record = from_json(json_once(line))  # "nan" and "inf" as floats again
        except KeyTwice as twice:
            raise ValueError(f"{path}: line {number} {twice}; {DAMAGED}") from None
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


def drop_unsaved(path, epochs: int) -> None:
    """Keep metrics.jsonl's first ``epochs`` lines (the checkpoint's, which ``read_metrics``
    verified), byte for byte, where it holds more: a line logged just before a kill prevented
    its save, or appended by hand. A resume's next save drops them as well; a finished run's
    resume saves nothing, and the file told of an epoch never trained."""
    lines = (path.read_bytes() if regular(path) else b"").splitlines(keepends=True)
    if len(lines) > epochs:
        check_held(path.parent)  # still the run's folder
        checkpoint.write_atomic(path, b"".join(lines[:epochs]))


def log_sha256(lines) -> str:
    """SHA-256 of metrics.jsonl's ``lines`` (text or bytes, each with its newline) of epochs
    1..k: each save records it in the checkpoint of epoch k, ``read_metrics`` compares."""
    return hashlib.sha256(
        b"".join(x if isinstance(x, bytes) else x.encode() for x in lines)
    ).hexdigest()


DAMAGED = "the log was damaged or edited: restore it, or start a new run in another folder."


def run_dtype(run_dir) -> str:
    """The compute dtype of the run in ``run_dir`` (float32 where unreadable: opening it then
    names the problem)."""
    path = pathlib.Path(run_dir) / "config.json"
    config = read_json(path) if path.is_file() else {}
    settings = config.get("settings") if isinstance(config, dict) else None
    return settings.get("dtype", "float32") if isinstance(settings, dict) else "float32"
