"""The claim scripts of issue 20 run end to end in --quick mode and write what the README reads.

Same contract as ``test_experiments_b.py``: each script in its own process (several enable float64
for themselves), into a temporary folder, so the committed full results are never overwritten;
the JSON's keys, a boolean verdict computed by the script, its key metrics (the README's key number
first), a non-empty figure, and the printed verdict matching the JSON. The committed results must
come from full runs.
"""

import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
# experiment -> metrics its JSON must carry (the README's key number first).
EXPERIMENTS = {
    "symmetry": ["constant_init_max_spread", "checks", "random_init_final_spread_min_layer"],
    "linear_collapse": ["worst_single_layer_mismatch", "checks", "deep_linear_collapse_error"],
    "weight_symmetries": ["worst_tanh_output_change", "checks", "rows"],
    "autodiff_traces": ["worst_relative_error", "examples", "worked_traces"],
    "overfitting": ["gap_ratio_fewest_over_most", "checks", "rows"],
    "as_if_linear": ["median_final_loss_surrogate_over_true", "checks", "summary"],
    "softmax_posteriors": ["shared_single_layer_max_gap_at_most", "checks", "gaps"],
    "activation_table": ["mismatches", "matches", "measured"],
    "relu_speed": ["time_to_target_tanh_over_relu", "checks", "rows"],
    "layer_regions": ["median_defect_layer_3", "checks", "layers"],
    "fragility": ["base_success_rate", "checks", "configs"],
    "online_escape": ["online_escape_rate", "checks", "summary"],
    "gradient_factor": ["largest_backprop_over_cost_flops", "checks", "series"],
    "nonconvexity": ["smallest_max_midpoint_excess", "checks", "rows"],
    "local_minima": ["distinct_certified_minima", "checks", "minimum_costs"],
    "output_ranges": ["guaranteed_outputs_out_of_range", "checks", "rows"],
}
RECORD_KEYS = {"claim", "criterion", "reproduced", "quick", "machine", "metrics"}
# Exact claims (identities in float64, against jax or scikit-learn, or exact symmetries): a quick
# run must reproduce them, so that a broken library fails here, not only the full run's verdict.
MUST_REPRODUCE = {
    "activation_table", "autodiff_traces", "linear_collapse", "symmetry", "weight_symmetries",
    "nonconvexity",
}  # fmt: skip
# Checks that hold for any weights (a guarantee, not a fit): a quick run must pass them too.
MUST_HOLD = {"output_ranges": "every output in range"}


def check(record, name, quick):
    json.dumps(record, allow_nan=False)  # strict JSON: no NaN or Infinity
    assert set(record) == RECORD_KEYS
    assert isinstance(record["reproduced"], bool)
    assert record["quick"] is quick
    assert record["claim"].startswith("seed") and record["criterion"]
    missing = [key for key in EXPERIMENTS[name] if key not in record["metrics"]]
    assert not missing, f"{name}: metrics lack {missing}"
    assert next(iter(record["metrics"])) == EXPERIMENTS[name][0], "the key number must come first"
    checks = record["metrics"].get("checks")
    if isinstance(checks, dict):  # the verdict is the conjunction of the named checks
        assert record["reproduced"] == all(checks.values())


QUICK_ENV = {"MPLBACKEND": "Agg", "PYTHONWARNINGS": "error"}  # (conftest.quick_run)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_quick_run_writes_a_verdict_metrics_and_figures(name, quick_run):
    run, tmp_path = quick_run(name)
    assert run.returncode == 0, f"{name} failed:\n{run.stdout[-3000:]}\n{run.stderr[-5000:]}"
    check(json.loads((tmp_path / f"{name}.json").read_text()), name, quick=True)
    figures = sorted(tmp_path.glob(f"{name}*.png"))
    assert figures and all(f.stat().st_size > 10_000 for f in figures), "no real figure"
    record = json.loads((tmp_path / f"{name}.json").read_text())
    verdict = "reproduced" if record["reproduced"] else "NOT reproduced"
    assert f"{name}: {verdict}" in run.stdout, "the printed verdict must match the JSON"
    if name in MUST_REPRODUCE:
        assert record["reproduced"], f"{name}: an exact claim failed: {record['metrics']}"
    if name in MUST_HOLD:
        checks = record["metrics"]["checks"]
        failed = [c for c, ok in checks.items() if MUST_HOLD[name] in c and not ok]
        assert not failed and any(MUST_HOLD[name] in c for c in checks), f"{name}: {failed}"


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_committed_results_come_from_full_runs(name):
    results = ROOT / "experiments" / "results"
    check(json.loads((results / f"{name}.json").read_text()), name, quick=False)
    assert (results / f"{name}.png").stat().st_size > 10_000
