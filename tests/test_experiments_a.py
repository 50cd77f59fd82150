"""Experiments 1-9 of issue 7 run end to end in quick mode and write what the README table reads.

Each script runs in its own interpreter (``python -W error experiments/<name>.py --quick --out
tmp``), as a user would run it; quick results go to a temporary folder, never over the full
results committed in ``experiments/results``.
"""

import json
import pathlib
import re

import pytest

EXPERIMENTS = pathlib.Path(__file__).resolve().parent.parent / "experiments"
# script -> the figures it must write
FIGURES = {
    "xor": ["xor.png"],
    "xor_adam": ["xor_adam.png"],
    "init_sensitivity": ["init_sensitivity.png"],
    "rings": ["rings.png"],
    "universal_approximation": ["universal_approximation.png"],
    "posterior": ["posterior.png"],
    "mse_vs_cross_entropy": ["mse_vs_cross_entropy.png"],
    "activations": ["activations_gallery.png", "activations_training.png"],
    "gd_modes": ["gd_modes.png"],
}
KEYS = {"claim", "criterion", "reproduced", "quick", "machine", "metrics"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def check_record(record: dict, name: str, quick: bool):
    assert set(record) >= KEYS, f"{name}.json lacks {sorted(KEYS - set(record))}"
    assert isinstance(record["reproduced"], bool), f"{name}: reproduced is not a bool"
    assert record["quick"] is quick
    assert re.search(r"\bseeds? 00\d", record["claim"]), f"{name}: the claim names no seed"
    assert record["criterion"].strip()
    assert isinstance(record["metrics"], dict) and record["metrics"], f"{name}: no metrics"


QUICK_ARGS = ("-W", "error")  # the quick runs' interpreter flags (conftest.quick_run)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FIGURES))
def test_quick_run_writes_verdict_and_figures(name, quick_run):
    run, tmp_path = quick_run(name)
    assert run.returncode == 0, f"{name} failed:\n{run.stderr[-3000:]}"
    assert "Traceback" not in run.stderr
    record = json.loads((tmp_path / f"{name}.json").read_text())
    check_record(record, name, quick=True)
    verdict = "reproduced" if record["reproduced"] else "NOT reproduced"
    assert f"{name}: {verdict}" in run.stdout
    for figure in FIGURES[name]:
        data = (tmp_path / figure).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000, f"{figure} is not a real plot"


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_committed_results_come_from_full_runs(name):
    results = EXPERIMENTS / "results"
    record = json.loads((results / f"{name}.json").read_text())
    check_record(record, name, quick=False)
    for figure in FIGURES[name]:
        assert (results / figure).read_bytes().startswith(PNG_MAGIC)


def test_the_readme_table_is_the_one_summarize_builds_from_the_committed_results():
    """experiments/README.md's table quotes every verdict and key number: it must be the table
    ``summarize.py`` builds from ``results/*.json`` as they stand, so a rerun whose numbers moved
    cannot leave the table quoting the run before it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("summarize", EXPERIMENTS / "summarize.py")
    summarize = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(summarize)
    readme = (EXPERIMENTS / "README.md").read_text()
    quoted = readme.partition(summarize.BEGIN)[2].partition(summarize.END)[0].strip()
    assert quoted == summarize.table(), "run `python experiments/summarize.py`"
