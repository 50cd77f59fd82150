"""A run's history: one record (a plain dict) per epoch, built from a compiled call's outputs.

Each record holds ``epoch``, ``train_loss``, ``train_accuracy``, ``val_loss``, ``val_accuracy``
(None where the run has none), the ``seconds`` of its call split evenly among the call's
epochs and ``fused``, the number of epochs that call ran. ``fit`` and ``fit_population`` build
their histories here, so a member's records read like a solo run's. ``train_loss`` and
``train_accuracy`` are running values over the epoch's steps, each batch's taken before its
update (as Keras's and scikit-learn's ``loss_curve_``; with dropout, of the thinned network),
so they describe the network one update before the epoch's end; ``val_loss`` and
``val_accuracy`` are those of the network at its end. Losses are in the net's reduction over
the epoch's examples: with ``reduction="sum"`` the epoch's ``train_loss`` is the total over its
batches (``epochs.epoch_loss``), not a batch's.
"""

import math
import mmap

import numpy as np

from jaxmlp.step import is_classifier


def epoch_records(net, out, first, seconds, n_seen, x_val, val_seen=None):
    """One history dict per epoch of a call, from its outputs (arrays or lists); ``seconds`` is
    the call's time split evenly among its ``k`` epochs. Built column by column into copies of
    one template (5000 records: ~0.5 ms less than dict by dict). Accuracies divide by
    ``n_seen`` (or each epoch's ``train_weight``, with sample weights) and ``val_seen`` (the
    validation weight; ``len(x_val)`` when None)."""
    k = len(out["train_loss"])
    classifier, val = is_classifier(net), x_val is not None
    columns = {"epoch": range(first + 1, first + k + 1), "train_loss": floats(out["train_loss"])}
    if classifier:
        seen = out.get("train_weight", n_seen)
        columns["train_accuracy"] = floats(out["train_correct"], seen)
    if val:
        columns["val_loss"] = floats(out["val_loss"])
        if classifier:
            seen = x_val.shape[0] if val_seen is None else val_seen
            columns["val_accuracy"] = floats(out["val_correct"], seen)
    template = dict.fromkeys(("epoch", "train_loss", "train_accuracy", "val_loss"))
    template |= {"val_accuracy": None, "seconds": seconds, "fused": k}
    records = [template.copy() for _ in range(k)]
    for name, column in columns.items():
        for record, value in zip(records, column, strict=True):
            record[name] = value
    return records


def floats(values, n=1) -> list:
    """Python floats ``values / n`` (float64, as ``float(v) / n``); ``n`` a number or one per
    value."""
    a = np.asarray(values, np.float64)
    n = np.asarray(n, np.float64)
    return (a / n if n.ndim or n != 1 else a).tolist()


def member_columns(shape, dtype=np.float32) -> np.ndarray:
    """An uninitialised array of ``dtype`` (the metrics', float64 in a float64 run) for a
    population's history ``(P, epochs, k)``, in memory
    the kernel maps page by page. NumPy asks for transparent huge pages on large arrays, and a
    kernel that compacts memory for them (``defrag=madvise``) stalled the first write into the
    40 MB of 1000 XOR members x 5000 epochs for 0.05-0.45 s in 4 of 10 runs (up to 2x the
    whole population's time; experiments/BENCHMARKS.md). An anonymous ``mmap`` is not so
    advised; its pages fault in as the calls' outputs arrive."""
    n = math.prod(shape)
    dtype = np.dtype(dtype)
    return np.frombuffer(mmap.mmap(-1, max(dtype.itemsize * n, 1)), dtype, n).reshape(shape)
