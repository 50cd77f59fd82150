"""experiments/bench.py runs end to end in quick mode and writes what BENCHMARKS.md is built from.

The script runs in its own interpreter, as a user runs it, into a temporary folder. Nothing here
asserts a timing: the machine is shared and its speed drifts, so speed targets are benchmarks
(the full run, experiments/BENCHMARKS.md), never tests. The quick run compiles unoptimised XLA
programs (``JAX_DISABLE_MOST_OPTIMIZATIONS``, as the experiments' quick runs do: 73 s against
120 s, most of it compiling): its timings are the run's smoke, not a measurement.
"""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import pytest

EXPERIMENTS = pathlib.Path(__file__).resolve().parent.parent / "experiments"
WORKLOADS = {
    "wide_step", "fashion_epoch", "xor", "xor_small_loop_flag", "compile", "scaling",
    "gradcheck_matrix",
}  # fmt: skip
PEERS = ("flax", "equinox", "pytorch", "scikit-learn")
TIMING = {"median", "min", "max", "n", "samples"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    run = subprocess.run(
        [sys.executable, str(EXPERIMENTS / "bench.py"), "--quick", "--out", str(out)],
        capture_output=True, text=True, timeout=1200, cwd=EXPERIMENTS.parent,
        env=os.environ | {"JAX_DISABLE_MOST_OPTIMIZATIONS": "1"},
    )  # fmt: skip
    assert run.returncode == 0, f"bench.py --quick failed:\n{run.stderr[-3000:]}"
    assert "Traceback" not in run.stderr
    return json.loads((out / "bench.json").read_text()), out


def timings(node, path=""):
    """Every timing record in the JSON tree, with where it sits."""
    if isinstance(node, dict):
        if "median" in node:
            yield path, node
        for key, value in node.items():
            yield from timings(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from timings(value, f"{path}/{i}")


@pytest.mark.slow
def test_quick_run_covers_every_workload_and_draws_the_figures(quick):
    record, out = quick
    assert record["quick"] is True
    assert set(record["workloads"]) == WORKLOADS
    assert record["machine"]["cores"] >= 1 and record["machine"]["cpu"]
    assert record["versions"]["jax"]
    for name in ("bench_scaling.png", "bench_workloads.png"):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC, name


@pytest.mark.slow
def test_every_timing_has_its_median_and_range_over_the_rounds(quick):
    found = list(timings(quick[0]["workloads"]))
    assert len(found) > 50
    for path, t in found:
        assert set(t) >= TIMING, path
        assert t["min"] <= t["median"] <= t["max"], path
        assert t["n"] == len(t["samples"]) >= 1, path


@pytest.mark.slow
def test_each_peer_ran_or_says_why_it_was_skipped(quick):
    record = quick[0]
    contenders = record["workloads"]["fashion_epoch"]["contenders"]
    for peer in PEERS:
        status = record["peers"][peer]
        assert status.startswith("skipped: ") or peer in contenders, (peer, status)
    assert {"jaxmlp", "jaxmlp autodiff", "jax+optax scan", "numpy", "gemm floor"} <= set(contenders)


@pytest.mark.slow
def test_the_ceiling_the_ratios_and_the_floor_fractions_are_recorded(quick):
    record = quick[0]
    for rows in record["workloads"]["wide_step"]["batches"].values():
        assert rows["gemm floor"]["gflops"] > 0
        assert set(rows["jaxmlp"]) >= {"seconds", "floor_fraction", "gflops"}
        assert "time_over_jaxmlp" in rows["jaxmlp autodiff"]
    hlo = record["workloads"]["wide_step"]["hlo"]
    assert hlo["hand"]["matrix_products"] >= 3 and hlo["autodiff"]["matrix_products"] >= 3
    xor = record["workloads"]["xor"]["contenders"]
    assert "speedup_over_numpy" in xor["jaxmlp"]
    for sweep in record["workloads"]["scaling"]["sweeps"].values():
        assert all("gemm floor" in point["contenders"] for point in sweep)


@pytest.mark.slow
def test_targets_state_the_measured_value_and_a_verdict(quick):
    targets = quick[0]["targets"]
    assert len(targets) >= 6
    for row in targets:
        assert isinstance(row["measured"], float) and isinstance(row["met"], bool), row
        assert row["name"] and row["target"]


@pytest.mark.slow
def test_the_markdown_tables_render_from_the_json(quick, tmp_path):
    spec = importlib.util.spec_from_file_location("bench", EXPERIMENTS / "bench.py")
    sys.path.insert(0, str(EXPERIMENTS))  # bench imports experiments/common.py
    try:
        bench = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench)
    finally:
        sys.path.remove(str(EXPERIMENTS))
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(f"# Benchmarks\n\nbefore\n\n{bench.BEGIN}\nSTALE-7f3e\n{bench.END}\n\nafter\n")
    bench.write_markdown(quick[0], path)
    text = path.read_text()
    assert "before" in text and "after" in text and "STALE-7f3e" not in text
    assert "| target | measured | met |" in text
    assert quick[0]["machine"]["cpu"] in text
