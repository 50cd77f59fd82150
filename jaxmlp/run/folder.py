"""The run folder and its files:

    RUN_DIR/config.json     the resolved settings (enough to rerun) and the data's fingerprint
    RUN_DIR/metrics.jsonl   one JSON object per finished epoch
    RUN_DIR/checkpoint.npz  the TrainState after the last saved epoch (``jaxmlp.checkpoint``)
    RUN_DIR/summary.json    final losses and accuracies, speed, params_sha256, gradcheck
    RUN_DIR/*.png           loss and accuracy curves; the decision boundary of 2-D data

JSON is written atomically (``checkpoint.write_atomic``) and read back checked.
"""

import dataclasses
import datetime
import json
import math
import pathlib

from jaxmlp import checkpoint
from jaxmlp.run import data
from jaxmlp.run.settings import DEFAULTS, Run, command_line

RUN_FILES = ("config.json", "checkpoint.npz", "metrics.jsonl")


def out_folder(out, given: dict, resume: bool) -> pathlib.Path:
    """The folder of the run: ``out``, or ``runs/<time>-<data>`` when None. A new run refuses
    a folder that already holds one."""
    if out is None:
        if resume:
            raise ValueError("--resume needs --out DIR: the folder of the run to continue.")
        name = pathlib.Path(str(given.get("data", DEFAULTS["data"]))).stem or "run"
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = pathlib.Path("runs") / f"{stamp}-{name}"
        for i in range(2, 1000):
            if not out.exists():
                break
            out = pathlib.Path("runs") / f"{stamp}-{name}-{i}"
    out = pathlib.Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: exists and is not a folder.")
    if not resume and out.is_dir() and any((out / f).exists() for f in RUN_FILES):
        raise ValueError(
            f"--out {out} already holds a run: continue it with --resume, or pick another --out."
        )
    return out


def write_config(run: Run) -> None:
    write_json(run.out / "config.json", config_record(run))


def config_record(run: Run) -> dict:
    """What config.json holds: the settings, the command that reruns them, and the data's,
    model's, optimizer's and training's facts."""
    ds = run.data
    return {
        "jaxmlp_version": version(),
        "command": command_line(run.settings, run.out),
        "settings": run.settings,
        "data": {
            "name": ds.name,
            "task": ds.task,
            "n_train": len(ds.x_train),
            "n_val": 0 if ds.x_val is None else len(ds.x_val),
            "n_test": 0 if ds.x_test is None else len(ds.x_test),
            "n_features": ds.n_features,
            "n_classes": ds.n_classes,
            "classes": data.classes(ds),
            "feature_names": ds.info.get("feature_names"),
            "label_name": ds.info.get("label_name"),
            "standardized": ds.info["standardizer"] is not None,
            "sha256": data.sha256(ds),
        },
        "model": checkpoint.architecture(run.net),
        "optimizer": dataclasses.asdict(run.optimizer),
        "train": dataclasses.asdict(run.config),
        "rng": {"seed": run.config.seed, "rule": checkpoint.RNG_RULE},
    }


def to_json(value, indent=None) -> str:
    """Strict JSON text of ``value``: arrays become lists, NaN and Inf become null (JSON has no
    such numbers; Python's json would write bare ``NaN`` that other readers refuse)."""
    return json.dumps(_finite(value), indent=indent, allow_nan=False)


def write_json(path, value) -> None:
    """``value`` as indented strict JSON in ``path``, written atomically."""
    checkpoint.write_atomic(path, to_json(value, indent=2) + "\n")


def _finite(value):
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def version() -> str:
    import jaxmlp

    return jaxmlp.__version__


def read_json(path) -> dict:
    try:
        return json.loads(pathlib.Path(path).read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: cannot read ({error}).") from None


def read_config(folder) -> dict:
    """The run's config.json, checked to be one."""
    path = pathlib.Path(folder) / "config.json"
    config = read_json(path)
    if not (
        isinstance(config, dict)
        and isinstance(config.get("settings"), dict)
        and isinstance(config.get("data"), dict)
        and "sha256" in config["data"]
    ):
        raise ValueError(f"{path}: not a jaxmlp run config (no settings or data).")
    return config


def read_metrics(path, epochs: int) -> list[dict]:
    """The records of epochs 1..``epochs`` from ``metrics.jsonl`` (later or torn lines, written
    after the checkpoint, are dropped)."""
    records = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line torn by a kill
            epoch = record.get("epoch") if isinstance(record, dict) else None
            if isinstance(epoch, int) and 1 <= epoch <= epochs:
                records[epoch] = record
    return [records[e] for e in sorted(records)]


def open_run(run_dir) -> tuple[dict, "checkpoint.Checkpoint"]:
    """``(config, checkpoint)`` of the run in ``run_dir``; float64 runs must be opened inside
    ``jax.enable_x64(True)`` (``evaluate_run`` and ``predict_run`` do)."""
    run_dir = pathlib.Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"{run_dir}: no such run folder.")
    if not (run_dir / "config.json").is_file():
        raise ValueError(f"{run_dir}: not a jaxmlp run folder (no config.json).")
    return read_config(run_dir), checkpoint.load(run_dir / "checkpoint.npz")


def run_dtype(run_dir) -> str:
    """The compute dtype of the run in ``run_dir`` (float32 where unreadable: opening it then
    names the problem)."""
    path = pathlib.Path(run_dir) / "config.json"
    config = read_json(path) if path.is_file() else {}
    settings = config.get("settings") if isinstance(config, dict) else None
    return settings.get("dtype", "float32") if isinstance(settings, dict) else "float32"
