"""What ``gradcheck`` found, as data: a ``LeafCheck`` per leaf of params in a ``Report``, its
table and JSON, and ``worst``, the one rule for the worst error of every check."""

from typing import NamedTuple

import numpy as np

FLOOR = 1e-3  # below FLOOR times its scale, an element is judged by its absolute error
RESOLVE = 1e-2  # the central differences judge only where their round-off hides no 1 % error
UNRESOLVED = (
    "their round-off hides a 1 % error of the gradient's largest element: autodiff alone judges"
)


def worst(errors) -> float:
    """The largest of ``errors`` (0.0 for none), NaN if any is NaN: the one rule for the worst
    leaf, row or cell of every check (Python's ``max`` keeps a NaN only in first place)."""
    return float(np.max(np.asarray(list(errors), np.float64), initial=0.0))


class LeafCheck(NamedTuple):
    """One leaf of params: errors of the hand gradient against autodiff and finite differences.
    ``worst_*`` is the element index of the largest relative error (for method "directions",
    ``worst_fd`` is ``(k,)``: the k-th random direction). ``ok_fd`` is None where the central
    differences carry no verdict (``Report.fd_roundoff``): autodiff alone judges the leaf."""

    layer: int
    leaf: str
    shape: tuple
    abs_err_autodiff: float
    rel_err_autodiff: float
    worst_autodiff: tuple
    abs_err_fd: float
    rel_err_fd: float
    worst_fd: tuple
    ok_autodiff: bool
    ok_fd: bool | None

    @property
    def ok(self) -> bool:
        return self.ok_autodiff and self.ok_fd is not False


class Report(NamedTuple):
    """What ``gradcheck`` found. ``ok`` only if every leaf passes both comparisons (autodiff
    alone where the finite differences carry no verdict). ``fd_roundoff``: the round-off of the
    central differences, measured where a leaf failed them at the lesser floor (else 0.0); at 1 %
    of the gradient's largest element or more (``UNRESOLVED``), even a zero gradient would pass
    them: no verdict."""

    rows: tuple
    dtype: str
    method: str
    eps: float
    rtol_autodiff: float
    rtol_fd: float
    n_params: int
    description: str
    excluded: tuple = ()  # the examples left out at a kink of the cost (``kinks.near``)
    fd_roundoff: float = 0.0

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)

    @property
    def rel_err_autodiff(self) -> float:
        return worst(row.rel_err_autodiff for row in self.rows)

    @property
    def rel_err_fd(self) -> float:
        return worst(row.rel_err_fd for row in self.rows)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "net": self.description,
            "dtype": self.dtype,
            "method": self.method,
            "eps": self.eps,
            "n_params": self.n_params,
            "rtol_autodiff": self.rtol_autodiff,
            "rtol_fd": self.rtol_fd,
            "rel_err": "|g - r| / max(|g|, |r|, floor), elementwise; floor 1e-3 max|autodiff "
            "leaf| + u max|autodiff| against autodiff, max(1e-3 max|autodiff|, measured "
            "round-off of the central difference / rtol_fd) against fd (+ tiny)",
            "excluded": list(self.excluded),
            "fd_roundoff": self.fd_roundoff,
            "rows": [row._asdict() | {"ok": row.ok} for row in self.rows],
        }

    def __str__(self) -> str:
        fd = "central differences" if self.method == "full" else "random directions"
        lines = [
            f"gradcheck {self.description}: {self.dtype}, {self.n_params} parameters, "
            f"{fd}, eps {self.eps:.1e}",
            f"relative error |g - r| / max(|g|, |r|, {FLOOR:g} max|autodiff|, of the leaf "
            "against autodiff); tolerances "
            f"{self.rtol_autodiff:.0e} (autodiff), {self.rtol_fd:.0e} (finite differences)",
            f"{'layer':>5} {'leaf':<5} {'shape':<9} {'autodiff abs':>12} {'rel':>8} "
            f"{'at':<8} {'fd abs':>9} {'rel':>8} {'at':<8} verdict",
        ]
        if self.excluded:
            lines.insert(2, f"left out at a kink of the cost: {_examples(self.excluded)}")
        if any(r.ok_fd is None for r in self.rows):
            lines.insert(
                2, f"finite differences: no verdict ({UNRESOLVED}, {self.fd_roundoff:.1e})"
            )
        for r in self.rows:
            lines.append(
                f"{r.layer:>5} {r.leaf:<5} {_fmt_shape(r.shape):<9} {r.abs_err_autodiff:>12.1e} "
                f"{r.rel_err_autodiff:>8.1e} {_fmt_shape(r.worst_autodiff):<8} "
                f"{r.abs_err_fd:>9.1e} {r.rel_err_fd:>8.1e} {_fmt_shape(r.worst_fd):<8} "
                + (
                    "ok"
                    if r.ok
                    else "FAIL" + " (autodiff)" * (not r.ok_autodiff) + " (fd)" * (r.ok_fd is False)
                )
            )
        lines.append("ok" if self.ok else "FAILED")
        return "\n".join(lines)


def _examples(rows) -> str:
    shown = ", ".join(map(str, rows[:10])) + ", ..." * (len(rows) > 10)
    return f"{len(rows)} example(s), rows [{shown}]"


def _fmt_shape(shape) -> str:
    return "(" + ",".join(str(s) for s in shape) + ")"
