"""The estimators' forward pass: outputs for any number of rows from one compiled program."""

import numpy as np
import scipy.sparse as sp

from jaxmlp.evaluation import apply_in_blocks

# Prediction runs on blocks of this many rows, the last one zero-padded: the device holds one
# block of the inputs at a time, and one compiled program serves every count of rows.
_BLOCK = 1024


def apply(net, params, x) -> np.ndarray:
    """Outputs ``(n, K)`` in the dtype of ``params`` for ``x (n, d)`` (dense, or sparse:
    densified a block at a time), block by block (``evaluation.apply_in_blocks``)."""
    if not sp.issparse(x):
        return apply_in_blocks(net, params, x, _BLOCK, pad=True)
    x = x.tocsr()
    blocks = range(0, max(x.shape[0], 1), _BLOCK)
    return np.concatenate([apply(net, params, x[s : s + _BLOCK].toarray()) for s in blocks])
