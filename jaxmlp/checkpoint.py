"""Checkpoints: a whole ``TrainState`` as plain arrays in one .npz, plus JSON metadata.

One file holds everything a run needs to continue exactly, and nothing that needs pickle:

    params/<l>/<name>       the parameters, layer l, leaf "w", "b" or "alpha"
    best_params/<l>/<name>  the best parameters so far (early stopping), when there are some
    opt_state/<i>           the optimizer state's leaves in ``jax.tree.leaves`` order; the tree
                            around them is rebuilt from ``optimizer.build(1).init(params)``
    extra/<name>            the caller's arrays (the CLI keeps its input standardizer here)
    __jaxmlp__              the metadata, UTF-8 JSON as uint8: format, version, architecture,
                            optimizer, train config, epoch, RNG state, early-stopping state,
                            the run's steps (``TrainState.run_steps``: a cosine schedule
                            resumes only on them; None where unknown or saved before jaxmlp
                            kept them), the sample weights' and extra arrays' SHA-256, and
                            state_sha256: that of all the rest, arrays and metadata

The RNG state is the seed: epoch e of a run draws from ``fold_in(key(seed), e)``, so the seed and
the epoch reached say where the random stream stands. ``save`` writes atomically (a temporary
file in the same folder, fsync, rename, fsync of the folder): a reader, or a run killed at any
moment, sees the old checkpoint or the new one, never half of one.

``load`` trusts nothing: it reads with ``allow_pickle=False`` after checking every array's header
against its bytes, the metadata with each key once (``numeric.json_once``: Python keeps a
repeated key's last value, which the digests then cover, another reader the first), and
verifies what it read (``verify``): the SHA-256 of the parameters and of
the extra arrays (where recorded), of the whole state (``state_sha256``: best parameters,
optimizer state, early-stopping state, epoch..., in files of version 3 on), the parameters'
dtypes (real floating), shapes (the architecture), finiteness (parameters and optimizer state),
the optimizer state's structure, the epoch (within the run's length), and, when asked, the run
it belongs to (``run_id``). Each refusal is a ValueError naming the file and, in one line, what
is wrong. ``save`` applies the same rules before it writes: what load would refuse is never
written. The digests (SHA-256 of parameters, arrays, settings and state, the run's identity)
are ``jaxmlp.digests``'s, the rules (``verify``) ``jaxmlp.checkpoint_checks``'s.

>>> import pathlib, tempfile, jax
>>> from jaxmlp import MLP, Optimizer, TrainConfig, TrainState
>>> net = MLP((2, 3, 1), "tanh", "sigmoid", "bce")
>>> params = net.init(jax.random.key(0)); opt = Optimizer("adam")
>>> state = TrainState(params, opt.build(1).init(params), epoch=5)
>>> path = pathlib.Path(tempfile.mkdtemp()) / "checkpoint.npz"
>>> save(path, state, net=net, optimizer=opt, config=TrainConfig(epochs=10))
>>> ckpt = load(path, net=net)
>>> ckpt.state.epoch, params_sha256(ckpt.state.params) == params_sha256(params)
(5, True)
"""

import dataclasses
import io
import json
import math
import pathlib
import re
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import jaxmlp
from jaxmlp import files, mlp, npz, numeric, optim
from jaxmlp.atomic import write_atomic  # also checkpoint.write_atomic for its callers
from jaxmlp.checkpoint_checks import arrays_of, check_opt_state, meta_int, tree_of, verify
from jaxmlp.digests import architecture, arrays_sha256, config_sha256, params_sha256, state_sha256
from jaxmlp.digests import run_identity as run_identity  # checkpoint.run_identity, for callers
from jaxmlp.mlp import MLP
from jaxmlp.optim import Optimizer
from jaxmlp.train import TrainConfig, TrainState, final_params

FORMAT = "jaxmlp-checkpoint"
VERSION = 3  # 2 adds run_id and config_sha256, 3 state_sha256; version 1 and 2 files still load
META = "__jaxmlp__"
RNG_RULE = "epoch e draws from fold_in(key(seed), e)"


class Checkpoint(NamedTuple):
    """A loaded checkpoint: the network, optimizer and config it was saved with, the
    ``TrainState`` (arrays on the default device), the caller's ``extra`` arrays (numpy) and the
    raw ``meta`` dict."""

    net: MLP
    optimizer: Optimizer
    config: TrainConfig
    state: TrainState
    extra: dict
    meta: dict

    @property
    def final_params(self):
        """The parameters a finished run returns: the best ones when early stopping restores
        them, else the latest."""
        return final_params(self.state, self.config)


# -- saving -------------------------------------------------------------------------------------


def save(
    path,
    state: TrainState,
    *,
    net: MLP,
    optimizer: Optimizer,
    config: TrainConfig,
    extra: dict | None = None,
    extra_meta: dict | None = None,
    run_id: str | None = None,
    arrays: dict | None = None,
) -> None:
    """Write ``state`` to ``path`` atomically (see the module docstring for the layout).

    ``extra``: name -> array, kept beside the state; ``extra_meta``: JSON-able dict kept in the
    metadata under ``"extra"``; ``run_id``: the run this checkpoint belongs to
    (``run_identity`` makes one), which ``load(..., run_id=)`` can require. The arrays are
    copied to the host during the call, so the caller may donate them afterwards; ``arrays``:
    that copy, ``state_arrays(state)``, where the caller made it already (to check it: the
    run's recorder). Raises ValueError, writing nothing, where ``load`` would refuse the file
    (``verify``).
    """
    if run_id is not None and not isinstance(run_id, str):
        raise ValueError(f"run_id must be a string or None, got {run_id!r}.")
    net.check_params(state.params)
    arrays = state_arrays(state) if arrays is None else dict(arrays)
    extra = {name: np.asarray(a) for name, a in (extra or {}).items()}
    arrays |= {f"extra/{name}": a for name, a in extra.items()}
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "jaxmlp_version": jaxmlp.__version__,
        "architecture": architecture(net),
        "optimizer": dataclasses.asdict(optimizer),
        "train": dataclasses.asdict(config),
        "dtype": config.dtype,
        "epoch": int(state.epoch),
        "rng": {"seed": config.seed, "next_epoch": int(state.epoch), "rule": RNG_RULE},
        "best_val_loss": None if math.isinf(state.best_val_loss) else float(state.best_val_loss),
        "bad_epochs": int(state.bad_epochs),
        "run_steps": None if state.run_steps is None else int(state.run_steps),
        "opt_state": [[list(a.shape), a.dtype.name] for a in arrays_of(arrays, "opt_state/")],
        "params_sha256": params_sha256(state.params),
        "config_sha256": config_sha256(net, optimizer, config),
        "sample_weight_sha256": state.sample_weight_sha256,
        "run_id": run_id,
        "extra_sha256": arrays_sha256(extra),
        "extra": extra_meta or {},
    }
    meta["state_sha256"] = state_sha256(meta, arrays)
    try:  # what load would refuse is never written
        meta_read = json.loads(json.dumps(meta))  # as load reads it back
        verify(f"cannot save {path}", arrays, meta_read, net, optimizer, config, digests=False)
    except ValueError as error:
        raise ValueError(f"{error} (nothing was written)") from None
    arrays[META] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_atomic(path, buffer.getvalue())


def state_arrays(state: TrainState) -> dict:
    """The arrays of ``state`` on the host, named as a checkpoint holds them: params/,
    best_params/ (when there are some) and opt_state/ (the module docstring)."""
    arrays = _tree_arrays("params", state.params)
    if state.best_params is not None:
        arrays |= _tree_arrays("best_params", state.best_params)
    opt_leaves = jax.tree.leaves(state.opt_state)
    return arrays | {f"opt_state/{i}": _host(leaf) for i, leaf in enumerate(opt_leaves)}


# -- loading ------------------------------------------------------------------------------------


def load(
    path,
    *,
    net: MLP | None = None,
    optimizer: Optimizer | None = None,
    run_id: str | None = None,
    max_epoch: int | None = None,
    since: int = 1,
) -> Checkpoint:
    """The checkpoint at ``path``, verified (``verify``). With ``net``, it must be for that
    architecture; with ``optimizer``, its state must have that optimizer's structure (the saved
    optimizer is used otherwise); with ``run_id``, it must have been saved by that run; with
    ``max_epoch``, its epoch must not be past it (the run's length); it must be of format
    version ``since`` or newer (a run's: an older one lacks digests, version 2 that of the whole
    state, so a file passed off as one would go unchecked). float64 checkpoints load inside
    ``jax.enable_x64(True)``.

    Raises ValueError naming the file and the problem: missing, truncated or corrupt, not a
    jaxmlp checkpoint, a newer format, another architecture, optimizer or run, or any failure of
    ``verify``.
    """
    if run_id is not None and not isinstance(run_id, str):
        raise ValueError(f"run_id must be a string or None, got {run_id!r}.")
    if max_epoch is not None:
        max_epoch = numeric.check_int("max_epoch", max_epoch, 0)
    numeric.check_int("since", since, 1)
    arrays, meta = _read(path)
    if meta["version"] < since:
        raise ValueError(
            f"{path}: claims checkpoint format version {meta['version']}, older than the {since} "
            "its run writes (by its config.json), without the digests that check "
            "the file: it was edited; restore it, or start a new run in another folder."
        )
    saved_net = _net_from(path, meta)
    if net is not None and net != saved_net:
        a, b = architecture(saved_net), architecture(net)
        diffs = ", ".join(f"{k} {a[k]!r} (wanted {b[k]!r})" for k in a if a[k] != b[k])
        raise ValueError(f"{path}: checkpoint is for another architecture: {diffs}.")
    net = saved_net
    try:
        saved_optimizer, config = recorded_settings(meta)
    except ValueError as error:
        raise ValueError(f"{path}: corrupt checkpoint metadata ({error}).") from None
    optimizer = optimizer or saved_optimizer
    verify(path, arrays, meta, net, saved_optimizer, config, run_id=run_id, max_epoch=max_epoch)
    params = _tree_from(path, arrays, "params", net)
    best = _tree_from(path, arrays, "best_params", net) if "best_params/0/w" in arrays else None
    opt_state = _opt_state_from(path, arrays, optimizer, params, saved_optimizer.name)
    best_val_loss = meta.get("best_val_loss")
    state = TrainState(
        params=params,
        opt_state=opt_state,
        epoch=meta_int(path, meta, "epoch"),
        best_params=best,
        best_val_loss=math.inf if best_val_loss is None else float(best_val_loss),
        bad_epochs=meta_int(path, meta, "bad_epochs"),
        sample_weight_sha256=_weights_digest(path, meta),
        run_epochs=config.epochs,
        run_steps=None if meta.get("run_steps") is None else meta_int(path, meta, "run_steps"),
    )
    extra = {name[6:]: a for name, a in arrays.items() if name.startswith("extra/")}
    return Checkpoint(net, optimizer, config, state, extra, meta)


def recorded_settings(record: dict) -> tuple[Optimizer, TrainConfig]:
    """The optimizer and train config of ``record``'s ``optimizer`` and ``train`` records (a
    checkpoint's metadata; config.json holds the same), read as a checkpoint's: settings its
    optimizer ignores at their defaults (``optim.without_unused``: saved before they were
    refused, they never acted), a train record from before ``drop_last`` dropping (as every run
    then did). A ValueError says what is wrong."""
    try:
        optimizer = Optimizer(**optim.without_unused(record["optimizer"]))
        return optimizer, TrainConfig(**({"drop_last": True} | record["train"]))
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError(str(error)) from None


def read_meta(path) -> dict:
    """Only the metadata of the checkpoint at ``path`` (validated like ``load``)."""
    return _read(path)[1]


def _read(path) -> tuple[dict, dict]:
    path = pathlib.Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no such checkpoint file.")
    files.check_regular(path)  # there, but a folder, a FIFO (a read would block) or a device
    try:
        arrays = npz.read(path.read_bytes())  # every member checked before it is allocated
    except (OSError, ValueError) as error:
        raise ValueError(
            f"{path}: not a readable jaxmlp checkpoint: truncated, corrupt or another kind of "
            f"file ({error})."
        ) from None
    if META not in arrays:
        raise ValueError(
            f"{path}: not a jaxmlp checkpoint (an .npz archive without {META!r} metadata; "
            f"it holds {sorted(arrays)[:5]})."
        )
    try:
        meta = numeric.json_once(arrays.pop(META).tobytes().decode())  # each key once
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: corrupt checkpoint metadata ({error}).") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a jaxmlp checkpoint (format is not {FORMAT!r}).")
    version = meta.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(
            f"{path}: checkpoint format version {version!r} is not one (1 to {VERSION}): "
            "corrupt checkpoint metadata."
        )
    if version > VERSION:
        raise ValueError(
            f"{path}: checkpoint format version {version!r} is newer than this jaxmlp reads "
            f"({VERSION}); upgrade jaxmlp."
        )
    return arrays, meta


def _net_from(path, meta) -> MLP:
    spec = meta.get("architecture")
    if not isinstance(spec, dict):
        raise ValueError(f"{path}: corrupt checkpoint metadata (no architecture).")
    spec = dict(spec)
    if isinstance(spec.get("activation"), list):
        spec["activation"] = tuple(spec["activation"])
    try:
        return MLP(**mlp.without_unused(spec))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: corrupt checkpoint architecture ({error}).") from None


def _tree_from(path, arrays, prefix, net) -> list:
    """The tree ``prefix`` on the device (``verify`` checked it against ``net``)."""
    tree = tree_of(arrays, prefix, net)
    return [{name: _device(path, a) for name, a in layer.items()} for layer in tree]


def _opt_state_from(path, arrays, optimizer, params, saved: str):
    """The optimizer state, rebuilt around ``optimizer``'s tree: it must be the ``saved``
    optimizer's (lm and newton-cg states, adagrad and rmsprop ones, share their arrays)."""
    template = optimizer.build(1).init(params)
    got = check_opt_state(path, arrays, optimizer, params)
    if optimizer.name != saved:
        raise ValueError(
            f"{path}: the saved optimizer state is not a state of optimizer {optimizer.name!r} "
            f"(it is one of optimizer {saved!r}): load it with that optimizer."
        )
    leaves = [_device(path, a) for a in got]
    return jax.tree.unflatten(jax.tree.structure(template), leaves)


def _tree_arrays(prefix, tree) -> dict:
    return {
        f"{prefix}/{l}/{name}": _host(a)
        for l, layer in enumerate(tree)
        for name, a in layer.items()
    }


def _host(a) -> np.ndarray:
    return np.array(jax.device_get(a))  # a copy: the caller may donate the device buffer


def _device(path, a: np.ndarray):
    if a.dtype == np.float64 and not jax.config.jax_enable_x64:
        raise ValueError(
            f"{path}: holds float64 arrays; load it inside jax.enable_x64(True) (--dtype float64)."
        )
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ValueError(f"{path}: holds an array of dtype {a.dtype}, not numbers.")
    return jnp.asarray(a)


def _weights_digest(path, meta) -> str | None:
    """The recorded ``sample_weight_sha256`` (None: trained without sample weights, or saved
    before jaxmlp recorded them)."""
    digest = meta.get("sample_weight_sha256")
    if digest is not None and not (
        isinstance(digest, str) and re.fullmatch("[0-9a-f]{64}", digest)
    ):
        raise ValueError(f"{path}: corrupt checkpoint metadata (sample_weight_sha256 {digest!r}).")
    return digest
