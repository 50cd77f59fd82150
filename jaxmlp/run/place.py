"""Where a run lives: its folder's name (``out_folder``; ``claim`` makes a new one), the lock of
one writer at a time (``lock``; ``check_held`` before each write: the folder is still the one
locked) and the temporaries a killed save leaves (``remove_temporaries``). ``folder`` owns the
files inside it.

A folder named by default, ``runs/<time>-<data>``, is made atomically (``claim``): two runs
started in the same second take ``...-xor`` and ``...-xor-2``, never one folder.
"""

import contextlib
import datetime
import errno
import fcntl
import json
import os
import pathlib
import re
import socket
import stat

from jaxmlp.run.settings import DEFAULTS

RUN_FILES = ("config.json", "checkpoint.npz", "metrics.jsonl")
# The files a run or sweep folder owns (beside its *.png figures, ``.lock`` and a sweep's
# CHUNKS folder): a new run refuses a folder holding one; what jaxmlp writes elsewhere,
# predictions, must not replace them (``status.owner_of``).
OWNED = (*RUN_FILES, "summary.json", "members.jsonl", "members.csv")
CHUNKS = "chunks"  # a sweep's finished chunks
LOCK = ".lock"
# The temporary files of checkpoint.write_atomic for the files of a run or a sweep (and nothing
# else): a sweep's members.jsonl, members.csv and, in chunks/, NNNNN.npz.
TEMPORARY = re.compile(r"\.(config\.json|checkpoint\.npz|metrics\.jsonl|summary\.json|\w+\.png"
                       r"|members\.jsonl|members\.csv|\d{5}\.npz)\.\w{8}\.tmp")  # fmt: skip
STAMP, STAMP_LENGTH = "%Y%m%d-%H%M%S", 15  # the time in a default name
NAMES = 1000  # runs/<time>-<data>, then -2 .. -999: the names of one second's runs
CROWDED = f"runs: {NAMES - 1} runs of this data began this second; pass --out DIR."
_HELD: set[tuple[int, int]] = set()  # the lock files this process holds: (st_dev, st_ino)


def out_folder(out, given: dict, resume: bool) -> pathlib.Path:
    """The folder of the run: ``out``, or ``runs/<time>-<data>`` when None (the first of its
    names free now; ``claim`` makes it). A new run refuses a folder that already holds one."""
    if isinstance(out, str) and not out.strip():  # an unset shell variable: not the cwd
        raise ValueError(f"--out needs a folder name, got {out!r}.")
    if out is None:
        if resume:
            raise ValueError("--resume needs --out DIR: the folder of the run to continue.")
        stamp = datetime.datetime.now().strftime(STAMP)
        out = next((name for name in _names(stamp, given) if not name.exists()), None)
        if out is None:
            raise ValueError(CROWDED)
    out = pathlib.Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: exists and is not a folder.")
    if out.is_symlink() and not out.exists():
        raise ValueError(
            f"--out {out}: a symbolic link to {os.readlink(out)}, which does not exist."
        )
    above = next((p for p in out.parents if p.exists() or p.is_symlink()), None)
    if above is not None and not above.is_dir():
        raise ValueError(f"--out {out}: {above} is not a folder.")
    if resume and not (out / "config.json").is_file():
        raise ValueError(
            f"--out {out}: nothing to resume (no run there: no config.json); start one "
            "without --resume."
        )
    if not resume and out.is_dir() and any((out / f).exists() for f in RUN_FILES):
        kind, command = ("sweep", "sweep") if _holds_sweep(out) else ("run", "train")
        raise ValueError(
            f"--out {out} already holds a {kind}: continue it with --resume (jaxmlp {command}), "
            "or pick another --out."
        )
    left = [name for name in OWNED if os.path.lexists(out / name)]
    if (out / CHUNKS).is_dir():  # (a file of that name is no sweep's: ``sweep`` refuses it)
        left.append(f"{CHUNKS}/")
    if not resume and left:  # the rest of a run whose config.json went: a new one replaced it
        raise ValueError(
            f"--out {out} holds {', '.join(left)} of another run or sweep (but no config.json): "
            "move them away, or pick another --out."
        )
    return out


def _holds_sweep(out: pathlib.Path) -> bool:
    """Whether ``out``'s config.json is a sweep's (False where it cannot be read)."""
    try:
        config = json.loads(read_text(out / "config.json"))
    except ValueError:
        return False
    return isinstance(config, dict) and "sweep" in config


def _names(stamp: str, given: dict):
    """The default folder names of a run of ``given`` started at ``stamp``, in order."""
    name = pathlib.Path(str(given.get("data", DEFAULTS["data"]))).stem or "run"
    yield pathlib.Path("runs") / f"{stamp}-{name}"
    for i in range(2, NAMES):
        yield pathlib.Path("runs") / f"{stamp}-{name}-{i}"


def claim(out: pathlib.Path, given: dict, named: bool) -> pathlib.Path:
    """Make the new run's folder and return it: ``out`` (``named``: the user's ``--out``; it may
    exist), else the first default name of ``out``'s second (``_names``) that this process
    creates itself: another run that began in that second may have taken ``out`` meanwhile."""
    if named:
        out.mkdir(parents=True, exist_ok=True)
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    for name in _names(out.name[:STAMP_LENGTH], given):
        try:
            name.mkdir()
        except FileExistsError:
            continue
        return name
    raise ValueError(CROWDED)


@contextlib.contextmanager
def lock(out: pathlib.Path):
    """Hold the run folder ``out`` for this process: an exclusive ``flock`` on ``out/.lock``
    (written with our pid and host, removed on release). A folder another process holds is a
    ValueError naming it. A lock of a killed process dies with it (the kernel releases it); the
    release removes ``.lock`` only where it is still the file this process locked."""
    path = out / LOCK
    while True:
        fd = _open_lock(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = read_text(path).strip() or "another process"
            raise ValueError(
                f"{out}: the run folder is in use by {holder} (it holds {path}); wait for it "
                "to finish, or pick another --out."
            ) from None
        try:  # the holder before us may have removed the file we opened: lock the new one
            if _same_file(os.fstat(fd), os.stat(path)):
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    held = _key(os.fstat(fd))  # its inode lives while fd is open: no other file takes it
    _HELD.add(held)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
        yield
    finally:  # our file only: one removed meanwhile (by hand, with the folder) may be another's
        _HELD.discard(held)
        with contextlib.suppress(OSError):
            if _same_file(os.fstat(fd), os.stat(path)):
                os.unlink(path)
        os.close(fd)


def check_held(out: pathlib.Path) -> None:
    """A ValueError unless this process holds the run folder ``out`` (``lock``): its ``.lock``
    is still the file locked. A folder removed, moved or made again meanwhile (by hand, or by
    another run, which holds a lock of its own there) is not this run's: a write would land
    beside another run's files, or in a folder of none."""
    try:
        ours = _key(os.stat(out / LOCK, follow_symlinks=False)) in _HELD
    except OSError:
        ours = False
    if not ours:
        raise ValueError(
            f"{out}: the run folder was removed, moved or made again while this process wrote "
            f"it (its {LOCK} is not the one this process locked): it stops, writing nothing "
            "there (a folder moved elsewhere continues from its last save with --resume)."
        )


def _key(info: os.stat_result) -> tuple[int, int]:
    return info.st_dev, info.st_ino


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return _key(a) == _key(b)


def _open_lock(path: pathlib.Path) -> int:
    """A descriptor of the lock file ``path``, created if missing; a ValueError where ``path``
    is no regular file of one name: a symbolic link or a hard link (the lock would write over
    the file it names, or create it), a FIFO or a device, which jaxmlp never makes there."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    except OSError as error:
        if error.errno != errno.ELOOP:  # ELOOP: a link, which O_NOFOLLOW does not follow
            raise
        fd = None
    info = None if fd is None else os.fstat(fd)
    if info is not None and stat.S_ISREG(info.st_mode) and info.st_nlink == 1:
        return fd
    if fd is not None:
        os.close(fd)
    what = "not a regular file (a symbolic link, a FIFO or a device)"
    if info is not None and stat.S_ISREG(info.st_mode):
        what = "a hard link to another file"
    raise ValueError(
        f"{path}: {what}, as a run's lock file never is: jaxmlp did not write it; remove it, "
        "then retry."
    )


def read_text(path) -> str:
    """The text of ``path`` where it is a regular file (or a link to one), else "": what a run
    folder holds may be anything (a FIFO would block the reader, a device never end)."""
    try:
        return pathlib.Path(path).read_text(errors="replace") if os.path.isfile(path) else ""
    except OSError:
        return ""


def remove_temporaries(out: pathlib.Path) -> list[str]:
    """Delete the temporary files a killed save left in ``out`` and a sweep's ``out/chunks``
    (call it holding ``lock``: then no save is under way); returns their paths from ``out``."""
    places = [p for p in (out, out / CHUNKS) if p.is_dir()]
    stale = sorted(p for place in places for p in place.iterdir() if TEMPORARY.fullmatch(p.name))
    for path in stale:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return [str(p.relative_to(out)) for p in stale]
