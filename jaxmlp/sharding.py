"""Data parallelism on JAX's own SPMD engine: a one-axis ``Mesh`` named ``"data"``.

Parameters and optimizer state are replicated, each batch is split along its first axis, and XLA
inserts the all-reduce of the gradient sums, so the hand backprop runs unchanged: ``a^T G`` over a
sharded batch is a sum of per-device partial sums.

Multi-host: call ``jax.distributed.initialize()`` first in every process (a launcher sets
``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID``, or SLURM / Open MPI
provide them); ``jax.devices()`` then lists every host's devices and the same mesh spans them.
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


def check_batch(batch_size: int, mesh: Mesh) -> None:
    """ValueError unless the batch splits evenly over the mesh."""
    n = mesh.size
    if batch_size % n:
        raise ValueError(
            f"batch size {batch_size} does not divide over {n} devices: use a multiple of {n} "
            f"(e.g. {max(n, batch_size // n * n)}) or --devices that divides it."
        )
