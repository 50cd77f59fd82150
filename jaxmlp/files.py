"""User data files: CSV tables and NPZ/NPY arrays, read into numpy arrays with nothing trusted.

Every error names the file (and the line, for CSV). A CSV file's first row is a header of column
names unless it is all numbers (then it is data, and the columns are named ``column_0``,
``column_1``...); a row that mixes numbers and names is a header only where its names are a
label column's (``2019,2020,label``), and one of names only where none over a column of numbers
is a spreadsheet's error or a number mistyped (``#N/A``, ``l``, ``O``); any other is refused as
ambiguous (``csv_fields.is_header``: ``1,l,O`` may be data with typos); ``header=True`` or
``False`` says which instead. What a number is (ASCII, as C and pandas write one) and how
labels are read: ``csv_fields``. The bytes are decoded with
``encoding`` (UTF-8 by default, a byte-order mark skipped; the mark of another encoding than
``encoding`` is refused, naming it, and so is a NUL character, which no text holds: UTF-16
without a mark read as UTF-8). An ``.npy`` array, alone or in an ``.npz`` archive, is
read by the rule of ``npz``: its header's shape and dtype checked against the bytes that hold
it, so a hostile header cannot make us allocate 10^15 elements. Complex numbers and non-numeric
arrays are refused. The arrays returned are checked for shapes, range and label encoding by
``datasets.from_arrays``.
"""

import codecs
import csv
import io
import os
import re
from typing import NamedTuple

import numpy as np

from jaxmlp import npz
from jaxmlp.csv_fields import LABEL_NAMES, columns_of_numbers, is_header, read_labels
from jaxmlp.numeric import as_int

NPZ_ARRAYS = ("x", "y", "x_test", "y_test")
_UNNAMED = re.compile(r"Unnamed: \d+")  # pandas' name for a column its header left unnamed


# -- CSV -------------------------------------------------------------------------------------------


class Table(NamedTuple):
    """A CSV file's column ``names``, its data ``rows`` as ``(line, fields)``, and whether its
    first row was a ``header``."""

    names: list
    rows: list
    header: bool


def read_table(path, *, header: bool | None = None, encoding: str = "utf-8", known=()) -> Table:
    """The CSV file at ``path`` as a ``Table``: every non-blank data row as long as the names.

    ``header``: None detects it (``is_header``; ``known``: the column names a header would
    hold, if known), True or False says whether the first row names the columns.
    ``encoding``: a Python codec name.
    """
    if header is not None and not isinstance(header, bool | np.bool_):  # 0 == False, 1 == True
        raise ValueError(
            f"header must be True, False or None (detect), got {header!r} (pandas' header=0 is "
            "header=True here)."
        )
    text = _decode(path, encoding)
    first = text.lstrip().partition("\n")[0]
    other = next((sep for sep in ";\t" if sep in first), None)  # a European or TSV file?
    hint = (
        f"separated by {other!r}? A CSV file here is comma-separated, with decimal points: "
        f"convert it (pandas.read_csv(path, sep={other!r}), with decimal=',' for decimal "
        "commas, then .to_csv(new, index=False))"
    )
    try:
        table = _table(path, text, header, known)
    except ValueError as error:
        if other is None:
            raise
        raise ValueError(f"{str(error).rstrip('.')}. Is it {hint}.") from None
    if other is not None and len(table.names) == 1 and other in table.names[0]:
        raise ValueError(f"{path}: one column, {table.names[0]!r}: is it {hint}.")
    return table


def _records(path, text: str) -> list:
    """The rows ``(line, fields)`` of the CSV ``text``, read strictly: text after a closing
    quote is refused (csv reads '"1"2' as 12 otherwise), as is a quote never closed, unless
    the field it opens spans lines: ``_table`` names that field's line and column."""
    found = None
    for strict in (True, False):
        reader = csv.reader(io.StringIO(text, newline=""), strict=strict)
        rows, end = [], 0
        try:
            for fields in reader:
                start, end = end + 1, reader.line_num  # a quoted field may span lines
                if len(fields) > 1 or fields == [""] or (fields and fields[0].strip()):
                    rows.append((start, fields))  # a blank line holds no row; '""' is a field
                    # (the missing value pandas writes in a one-column file), so its row is one
        except csv.Error as error:
            found = found or ValueError(f"{path}, line {reader.line_num}: not valid CSV ({error}).")
            if strict and "unexpected end of data" in str(error):  # a quote never closed
                continue
            raise found from None
        spans = any("\n" in field or "\r" in field for _, fields in rows for field in fields)
        if found is None or spans:
            return rows
    raise found


def _table(path, text: str, header: bool | None, known) -> Table:
    rows = _records(path, text)
    if not rows:
        raise ValueError(f"{path}: empty file; expected a header row, then data rows.")
    first = [field.strip() for field in rows[0][1]]
    if header is None:
        header = is_header(path, rows, known)
    if header:
        names, rows = first, rows[1:]
        unnamed = next((i for i, n in enumerate(names) if not n or _UNNAMED.fullmatch(n)), None)
        if unnamed is not None:
            raise ValueError(
                f"{path}: column {unnamed} of the header has no name ({names[unnamed]!r}): a "
                "data frame's index written with the data? Write it with to_csv(index=False), "
                "or drop or name the column."
            )
        check_unique(path, names)
    else:
        names = column_names(len(first))
    for line, fields in rows:  # a line break first: a stray quote also changes the count
        broken = next((i for i, field in enumerate(fields) if "\n" in field or "\r" in field), None)
        if broken is not None:
            where = f"column {names[broken]!r}" if broken < len(names) else f"field {broken + 1}"
            raise ValueError(
                f"{path}, line {line}, {where}: the field holds a line break (an unterminated "
                "quote?); fields of a data file are one line each."
            )
        if len(fields) != len(names):
            raise ValueError(
                f"{path}, line {line}: expected {len(names)} fields as in the "
                f"{'header' if header else 'first row'}, got {len(fields)}: {fields}."
            )
    return Table(names, rows, header)


def column_names(n: int) -> list[str]:
    """The names of the ``n`` columns of a CSV file without a header: ``column_0``, ...; a run
    that records no feature names takes its inputs under these names (``model.column_order``)."""
    return [f"column_{i}" for i in range(n)]


def check_unique(where, names) -> None:
    """A ValueError naming ``where`` unless the column ``names`` (a CSV header's, a data
    frame's) are all different: a column named twice would be matched to one of its copies."""
    names = [str(n) for n in names]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(
            f"{where}: the columns {twice} are named more than once; give each column its own name."
        )


def read_csv(
    path: str | os.PathLike,
    label_column: int | str = -1,
    *,
    header: bool | None = None,
    encoding: str = "utf-8",
    lines: bool = False,
):
    """``(x, labels, feature_names, label_name)`` from a CSV file (``read_table``); with
    ``lines``, a fifth item: each data row's line in the file, for messages.

    ``x (n, d)`` float64 features; ``labels (n,)`` float64 if every label is a number, else the
    label strings. ``label_column`` is a column index (negative counts from the end) or a name;
    the default, the last column, is refused where another is named for labels (``LABEL_NAMES``:
    label, target, class; any case), as in Kaggle's MNIST CSVs, whose labels stand first.
    ``header``: True if the first row names the columns, False if it is data (columns are then
    named ``column_0``, ``column_1``, ...), None to detect: a first row of numbers only is data.
    """
    names, rows, _ = read_table(path, header=header, encoding=encoding)
    if len(names) < 2:
        raise ValueError(f"{path}: needs at least two columns (features and a label), got {names}.")
    if not rows:
        raise ValueError(f"{path}: has a header but no data rows.")
    label = _label_index(path, names, label_column)
    features = [i for i in range(len(names)) if i != label]
    labels = [(line, fields[label].strip()) for line, fields in rows]
    read = (
        columns_of_numbers(path, names, rows, features),
        read_labels(path, names[label], labels),
        [names[i] for i in features],
        names[label],
    )
    return (*read, [line for line, _ in rows]) if lines else read


def read_header(
    path, *, header: bool | None = None, encoding: str = "utf-8", known=()
) -> list | None:
    """The column names of a CSV file's header row; None where its first row is data
    (``read_table``'s detection, ``known`` names)."""
    table = read_table(path, header=header, encoding=encoding, known=known)
    return table.names if table.header else None


_PACKED = {  # magic bytes of what is no text, not to be decoded as latin-1 garbage
    b"\x1f\x8b": "is gzip-compressed, not CSV text: unpack it first (gunzip)",
    b"PK\x03\x04": "is a zip archive (an Excel workbook?), not CSV text: unpack it, or save the "
    "sheet as CSV",
}
_MARKS = (  # byte-order marks, the 4-byte ones first: UTF-16-LE's begins UTF-32-LE's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _decode(path, encoding) -> str:
    try:
        codec = codecs.lookup(encoding)
        "0".encode(codec.name)  # a text codec: base64, zlib (bytes) and rot13 (str) are not
    except (LookupError, TypeError):
        raise ValueError(
            f"Unknown encoding: {encoding!r} is not a text encoding. Use a Python codec name "
            "such as 'utf-8', 'latin-1' or 'cp1252'."
        ) from None
    with open(path, "rb") as f:
        data = f.read()
    packed = next((why for magic, why in _PACKED.items() if data.startswith(magic)), None)
    if packed:
        raise ValueError(f"{path}: {packed}.")
    bom, mark = next(((bom, name) for bom, name in _MARKS if data.startswith(bom)), (b"", None))
    if mark and not codec.name.startswith(mark):  # decoded, it would be text before row 1
        raise ValueError(
            f"{path}: starts with the byte-order mark of {mark} ({bom.hex(' ')}), not "
            f"text in {encoding}: read it as {mark} (encoding={mark!r}, --encoding {mark}"
            f"{', the default' if mark == 'utf-8' else ''})."
        )
    try:  # a mark the codec keeps (utf-16-le's, a second one) is no text: '\ufeff1' no number
        text = data.decode(codec.name).lstrip("\ufeff")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ValueError(
            f"{path}, line {line}: byte 0x{data[error.start]:02x} is not valid {encoding}; "
            "give the file's encoding (encoding='latin-1', --encoding latin-1)."
        ) from None
    nul = text.find("\x00")  # read on, 'ca\x00t' was a class apart from 'cat', printed alike
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise ValueError(
            f"{path}, line {line}: holds a NUL character (byte 0), "
            "which no text holds: UTF-16 without a byte-order mark? Give its encoding "
            "(encoding='utf-16-le' or 'utf-16-be', --encoding utf-16-le); else the file is "
            "damaged or no CSV."
        )
    return text


def _label_index(path, header, label_column) -> int:
    if isinstance(label_column, str):
        if label_column not in header:
            raise ValueError(
                f"{path}: no column named {label_column!r}; the columns are {header}. Give a "
                "column's name or its index, such as 2 or -1."
            )
        return header.index(label_column)
    given, label_column = label_column, as_int(label_column)  # a numpy integer too: an index
    if label_column is None:
        raise ValueError(f"label_column must be a column index or name, got {given!r}.")
    name = str(label_column)
    named = header.index(name) if name in header else None
    if not -len(header) <= label_column < len(header):
        so = "" if named is None else f"; the column named {name!r} is index {named}"
        raise ValueError(
            f"{path}: label_column {label_column} is out of range for {len(header)} columns "
            f"{header}; use an index in [{-len(header)}, {len(header) - 1}] or a name{so}."
        )
    index = label_column % len(header)
    if named is not None and named != index:
        raise ValueError(
            f"{path}: label_column {label_column} is the index of {header[index]!r} and the "
            f"name of column {named}: give {header[index]!r} by its name, {name!r} by its index "
            f"{named}."
        )
    labels = [i for i, n in enumerate(header) if str(n).lower() in LABEL_NAMES]
    other = next((i for i in labels if i != index), None)  # would be a feature
    if label_column == -1 and other is not None:  # the default, the last column
        there, too = header[other], " too" if index in labels else ""
        raise ValueError(
            f"{path}: label_column -1 (the default) reads the labels from the last column, "
            f"{header[index]!r}, but column {other} is named {there!r}{too}: name the label "
            f"column (label_column={there!r}, or {header[index]!r} for the last; --label-column "
            f"{there}); the other columns are features."
        )
    return index


def check_regular(path) -> None:
    """ValueError unless ``path`` names a regular file (or a link to one), saying what it is
    instead: missing, a folder, or another kind (a FIFO, a device such as /dev/zero, a socket),
    which may block a reader or never end."""
    if os.path.isfile(path):
        return
    kind = "not a regular file (a FIFO, a device or a socket)"
    if not os.path.exists(path):
        kind = "no such file"
    elif os.path.isdir(path):
        kind = "a folder, not a file"
    raise ValueError(f"{path}: {kind}.")


def numeric(dtype) -> bool:
    """Numbers a network takes: bool, integers and floats (times and durations are not)."""
    return dtype.kind in "biuf"


# -- NPZ and NPY -----------------------------------------------------------------------------------


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Arrays ``x`` and ``y``, and ``x_test`` and ``y_test`` if present, from an .npz file
    read by the rule of ``npz.read``; an array of another name (``X_test``, ``x_val``) is
    refused, not ignored: it would be data left out unseen."""
    present = _read_npz(path)
    unknown = sorted(set(present) - set(NPZ_ARRAYS))
    if unknown:
        raise ValueError(
            f"{path}: unknown arrays {unknown}; an .npz data file holds x and y, and optionally "
            "x_test and y_test (names are case-sensitive)."
        )
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
    return {k: _numeric(path, k, present[k]) for k in NPZ_ARRAYS if k in present}


def read_array(path: str | os.PathLike, name: str = "x") -> np.ndarray:
    """One numeric array: the whole of an .npy file, or array ``name`` of an .npz archive (its
    only array when it holds one), read by the rule of ``npz.read``."""
    data = _bytes(path, "a numpy .npy or .npz file")
    if data[:6] == npz.NPY_MAGIC:
        try:
            array = npz.read_npy(data)
        except ValueError as error:
            raise ValueError(f"{path}: {error}.") from None
        return _numeric(path, name, array)  # its errors name the path
    arrays = _read_npz(path, data)
    names = list(arrays)
    if name not in names and len(names) != 1:
        raise ValueError(f"{path}: needs an array named {name!r}; it holds {names}.")
    return _numeric(path, name, arrays[name if name in names else names[0]])


def _read_npz(path, data: bytes | None = None) -> dict:
    if data is None:
        data = _bytes(path, "an .npz archive of arrays x and y")
    try:
        return npz.read(data)
    except ValueError as error:
        raise ValueError(f"{path}: {error}.") from None


def _bytes(path, expected: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise ValueError(f"{path}: empty file; expected {expected}.")
    return data


def _numeric(path, name, array) -> np.ndarray:
    if np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(
            f"{path}: array {name!r} is complex ({array.dtype}); a network takes real numbers: "
            "save the real and imaginary parts as separate features."
        )
    if not numeric(array.dtype):
        raise ValueError(f"{path}: array {name!r} must be numeric, got dtype {array.dtype}.")
    return array
