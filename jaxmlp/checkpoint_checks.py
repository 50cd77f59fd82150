"""What a checkpoint must be to be used: ``verify``, the rules ``checkpoint.load`` applies to
what it read and ``checkpoint.save`` to what it is about to write (a file save writes, load
takes back). Each refusal is a ValueError naming the file and, in one line, what is wrong.
"""

import jax
import numpy as np

from jaxmlp.arrays import params_dtype
from jaxmlp.digests import arrays_sha256, config_sha256, params_sha256, state_sha256
from jaxmlp.resume import past_the_run
from jaxmlp.second_order import NAMES


def verify(
    path, arrays, meta, net, optimizer, config, *, run_id=None, max_epoch=None, digests=True
) -> None:
    """ValueError, naming ``path`` and one problem, unless the checkpoint read as ``arrays`` and
    ``meta`` is whole and belongs where it is loaded: the settings match their digest
    (``config_sha256``, which every file from format version 2 on records), the run is
    ``run_id`` (when given), the epoch lies in ``[0, min(config.epochs, max_epoch)]``, the
    parameters are real floating arrays of the
    architecture's shapes in the config's dtype, all finite, with the recorded SHA-256, the
    optimizer state is finite and of ``optimizer``'s structure, the extra arrays are of types
    .npy keeps (no objects, no raw bytes such as bfloat16's) with their recorded SHA-256 (if
    any), and the whole state, every array and every metadata field
    (best parameters, optimizer state, early-stopping state, epoch...), has its recorded
    ``state_sha256`` (files of format version 3 on; older ones have none). ``digests=False``
    (``save``, which has just computed them) leaves the digests unchecked."""
    version = meta.get("version", 1)  # (checkpoint._read refuses a file without one)
    if version >= 2 and not isinstance(meta.get("config_sha256"), str):
        raise ValueError(
            f"{path}: a checkpoint of format version {version} without its settings' digest "
            "(config_sha256), which every one from version 2 on records: the metadata was "
            "altered."
        )
    saved_digest = meta.get("config_sha256") if digests else None
    if saved_digest is not None and saved_digest != config_sha256(net, optimizer, config, meta):
        raise ValueError(
            f"{path}: the settings in the metadata do not match their recorded digest "
            "(config_sha256): the metadata was altered."
        )
    if run_id is not None and meta.get("run_id") != run_id:
        raise ValueError(
            f"{path}: checkpoint of another run: run id {meta.get('run_id')!r}, expected "
            f"{run_id!r} (a checkpoint from another run folder or another configuration)."
        )
    epoch = meta_int(path, meta, "epoch")
    last = config.epochs if max_epoch is None else min(config.epochs, max_epoch)
    past = past_the_run(epoch, last)
    if past:
        raise ValueError(f"{path}: {past}: not a checkpoint of this run.")
    meta_int(path, meta, "bad_epochs")
    want = params_dtype(config.dtype)
    trees = ("params", "best_params") if "best_params/0/w" in arrays else ("params",)
    for name, a in arrays.items():
        if name.split("/")[0] in trees and a.dtype != want:
            raise ValueError(
                f"{path}: {name} has dtype {_named(a.dtype)}; parameters of a {config.dtype} "
                f"run are {want.name}."
            )
    for name, a in arrays.items():
        if name.startswith("extra/") and (a.dtype.hasobject or _unnamed(a.dtype)):
            raise ValueError(
                f"{path}: {name} has dtype {_named(a.dtype)}, which .npy does not keep (object "
                "arrays need pickle; bfloat16 and other types numpy cannot name read back as "
                "raw bytes): save extra arrays of numbers or strings, e.g. x.astype(np.float32)."
            )
    bad = non_finite(arrays, optimizer)
    if bad is not None:
        raise ValueError(f"{path}: {bad[0]} holds {bad[1]} NaN or Inf values; it cannot be used.")
    for tree in reversed(trees):  # params last: the tree the checks below use
        params = tree_of(arrays, tree, net)
        try:
            net.check_params(params)
        except ValueError as error:
            raise ValueError(f"{path}: {tree} do not fit the saved architecture: {error}") from None
    check_float64(path, arrays)
    check_opt_state(path, arrays, optimizer, params)
    if not digests:
        return
    if meta.get("params_sha256") != params_sha256(params):
        raise ValueError(
            f"{path}: the parameters do not match their recorded SHA-256 (params_sha256): the "
            "file was altered or mixed from two checkpoints."
        )
    digest = arrays_sha256({k[6:]: a for k, a in arrays.items() if k.startswith("extra/")})
    if meta.get("extra_sha256", digest) != digest:  # saved before extra_sha256: unchecked
        raise ValueError(
            f"{path}: the extra arrays (the input standardiser) do not match their recorded "
            "SHA-256 (extra_sha256): the file was altered or mixed from two checkpoints."
        )
    recorded = meta.get("state_sha256")
    if (recorded is not None or meta.get("version", 0) >= 3) and recorded != state_sha256(
        meta, arrays
    ):
        raise ValueError(
            f"{path}: the saved state (best parameters, optimizer state, early-stopping state, "
            "epoch or other metadata) does not match its recorded SHA-256 (state_sha256): the "
            "file was altered or mixed from two checkpoints."
        )


def non_finite(arrays, optimizer) -> tuple[str, int] | None:
    """The first of the state's arrays among ``arrays`` (parameters, best parameters, optimizer
    state: those loaded onto the device) that holds NaN or Inf, and how many it holds; None when
    all are finite. ``verify`` refuses such a checkpoint; a run that reaches such a state has
    diverged (``jaxmlp.run.record``). The optimizer state of a curvature solver
    (``second_order.NAMES``) is not looked at: its line search's bookkeeping starts at inf
    (optax's zoom line search's errors, the value before the first step), and an overflow of its
    memory shows in the parameters it moves."""
    trees = ("params", "best_params", "opt_state")[: 2 if optimizer.name in NAMES else 3]
    for name, a in arrays.items():
        is_state = name.split("/")[0] in trees
        if is_state and np.issubdtype(a.dtype, np.inexact) and not np.isfinite(a).all():
            return name, int((~np.isfinite(a)).sum())
    return None


def check_float64(path, arrays) -> None:
    """A ValueError where the state among ``arrays`` (parameters, best parameters, optimizer
    state: those loaded onto the device) holds float64 outside ``jax.enable_x64(True)``."""
    state = (a for k, a in arrays.items() if k.split("/")[0] != "extra")
    if not jax.config.jax_enable_x64 and any(a.dtype == np.float64 for a in state):
        raise ValueError(
            f"{path}: holds float64 arrays; load it inside jax.enable_x64(True) (--dtype float64)."
        )


def check_opt_state(path, arrays, optimizer, params) -> list:
    """The optimizer state's arrays of ``arrays`` (``opt_state/<i>``), with a ValueError unless
    they have the shapes and dtypes of ``optimizer``'s state on ``params``."""
    want = jax.tree.leaves(optimizer.build(1).init(params))
    got = arrays_of(arrays, "opt_state/")
    # str: a dtype's name, but for another byte order ('>f4'), which jax cannot take
    shapes = lambda leaves: [(tuple(np.shape(a)), str(np.dtype(a.dtype))) for a in leaves]  # noqa: E731
    if shapes(got) != shapes(want) or len(got) != sum(k.startswith("opt_state/") for k in arrays):
        why = ""
        if optimizer.name in ("lbfgs", "cg"):  # their state was once per layer's array
            why = (
                f" (the checkpoint's {optimizer.name} state is likely from an older jaxmlp: "
                "the state layout changed to one flat vector; restart the run or resume it "
                "with that jaxmlp)"
            )
        raise ValueError(
            f"{path}: the saved optimizer state does not fit optimizer {optimizer.name!r} on "
            f"these parameters{why}: {len(got)} arrays {shapes(got)[:3]}..., expected "
            f"{len(want)} {shapes(want)[:3]}...."
        )
    return got


def arrays_of(arrays: dict, prefix: str) -> list:
    """The arrays named ``prefix<i>``, i = 0, 1, ... in order."""
    out = []
    while f"{prefix}{len(out)}" in arrays:
        out.append(arrays[f"{prefix}{len(out)}"])
    return out


def tree_of(arrays: dict, prefix: str, net) -> list:
    """The tree of arrays named ``<prefix>/<l>/<name>`` (``checkpoint._tree_arrays``): one dict
    a layer of ``net``."""
    return [
        {k.split("/")[2]: arrays[k] for k in sorted(arrays) if k.startswith(f"{prefix}/{l}/")}
        for l in range(len(net.sizes) - 1)
    ]


def meta_int(path, meta, name) -> int:
    """The metadata's ``name``, a ValueError unless it is an int >= 0."""
    value = meta.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{path}: corrupt checkpoint metadata ({name} = {value!r}).")
    return value


def _unnamed(dtype) -> bool:
    """Whether .npy keeps ``dtype`` as raw bytes (``|V2``): bfloat16 and other types numpy
    cannot name; structured types (with fields) it keeps as they are."""
    return dtype.kind == "V" and dtype.names is None


def _named(dtype) -> str:
    """``dtype`` as a message names it: .npy keeps bfloat16 and other types numpy cannot name
    as raw bytes (``|V2``), which says nothing to a reader."""
    if _unnamed(dtype):
        return (
            f"{dtype} (raw {dtype.itemsize}-byte values: a type numpy cannot name, such as "
            "bfloat16)"
        )
    return str(dtype)
