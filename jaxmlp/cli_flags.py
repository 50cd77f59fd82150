"""The flags of ``jaxmlp train`` (which ``jaxmlp sweep`` takes too): ``TRAIN_FLAGS``, one row
``(flag, type, metavar, help)`` each, the types that turn a string into a setting or name what
was wrong (``argparse.ArgumentTypeError``), and ``help_text``, which adds the names a setting
takes (from their registries) and its default (``run.DEFAULTS``); ``header_flags``, the
``--header`` / ``--no-header`` pair of every command that reads a CSV file."""

import argparse
import math
import re

from jaxmlp import run
from jaxmlp.numeric import from_text

# -- flag types: each turns a string into a setting or names what was wrong ----------------------


def hidden(text: str) -> list[int]:
    if text.strip().lower() == "none":  # ('' is refused: an unset variable, not a choice)
        return []
    try:
        widths = [from_text(w, int) for w in text.split(",")]
    except ValueError:
        widths = []
    if not widths or any(w < 1 for w in widths):
        raise argparse.ArgumentTypeError(
            f"expected positive layer widths separated by commas, such as 128,64 (or 'none' "
            f"for no hidden layer), got {text!r}"
        )
    return widths


def names(text: str) -> str | list[str]:
    names = [n.strip() for n in text.split(",")]
    return names[0] if len(names) == 1 else names


def batch_size(text: str) -> int | str:
    if text == "full":
        return "full"
    try:
        return from_text(text, int)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer or 'full', got {text!r}"
        ) from None


def number(text: str) -> float:
    try:
        value = from_text(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def integer(text: str) -> int:
    try:
        return from_text(text, int)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def yes_no(text: str) -> bool:
    if text not in ("yes", "no"):
        raise argparse.ArgumentTypeError(f"expected yes or no, got {text!r}")
    return text == "yes"


def column(text: str) -> int | str:
    """A column index where ``text`` is one written plainly (``0``, ``2``, ``-1``: ASCII digits,
    no leading zero, ``+`` or ``_``), else a column name: ``02`` is the column named so, never
    index 2; an index that is also another column's name is refused (``files.read_csv``)."""
    return int(text) if _INDEX.fullmatch(text) else text


_INDEX = re.compile(r"0|-?[1-9][0-9]*")  # [0-9], not \d: int() reads non-ASCII digits too


TRAIN_FLAGS = [  # (flag, type, metavar, help); every default lives in run.DEFAULTS
    ("--data", str, "NAME|PATH", "a data set name (jaxmlp datasets) or a .csv / .npz file"),
    (
        "--data-dir",
        str,
        "DIR",
        "folder of Fashion-MNIST's IDX files or of their fashion-mnist subfolder (the only "
        "place looked)",
    ),
    (
        "--label-column",
        column,
        "INDEX|NAME",
        "CSV: the label column (default: the last, unless another is named label or target)",
    ),
    ("--task", str, "NAME", "{}; default auto: "),
    ("--encoding", str, "CODEC", "CSV: the file's text encoding, e.g. latin-1 (default: utf-8)"),
    ("--standardize", str, "auto|yes|no", "standardise inputs (auto: unless within [0, 1])"),
    ("--hidden", hidden, "W1,W2,...", "hidden layer widths (none: no hidden layer)"),
    (
        "--activation",
        names,
        "SPEC[,SPEC...]",
        "hidden activation, or one per hidden layer: {}; with a constant such as elu:1.67326, "
        "or per-unit groups such as 'tanh*3+relu*5'",
    ),
    (
        "--output",
        str,
        "NAME",
        "output activation: {}, or softmax:BETA (temperature BETA > 0) (default from the task)",
    ),
    ("--loss", str, "NAME", "loss: {} (default from the task)"),
    ("--reduction", str, "mean|sum", "the cost: mean or sum over examples"),
    (
        "--init",
        str,
        "SCHEME",
        "he_normal, uniform:LOW,HIGH, normal:STD, ... (default by activation)",
    ),
    ("--init-from", str, "RUN", "start from the last good weights of the run in RUN (same net)"),
    ("--dropout", number, "RATE", "inverted dropout on the hidden layers"),
    ("--optimizer", str, "NAME", "{}"),
    ("--lr", number, "ETA", "learning rate"),
    ("--momentum", number, "MU", "momentum of momentum / nesterov (0.9) and sgd"),
    ("--weight-decay", number, "LAMBDA", "L2 weight decay on the weights"),
    ("--schedule", str, "NAME", "learning-rate schedule: {}"),
    ("--decay-rate", number, "R", "step / exponential: eta times R every --decay-steps (0.1)"),
    ("--decay-steps", integer, "N", "step / exponential: steps per decay by --decay-rate (1000)"),
    ("--warmup-steps", integer, "N", "linear warmup of eta from 0 over N steps (0)"),
    ("--clip-norm", number, "NORM", "clip gradients to this global norm"),
    ("--batch-size", batch_size, "N|full", "examples per step"),
    (
        "--drop-last",
        yes_no,
        "yes|no",
        "leave out the last n mod batch-size examples of each epoch (default: no, the last, "
        "smaller batch is trained on; runs saved before this setting resume with yes)",
    ),
    ("--epochs", integer, "N", "passes over the training set"),
    ("--backprop", str, "hand|autodiff", "gradient source"),
    ("--seed", integer, "N", "seeds the data, split, initial parameters and shuffling"),
    ("--dtype", str, "float32|float64|bfloat16", "compute dtype"),
    ("--devices", integer, "N", "data-parallel over N devices (default: all)"),
    (
        "--chunk-steps",
        integer,
        "N",
        "keep the training set on the host and send N steps' "
        "batches to the device at a time (data larger than the device; same results)",
    ),
    ("--val-fraction", number, "F", "held-out validation share (default 0.1, 0 if tiny)"),
    ("--early-stopping", integer, "PATIENCE", "stop after PATIENCE epochs without progress"),
    (
        "--checkpoint-every",
        integer,
        "N",
        "save every N-th epoch (default: every epoch, "
        "grouping short ones so that saving takes at most 10 %% of the time)",
    ),  # fmt: skip
]


def help_text(flag: str, text: str) -> str:
    """``text`` with the names the setting takes (from their registries) and its default."""
    choices = run.choices().get(flag[2:].replace("-", "_"))
    text = (text.format(", ".join(choices)) if choices else text) + _default(flag)
    return text + run.AUTO_TASK_RULE if flag == "--task" else text


def _default(flag: str) -> str:
    value = run.DEFAULTS[flag[2:].replace("-", "_")]
    if value is None or "default" in dict((f, t) for f, _, _, t in TRAIN_FLAGS)[flag]:
        return ""
    return f" (default: {','.join(map(str, value)) if isinstance(value, list) else value})"


def negative_values(argv: list) -> list:
    """``argv`` with a negative number or value list that follows a flag joined to it
    (``--init-scale -1,1`` -> ``--init-scale=-1,1``): argparse takes only ``-1`` and ``-.5``
    for numbers and reads ``-1,1`` or ``-1e-3`` as an option ("expected one argument"). No
    option starts with a digit or a dot, so none is taken for a value."""
    joined = []
    for arg in argv:
        last = joined[-1] if joined else ""
        flag = last.startswith("--") and last != "--" and "=" not in last
        if flag and arg[:2] in NEGATIVE_STARTS:
            joined[-1] = f"{last}={arg}"
        else:
            joined.append(arg)
    return joined


NEGATIVE_STARTS = {f"-{c}" for c in "0123456789."}


def header_flags(parser, flag: str) -> None:
    """``--header`` and ``--no-header`` (dest ``header``: True, False, or None to detect) for
    the CSV file that ``flag`` names."""
    detect = (
        "a header is required, its names matched to the training ones"
        if flag == "--input"
        else "a first row of numbers only is data, one of names a header (one mixing the "
        "two only where its names name a label column: 2019,2020,label; not one whose field "
        "over numbers is an error or a mistyped number: #N/A, l, O), others refused"
    )
    said = parser.add_mutually_exclusive_group()
    said.add_argument(
        "--header", dest="header", action="store_const", const=True,
        help=f"{flag} FILE.csv's first row names the columns, even where the names are numbers "
        "or it mixes numbers and names",
    )  # fmt: skip
    said.add_argument(
        "--no-header", dest="header", action="store_const", const=False,
        help=f"{flag} FILE.csv has no header row: its first row is data (columns by position); "
        f"without either flag, {detect}",
    )  # fmt: skip
