"""The value lists of ``jaxmlp sweep``'s command line: ``--lr 0.1,0.5`` and the like, and
``--seeds`` (a count, or a list)."""

import math

from jaxmlp.datasets import SEED_LIMIT
from jaxmlp.numeric import from_text
from jaxmlp.search import MAX_MEMBERS


def value_list(flag: str, text: str) -> list[float]:
    """The comma-separated finite numbers of ``text`` (the value list of ``flag``)."""
    words = [w.strip() for w in str(text).split(",")]
    try:
        numbers = [from_text(w) for w in words]  # the one rule of a number given as text
    except ValueError as error:
        raise ValueError(
            f"{flag} needs finite numbers separated by commas, got {text!r}: {error}."
        ) from None
    if not all(math.isfinite(v) for v in numbers):
        raise ValueError(f"{flag} needs finite numbers separated by commas, got {text!r}.")
    return numbers  # sweep refuses a repeated one


def seed_list(text: str) -> list[int]:
    """``N`` (the seeds 0 .. N-1, N <= ``MAX_MEMBERS``) or a comma list of integer seeds in
    [0, 2**32) (``sweep`` refuses a repeated one)."""
    words = [w.strip() for w in str(text).split(",")]
    numbers = [int(w) if w.isascii() and w.isdigit() else -1 for w in words]
    count = len(words) == 1  # N: the seeds 0 .. N-1, checked before they are listed
    if min(numbers) < count or max(numbers) >= (MAX_MEMBERS + 1 if count else SEED_LIMIT):
        raise ValueError(
            f"--seeds needs a count N in [1, {MAX_MEMBERS}] (the seeds 0..N-1; a sweep's most "
            f"members) or integer seeds in [0, 2**32 - 1] separated by commas, got {text!r}."
        )
    return list(range(numbers[0])) if len(words) == 1 else numbers
