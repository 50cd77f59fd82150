"""The options of ``load`` and ``from_arrays``, checked, and which of them each data source
takes: every source its ``seed``, ``val_fraction``, ``standardize``, ``n``, ``task`` and
``dtype``; a .csv file also ``label_column``, ``header`` and ``encoding``; files (and arrays)
``classes`` and ``min_examples``; the named sets that read files (``READS_DATA_DIR``)
``data_dir``. An option given to a source that does not take it is refused, not ignored."""

import os
import pathlib
from numbers import Integral

import numpy as np

from jaxmlp import files
from jaxmlp.datasets import named
from jaxmlp.datasets.split import check_seed
from jaxmlp.numeric import as_int, is_real, not_one_of

COMMON = ("seed", "val_fraction", "standardize", "n", "task", "dtype")
DEFAULTS = {  # the source's own options, at the values that leave them unused
    "label_column": -1,
    "header": None,
    "encoding": "utf-8",
    "classes": None,
    "min_examples": 2,
    "data_dir": None,
}
_APPLIES = {
    "label_column": ".csv files",
    "header": ".csv files",
    "encoding": ".csv files",
    "classes": "files and arrays",
    "min_examples": "files and arrays",
    "data_dir": f"the sets that read files ({', '.join(named.READS_DATA_DIR)})",
}


def takes(name_or_path) -> tuple[str, ...]:
    """The options of ``load`` that the data set or file ``name_or_path`` takes."""
    if _named(name_or_path):
        return (*COMMON, *(("data_dir",) if name_or_path in named.READS_DATA_DIR else ()))
    own = ("classes", "min_examples")
    if pathlib.Path(name_or_path).suffix.lower() == ".csv":
        own = ("label_column", "header", "encoding", *own)
    return (*COMMON, *own)


def check_taken(name_or_path, given: dict) -> None:
    """A ValueError for an option of ``given`` (name: value) set away from ``DEFAULTS`` that
    ``name_or_path`` does not take (``takes``), naming the options it takes."""
    taken = takes(name_or_path)
    for option, value in given.items():
        default = DEFAULTS[option]
        unused = value is not None if default is None else not _equal(value, default)
        if unused and option not in taken:
            where = repr(name_or_path) if _named(name_or_path) else str(name_or_path)
            raise ValueError(
                f"{option}={value!r} would be ignored: {option} applies to {_APPLIES[option]}, "
                f"not to {where}, which takes {', '.join(taken)}."
            )


def check(seed, n, val_fraction, standardize, dtype):
    """``(seed, n, val_fraction, dtype)`` checked and as ``load`` uses them."""
    seed = check_seed(seed)
    if n is not None and (as_int(n) or 0) < 2:
        raise ValueError(
            f"n must be an integer >= 2 (two examples to train on) or None, got {n!r}."
        )
    if not (is_real(val_fraction) and 0 <= val_fraction < 1):
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}.")
    if not isinstance(standardize, bool):
        raise ValueError(f"standardize must be True or False, got {standardize!r}.")
    if dtype not in (np.float32, np.float64, "float32", "float64"):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}.")
    return seed, None if n is None else as_int(n), float(val_fraction), np.dtype(dtype)


def check_data_dir(data_dir) -> None:
    """A ValueError unless ``data_dir`` is None or a folder's path (a non-empty string or an
    ``os.PathLike``): "" (an unset variable's value) names no folder, and is not taken for
    None."""
    if data_dir is None or isinstance(data_dir, os.PathLike):
        return
    if not (isinstance(data_dir, str) and data_dir.strip()):
        raise ValueError(f"data_dir must be a folder path or None, got {data_dir!r}.")


def user_file(name_or_path) -> pathlib.Path:
    """The path of the user's .csv or .npz file ``name_or_path``: a regular file, not empty."""
    path = pathlib.Path(name_or_path)
    if path.suffix.lower() not in (".csv", ".npz") and not isinstance(name_or_path, str):
        where = "it is not a .csv or .npz file" if path.exists() else "no file is there"
        named_so = str(path) in named.SETS  # a Path never names a data set: a string does
        hint = f"; the data set {str(path)!r} is named by the string {str(path)!r}" * named_so
        said = f"{path}: a Path is read as a data file (.csv or .npz), and {where}"
        raise ValueError(f"{said}{hint}.")
    if path.suffix.lower() not in (".csv", ".npz"):
        more = ", or a path to a .csv or .npz file"
        raise not_one_of("dataset", str(name_or_path), named.SETS, more)
    files.check_regular(path)
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: empty file.")
    return path


def _named(name_or_path) -> bool:
    return isinstance(name_or_path, str) and name_or_path in named.SETS


def _equal(value, default) -> bool:
    """Whether ``value`` is ``default`` (-1, "utf-8", 2) as a value: True is no 1, "-1" no -1."""
    if isinstance(value, bool) or isinstance(value, str) != isinstance(default, str):
        return False
    return isinstance(value, str | Integral) and value == default
