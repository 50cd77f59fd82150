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
    if name in EXACT:  # a quick run's verdict may miss its statistics, never its identities
        check_exact(record, *EXACT[name])


# script -> (its JSON, the metric of a float64 identity over every registered activation):
# their claims hold for each activation exactly, so a run must cover them all and hold each.
EXACT = {"activations": ("activations", "max_abs_hand_minus_jax_grad_float64")}
COVERING = {**EXACT, "activation_table": ("activation_table", "measured")}


def check_exact(record, name, metric):
    from jaxmlp import activations

    per_activation = record["metrics"][metric]
    assert set(per_activation) == set(activations.names()), f"{name}: {metric} misses some"
    if name in EXACT:
        assert max(per_activation.values()) <= 1e-12, f"{name}: {per_activation}"


@pytest.mark.parametrize("name", sorted(COVERING))
def test_committed_activation_records_cover_every_registered_activation(name):
    """Before: activations.json and activation_table.json came from runs made before
    elu_learnable and isru_learnable were registered, and said nothing of them."""
    check_exact(json.loads((EXPERIMENTS / "results" / f"{name}.json").read_text()), *COVERING[name])


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


def test_the_readme_counts_and_names_the_claims_that_fall_short_as_the_results_say():
    """README.md's Results quote "N of M reproduced" and name the scripts that fall short: they
    must be the committed verdicts (the timing benchmarks and the two curvature scripts, counted
    apart there, left out), so that a rerun which flips a verdict cannot leave them standing."""
    readme = " ".join((EXPERIMENTS.parent / "README.md").read_text().split())
    records = {
        path.stem: json.loads(path.read_text())["reproduced"]
        for path in (EXPERIMENTS / "results").glob("*.json")
        if not path.stem.startswith(("bench", "population_bench", "curvature_"))
    }
    count = re.search(r"(\d+) of (\d+) reproduced \((\d+) scripts with the two curvature", readme)
    assert count, "README.md no longer states how many claims are reproduced"
    assert (int(count[1]), int(count[2])) == (sum(records.values()), len(records))
    assert int(count[3]) == len(records) + 2
    short = re.search(r"(\w+) fall short and say by how much: (.*?) Curvature \(", readme)
    words = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}
    falling = {name for name, ok in records.items() if not ok}
    assert short and words.get(short[1].lower()) == len(falling)
    assert set(re.findall(r"\(`(\w+)`\)", short[2])) == falling
