"""experiments/curvature_bench.py and curvature_training.py (issue 18) run in --quick mode and write
their records: the benchmark's ratios measured side by side and the float32 agreement of the hand
Hv with jax's; the race's epochs, wall times and computed verdict. Speed verdicts are the
experiments' to compute, never asserted here."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_quick_benchmark_writes_ratios_measured_side_by_side(tmp_path):
    run = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / "curvature_bench.py"), "--quick", "--out",
         str(tmp_path)],
        cwd=ROOT,
        env=os.environ | {"MPLBACKEND": "Agg", "PYTHONWARNINGS": "error"},
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-5000:]
    record = json.loads((tmp_path / "curvature_bench.json").read_text())
    assert isinstance(record["reproduced"], bool) and record["quick"] is True
    metrics = record["metrics"]
    assert next(iter(metrics)) == "worst_hand_over_jax_hvp"
    assert metrics["worst_hand_over_jax_hvp"] == max(
        row["hand_over_jax_hvp"]["median"] for row in metrics["rows"]
    )
    for row in metrics["rows"]:
        for key in ("gradient_s", "hand_hvp_s", "jax_hvp_s", "hand_gnvp_s", "before_hvp_s"):
            assert row[key] > 0
        for key in ("hvp_over_gradient", "hand_over_jax_hvp", "before_over_jax_hvp"):
            assert 0 < row[key]["min"] <= row[key]["median"] <= row[key]["max"], row[key]
        # the timed products are the right ones, the before-copy too
        assert row["hvp_float32_rel_diff"] < 1e-5 and row["before_float32_rel_diff"] < 1e-5
    assert (tmp_path / "curvature_bench.png").stat().st_size > 10_000
    verdict = "reproduced" if record["reproduced"] else "NOT reproduced"
    assert f"curvature_bench: {verdict}" in run.stdout


@pytest.mark.slow
def test_the_quick_training_race_writes_epochs_wall_times_and_a_computed_verdict(tmp_path):
    run = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / "curvature_training.py"), "--quick", "--out",
         str(tmp_path)],
        cwd=ROOT,
        env=os.environ | {"MPLBACKEND": "Agg", "PYTHONWARNINGS": "error"},
        capture_output=True,
        text=True,
        timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-5000:]
    record = json.loads((tmp_path / "curvature_training.json").read_text())
    verdicts = record["metrics"]["lm_and_lbfgs_beat_adam"]
    assert record["reproduced"] == all(verdicts.values()) and len(verdicts) == 4
    results = record["metrics"]["results"]
    assert set(results) == {"xor", "sin(pi x)"}  # --quick: the verdict's two problems
    for rows in results.values():
        assert set(rows) == {"sgd", "momentum", "adam", "cg", "lbfgs", "newton-cg", "lm"}
        assert rows["lm"]["median_epochs"] is not None  # lm reaches every target
        assert rows["adam"]["median_wall_x_adam"] == 1.0
        for row in rows.values():  # a wall time exactly where the target was reached
            reached = row["median_epochs"] is not None
            assert (row["median_wall_s"] is not None) == reached, row
            assert (row["median_first_call_wall_s"] is not None) == reached, row
            if reached:  # the first call compiles: never faster than the compiled median
                assert row["median_first_call_wall_s"] >= row["median_wall_s"] > 0, row
    assert (tmp_path / "curvature_training.png").stat().st_size > 10_000
