"""A run folder's records and its checkpoint agree, or the folder is refused (exit 2, one line):
a checkpoint edited and passed off as an older format (version 1 or 2, before the whole-state
digest) where config.json records that the run writes a newer one, while genuine older folders
load; config.json's optimizer and train records that are not the checkpoint's. Each test failed
on the code before its fix."""

import json
import pathlib
import shutil

import numpy as np
import pytest

from jaxmlp import checkpoint, cli, load_run

XOR = [
    "--data", "xor", "--hidden", "3", "--optimizer", "momentum", "--lr", "0.1",
    "--batch-size", "full", "--no-progress",
]  # fmt: skip
OLD_RUNS = pathlib.Path(__file__).parent / "data" / "old_runs"


@pytest.fixture(scope="module")
def xor_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("records") / "run"
    assert cli.main(["train", *XOR, "--epochs", "3", "--out", str(out)]) == 0
    return out


def copied(run, tmp_path) -> pathlib.Path:
    return pathlib.Path(shutil.copytree(run, tmp_path / "run"))


def files_of(path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()}


def edit_config(out, change):
    config = json.loads((out / "config.json").read_text())
    change(config)
    (out / "config.json").write_text(json.dumps(config, indent=2))


def rewrite(path, drop=(), meta=None, **arrays):
    """The checkpoint at ``path`` rewritten in place (valid zip CRCs) with metadata fields
    changed (``meta``) or left out (``drop``), or arrays replaced."""
    with np.load(path) as archive:
        contents = {k: archive[k] for k in archive.files}
    old = json.loads(contents.pop(checkpoint.META).tobytes())
    new = {k: v for k, v in (old | (meta or {})).items() if k not in drop}
    contents |= arrays
    contents[checkpoint.META] = np.frombuffer(json.dumps(new).encode(), np.uint8)
    np.savez(path, **contents)


def one_error(capsys, *parts) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    for part in parts:
        assert part in err, err
    return err


def resume(out, *flags) -> int:
    return cli.main(["train", "--out", str(out), "--resume", "--no-progress", *flags])


# -- a checkpoint passed off as an older format -------------------------------------------------

DOWNGRADES = {  # what a genuine file of that version lacks, left out
    "version 2": ({"version": 2}, ("state_sha256",)),
    "version 1": ({"version": 1}, ("state_sha256", "config_sha256")),
}


@pytest.mark.parametrize("downgrade", DOWNGRADES.values(), ids=DOWNGRADES)
def test_a_checkpoint_passed_off_as_an_older_format_is_refused(
    downgrade, xor_run, tmp_path, capsys
):
    # version 2 files have no state_sha256: one of today's with its momentum edited, the digest
    # dropped and version 2 claimed, resumed from the edited state with exit 0 (and a version 1
    # claim dropped the settings' digest too)
    out = copied(xor_run, tmp_path)
    assert json.loads((out / "config.json").read_text())["checkpoint_version"] == 3
    with np.load(out / "checkpoint.npz") as archive:
        momentum = archive["opt_state/0"] + 1.0
    meta, drop = downgrade
    rewrite(out / "checkpoint.npz", drop=drop, meta=meta, **{"opt_state/0": momentum})
    before = files_of(out)
    assert resume(out, "--epochs", "5") == 2
    one_error(capsys, "checkpoint.npz", f"format version {meta['version']}", "config.json")
    assert files_of(out) == before
    assert cli.main(["evaluate", str(out)]) == 2
    one_error(capsys, f"format version {meta['version']}")
    with pytest.raises(ValueError, match="older format"):
        load_run(out)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_genuine_folder_of_an_older_format_still_loads(dtype, capsys):
    # written by jaxmlp 380a448 (tests/data/old_runs/README.md): version 2 checkpoints, and a
    # config.json from before it recorded the format its run writes
    out = OLD_RUNS / f"gaussians_{dtype}"
    assert "checkpoint_version" not in json.loads((out / "config.json").read_text())
    assert checkpoint.read_meta(out / "checkpoint.npz")["version"] == 2
    assert load_run(out).epoch == 2
    assert cli.main(["evaluate", str(out), "--json"]) == 0
    assert load_run(OLD_RUNS / "ignored_settings").net.sizes == (2, 1)


@pytest.mark.parametrize("value", ["3", True, 0, 2.5, None], ids=repr)
def test_a_malformed_checkpoint_version_in_config_json_is_refused(value, xor_run, tmp_path):
    out = copied(xor_run, tmp_path)
    edit_config(out, lambda c: c.update(checkpoint_version=value))
    with pytest.raises(ValueError, match=r"config.json: its checkpoint_version .* is not"):
        load_run(out)


def test_a_config_json_claiming_a_newer_checkpoint_format_asks_for_a_newer_jaxmlp(
    xor_run, tmp_path
):
    out = copied(xor_run, tmp_path)
    edit_config(out, lambda c: c.update(checkpoint_version=checkpoint.VERSION + 1))
    with pytest.raises(ValueError, match="newer .*upgrade jaxmlp"):
        load_run(out)
