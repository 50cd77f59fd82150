"""Searches as populations: cross-validation folds and hyperparameter grids, one compiled program.

A grid search trains every (grid point, seed, fold) as one member of ``fit_population`` and
returns one record per member, a plain list of dicts (no pandas), which ``write_records``
saves as CSV or JSONL and ``summarize`` reduces to one row per grid point.

>>> import numpy as np
>>> from jaxmlp import MLP, Optimizer, TrainConfig, search
>>> rng = np.random.default_rng(0); x = rng.normal(size=(40, 2)).astype("float32")
>>> t = (x[:, :1] > 0).astype("float32")
>>> net = MLP((2, 4, 1), "tanh", "sigmoid", "bce")
>>> records = search.grid_search(net, x, t, Optimizer("sgd"), TrainConfig(epochs=20, batch_size=8),
...                              grid={"lr": [0.1, 1.0]}, seeds=[0, 1], folds=4)
>>> len(records), sorted({r["fold"] for r in records}), [r["n"] for r in search.summarize(records)]
(16, [0, 1, 2, 3], [8, 8])
"""

import csv
import io
import itertools
import json
import math
from collections.abc import Mapping
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from jaxmlp import checkpoint, outputs
from jaxmlp.arrays import as_arrays, storage_dtype
from jaxmlp.datasets import check_seed
from jaxmlp.datasets.standardize import by_folds
from jaxmlp.folds import check_classes, fold_rows, kfold_rows  # noqa: F401 (search's names)
from jaxmlp.numeric import check_distinct, check_int, check_positive, for_json, is_real
from jaxmlp.population import fit_population
from jaxmlp.population_checks import is_list, items
from jaxmlp.train import TrainConfig

_METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "final_train_accuracy")
# The columns summarize never takes for swept settings: which member (its seed and fold are
# averaged over) and its results, a sweep's included.
_NOT_SWEPT = {"member", "seed", "fold", "epochs", "stopped_epoch", "diverged_epoch", "seconds"}
_NOT_SWEPT |= {"diverged_step", "params_epoch", "best_val_loss", "success", *_METRICS}
# A search's most members (grid_search's and jaxmlp sweep's): the device holds a chunk at a
# time, but the host holds every member's record and loss curves (about 8 KB a member: ~1 GB
# here), and a plan lists them all first.
MAX_MEMBERS = 100_000


def grid_search(
    net,
    x,
    t,
    optimizer,
    config: TrainConfig,
    grid: dict,
    *,
    seeds=None,
    folds: int | None = None,
    standardize: bool = False,
    x_val=None,
    t_val=None,
    devices: int | None = None,
    chunk: int | None = None,
    workers: int = 1,
) -> list[dict]:
    """Train every grid point x seed (x fold) as one population; one record per member.

    Args:
      grid: ``{name: values}`` over ``population.SETTINGS`` (``lr``, ``momentum``,
        ``weight_decay``, ``clip_norm``, ``init_scale``); the product of the lists, each
        value once (``check_once``, as ``jaxmlp sweep``).
      seeds: the seeds of each point, each once (``config.seed`` alone when None, as
        ``fit_population``'s).
      folds: k-fold cross-validation (``kfold_rows`` with ``config.seed``: k folds of n // k
        rows; the n mod k rows left over are in none, trained and validated on by no member;
        drawn at random, not by class: a fold whose training rows miss a class its validation
        rows hold, or a class only the rows in no fold hold, is refused, as by ``jaxmlp
        sweep``: ``folds.check_classes``),
        indexing ``x`` as given: inputs standardised on all rows (``datasets.load``'s default)
        let each fold's validation rows shape its training; else ``x_val``, ``t_val``
        validate (or nothing does).
      standardize: with ``folds`` and raw ``x`` (``datasets.load(..., standardize=False)``),
        each fold's inputs standardised by its own training rows, as ``jaxmlp sweep`` does
        (``datasets.standardize.by_folds``: k copies of ``x``).
      devices, chunk, workers: as ``fit_population``'s.

    Each record: the member's settings (the grid's names, ``seed``, ``fold``) and outcome
    (see ``Population.members``).
    """
    dtype = storage_dtype(config.dtype)
    members = plan(grid, [config.seed] if seeds is None else seeds, folds, dtype)
    if config.val_fraction:  # (fit_population would point at its rows, which are the folds)
        raise ValueError(
            f"config.val_fraction={config.val_fraction} splits one run's data; grid_search "
            "validates on folds=k or on x_val and t_val: leave val_fraction 0."
        )
    hyper = {name: [m[name] for m in members] for name in grid}
    rows = None
    if not isinstance(standardize, bool | np.bool_):  # "no" would be true
        raise ValueError(f"standardize must be True or False, got {standardize!r}.")
    if standardize and folds is None:
        raise ValueError(
            "standardize=True scales each fold by its training rows: it takes folds=k (without "
            "folds, standardise x and x_val with datasets.Standardizer fitted on x)."
        )
    if folds is not None:
        if x_val is not None:
            raise ValueError("give either folds or x_val and t_val, not both.")
        train, val = kfold_rows(len(x), folds, config.seed)
        _check_classes(net, t, len(x), folds, config.seed, dtype)
        if standardize:  # the data as given checked first: errors name them, not k copies
            as_arrays(net, x, t, dtype)
            x, train, val = by_folds(x, train, val, dtype)
            t = np.concatenate([np.asarray(t)] * folds)
        ids = [m["fold"] for m in members]
        rows = train[ids], val[ids]
    pop = fit_population(
        net,
        x,
        t,
        optimizer,
        config,
        seeds=[m["seed"] for m in members],
        hyper=hyper,
        rows=rows,
        x_val=x_val,
        t_val=t_val,
        devices=devices,
        chunk=chunk,
        workers=workers,
    )
    return [record | {"fold": m["fold"]} for record, m in zip(pop.members, members, strict=True)]


def _check_classes(net, t, n: int, k: int, seed: int, dtype) -> None:
    """``folds.check_classes`` of a classifier's targets ``t``: each row's class as its
    members' accuracy counts it (``step.correct``: the argmax of a softmax's targets, each
    thresholded unit's ``t > 0.5``, a multilabel net's labels)."""
    output = outputs.get(net.output)
    if output.decides is None:
        return
    t = np.asarray(net.targets(t, n, dtype))
    if output.decides == "argmax":
        check_classes(np.argmax(t, -1), k, seed)
    else:
        negative, positive = output.labels
        check_classes(np.where(t > 0.5, positive, negative), k, seed, multilabel=t.shape[1] > 1)


def plan(grid: dict, seeds, folds: int | None = None, dtype=None) -> list[dict]:
    """The members of a grid search, in its order (grid point, then seed, then fold): one
    ``{name: value for each grid name, "seed", "fold"}`` each (``fold`` None without folds),
    at most ``MAX_MEMBERS`` (``count_members``); ``dtype``: the members' storage dtype, in
    which each grid value must be another number (``check_once``)."""
    # One grid, not a ParameterGrid list of them: members of several would differ in which
    # settings they sweep, and their records in their columns.
    if not isinstance(grid, Mapping):
        raise ValueError(
            f"grid must be a dict of setting name -> list of values (one grid; for several, "
            f"call grid_search once per grid and join the records), got {grid!r}."
        )
    for name, values in grid.items():  # not a string's characters, say
        if not is_list(values):
            raise ValueError(f"grid[{name!r}] must be a non-empty list of numbers, got {values!r}.")
        check_once(f"grid[{name!r}]", values, dtype=dtype)
    seeds = check_seeds("seeds", seeds)
    if folds is not None:
        folds = check_int("folds", folds, 2, "or None")
    count_members(grid, seeds, folds)  # before any is listed
    names = list(grid)
    points = list(itertools.product(*(list(items(grid[name])) for name in names)))
    fold_ids = list(range(folds)) if folds is not None else [None]
    return [
        dict(zip(names, point, strict=True)) | {"seed": seed, "fold": fold}
        for point, seed, fold in itertools.product(points, seeds, fold_ids)
    ]


def count_members(grid: dict, seeds, folds: int | None, kind: str = "grid search") -> int:
    """The members of ``grid`` x ``seeds`` (x ``folds``), counted without listing them; a
    ValueError naming the axes where they are more than ``MAX_MEMBERS`` (``kind``: the search's,
    in words)."""
    p = math.prod(len(v) for v in grid.values()) * len(seeds) * (folds or 1)
    if p > MAX_MEMBERS:
        raise ValueError(
            f"{p} members ({axes(grid, seeds, folds)}) are more than a {kind}'s "
            f"{MAX_MEMBERS}: it keeps every member's record and loss curves in memory; split it "
            "into several."
        )
    return p


def axes(grid: dict, seeds, folds: int | None) -> str:
    """A search's axes as words: "3 lr x 100 seeds x 5 folds"."""
    words = [f"{len(v)} {name}" for name, v in grid.items()] + [f"{len(seeds)} seeds"]
    return " x ".join(words + ([f"{folds} folds"] if folds else []))


def check_seeds(label: str, seeds) -> list[int]:
    """A search's member seeds (``grid_search``'s ``seeds``, a sweep's ``--seeds``) as Python
    ints: a ValueError unless ``seeds`` is a non-empty list of integers in [0, 2**32 - 1]
    (``datasets.check_seed``), each once (``check_once``). ``label`` names the list."""
    if not is_list(seeds):
        raise ValueError(
            f"{label} must be a non-empty list of integer seeds in [0, 2**32 - 1], each once, got "
            f"{seeds!r}."
        )
    check_once(label, seeds, "seed")
    return [check_seed(s) for s in items(seeds)]


def check_once(label: str, values, what: str = "value", dtype=None) -> None:
    """A ValueError when ``values`` holds one twice: the same members would train twice and
    count twice in ``summarize``. Equal numbers are one (0.5 and ``np.float64(0.5)``); a bool
    is not its integer; with ``dtype`` (the members' storage dtype, ``arrays.storage_dtype``),
    so are numbers that round to one value of it (``numeric.check_distinct``). ``label`` names
    the list (``grid['lr']``, ``--seeds``)."""
    shown = [v.item() if isinstance(v, np.generic) else v for v in values]
    keys = [repr(v) if isinstance(v, bool) else v for v in shown]
    try:
        repeated = len(set(keys)) != len(keys)
    except TypeError:  # unhashable: no number, refused where the values are checked
        return
    if repeated:
        raise ValueError(f"{label} {shown} repeats a {what}: give each {what} once.")
    if dtype is not None and all(map(is_real, shown)):  # not numbers: refused where checked
        check_distinct(label, shown, dtype)


def summarize(records: list[dict], by=None) -> list[dict]:
    """One row per value of ``by`` (a column name or a list of them; when None, the swept
    names: the columns that vary, results and member identities aside): ``n`` members,
    ``diverged`` of them, and the mean and standard deviation of each metric the records hold
    over the members that did not diverge (none for no records). A record without a column
    (records of several grids joined, each naming its own settings) holds None there, as
    ``write_records`` writes it: that setting at its default, a group of its own."""
    if not records:
        return []
    for i, r in enumerate(records):  # the divergence rule's column: every count needs it
        if "diverged_epoch" not in r:
            raise ValueError(
                f"summarize: record {i} has no 'diverged_epoch' (None, or the epoch the member "
                f"diverged; grid_search's and a sweep's records hold it), only {sorted(r)}."
            )
    columns = _columns(records)
    records = [{k: r.get(k) for k in columns} for r in records]
    metrics = [m for m in _METRICS if m in columns]
    _check_cells(records, metrics)
    if by is None:
        by = [k for k in columns if k not in _NOT_SWEPT and _hashable(records, k)]
        by = [k for k in by if len({r[k] for r in records}) > 1]
    by = [by] if isinstance(by, str) else list(by)
    for name in by:
        if name not in columns:
            raise ValueError(
                f"summarize by {name!r}: no such column; the records' columns are {columns}."
            )
        if not _hashable(records, name):
            shown = next(r[name] for r in records if not _hashable([r], name))
            raise ValueError(
                f"summarize by {name!r}: its values are no settings to group by (got {shown!r}); "
                "group by a column of numbers or text."
            )
    groups = {}
    for r in records:
        groups.setdefault(tuple(r[k] for k in by), []).append(r)
    rows = []
    for key, group in groups.items():
        row = dict(zip(by, key, strict=True)) | {"n": len(group)}
        row["diverged"] = sum(r["diverged_epoch"] is not None for r in group)
        for metric in metrics:
            v = [r[metric] for r in group if r[metric] is not None and r["diverged_epoch"] is None]
            row[f"{metric}_mean"] = float(np.mean(v)) if v else None
            row[f"{metric}_std"] = float(np.std(v, ddof=1)) if len(v) > 1 else None
        rows.append(row)
    return rows


def _columns(records: list[dict]) -> list:
    """Every key of the records, in the order they first appear (a record without one holds
    None there: ``summarize``, ``write_records``)."""
    return list(dict.fromkeys(k for r in records for k in r))


def _hashable(records: list[dict], name: str) -> bool:
    """Whether every record's ``name`` can be a group's key (a list, written by
    ``write_records`` as JSON, cannot)."""
    try:
        {r[name] for r in records}
    except TypeError:
        return False
    return True


def _check_cells(records: list[dict], metrics: list) -> None:
    """A ValueError for a cell ``summarize`` would misread: ``diverged_epoch`` not None or an
    integer (members.csv read back: pandas' NaN or csv's '' for "did not diverge" counted
    every member diverged), a metric not None or a number (NaN is one; ``"nan"`` is text)."""
    for i, r in enumerate(records):
        for name in ("diverged_epoch", *metrics):
            v = r[name]
            if name == "diverged_epoch":
                ok = v is None or (isinstance(v, Integral) and not isinstance(v, bool))
            else:
                ok = v is None or (isinstance(v, Real) and not isinstance(v, bool))
            if not ok:
                raise ValueError(
                    f"summarize: record {i}'s {name} is {v!r}: it takes None or "
                    f"{'an integer' if name == 'diverged_epoch' else 'a number'}, as "
                    "grid_search returns them; read a sweep's members.jsonl back with "
                    "json.loads and numeric.from_json (members.csv's cells are text, and "
                    "pandas reads an empty one as NaN)."
                )


Z95 = 1.959963984540054  # the standard normal's 97.5 % quantile: a two-sided 95 % interval


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval of a rate ``successes / n`` (95 % by default): it holds the
    observed rate, and ends exactly at 0 with no success and at 1 with all (the formula's
    floating-point value misses them by an ulp for many n). ``z``: the normal quantile of the
    interval's level, a finite number > 0 (1.96 for 95 %, not ``norm.ppf(0.025)``'s -1.96).

    >>> [round(v, 4) for v in wilson(0, 10)]
    [0.0, 0.2775]
    """
    whole = lambda v: isinstance(v, Integral) and not isinstance(v, bool)  # noqa: E731
    if not (whole(successes) and whole(n) and 0 <= successes <= n and n > 0):
        raise ValueError(
            f"successes and n must be integers with 0 <= successes <= n and n >= 1, got "
            f"successes={successes!r}, n={n!r}."
        )
    check_positive("z", z)
    p, z2 = successes / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    low = 0.0 if successes == 0 else min(p, max(0.0, centre - half))
    high = 1.0 if successes == n else max(p, min(1.0, centre + half))
    return float(low), float(high)


def quantiles(values, q, axis=None, skip_nan: bool = False) -> np.ndarray:
    """NumPy's linear quantiles ``q`` of ``values`` (``np.nanquantile``'s with ``skip_nan``),
    save that a quantile next to an infinity is that infinity: NumPy interpolates
    ``a + (b - a) t``, NaN where b is inf (the median of {0.2, 0.3, inf} is 0.3, not NaN; the
    90 % one inf). Between -inf and inf, or next to a NaN, NaN."""
    quantile = np.nanquantile if skip_nan else np.quantile
    a = np.asarray(values, np.float64)
    with np.errstate(invalid="ignore"):
        low, high, linear = (
            quantile(a, q, axis=axis, method=m) for m in ("lower", "higher", "linear")
        )
        return np.where(
            low == high, low, np.where(np.isinf(low) | np.isinf(high), low + high, linear)
        )


def write_records(records: list[dict], path) -> Path:
    """Records as ``.csv`` (a header of every key) or ``.jsonl`` (one object a line), by the
    extension, written atomically; in both, NaN and infinities are "nan", "inf" and "-inf"
    (``numeric.for_json``: pandas reads the CSV cells back as floats), and a list or array
    value is JSON (``[1.0, "nan"]``; in CSV, as the cell's text)."""
    path = Path(path)
    if path.suffix not in (".csv", ".jsonl"):
        raise ValueError(f"write_records writes .csv or .jsonl, got {path.name!r}.")
    keys = _columns(records)
    clean = [{k: for_json(r.get(k)) for k in keys} for r in records]
    text = io.StringIO(newline="")
    if path.suffix == ".csv":
        writer = csv.DictWriter(text, keys)
        writer.writeheader()
        as_text = lambda v: json.dumps(v, allow_nan=False) if isinstance(v, list) else v  # noqa: E731
        writer.writerows({k: as_text(v) for k, v in r.items()} for r in clean)
    else:
        text.writelines(json.dumps(r, allow_nan=False) + "\n" for r in clean)
    checkpoint.write_atomic(path, text.getvalue())
    return path
