"""The library's one rule for numbers given as settings: what counts as an integer or a real
number (never a bool, a string, NaN or infinity; a 0-d array of a numeric dtype is its number:
``is_real``, ``as_int``), what a number written as text is (``NUMBER``, ``from_text``: a
command-line flag, a spec's constant, a CSV field), the ValueError that names a wrong one and the
values allowed (``not_one_of``: a setting that is none of its choices), the Python number a
validated numpy one is kept as (JSON and hashing), the masked arrays no numbers are taken from
(``check_unmasked``), and the JSON every file and output of jaxmlp is written in (``for_json``:
strict, a non-finite number as a string) and reads back (``json_once``: each key once).

Every module that checks a numeric setting (optimizers, train configs, populations, gradient
and Taylor checks, the run folder) asks these; none spells the rule again. (Named ``numeric``,
not ``numbers``: a module of the standard library's name would shadow it.)

>>> is_real(0.5), is_real(True), is_real("0.5"), is_real(float("nan")), is_real(np.array(2.0))
(True, False, False, False, True)
>>> check_int("epochs", 0, 1)
Traceback (most recent call last):
ValueError: epochs must be an integer >= 1, got 0.
"""

import json
import math
import re
import unicodedata
from numbers import Integral, Real

import numpy as np


def is_real(value) -> bool:
    """A finite real number (not a bool, NaN, infinity or an integer past float64's range); a
    0-d NumPy or JAX array of an integer or floating dtype is its number (``jnp.float32(0.1)``
    is such an array), which ``store_as`` then keeps as Python's."""
    if getattr(value, "shape", None) == () and getattr(value, "dtype", None) is not None:
        if np.dtype(value.dtype).kind not in ("i", "u", "f"):
            return False
        value = value.item()
    if not isinstance(value, Real) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer past float64's range (10**400): no float holds it
        return False


def as_int(value) -> int | None:
    """``value`` as a Python int where it is an integer (not a bool), else None; a 0-d NumPy or
    JAX array of an integer dtype is its number, as for ``is_real`` (``np.array(3)`` is 3;
    ``np.array(3.0)`` is no integer, as ``3.0`` is none). Compare the int, not ``value``: a JAX
    int32 cannot be compared with 2**32."""
    if getattr(value, "shape", None) == () and getattr(value, "dtype", None) is not None:
        if np.dtype(value.dtype).kind not in ("i", "u"):
            return None
        value = value.item()
    return int(value) if isinstance(value, Integral) and not isinstance(value, bool) else None


def check_positive(name, value) -> None:
    """A ValueError naming ``name`` unless ``value`` is a finite real number > 0."""
    if not (is_real(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}.")


def check_int(name, value, low, extra="") -> int:
    """``value`` as a Python int (``as_int``); a ValueError unless it is an integer (not a bool)
    >= ``low``; ``extra`` names the other values allowed."""
    if type(value) is int and value >= low:  # the common case, without the ABC checks
        return value
    number = as_int(value)
    if number is None or number < low:
        raise ValueError(
            f"{name} must be an integer >= {low}{' ' + extra if extra else ''}, got {value!r}."
        )
    return number


# A number written as C, R and pandas write one: ASCII digits with an optional sign, decimal
# point and exponent (1000, -2.5, .5, 1e-3), or inf / nan (which their readers refuse as values).
NUMBER = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?|inf|infinity|nan)", re.ASCII | re.IGNORECASE
)
INTEGER = re.compile(r"[+-]?\d+", re.ASCII)  # an integer so written: no point, no exponent


def python_only(text: str, kind=float) -> str | None:
    """Why ``text``, which Python's ``kind`` (float or int) reads as a number, is none by
    ``NUMBER``'s rule: digit-group underscores (``1_000``) or digits of another script
    (Arabic-Indic ``\u0663``, full-width ``\uff13``), which no CSV reader or other program
    takes for numbers; None where ``kind`` does not read it either."""
    try:
        kind(text)
    except ValueError:
        return None
    other = next((c for c in text.strip() if ord(c) > 127), None)
    if other:
        return f"{other!r} is U+{ord(other):04X} {unicodedata.name(other, '')}"
    return "digit-group underscores"


def from_text(text: str, kind=float):
    """``text`` (spaces around it allowed) as a ``kind`` number, float (``NUMBER``) or int
    (``INTEGER``): the one rule for a number given as text (a command-line flag, a spec's
    constant, as a CSV field is read); a ValueError ``expected a number, got '1_000'`` (with why,
    where Python alone would read it) otherwise. inf and nan are numbers: the caller's range
    refuses them.

    >>> from_text(" 2.5"), from_text("7", int)
    (2.5, 7)
    """
    if (INTEGER if kind is int else NUMBER).fullmatch(text.strip()):
        return kind(text)
    what, why = "an integer" if kind is int else "a number", python_only(text, kind)
    if why is None:
        raise ValueError(f"expected {what}, got {text!r}")
    raise ValueError(
        f"expected {what} in ASCII digits 0-9 (such as {'1000' if kind is int else '1e-3'}), "
        f"got {text!r} ({why})"
    )


def first_not_number(a: np.ndarray) -> tuple | None:
    """``(index, value)`` of the first element of ``a`` that is no number where ``a`` holds
    text or objects (text, None, pd.NA), None otherwise: numbers are taken as numbers, never
    parsed from text, whose casts by NumPy read it as Python's ``float`` does (``'1_000'`` is
    1000, which no CSV reader or other program reads; a file's text is read by ``NUMBER``)."""
    if a.dtype.kind not in "USO":
        return None
    for at, value in zip(np.ndindex(a.shape), a.reshape(-1).tolist(), strict=True):
        if not isinstance(value, Real):
            return at, value
    return None


def not_one_of(what, value, choices, more="") -> ValueError:
    """The ValueError, for its caller to raise, of a ``what`` (a setting: "loss", "task") whose
    ``value`` is none of ``choices``: ``Unknown loss: 'x'. It needs to be one of [...].``;
    ``more`` names the other forms allowed (", or a path to a .csv or .npz file")."""
    return ValueError(f"Unknown {what}: {value!r}. It needs to be one of {list(choices)}{more}.")


def outside(values, dtype) -> np.ndarray:
    """The numbers of ``values`` that ``dtype`` cannot hold: not zero, yet rounding there to 0 or
    a subnormal (which XLA:CPU flushes to 0), or overflowing. The one rule for the numbers a
    run stores (``arrays.stored``), its sample weights (``arrays.check_sample_weight``), the
    constants of activation specs and the numbers of init schemes (``check_holds``)."""
    info, a = np.finfo(dtype), np.abs(np.asarray(values, np.float64))
    return a[(a != 0) & ((a < info.tiny) | (a > info.max))]


def dtype_range(dtype) -> str:
    """What ``outside`` allows, in words."""
    info = np.finfo(dtype)
    return f"{info.dtype} (0, or magnitudes in [{info.tiny:.4g}, {info.max:.4g}])"


def check_holds(name, values, dtype) -> None:
    """A ValueError ``{name} = v is outside the range of ...`` for the first number of
    ``values`` ``outside`` ``dtype``: an lr of 1e-320 would train with lr 0 in float32."""
    bad = outside(values, dtype)
    if bad.size:
        raise ValueError(
            f"{name} = {float(bad[0])!r} is outside the range of {dtype_range(dtype)}."
        )


def check_distinct(label, values, dtype) -> None:
    """A ValueError when two numbers of ``values`` (real, ``is_real``) differ as given but
    round to one value of ``dtype``, the members' storage dtype: lr 0.1 and 0.1 + 1e-9 would
    train two identical float32 members recorded as two. Numbers equal as given are the
    caller's to repeat (a population's members with other seeds; a search refuses them first,
    ``search.check_once``); those ``dtype`` cannot hold (``outside``) are left to the range
    check that names them. ``label`` names the list (``grid['lr']``, ``hyper['lr']``)."""
    shown = [v.item() if getattr(v, "shape", None) == () else v for v in values]
    shown = [v for v in shown if not outside(v, dtype).size]
    first = {}
    for v, rounded in zip(shown, np.asarray(shown, np.float64).astype(dtype).tolist()):
        if first.get(rounded, v) != v:
            raise ValueError(
                f"{label} {shown}: {first[rounded]!r} and {v!r} are one value in "
                f"{np.dtype(dtype).name}, the members' dtype: give one of them."
            )
        first.setdefault(rounded, v)


def store_as(record, name, kind) -> None:
    """Replace field ``name`` of the frozen dataclass ``record`` by ``kind(value)`` unless None:
    a validated numpy number becomes a Python one."""
    value = getattr(record, name)
    if value is not None:
        object.__setattr__(record, name, kind(value))


def check_unmasked(name, value) -> None:
    """A ValueError if ``value`` is a NumPy masked array with masked entries: ``np.asarray``
    and ``jnp.asarray`` drop the mask and read the numbers under it as if they were given."""
    if np.ma.is_masked(value):
        raise ValueError(
            f"{name} is a masked array with {np.ma.count_masked(value)} masked entries: fill "
            "them (.filled(value)) or drop them (or their rows) first; the numbers under a mask "
            "would be used as given."
        )


NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def for_json(value):
    """``value`` for strict JSON (``json.dumps(..., allow_nan=False)``), the one rule of every
    JSON text jaxmlp writes: arrays and tuples become lists, NumPy numbers Python's, and a
    non-finite float the string ``"inf"``, ``"-inf"`` or ``"nan"`` (JSON has no such numbers;
    Python's bare ``Infinity`` is refused by other readers, and null would lose the sign).
    ``from_json`` reads such a string back as its float."""
    if hasattr(value, "tolist"):  # an array or a NumPy number (0-d: its Python number)
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: for_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [for_json(v) for v in value]
    return value


def from_json(value):
    """``value`` as read from JSON written by ``for_json``'s rule: its strings ``"inf"``,
    ``"-inf"`` and ``"nan"`` (in dicts and lists too) as floats again."""
    if isinstance(value, str):
        return NON_FINITE.get(value, value)
    if isinstance(value, dict):
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


class KeyTwice(ValueError):
    """A JSON object holding a key twice (``json_once``); its message names the key."""


def json_once(text: str):
    """The JSON value of ``text``, each object's keys once (a ``KeyTwice`` naming the first key
    repeated): Python's json keeps a repeated key's last value, other readers (and a person)
    the first, and jaxmlp writes each key once, so a text that repeats one was edited. The one
    rule of the files jaxmlp trusts: config.json, a checkpoint's metadata, metrics.jsonl's
    lines and summary.json (which says a run diverged)."""
    return json.loads(text, object_pairs_hook=_once)


def _once(pairs: list) -> dict:
    """The object of the key-value ``pairs``, each key once (``KeyTwice`` else)."""
    found = {}
    for key, value in pairs:
        if key in found:
            raise KeyTwice(f"holds the key {key!r} twice in one object")
        found[key] = value
    return found
