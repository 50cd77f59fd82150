"""Data parallelism on JAX's own SPMD engine: a one-axis ``Mesh`` named ``"data"``.

Parameters and optimizer state are replicated, each batch is split along its first axis, and XLA
inserts the all-reduce of the gradient sums, so the hand backprop runs unchanged: ``a^T G`` over a
sharded batch is a sum of per-device partial sums.

Multi-host: call ``jax.distributed.initialize(coordinator_address, num_processes, process_id)``
first in every process (SLURM, Open MPI's mpirun and Kubernetes are detected, so there it takes
no arguments); ``jax.devices()`` then lists every host's devices and the same mesh spans them.
Each process may load only its shard of the data: see ``place_data`` and docs/scaling.md.
"""

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA = "data"


def data_mesh(devices: int | None = None) -> Mesh:
    """A mesh over the first ``devices`` devices (all of them when None)."""
    available = jax.devices()
    if devices is None:
        devices = len(available)
    if isinstance(devices, bool) or not isinstance(devices, int) or devices < 1:
        raise ValueError(f"devices must be a positive integer, got {devices!r}.")
    if devices > len(available):
        raise ValueError(
            f"devices={devices} but only {len(available)} device(s) are available: "
            f"{[str(d) for d in available]}."
        )
    return Mesh(available[:devices], (DATA,))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec(DATA))


def place_data(tree, mesh: Mesh):
    """Training data onto the mesh: replicated, except arrays already split along their first
    axis (a global array built from each process's shard by
    ``jax.make_array_from_process_local_data``), which stay split along ``"data"``."""

    def place(a):
        split = isinstance(a, jax.Array) and not a.sharding.is_fully_replicated
        return jax.device_put(a, batch_sharded(mesh) if split else replicated(mesh))

    return jax.tree.map(place, tree)


def check_batch(batch_size: int, mesh: Mesh) -> None:
    """ValueError unless the batch splits evenly over the mesh."""
    n = mesh.size
    if batch_size % n:
        fits = max(d for d in range(1, n + 1) if batch_size % d == 0)
        multiples = sorted({max(n, batch_size // n * n), batch_size // n * n + n})
        raise ValueError(
            f"batch size {batch_size} does not divide over {n} devices: use a multiple of {n} "
            f"(e.g. {' or '.join(map(str, multiples))}), or devices={fits} (--devices {fits})."
        )
