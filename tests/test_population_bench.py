"""experiments/population_bench.py runs end to end in quick mode (no timing is asserted: speed
targets are benchmarks, experiments/BENCHMARKS.md)."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

EXPERIMENTS = pathlib.Path(__file__).resolve().parent.parent / "experiments"
# Unoptimised XLA programs, as the experiments' quick runs: the quick run's timings are smoke.
QUICK_ENV = os.environ | {"JAX_DISABLE_MOST_OPTIMIZATIONS": "1"}


@pytest.mark.slow
def test_quick_population_bench_writes_its_workloads_and_equal_runs(tmp_path):
    run = subprocess.run(
        [sys.executable, str(EXPERIMENTS / "population_bench.py"), "--quick", "--out", tmp_path],
        capture_output=True, text=True, timeout=900, cwd=EXPERIMENTS, env=QUICK_ENV,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    record = json.loads((tmp_path / "population_bench.json").read_text())
    assert record["quick"] is True
    m = record["metrics"]
    xor = m["xor_population"]
    contenders = {
        "jaxmlp_population", "jaxmlp_population_workers", "plain_jit_vmap_scan", "solo_fit_sample",
        "solo_fit_all_extrapolated",
    }  # fmt: skip
    pytorch = xor["max_abs_param_gap_pytorch_vs_plain"]
    if isinstance(pytorch, str):  # no torch here (the bench extra): the record says so
        assert pytorch.startswith("skipped: ") and "torch" in pytorch
    else:  # PyTorch trained the same nets
        contenders.add("pytorch_func_vmap")
        assert pytorch <= 1e-4
    assert set(xor["timings"]) == contenders
    # The contenders train the same nets: the population equals the plain vmap and the solo
    # fits up to float rounding (tests/test_population.py states why not bit for bit).
    assert xor["max_abs_param_gap_vs_plain"] <= 1e-4
    assert xor["max_abs_param_gap_vs_solo_sample"] <= 1e-4
    assert xor["max_abs_param_gap_workers_vs_one"] == 0.0  # tiny members: chunks change nothing
    sk = m["sklearn_grid"]
    assert sk["max_abs_score_gap"] == 0.0 and sk["same_best_params"]  # the same scores
    assert set(sk["timings"]) == {"population_search_cv", "grid_search_cv_one_by_one"}
    assert m["fashion_grid"]["optimizer"] == "adam" and m["fashion_grid_sgd"]["optimizer"] == "sgd"
    assert set(m["fashion_grid"]["timings"]) == {
        "jaxmlp_population", "jaxmlp_population_workers", "fit_one_after_another", "gemm_floor",
        "update_floor", "gemm_and_update_floor",
    }  # fmt: skip
    for row in ("fashion_grid", "fashion_grid_sgd"):  # the update adds to the products' time
        assert m[row]["floor_fraction_with_update"] > m[row]["floor_fraction"] > 0
    rows = ("xor_population", "fashion_grid", "fashion_grid_sgd", "xor_solo", "sklearn_grid")
    for workload in rows:
        for timing in m[workload]["timings"].values():
            assert timing["median_s"] > 0 and len(timing["samples"]) >= 1
    assert set(m["xor_solo"]["fit_phases_ms"]) >= {"start", "compiled_call", "records"}


def bench(*args, out):
    return subprocess.run(
        [sys.executable, str(EXPERIMENTS / "population_bench.py"), *args, "--out", out],
        capture_output=True, text=True, timeout=900, cwd=EXPERIMENTS, env=QUICK_ENV,
    )  # fmt: skip


@pytest.mark.slow
def test_only_runs_the_rows_named_and_writes_them_apart(tmp_path):
    run = bench("--quick", "--only", "fashion_grid", out=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert not (tmp_path / "population_bench.json").exists()  # the full record is not replaced
    record = json.loads((tmp_path / "population_bench_only.json").read_text())
    assert set(record["metrics"]) == {"fashion_grid", "jax", "devices", "seconds"}
    assert record["criterion"].startswith("one-by-one/population = ")


@pytest.mark.slow
def test_only_refuses_an_unknown_row(tmp_path):
    run = bench("--only", "fashion", out=tmp_path)
    assert run.returncode == 2
    assert "invalid choice: 'fashion'" in run.stderr and "fashion_grid" in run.stderr
