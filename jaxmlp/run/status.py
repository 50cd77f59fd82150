"""Where a run folder stands, as its readers (``evaluate``, ``predict``, ``load_run``) tell it:
the epoch of its checkpoint, the run's length, and whether the run finished, diverged, was
interrupted or is still running; and the files a run or sweep folder owns, which nothing else
jaxmlp writes may replace.

A run's checkpoint is at its last epoch, or where patience ran out or a damped solver stalled
(``early_stopped``: ``resume.finished``), once it finished; with early stopping its parameters
are the best epoch's (``params_epoch``). Before that it is the checkpoint of a run whose
process still holds the folder's ``.lock`` (``folder.lock``; a live pid on this host, or any
holder on another host, which cannot be asked), of one that diverged (summary.json's
``status`` ``diverged`` and its ``kept_epoch``: the last good checkpoint, valid parameters of an
earlier epoch), or of one interrupted (a signal, a kill, a crash). Readers use such a
checkpoint and say so: its parameters are those of that epoch.
"""

import dataclasses
import os
import pathlib
import re
import socket

from jaxmlp import stopping
from jaxmlp.numeric import KeyTwice, json_once
from jaxmlp.resume import finished
from jaxmlp.run import folder
from jaxmlp.run.place import CHUNKS, OWNED, read_text

STATUSES = ("finished", "diverged", "interrupted", "running")
SAID = {"diverged": "diverged", "interrupted": "interrupted", "running": "still running?"}


def owner_of(path) -> pathlib.Path | None:
    """The run or sweep folder (one holding a config.json) whose own file ``path`` names
    (``OWNED``, or any file in a sweep's chunks/), or None. Names match in any case: on a
    case-insensitive file system (macOS's, Windows') Summary.JSON is summary.json."""
    path = pathlib.Path(path).resolve()
    parent = path.parent
    if parent.name.casefold() == CHUNKS and (parent.parent / "config.json").is_file():
        return parent.parent
    owned = path.name.casefold() in OWNED
    return parent if owned and (parent / "config.json").is_file() else None


def check_free(path, flag: str, writer: str) -> None:
    """A ValueError unless ``path`` may take the file that ``writer`` writes (``flag`` names
    it): not a folder, in a folder that exists, and not a file of a run or sweep
    (``owner_of``). Checked before the work whose result it keeps."""
    path = pathlib.Path(path)
    if path.is_dir():
        raise ValueError(f"{flag} {path}: is a folder; name a file in it.")
    if not path.parent.is_dir():
        raise ValueError(f"{flag} {path}: no folder {path.parent}.")
    owner = owner_of(path)
    if owner is not None:
        raise ValueError(
            f"{flag} {path}: is a file of the jaxmlp run or sweep in {owner}, which {writer} "
            "would overwrite; name another file."
        )


def of_checkpoint(run_dir, config: dict, ckpt) -> dict:
    """Where the run in ``run_dir`` (its config.json ``config``, its checkpoint ``ckpt``)
    stands: ``epoch``, the checkpoint's; ``epochs``, the run's length (config.json's; a
    ``save_run`` folder: its checkpoint's); ``status``, one of ``STATUSES`` (module docstring);
    ``early_stopped``, whether the patience or a stall ended a finished run before ``epochs``; and
    ``params_epoch``, the epoch of the parameters it gives (``stopping.params_epoch``)."""
    state, epochs = ckpt.state, config["settings"].get("epochs", ckpt.config.epochs)
    facts = {"epoch": state.epoch, "epochs": epochs, "early_stopped": False,
             "params_epoch": stopping.params_epoch(state, ckpt.config)}  # fmt: skip
    if finished(state, dataclasses.replace(ckpt.config, epochs=epochs)):
        return facts | {"status": "finished", "early_stopped": state.epoch < epochs}
    return facts | {"status": _unfinished(pathlib.Path(run_dir), state.epoch)}


def _unfinished(run_dir: pathlib.Path, epoch: int) -> str:
    """The status of an unfinished run whose checkpoint is at ``epoch``: running, diverged
    or interrupted; a ValueError where summary.json holds a key twice (``numeric.json_once``)."""
    if held(run_dir):  # a resume of a diverged run as well
        return "running"
    path = run_dir / "summary.json"
    try:
        summary = json_once(read_text(path))
    except KeyTwice as twice:
        raise ValueError(f"{path}: {twice} {folder.EDITED}") from None
    except ValueError:  # none (or not JSON): nothing says the run diverged
        summary = None
    diverged = isinstance(summary, dict) and summary.get("status") == "diverged"
    return "diverged" if diverged and summary.get("kept_epoch") == epoch else "interrupted"


def held(run_dir: pathlib.Path) -> bool:
    """Whether a process holds the run folder: its ``.lock`` names a live pid on this host that
    started before the lock was written (a pid reused since, after a reboot say, is not the
    holder) and has not exited (a zombie, killed but not yet reaped by its parent, holds no
    lock), or another host (``folder.lock`` writes ``pid N on HOST``)."""
    try:
        written = (run_dir / folder.LOCK).stat().st_mtime
    except OSError:
        return False
    text = read_text(run_dir / folder.LOCK)
    found = re.fullmatch(r"pid (\d+) on (.*)", text.strip())
    if found is None:
        return False
    if found[2] != socket.gethostname():
        return True
    try:
        os.kill(int(found[1]), 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # alive, of another user
        pass
    return not _exited_or_after(int(found[1]), written)


def _exited_or_after(pid: int, when: float) -> bool:
    """Whether process ``pid`` has exited (a zombie or dead: state Z or X) or started over 2 s
    after the time ``when`` (Linux's /proc: its start in clock ticks after boot; False where
    that is unknown)."""
    try:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        if fields[0] in ("Z", "X"):
            return True
        lines = pathlib.Path("/proc/stat").read_text().splitlines()
        boot = next(int(line.split()[1]) for line in lines if line.startswith("btime "))
        start = int(fields[19])
    except (OSError, ValueError, IndexError, StopIteration):
        return False
    return boot + start / os.sysconf("SC_CLK_TCK") > when + 2


def note(run_dir, model) -> str | None:
    """The line that tells a reader of ``model`` (``load_run(run_dir)``) its run is unfinished
    or stopped early, and the epoch of its parameters where they are the best epoch's; None
    for a run that finished its epochs with the parameters of the last."""
    best = ""
    if model.params_epoch is not None and model.params_epoch != model.epoch:
        best = f": parameters of epoch {model.params_epoch}, the best validation loss"
    if model.finished and model.early_stopped:
        return f"note: {run_dir} stopped early at epoch {model.epoch} of {model.epochs}{best}"
    if model.finished:
        return f"note: {run_dir} finished its {model.epochs} epochs{best}" if best else None
    return (
        f"note: {run_dir} is unfinished: checkpoint of epoch {model.epoch} of {model.epochs} "
        f"({SAID[model.status]}){best}"
    )
