"""One CSV field read as a number or a class label, for the features and the labels of
``jaxmlp.files``, and whether a first row is a header (``is_header``).

A number is ``numeric.NUMBER``, the rule of every number given as text (command-line flags
too), written as C, R and pandas write one: ASCII digits with an optional sign, decimal
point and exponent (``1000``, ``-2.5``, ``.5``, ``1e-3``), spaces around it allowed; ``inf``
and ``nan`` are numbers too, refused as values. What else Python's ``float`` reads is refused
wherever it stands (feature, label, a first row that may be a header), not guessed at:
digit-group underscores (``1_000``) and digits of other scripts (Arabic-Indic ``\u0663``,
full-width ``\uff13``), which no other CSV reader takes for numbers; and a number but for a
character that does not show (a zero-width space, a left-to-right mark), which would make a
first row of data a header.
"""

import re
import unicodedata
import warnings

import numpy as np

from jaxmlp.numeric import INTEGER, NUMBER, python_only

# A column of these names (any case) holds labels: the default label column, the last, is
# refused beside one (Kaggle's MNIST CSVs put "label" first).
LABEL_NAMES = ("label", "labels", "target", "targets", "class")


def columns_of_numbers(path, names, rows, columns) -> np.ndarray:
    """``(n, len(columns))`` float64: the fields at positions ``columns`` of the ``rows``
    ``(line, fields)`` of a table whose columns are ``names``, each read by ``number``."""
    x = [[number(path, line, names[i], fields[i]) for i in columns] for line, fields in rows]
    return np.array(x, np.float64).reshape(len(x), len(columns))


def is_number(path, line, column, field: str) -> bool:
    """Whether ``field`` is a number (the module's rule); a ValueError naming the place where
    ``float`` alone would read it as one."""
    text = field.strip()
    if NUMBER.fullmatch(text):
        return True
    hidden = [c for c in text if unicodedata.category(c) == "Cf"]  # format characters
    if hidden and NUMBER.fullmatch("".join(c for c in text if c not in hidden).strip()):
        raise ValueError(
            f"{path}, line {line}, column {column!r}: {field!r} is a number but for "
            f"{hidden[0]!r}, U+{ord(hidden[0]):04X} {unicodedata.name(hidden[0], '')}, a "
            "character that does not show (pasted from a web page?); remove it."
        )
    why = python_only(text)
    if why is None:
        return False
    raise ValueError(
        f"{path}, line {line}, column {column!r}: {field!r} is a number to Python, not in a CSV "
        f"file ({why}); write it in ASCII digits 0-9 with an optional sign, point and exponent "
        "(1000, -2.5, 1e-3), or as a name that is no number."
    )


def number(path, line, column, field) -> float:
    if not field.strip():
        raise ValueError(f"{path}, line {line}, column {column!r}: missing value; impute it.")
    if not is_number(path, line, column, field):
        raise ValueError(
            f"{path}, line {line}, column {column!r}: cannot read {field!r} as a number."
        )
    value = float(field)
    if not np.isfinite(value):
        raise ValueError(
            f"{path}, line {line}, column {column!r}: NaN or Inf value {field!r}; remove or "
            "impute it."
        )
    return value


def read_labels(path, column, labels) -> np.ndarray:
    """The ``labels`` ``(line, field)`` of a column: numbers if every label is one (each checked
    finite; ``1`` and ``1.0`` are one class), the strings as class names if none is (a word of
    ``MISSING_LABELS`` warns; ``TRUE`` beside ``True``, or one text in two Unicode spellings,
    is refused: ``one_spelling``). A column mixing the two is refused: among names ``1`` and
    ``1.0`` would be two classes, and a number's class would hang on the rest of the column;
    so is a column of numbers written with commas (``1,5``, ``1,000``), names to no one."""
    for line, field in labels:
        if not field:
            raise ValueError(f"{path}, line {line}, column {column!r}: missing label.")
    kinds = [is_number(path, line, column, field) for line, field in labels]  # each checked
    if all(kinds):
        if all(INTEGER.fullmatch(field) for _, field in labels):
            return _integers(path, column, labels)
        return _floats(path, column, labels)
    numbers = [(line, field) for (line, field), is_one in zip(labels, kinds, strict=True)
               if is_one and not is_missing(field)]  # fmt: skip
    names = [(line, field) for (line, field), is_one in zip(labels, kinds, strict=True)
             if not is_one and not is_missing(field)]  # fmt: skip
    if numbers and not names:  # NA among numbers: a missing label, not a class name
        line, word = next((line, f) for (line, f), is_one in zip(labels, kinds) if not is_one)
        raise ValueError(
            f"{path}, line {line}, column {column!r}: missing label ({word!r} reads as a missing "
            "value among numbers); remove the row or give its label."
        )
    if numbers:
        (at, one), (there, name) = numbers[0], names[0]
        raise ValueError(
            f"{path}, column {column!r}: the labels mix numbers ({one!r}, line {at}) with names "
            f"({name!r}, line {there}): among names '1' and '1.0' would be two classes, among "
            "numbers one. Write every label as a name (a letter in front: 'c1') or as a number."
        )
    if names and all(_COMMA_NUMBER.fullmatch(field) for _, field in names):
        line, one = names[0]
        raise ValueError(
            f"{path}, column {column!r}: the labels are numbers written with a comma ({one!r}, "
            f"line {line}): a decimal comma or digit groups, which no number here has. Write "
            "them as numbers (1.5, 1000; pandas.read_csv(path, decimal=',', thousands='.') "
            f"reads such a file), or as names (a letter in front: 'c{one}')."
        )
    one_spelling(f"{path}, column {column!r}", [(f"line {line}", f) for line, f in labels])
    warn_missing(str(path), [(f"line {line}", field) for line, field in labels], stacklevel=5)
    return np.array([field for _, field in labels])


def warn_missing(where: str, labels, stacklevel: int) -> None:
    """A UserWarning naming ``where`` for each word of ``MISSING_LABELS`` among the label names
    ``labels`` (``(place, name)`` pairs, the place ``line 3`` or ``index 2``): a missing value
    (pandas' ``astype(str)`` writes one ``nan``), taken as a class of its own. The one rule of a
    CSV file's label column and of ``datasets.from_arrays``' labels."""
    missing = [(place, field) for place, field in labels if is_missing(field)]
    for word in sorted({field for _, field in missing}):
        places = [place for place, field in missing if field == word]
        warnings.warn(
            f"{where}: label {word!r} ({len(places)} row{'s' * (len(places) > 1)}, first "
            f"{places[0]}) reads as a missing value; it is taken as a class of its own.",
            UserWarning,
            stacklevel=stacklevel,
        )


# a number written with a decimal comma (1,5) or comma digit groups (1,000 or 12,500.5)
_COMMA_NUMBER = re.compile(r"[+-]?\d+(?:,\d+)+(?:\.\d*)?", re.ASCII)


def one_spelling(where: str, labels) -> None:
    """A ValueError naming ``where`` where one name is written two ways, as names two classes,
    to whoever wrote them one: a truth value in two cases (``TRUE``, a spreadsheet's, and
    ``True``, pandas'), or one text in two Unicode spellings that print alike (``ü`` as one
    character or as ``u`` and a combining diaeresis, as macOS writes it: the NFC form; a
    character that does not show, such as a zero-width space, pasted in). ``labels``: ``(place,
    name)`` pairs, the place (``line 3``, ``index 2``) for the message. The one rule of a CSV
    file's label column and of ``datasets.from_arrays``' labels."""
    seen = {}
    for place, field in labels:
        key = spelled(field)
        at, first = seen.setdefault(key, (place, field))
        if first != field:
            what = "truth value" if key in ("true", "false") else "name"
            how = (
                "no spaces around it" if first.strip() == field.strip()
                else "one case" if first.lower() == field.lower()
                else "one Unicode spelling"
            )  # fmt: skip
            raise ValueError(
                f"{where}: the labels {first!r} ({at}) and {field!r} ({place}) are one {what} "
                f"written two ways: as names two classes. Write each class one way ({how})."
            )


def spelled(name: str) -> str:
    """What ``one_spelling`` reads ``name`` as: its NFC form without format characters or the
    spaces around it (a CSV file's fields are stripped), a truth value in lower case; two names
    of one ``spelled`` are one name written two ways."""
    key = name.strip()  # ASCII is its NFC form and holds no format character
    if not key.isascii():
        text = unicodedata.normalize("NFC", key)
        key = "".join(c for c in text if unicodedata.category(c) != "Cf").strip()
    return key.lower() if key.lower() in ("true", "false") else key


def written_otherwise(given, known) -> tuple | None:
    """``(name, k)``: the first of the names ``given`` that is one of ``known``, ``k``, written
    another way (one ``spelled``, not the same text); None where none is. Names that are not
    text are neither."""
    spellings = {spelled(k): k for k in known if isinstance(k, str)}
    for name in given:
        if isinstance(name, str) and spelled(name) in spellings:
            return name, spellings[spelled(name)]
    return None


MISSING_LABELS = ("na", "n/a", "nan", "null", "none", "?", "missing")


def is_missing(field: str) -> bool:
    """Whether ``field`` is a word of ``MISSING_LABELS`` (any case): a missing value, no name."""
    return field.strip().lower() in MISSING_LABELS


def _integers(path, column, labels) -> np.ndarray:
    """Integer labels as int64, whole numbers as the file wrote them: their class names are
    ``9``, not ``9.0`` (predictions join on the file's labels; float64 would also merge 2**53 +
    1 into 2**53); a ValueError past int64, and where one integer is written two ways (``007``
    and ``7``, ``+7`` and ``7``, ``-0`` and ``0``): codes to the writer, perhaps, two classes as
    names and one as numbers, so not guessed at. (Runs from before recorded float names,
    ``9.0``: they keep them, and read these labels as those classes.)"""
    info, spelled, values = np.iinfo(np.int64), {}, []
    for line, field in labels:
        sign, digits = field[0] if field[0] in "+-" else "", field.lstrip("+-").lstrip("0")
        v = int(sign + (digits or "0")) if len(digits) <= 19 else None  # int() refuses 4,301
        values.append(v)
        if v is None or not info.min <= v <= info.max:
            shown = field if len(field) <= 40 else f"{field[:20]}... ({len(field)} characters)"
            raise ValueError(
                f"{path}, line {line}, column {column!r}: the integer label {shown} is past "
                "the int64 range; write the labels as names (a letter in front) or smaller."
            )
        at, first = spelled.setdefault(v, (line, field))
        if first != field:
            raise ValueError(
                f"{path}, column {column!r}: the labels {first!r} (line {at}) and {field!r} "
                f"(line {line}) are one number, {v}, written two ways: as numbers one class, as "
                "names two. Write each class one way, or every label as a name (a letter in "
                f"front: 'c{first}')."
            )
    return np.array(values, np.int64)


_WHOLE = re.compile(r"[+-]?\d+(?:\.0*)?", re.ASCII)  # an integer in digits, perhaps 7.0


def _floats(path, column, labels) -> np.ndarray:
    """Labels as float64; where every one is an integer in digits (``7``, ``7.0``: classes, as
    the task may read them), a ValueError for one that float64 does not hold, as past 2**53
    (``9007199254740993.0``): two of them that are one float64 (``9007199254740992``) would be
    one class, and one alone a class under another number, the one a run's integer class
    ``9007199254740992`` that it is not; silently."""
    values = np.array([number(path, line, column, field) for line, field in labels])
    if not all(_WHOLE.fullmatch(field) for _, field in labels):  # a fraction: measurements
        return values
    seen, rounded = {}, None
    for (line, field), v in zip(labels, values, strict=True):
        if abs(v) < 2**53:  # float64 holds every integer below
            continue
        exact = int(field.partition(".")[0])
        rounded = rounded or (None if exact == int(v) else (line, field, v))
        at, first, was = seen.setdefault(float(v), (line, field, exact))
        if was != exact:
            raise ValueError(
                f"{path}, column {column!r}: the labels {first!r} (line {at}) and {field!r} "
                f"(line {line}) are two integers but one float64 ({v:.17g}): write the labels "
                "without a point (read then as integers, exactly), or as names."
            )
    if rounded is not None:
        line, field, v = rounded
        raise ValueError(
            f"{path}, line {line}, column {column!r}: the label {field!r} is an integer that "
            f"float64, in which a label with a point is read, rounds to {v:.17g}: write the "
            "labels without a point (read then as integers, exactly), or as names."
        )
    return values


def is_header(path, rows: list, known=()) -> bool:
    """Whether the first of the ``rows`` ``(line, fields)`` names the columns. A row of numbers
    (or missing values: empty fields, ``MISSING_LABELS`` words and marks without a letter or
    digit, such as SAS's ``.`` or ``-``, which name no column) is data. A row of names (beside
    missing values) is a header unless a field of it over a column of numbers is no name
    (``not_a_name``: a spreadsheet's error or a number mistyped; ``#N/A,#DIV/0!,cat`` and
    ``l,O,cat`` are as likely data) or none of them is (``NA,?,cat``, a row of missing values).
    A row that mixes numbers with names is a header only where its names are a label column's
    (``LABEL_NAMES``: ``2019,2020,label``) and one stands over a column of numbers. A ValueError
    asks about every other row (``5.1,3.5,setosa``; ``1,l,O`` or ``1.5,2,O``, data with zeros
    mistyped; ``a,2,y``, a header), and about a row of the column positions ``0,1,...`` (two
    columns or more), which pandas and numpy write for unnamed columns: a row of data taken
    for a header was lost silently. A row of names that are ``known`` ones (a run's columns,
    which predict's inputs name), each once, is a header whatever the names."""
    (start, first), rest = rows[0], rows[1:]
    first = [field.strip() for field in first]
    if len(first) > 1 and first == [str(i) for i in range(len(first))]:
        raise ambiguous(
            path, first, f"it is the column positions 0..{len(first) - 1}, the header pandas "
            "and numpy write for unnamed columns"
        )  # fmt: skip
    kinds = [
        "missing" if _no_value(field)
        else "number" if is_number(path, start, f"column_{i}", field)
        else "name"
        for i, field in enumerate(first)
    ]  # fmt: skip
    words = [i for i, kind in enumerate(kinds) if kind == "name"]
    if not words:
        return False
    if known and len(set(first)) == len(first) and set(first) <= set(known):
        return True

    def over_numbers(i) -> bool:  # whether column i holds numbers below (missing values aside)
        below = [(line, fields[i]) for line, fields in rest
                 if i < len(fields) and not _no_value(fields[i].strip())]  # fmt: skip
        return bool(below) and all(is_number(path, line, f"column_{i}", f) for line, f in below)

    if "number" in kinds:
        labels = all(first[i].lower() in LABEL_NAMES for i in words)
        if labels and any(over_numbers(i) for i in words):
            return True
        raise ambiguous(
            path, first, "it mixes numbers with names, and such a row is a header only where "
            "its names are a label column's (label, target, class) over a column of numbers"
        )  # fmt: skip
    odd = next(((i, why) for i in words for why in [not_a_name(first[i])]
                if why and over_numbers(i)), None)  # fmt: skip
    if odd is not None:
        raise ambiguous(
            path, first, f"{first[odd[0]]!r} stands over a column of numbers: {odd[1]}, no "
            "column's name"
        )  # fmt: skip
    blank = [i for i, kind in enumerate(kinds) if kind == "missing" and first[i]]
    if blank and any(map(over_numbers, blank)) and not any(map(over_numbers, words)):
        raise ambiguous(
            path, first, "every field over a column of numbers is a missing value, a row of "
            "data's"
        )  # fmt: skip
    return True


# a spreadsheet's error value: Excel's and Google Sheets' (#N/A, #DIV/0!, #VALUE!, #NAME?,
# #GETTING_DATA), LibreOffice's (Err:502)
_ERROR = re.compile(r"#(?:N/A|GETTING_DATA|[A-Z][A-Z0-9/]*[!?])|Err:\d{3}", re.ASCII)
# what is left of a number mistyped once letters that look like digits are digits: 1..5, 1,5,
# 1 000 (but not 0-9, a range: a bin's name)
_MISTYPED = re.compile(r"[+-]?[\d\s.,]*\d[\d\s.,]*", re.ASCII)
_LOOK_LIKE_DIGITS = str.maketrans("lIoO|", "11001")


def _no_value(field: str) -> bool:
    """Whether the stripped ``field`` is a missing value: empty, a ``MISSING_LABELS`` word, or
    a mark without a letter or digit (SAS's ``.``, ``-``), which names no column."""
    return is_missing(field) or not any(c.isalnum() for c in field)


def not_a_name(field: str) -> str | None:
    """Why ``field``, no number, reads as a number's place rather than a column's name: a
    spreadsheet's error (``#N/A``, ``#DIV/0!``) or a number mistyped (``l`` or ``I`` for 1,
    ``O`` for 0, ``1..5``); None where it may be a name."""
    if _ERROR.fullmatch(field):
        return "a spreadsheet's error"
    if _MISTYPED.fullmatch(field.translate(_LOOK_LIKE_DIGITS)):
        return "a number mistyped"
    return None


def ambiguous(path, first: list, why: str) -> ValueError:
    """The ValueError of a first row that ``is_header`` cannot read as a header or as data."""
    return ValueError(
        f"{path}: cannot tell whether the first row {first} is a header or data ({why}): say "
        "which, header=True or False (--header, --no-header)."
    )
