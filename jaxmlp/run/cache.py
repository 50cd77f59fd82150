"""JAX's persistent compilation cache for the command line: a second ``jaxmlp train`` (or
``sweep``, ``evaluate``, ``predict``) with the same shapes reads its compiled programs from disk
instead of compiling them again.

The folder is ``$JAXMLP_COMPILE_CACHE`` when that names one, else
``$XDG_CACHE_HOME/jaxmlp/xla`` (``~/.cache/jaxmlp/xla`` without XDG_CACHE_HOME). Turn it off
with ``--no-compile-cache`` or ``JAXMLP_COMPILE_CACHE=off``. It grows by about 0.5 MB per new
setup (JAX's size limit needs the ``filelock`` package, which jaxmlp does not require); delete
the folder to empty it. JAX trusts what the folder holds (it runs the programs it finds there),
so it is created readable by its owner only, and one owned by another user or writable by others
is refused.
"""

import os
import pathlib
import stat

import jax

ENV = "JAXMLP_COMPILE_CACHE"
OFF = ("0", "off", "no", "false", "")
# Every program is kept, however fast it compiled (JAX's default keeps those over 1 s): the
# many small ones of a run add up. Digits, --epochs 5, shared 2-core CPU: the second run took
# 5.8 s with 0, 8.4 s with 0.1 (the first: about 20 s).
MIN_COMPILE_SECONDS = 0.0


def folder() -> pathlib.Path | None:
    """The cache folder, or None when ``$JAXMLP_COMPILE_CACHE`` turns it off."""
    setting = os.environ.get(ENV)
    if setting is not None:
        return None if setting.strip().lower() in OFF else pathlib.Path(setting).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(base) / "jaxmlp" / "xla"


def enable(on: bool = True) -> pathlib.Path | None:
    """Point JAX's persistent compilation cache at ``folder()`` (before anything compiles);
    returns the folder, None when off."""
    path = folder() if on else None
    if path is None:
        return None
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    check_private(path)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    return path


def check_private(path: pathlib.Path) -> None:
    """A ValueError unless the cache folder ``path`` is this user's and no one else may write
    it: JAX runs the programs it finds there, so whoever writes them decides what a run
    computes (and runs code as the user)."""
    info = path.stat()
    mode = stat.S_IMODE(info.st_mode)
    why = f"owned by another user (uid {info.st_uid})" if info.st_uid != os.geteuid() else ""
    if not why and mode & 0o022:
        why = f"writable by others (mode {mode:o})"
    if why:
        raise ValueError(
            f"{path}: the compile cache folder is {why}, and JAX runs the compiled programs it "
            f"finds there: chmod go-w {path} if it is yours, or use a folder of your own "
            f"({ENV}=DIR, or {ENV}=off)."
        )
