"""A sweep's finished chunks on disk: ``chunks/NNNNN.npz`` holds its members' records (JSON)
and loss curves (at ``curve_epochs``), the sweep's identity (its run_id, length and the SHA-256
of the weights --init-from started its members from), the sweep's wall time when it was saved
(``Wall``; a chunk from before it was kept has none), ``probed``, the training rows each member's
last parameters were probed on (``jaxmlp.probe``: a chunk without it is refused) and the SHA-256
of them all (``sweeper`` trains them)."""

import hashlib
import io
import json
import pathlib
import time

import numpy as np

from jaxmlp import checkpoint, files, npz, probe
from jaxmlp.numeric import from_json
from jaxmlp.run import folder
from jaxmlp.run.sweep_report import FINAL

CURVES = ("train_loss", "val_loss")  # the members' loss curves a chunk holds
PARAMS_EPOCH = "params_epoch"  # the epoch of a member's returned parameters and metrics
CURVE_POINTS = 500  # a member's loss curve is kept at most at this many epochs


def curve_epochs(epochs: int) -> np.ndarray:
    """The epochs (1-based) at which members' loss curves are kept."""
    return np.unique(np.linspace(1, epochs, min(epochs, CURVE_POINTS)).round().astype(np.int64))


class Wall:
    """A sweep's wall time over the processes that trained it, as a resumed run's adds up: this
    process's since ``started``, plus the earlier ones' up to their last chunk saved (the most
    a chunk read back records, ``read``); ``whole`` False once a chunk read back records none
    (an older jaxmlp saved it): the time is then this process's."""

    def __init__(self, started: float):
        self.started, self.before, self.whole = started, 0.0, True

    def seconds(self) -> float:
        return self.before + time.perf_counter() - self.started


def write(path, records: list, curves: dict, identity: str, wall_seconds=None,
          probed=probe.PROBE) -> None:  # fmt: skip
    """The chunk as ``.npz``: its records (JSON), curves, the sweep's ``identity`` (its run_id,
    length, --init-from weights), its ``wall_seconds`` so far (``Wall.seconds``), ``probed``
    (the rows its members' last parameters were probed on, ``fit_population``; None: an older
    jaxmlp's chunk, for the tests) and the SHA-256 of them all."""
    text = folder.to_json(records)
    digest = _digest(identity, text, curves, wall_seconds, probed)
    timed = {} if wall_seconds is None else {"wall_seconds": np.array(float(wall_seconds))}
    timed |= {} if probed is None else {"probed": np.array(int(probed))}
    buffer = io.BytesIO()
    np.savez(buffer, records=np.array(text), identity=np.array(identity), sha256=np.array(digest),
             **curves, **timed)  # fmt: skip
    checkpoint.write_atomic(path, buffer.getvalue())


def _digest(identity: str, text: str, curves: dict, wall_seconds=None, probed=None) -> str:
    h = hashlib.sha256(f"{identity}\n{text}\n".encode())
    for name in sorted(curves):
        h.update(f"{name} {curves[name].shape}\n".encode())
        h.update(np.ascontiguousarray(curves[name], np.float32).tobytes())
    if wall_seconds is not None:  # (a chunk without it has the digest it had)
        h.update(f"wall_seconds {float(wall_seconds)!r}\n".encode())
    if probed is not None:
        h.update(f"probed {int(probed)}\n".encode())
    return h.hexdigest()


def read(path, part: list, first: int, identity: str, wall: Wall | None = None):
    """A saved chunk's ``(records, curves)``, checked to be this sweep's (``identity``), as
    saved (its SHA-256) and to hold the members ``part``: a ValueError names what differs. Its
    wall time goes to ``wall`` (``Wall``)."""
    try:
        files.check_regular(path)  # a FIFO would block the read
        f = npz.read(pathlib.Path(path).read_bytes())  # every member checked before allocation
        text, saved, digest = (str(f[k]) for k in ("records", "identity", "sha256"))
        curves = {k: a.astype(np.float32) for k, a in f.items() if k in CURVES}
        seconds = float(f["wall_seconds"]) if "wall_seconds" in f else None
        probed = int(f["probed"]) if "probed" in f else None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"{path}: not a readable chunk ({error}); delete it to train it again."
        ) from None
    if saved != identity:
        raise ValueError(
            f"{path} belongs to another sweep (another run_id, length or --init-from weights): "
            "the folder was changed; start a new sweep, or delete the chunk to train it again."
        )
    if digest != _digest(identity, text, curves, seconds, probed):
        raise ValueError(
            f"{path} does not match its recorded SHA-256: the file was changed; delete it to "
            "train it again."
        )
    records = from_json(json.loads(text))  # "nan" and "inf" as floats again (for_json)
    if any(FINAL not in r for r in records):
        raise ValueError(
            f"{path} has no {FINAL}: an older jaxmlp wrote it, whose success read the last "
            "epoch's running accuracy; delete the chunks to train them again."
        )
    if any(PARAMS_EPOCH not in r for r in records):
        raise ValueError(
            f"{path} has no {PARAMS_EPOCH}: an older jaxmlp wrote it, whose records gave the "
            "last epoch's losses and accuracies, not those of the restored best parameters; "
            "delete the chunks to train them again."
        )
    if probed is None:
        raise ValueError(
            f"{path} records no probe of its members' last parameters: an older jaxmlp wrote "
            "it, which recorded a member whose last step left finite but huge parameters with a "
            "non-finite loss as not diverged; delete the chunks to train them again."
        )
    expected = [{"member": first + k} | m for k, m in enumerate(part)]
    found = [{k: r.get(k) for k in e} for r, e in zip(records, expected)]
    if found != expected or any(len(v) != len(part) for v in (records, *curves.values())):
        raise ValueError(
            f"{path} holds other members than the sweep's chunk: the folder was changed; "
            "start a new sweep."
        )
    if wall is not None:
        wall.whole &= seconds is not None
        wall.before = max(wall.before, seconds or 0.0)
    return records, curves
