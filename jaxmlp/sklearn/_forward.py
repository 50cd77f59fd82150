"""The estimators' forward pass: outputs for any number of rows in a few compiled programs, and
the precision their float64 work runs in.
"""

import contextlib
import functools

import jax
import numpy as np
import scipy.sparse as sp
from jax import lax

# Prediction runs on blocks of this many rows (zero-padded), a power-of-two count of them: one
# compiled program per block count, and a row's output never depends on the rows beside it.
_BLOCK = 1024


def precision(dtype):
    """float64 work runs inside ``jax.enable_x64``, for this call only; float32 as it is."""
    return jax.enable_x64(True) if dtype == np.float64 else contextlib.nullcontext()


@functools.partial(jax.jit, static_argnums=0)
def _apply_blocks(net, params, x_blocks):
    return lax.map(lambda x: net.apply(params, x), x_blocks)


def apply(net, params, x, dtype) -> np.ndarray:
    """Outputs ``(n, K)`` of ``dtype`` for ``x (n, d)`` (dense, or sparse: densified a block
    at a time), block by block."""
    n, d = x.shape
    if sp.issparse(x):
        x = x.tocsr()
        parts = [
            apply(net, params, x[s : s + _BLOCK].toarray(), dtype) for s in range(0, n, _BLOCK)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, net.sizes[-1]), dtype)
    blocks = 1 << (max(-(-n // _BLOCK), 1) - 1).bit_length()
    padded = np.zeros((blocks * _BLOCK, d), dtype)
    padded[:n] = x
    y = _apply_blocks(net, params, padded.reshape(blocks, _BLOCK, d))
    return np.asarray(y, dtype).reshape(blocks * _BLOCK, -1)[:n]
