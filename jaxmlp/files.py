"""User data files: CSV with a header row, and NPZ archives, read into numpy arrays.

Both readers check the file and name it in every error; the arrays they return are checked for
shapes, NaN/Inf and label encoding by ``datasets.from_arrays``.
"""

import csv
import io
import os
import zipfile

import numpy as np

NPZ_ARRAYS = ("x", "y", "x_test", "y_test")


def read_csv(path: str | os.PathLike, label_column: int | str = -1, *, header=None):
    """``(x, labels, feature_names, label_name)`` from a CSV file.

    ``x (n, d)`` float64 features; ``labels (n,)`` float64 if every label is a number, else the
    label strings. ``label_column`` is a column index (negative counts from the end) or a name.
    ``header``: True if the first row names the columns, False if it is data (columns are then
    named ``column_0``, ``column_1``, ...), None to detect: a first row of numbers only is data.
    """
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header, first = _header(path, reader, header)
        if len(header) < 2:
            raise ValueError(
                f"{path}: needs at least two columns (features and a label), got {header}."
            )
        label = _label_index(path, header, label_column)
        features = [i for i in range(len(header)) if i != label]
        rows, labels = [], []
        for line, row in _rows(path, reader, header, first):
            rows.append([_number(path, line, header[i], row[i]) for i in features])
            labels.append((line, row[label].strip()))
    if not rows:
        raise ValueError(f"{path}: has a header but no data rows.")
    return (
        np.array(rows, np.float64).reshape(len(rows), len(features)),
        _labels(path, header[label], labels),
        [header[i] for i in features],
        header[label],
    )


def read_features(
    path: str | os.PathLike, skip=(), *, header=True
) -> tuple[np.ndarray, list[str] | None]:
    """``(x, names)`` from a CSV file of inputs: ``x (n, d)`` float64 from every column but
    those named in ``skip``, ``names`` their header names; with ``header`` False the first row
    is data and ``names`` is None (the columns go by position)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header, first = _header(path, reader, header)
        keep = [i for i, name in enumerate(header) if first is not None or name not in skip]
        rows = []
        for line, row in _rows(path, reader, header, first):
            rows.append([_number(path, line, header[i], row[i]) for i in keep])
    if not rows:
        raise ValueError(f"{path}: has a header but no data rows.")
    names = None if first is not None else [header[i] for i in keep]
    return np.array(rows, np.float64).reshape(len(rows), len(keep)), names


def read_header(path: str | os.PathLike, *, header=None) -> list[str] | None:
    """The column names of a CSV file's header row; None where its first row is data
    (``header`` as in ``read_csv``)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        names, first = _header(path, csv.reader(f), header)
    return names if first is None else None


def read_array(path: str | os.PathLike, name: str = "x") -> np.ndarray:
    """One numeric array from an .npy file, or the array ``name`` of an .npz archive (or its
    only array), read with ``allow_pickle=False``."""
    if os.path.getsize(path) == 0:
        raise ValueError(f"{path}: empty file; expected a numpy .npy or .npz file.")
    with open(path, "rb") as f:
        data = io.BytesIO(f.read())
    try:
        loaded = np.load(data, allow_pickle=False)
    except (ValueError, EOFError, OSError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: not a readable numpy file ({error}).") from None
    if isinstance(loaded, np.ndarray):
        array = loaded
    else:
        with loaded:
            names = loaded.files
            if name not in names and len(names) != 1:
                raise ValueError(f"{path}: needs an array named {name!r}; it holds {names}.")
            array = _npz_array(path, loaded, name if name in names else names[0])
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ValueError(f"{path}: array {name!r} must be numeric, got dtype {array.dtype}.")
    return array


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Arrays ``x`` and ``y``, and ``x_test`` and ``y_test`` if present, from an .npz file
    read with ``allow_pickle=False``."""
    if os.path.getsize(path) == 0:
        raise ValueError(f"{path}: empty file; expected an .npz archive of arrays x and y.")
    with open(path, "rb") as f:  # np.load(path) leaks its file handle when a truncated zip fails
        data = io.BytesIO(f.read())
    try:
        archive = np.load(data, allow_pickle=False)
    except (ValueError, EOFError, OSError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path}: not a readable .npz archive ({error}).") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(
            f"{path}: holds a single array, not an .npz archive; save one with "
            "np.savez(path, x=x, y=y)."
        )
    with archive:
        present = set(archive.files)
        missing = [k for k in ("x", "y") if k not in present]
        if "x_test" in present and "y_test" not in present:
            missing.append("y_test")
        if "y_test" in present and "x_test" not in present:
            missing.append("x_test")
        if missing:
            raise ValueError(
                f"{path}: missing arrays {missing}; it has {sorted(present)}. Expected x and y, "
                "and optionally x_test and y_test together."
            )
        return {k: _npz_array(path, archive, k) for k in NPZ_ARRAYS if k in present}


def _npz_array(path, archive, name) -> np.ndarray:
    try:
        array = archive[name]
    except ValueError as error:  # object arrays need pickle, which is refused
        raise ValueError(
            f"{path}: array {name!r} is an object array, which cannot be loaded safely "
            f"({error}). Save numeric arrays, for example x.astype(np.float32)."
        ) from None
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ValueError(f"{path}: array {name!r} must be numeric, got dtype {array.dtype}.")
    return array


def _header(path, reader, header) -> tuple[list[str], list[str] | None]:
    """``(names, first)``: the header row's column names and None, or, when the first row is
    data (``header`` False, or None and it holds numbers only), ``column_0``, ... and that row.
    An empty file, or a first row of numbers where ``header`` is True, is refused."""
    row = next(reader, None)
    if row is None:
        raise ValueError(f"{path}: empty file; expected a header row, then data rows.")
    names = [name.strip() for name in row]
    numbers = all(_is_number(name) for name in names)
    if header is None:
        header = not numbers
    if not header:
        return [f"column_{i}" for i in range(len(names))], row
    if numbers:
        raise ValueError(
            f"{path}: the first row must be a header of column names, got numbers {names}; if "
            "the file has no header row, say so (--no-header, header=False)."
        )
    return names, None


def _rows(path, reader, header, first):
    """``(line, fields)`` of each non-blank data row (``first``, when data, included), each
    checked to have as many fields as ``header``."""
    if first is not None:
        yield 1, first
    for row in reader:
        if not row or all(not field.strip() for field in row):
            continue  # blank line
        line = reader.line_num
        if len(row) != len(header):
            raise ValueError(
                f"{path}, line {line}: expected {len(header)} fields as in the "
                f"{'header' if first is None else 'first row'}, got {len(row)}: {row}."
            )
        yield line, row


def _label_index(path, header, label_column) -> int:
    if isinstance(label_column, str):
        if label_column not in header:
            raise ValueError(f"{path}: no column named {label_column!r}; the columns are {header}.")
        return header.index(label_column)
    if isinstance(label_column, bool) or not isinstance(label_column, int):
        raise ValueError(f"label_column must be a column index or name, got {label_column!r}.")
    if not -len(header) <= label_column < len(header):
        raise ValueError(
            f"{path}: label_column {label_column} is out of range for {len(header)} columns "
            f"{header}; use an index in [{-len(header)}, {len(header) - 1}] or a name."
        )
    return label_column % len(header)


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _number(path, line, column, field) -> float:
    try:
        value = float(field)
    except ValueError:
        raise ValueError(
            f"{path}, line {line}, column {column!r}: cannot read {field!r} as a number."
        ) from None
    if not np.isfinite(value):
        raise ValueError(
            f"{path}, line {line}, column {column!r}: NaN or Inf value {field!r}; remove or "
            "impute it."
        )
    return value


def _labels(path, column, labels) -> np.ndarray:
    """Numbers if every label is one (each checked finite), else the strings as class names."""
    for line, field in labels:
        if not field:
            raise ValueError(f"{path}, line {line}, column {column!r}: missing label.")
    if all(_is_number(field) for _, field in labels):
        return np.array([_number(path, line, column, field) for line, field in labels])
    return np.array([field for _, field in labels])
