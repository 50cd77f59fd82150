"""experiments/curvature_bench.py (issue 18) runs in --quick mode and writes its record: the
ratios measured side by side and the float32 agreement of the hand Hv with jax's. Its speed
verdict is the benchmark's to compute, never asserted here."""

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


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
    assert next(iter(metrics)) == "worst_hvp_over_gradient"
    for row in metrics["rows"]:
        for key in ("gradient_s", "hand_hvp_s", "jax_hvp_s", "hand_gnvp_s"):
            assert row[key] > 0
        assert row["hvp_over_gradient"] == row["hand_hvp_s"] / row["gradient_s"]
        assert row["hvp_float32_rel_diff"] < 1e-5  # the timed product is the right one
    assert (tmp_path / "curvature_bench.png").stat().st_size > 10_000
    verdict = "reproduced" if record["reproduced"] else "NOT reproduced"
    assert f"curvature_bench: {verdict}" in run.stdout
