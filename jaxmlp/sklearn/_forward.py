"""The estimators' forward pass: outputs for any number of rows from one compiled program, and
the precision their float64 work runs in.
"""

import contextlib

import jax
import numpy as np
import scipy.sparse as sp

from jaxmlp.evaluation import apply_in_blocks

# Prediction runs on blocks of this many rows, the last one zero-padded: the device holds one
# block of the inputs at a time, and one compiled program serves every count of rows.
_BLOCK = 1024


def precision(dtype):
    """float64 work runs inside ``jax.enable_x64``, for this call only; float32 as it is."""
    return jax.enable_x64(True) if dtype == np.float64 else contextlib.nullcontext()


def apply(net, params, x) -> np.ndarray:
    """Outputs ``(n, K)`` in the dtype of ``params`` for ``x (n, d)`` (dense, or sparse:
    densified a block at a time), block by block (``evaluation.apply_in_blocks``)."""
    if not sp.issparse(x):
        return apply_in_blocks(net, params, x, _BLOCK, pad=True)
    x = x.tocsr()
    blocks = range(0, max(x.shape[0], 1), _BLOCK)
    return np.concatenate([apply(net, params, x[s : s + _BLOCK].toarray()) for s in blocks])
