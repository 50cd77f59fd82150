"""The library's one rule for numbers given as settings: what counts as an integer or a real
number (never a bool, a string, NaN or infinity), the ValueError that names a wrong one and the
values allowed (``not_one_of``: a setting that is none of its choices), the Python number a
validated numpy one is kept as (JSON and hashing), the masked arrays no numbers are taken from
(``check_unmasked``), and the JSON every file and output of jaxmlp is written in (``for_json``:
strict, a non-finite number as a string).

Every module that checks a numeric setting (optimizers, train configs, populations, gradient
and Taylor checks, the run folder) asks these; none spells the rule again. (Named ``numeric``,
not ``numbers``: a module of the standard library's name would shadow it.)

>>> is_real(0.5), is_real(True), is_real("0.5"), is_real(float("nan")), is_real(np.array(2.0))
(True, False, False, False, True)
>>> check_int("epochs", 0, 1)
Traceback (most recent call last):
ValueError: epochs must be an integer >= 1, got 0.
"""

import math
from numbers import Integral, Real

import numpy as np


def is_real(value) -> bool:
    """A finite real number (not a bool, NaN or infinity); a 0-d NumPy or JAX array of an
    integer or floating dtype is its number (``jnp.float32(0.1)`` is such an array), which
    ``store_as`` then keeps as Python's."""
    if getattr(value, "shape", None) == () and getattr(value, "dtype", None) is not None:
        if np.dtype(value.dtype).kind not in ("i", "u", "f"):
            return False
        value = value.item()
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def check_positive(name, value) -> None:
    """A ValueError naming ``name`` unless ``value`` is a finite real number > 0."""
    if not (is_real(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}.")


def check_int(name, value, low, extra="") -> None:
    """A ValueError unless ``value`` is an integer (not a bool) >= ``low``; ``extra`` names the
    other values allowed."""
    if type(value) is int and value >= low:  # the common case, without the ABC checks
        return
    if not (isinstance(value, Integral) and not isinstance(value, bool) and value >= low):
        raise ValueError(
            f"{name} must be an integer >= {low}{' ' + extra if extra else ''}, got {value!r}."
        )


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
