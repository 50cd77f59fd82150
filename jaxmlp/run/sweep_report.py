"""What a sweep tells the user: each member's success, one summary row per grid point (final
loss quantiles, success rate with its Wilson interval), members.jsonl / members.csv,
summary.json, the figures and the printed table."""

import numpy as np

from jaxmlp import plots, search
from jaxmlp.run import folder, report, sweep_figures

FINAL = "final_train_accuracy"  # a record's accuracy of the returned parameters
SUCCESS_RULE = (
    f"classification: {FINAL} is 1.0 (the parameters the member returns, the restored best ones "
    "with early stopping, classify every one of its training rows correctly) and the member did "
    "not diverge; regression: none (success null). train_accuracy is the running value of "
    "params_epoch (the epoch of the parameters returned: the best with restore-best, else the "
    "last), each batch counted before its update"
)
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
THIS_PROCESS = "this process's: chunks saved by an older jaxmlp record no time"


def success(record: dict, classifier: bool) -> bool | None:
    """``SUCCESS_RULE`` for one member's record (None for a regression)."""
    if not classifier:
        return None
    return record["diverged_epoch"] is None and record[FINAL] == 1.0


def rows(records: list[dict], grid: dict) -> list[dict]:
    """One row per grid point, over its seeds and folds: ``n`` members, how many ``diverged``
    and stopped early, the quantiles and mean of the final train (and validation) loss over
    the members that did not diverge, and the success rate with its 95 % Wilson interval."""
    groups = {}
    for r in records:
        groups.setdefault(tuple(r[name] for name in grid), []).append(r)
    found = []
    for point, group in groups.items():
        row = dict(zip(grid, point, strict=True)) | {"n": len(group)}
        row["diverged"] = sum(r["diverged_epoch"] is not None for r in group)
        row["stopped"] = sum(r["stopped_epoch"] is not None for r in group)
        for metric in ("train_loss", "val_loss"):
            v = [r[metric] for r in group if r["diverged_epoch"] is None and r[metric] is not None]
            if not v:
                continue
            row[f"{metric}_mean"] = float(np.mean(v))
            for q, value in zip(QUANTILES, search.quantiles(v, QUANTILES), strict=True):
                row[f"{metric}_q{round(100 * q):02d}"] = float(value)
        if group[0]["success"] is not None:
            k = sum(r["success"] for r in group)
            low, high = search.wilson(k, len(group))
            row |= {"successes": k, "success_rate": k / len(group)}
            row |= {"success_low": low, "success_high": high}
        found.append(row)
    return found


def table(summary_rows: list[dict], grid: dict) -> str:
    """The rows as aligned text: the swept values, members, diverged, the final train loss's
    median and 10-90 % range, and the success rate with its 95 % interval."""
    names = list(grid) or ["all"]
    head = [*names, "n", "diverged", "loss median", "loss 10-90 %", "success [95 % CI]"]
    lines = [head]
    for row in summary_rows:
        cells = [sweep_figures.value_text(row[name]) for name in grid] or ["members"]
        cells += [str(row["n"]), str(row["diverged"])]
        if "train_loss_q50" in row:
            cells += [f"{row['train_loss_q50']:.4g}"]
            cells += [f"{row['train_loss_q10']:.3g} .. {row['train_loss_q90']:.3g}"]
        else:
            cells += ["-", "-"]
        if "success_rate" in row:
            cells += [
                f"{row['successes']}/{row['n']} = {row['success_rate']:.3f} "
                f"[{row['success_low']:.3f}, {row['success_high']:.3f}]"
            ]
        else:
            cells += ["-"]
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(line, widths)) for line in lines)


def write(run, grid: dict, records: list, curves: dict, wall, echo) -> dict:
    """members.jsonl, members.csv, summary.json and the figures; prints the table. ``wall``
    (``chunks.Wall``): the sweep's wall time over its processes, or this process's where a
    chunk of an older jaxmlp records none (``wall_seconds_of`` says so). Into the folder the
    sweep locked (``folder.check_held``)."""
    out = run.out
    folder.check_held(out)
    search.write_records(records, out / "members.jsonl")
    search.write_records(records, out / "members.csv")
    summary_rows = rows(records, grid)
    figures = []
    if plots.available():
        figures = sweep_figures.draw(records, summary_rows, grid, curves, out)
    summary = {
        "status": "finished",
        "members": len(records),
        "swept": list(grid),
        "success_rule": SUCCESS_RULE,
        "rows": summary_rows,
        "figures": figures,
        "wall_seconds": wall.seconds(),
        **({} if wall.whole else {"wall_seconds_of": THIS_PROCESS}),
        "devices": 1,  # a sweep trains its members on one device (sweeper._grid)
        **report.machine(),
    }
    folder.write_json(out / "summary.json", summary)
    echo(table(summary_rows, grid))
    said = "" if wall.whole else f" ({THIS_PROCESS})"
    echo(f"{len(records)} members in {summary['wall_seconds']:.1f} s{said}; wrote {out}")
    return summary
