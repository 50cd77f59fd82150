"""Atomic writes: a file is replaced whole or not at all, whatever kills the process.

``write_atomic`` writes a temporary beside the file (``.<name>.<random>.tmp``), flushes and
fsyncs it, renames it over the file and fsyncs the folder: a reader, or a run killed at any
moment, sees the old file or the new one, never half of one. A process killed mid-write leaves
its temporary, which ``remove_stale_temporaries`` clears.
"""

import contextlib
import os
import pathlib
import tempfile

TMP_PREFIX, TMP_SUFFIX = ".", ".tmp"  # write_atomic's temporary: .<name>.<random>.tmp


def write_atomic(path, data: bytes | str) -> None:
    """Replace ``path`` by ``data`` atomically: temporary file in the same folder, flush, fsync,
    ``os.replace``, fsync of the folder. An interrupted write leaves the old file (and, if the
    process was killed, a temporary that ``remove_stale_temporaries`` clears)."""
    path = pathlib.Path(path)
    if isinstance(data, str):
        data = data.encode()
    try:
        fd, tmp = tempfile.mkstemp(
            dir=path.parent, prefix=f"{TMP_PREFIX}{path.name}.", suffix=TMP_SUFFIX
        )
    except OSError as error:  # it names the temporary: name the file
        raise _naming(error, path) from error
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o666 & ~_umask())  # mkstemp's 0o600 is for secrets
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(error, OSError) and error.filename is None:  # a write: name the file
            raise _naming(error, path) from error
        raise
    fsync_dir(path.parent)


def _naming(error: OSError, path) -> OSError:
    """``error`` as an error about the file ``path``."""
    return type(error)(error.errno, error.strerror or str(error), str(path))


def remove_stale_temporaries(folder) -> list[pathlib.Path]:
    """Delete the temporaries that writes killed mid-way (``write_atomic``) left in ``folder``,
    and return their paths. Call it only while no one else writes there (the run folder's
    lock held): a live write's temporary looks the same."""
    stale = sorted(
        p
        for p in pathlib.Path(folder).glob(f"{TMP_PREFIX}*{TMP_SUFFIX}")
        if p.is_file() and not p.is_symlink()
    )
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_dir(folder) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
