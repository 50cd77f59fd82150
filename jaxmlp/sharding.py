"""Data parallelism on JAX's own SPMD engine: a one-axis ``Mesh`` named ``"data"``.

Parameters and optimizer state are replicated, each batch is split along its first axis, and XLA
inserts the all-reduce of the gradient sums, so the hand backprop runs unchanged: ``a^T G`` over a
sharded batch is a sum of per-device partial sums.

Multi-host: call ``jax.distributed.initialize(coordinator_address, num_processes, process_id)``
first in every process (SLURM, Open MPI's mpirun and Kubernetes are detected, so there it takes
no arguments); ``jax.devices()`` then lists every host's devices and the same mesh spans them.
Each process may load only its shard of the data: see ``place_data`` and docs/scaling.md.

A population's members shard over a ``"members"`` axis instead (``members_mesh``): each device
trains its members on the whole data, replicated.
"""

import math
import warnings

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxmlp.numeric import check_int

DATA = "data"
MEMBERS = "members"  # the mesh axis a population's members shard over


def data_mesh(devices: int | None = None) -> Mesh:
    """A mesh over the first ``devices`` devices (all of them when None)."""
    available = jax.devices()
    devices = len(available) if devices is None else check_int("devices", devices, 1, "or None")
    if devices > len(available):
        raise ValueError(
            f"devices={devices} but only {len(available)} device(s) are available: "
            f"{[str(d) for d in available]}."
        )
    return Mesh(available[:devices], (DATA,))


def members_mesh(devices: int | None, p: int, chunk: int) -> Mesh | None:
    """The mesh of ``p`` members trained ``chunk`` at a time on ``devices`` devices (None: one,
    no mesh), checked before any chunk trains: every chunk divides evenly."""
    if devices is None:
        return None
    mesh = data_mesh(devices)  # checks the count against the devices there are
    last = p % chunk or chunk
    if chunk % devices or last % devices:
        chunks = f" in chunks of {chunk}" if chunk < p else ""
        chunks += f" (the last of {last})" if last != chunk else ""
        raise ValueError(
            f"{p} members{chunks} do not divide over {devices} devices: use multiples of {devices}."
        )
    return Mesh(np.asarray(mesh.devices).reshape(devices, 1), (MEMBERS, DATA))


def members_sharded(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec(MEMBERS))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec(DATA))


def batch_constraint(mesh: Mesh):
    """``a -> a`` split along ``"data"`` inside a compiled step (a batch gathered there, whose
    layout XLA would otherwise choose); the identity on one device."""
    if mesh.size > 1:
        return lambda a: jax.lax.with_sharding_constraint(a, batch_sharded(mesh))
    return lambda a: a


def place_data(tree, mesh: Mesh):
    """Training data onto the mesh: replicated, except arrays already split along their first
    axis (a global array built from each process's shard by
    ``jax.make_array_from_process_local_data``), which stay split along ``"data"``."""

    def place(a):
        return _put(a, batch_sharded(mesh) if is_split(a) else replicated(mesh))

    return jax.tree.map(place, tree)


def is_split(a) -> bool:
    """Whether ``place_data`` keeps ``a`` split along ``"data"``: a jax array not replicated."""
    return isinstance(a, jax.Array) and not a.sharding.is_fully_replicated


def check_split(arrays: dict, batch_size: int, mesh: Mesh) -> None:
    """ValueError unless every array of ``arrays`` (``{name: array or None}``) that
    ``place_data`` keeps split can be: one split across processes on the mesh's devices (jax
    moves none across), rows that divide over the mesh (the advice, a device count dividing them
    and the batch, works when followed)."""
    for name, a in arrays.items():
        across = is_split(a) and not a.is_fully_addressable  # jax moves it onto no others
        if across and a.sharding.device_set != set(mesh.devices.flat):
            raise ValueError(
                f"{name} spans the {len(a.sharding.device_set)} devices of {jax.process_count()} "
                f"processes, but devices={mesh.size} trains on {mesh.size} of them: pass "
                "devices=None (all of them), or split it over the devices you train on."
            )
    rows = {name: a.shape[0] for name, a in arrays.items() if is_split(a)}
    bad = [(name, n) for name, n in rows.items() if n % mesh.size]
    if bad:
        (name, n), fits = bad[0], largest_divisor(math.gcd(batch_size, *rows.values()), mesh.size)
        raise ValueError(
            f"{name} is split across devices and stays split along its first axis, but its {n} "
            f"rows do not divide over {mesh.size} devices: use devices={fits}, or pass {name} "
            "whole (a NumPy array is replicated on every device)."
        )


def place_replicated(tree, mesh: Mesh):
    """Every array of ``tree`` replicated over the mesh."""
    target = replicated(mesh)
    return jax.tree.map(lambda a: _put(a, target), tree)


def _put(a, target):
    """``a`` on ``target``; an array already there is returned as it is (no copy, nor a
    device_put's new handle on the same buffer: ~40 us an array)."""
    if isinstance(a, jax.Array) and a.sharding.is_equivalent_to(target, a.ndim):
        return a
    return jax.device_put(a, target)


def devices_for(batch_size: int, n_examples: int | None = None) -> int:
    """The number of devices a batch of ``batch_size`` trains on when none is asked for
    (``default_devices``); warns when that is fewer than all, saying how to choose it, at the
    line that called ``fit`` (its one caller is ``arrays.prepare``, in ``fit``)."""
    devices, message = default_devices(batch_size, n_examples)
    if message is not None:
        warnings.warn(message, UserWarning, stacklevel=4)
    return devices


def default_devices(batch_size: int, n_examples: int | None = None) -> tuple[int, str | None]:
    """``(devices, message)``: all of them if the batch divides over them, one if it is
    smaller than the device count, else the largest count that divides it; ``message`` (None
    where all train) says so and how to choose. A batch of all ``n_examples`` (a full batch)
    has no size to choose: the advice is a device count, or a mini-batch size."""
    available = len(jax.devices())
    if batch_size % available == 0:
        return available, None
    d = 1 if batch_size < available else largest_divisor(batch_size, available)
    said = (
        f"batch size {batch_size} does not divide over the {available} devices: training on "
        f"{d} device(s). Pass devices={d} (--devices {d}) to choose this"
    )
    if batch_size == n_examples:  # the full batch: no size of it to choose
        return d, (
            f"{said}; a full batch of {n_examples} examples trains on all {available} only "
            f"where {available} divides the examples (else train in mini-batches of a multiple "
            f"of {available})."
        )
    return d, f"{said}, or a batch size that is a multiple of {available} to use them all."


def check_batch(batch_size: int, mesh: Mesh, n_examples: int | None = None) -> None:
    """ValueError unless the batch splits evenly over the mesh. The advice works when followed:
    a device count that divides the batch, and, when ``n_examples`` is given, batch sizes up to
    it (a larger batch is clipped to the training set, so none is suggested without it)."""
    n = mesh.size
    if batch_size % n:
        fits = largest_divisor(batch_size, n)
        multiples = sorted({max(n, batch_size // n * n), batch_size // n * n + n})
        multiples = [m for m in multiples if n_examples is not None and m <= n_examples]
        sizes = f"a batch size of {' or '.join(map(str, multiples))}, or " if multiples else ""
        raise ValueError(
            f"batch size {batch_size} does not divide over {n} devices: use {sizes}"
            f"devices={fits} (--devices {fits})."
        )


def largest_divisor(batch_size: int, most: int) -> int:
    """The largest device count of at most ``most`` that ``batch_size`` divides over."""
    return max(d for d in range(1, most + 1) if batch_size % d == 0)
