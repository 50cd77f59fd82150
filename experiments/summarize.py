"""Rebuild the table in experiments/README.md from experiments/results/*.json.

    python experiments/summarize.py

The table sits between the two marker lines of the README; the text around it is kept.
"""

import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def key_number(metrics: dict) -> str:
    """The first scalar metric, as the table's key number."""
    for name, value in metrics.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            return f"{name} = {value:.4g}"
    return ""


def table() -> str:
    rows = [
        "| experiment | claim | verdict | key number | command | figures |",
        "|---|---|---|---|---|---|",
    ]
    for path in sorted((HERE / "results").glob("*.json")):
        if path.stem.startswith(("bench", "population_bench")):  # benchmarks: BENCHMARKS.md
            continue
        record = json.loads(path.read_text())
        verdict = "reproduced" if record["reproduced"] else "**not reproduced**"
        if record.get("quick"):
            verdict += " (quick run)"
        # xor*.png also matches xor_adam.png: a figure goes to the longest stem it starts with
        stems = [p.stem for p in path.parent.glob("*.json")]
        figures = " ".join(
            f"[{p.stem}](results/{p.name})"
            for p in sorted(path.parent.glob(f"{path.stem}*.png"))
            if max((s for s in stems if p.stem.startswith(s)), key=len) == path.stem
        )
        number = record.get("key_number") or key_number(record["metrics"])
        link = f"[{path.stem}]({path.stem}.py)"
        command = f"`python experiments/{path.stem}.py`"
        rows.append(
            f"| {link} | {record['claim']} | {verdict} | {number} | {command} | {figures} |"
        )
    return "\n".join(rows)


def main():
    readme = HERE / "README.md"
    text = readme.read_text() if readme.exists() else f"# Experiments\n\n{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    readme.write_text(f"{head}{BEGIN}\n{table()}\n{END}{tail}")


if __name__ == "__main__":
    main()
