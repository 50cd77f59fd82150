"""Run folders that cannot be mixed up, lost or left half written, and runs that stop when they
diverge (issue 16; issue 15's --resume without a run and its divergence items).

One writer at a time (a second is refused naming the holder); a refused command leaves the
folder byte for byte; a resume removes the temporary files of a killed save; every file is
written whole or not at all; a resume on another device count says so; a diverged run stops with
exit 3, keeps its last finite checkpoint and prints a retry command that works; and runs killed
at random moments resume to the uninterrupted run's bits.
"""

import contextlib
import errno
import hashlib
import json
import os
import pathlib
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from jaxmlp import MLP, checkpoint, cli, run, save_run
from jaxmlp.run import folder

XOR = ["--data", "xor", "--hidden", "8", "--no-progress"]

# Runs `jaxmlp` in a process of its own, optionally sleeping SLEEP seconds after each epoch
# (a slow run another process can meet) or stopping as SIGINT does after epoch STOP_AT.
DRIVER = """
import os, signal, sys, time
from jaxmlp import cli, run
real, sleep, stop_at = run.trainer.fit, float(os.environ.get("SLEEP", 0)), os.environ.get("STOP_AT")
def fit(*args, callback, **kwargs):
    def wrapped(record, state):
        time.sleep(sleep)
        if stop_at and record["epoch"] == int(stop_at):
            callback.stop.append(signal.SIGINT)
        return callback(record, state)
    return real(*args, callback=wrapped, **kwargs)
run.trainer.fit = fit
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """The processes' environment: one persistent compilation cache (only the first compiles),
    unbuffered output (a banner line arrives when printed)."""
    cache = tmp_path_factory.mktemp("jax-cache")
    return os.environ | {
        "JAX_COMPILATION_CACHE_DIR": str(cache),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
        "PYTHONUNBUFFERED": "1",
    }


def start(*args, cwd, env, driver=False, **extra):
    command = ["-c", DRIVER] if driver else ["-m", "jaxmlp"]
    return subprocess.Popen(
        [sys.executable, *command, *map(str, args)], cwd=cwd, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env | extra,
    )  # fmt: skip


def ended(process) -> int:
    """Wait for ``process``, keep what it wrote on stderr in ``process.err`` (its pipes are
    closed) and return its exit status."""
    _, process.err = process.communicate(timeout=300)
    return process.returncode


def contents(path: pathlib.Path) -> dict:
    """Every file under ``path`` (hidden ones too) -> its SHA-256; {} where there is none."""
    if not path.exists():
        return {}
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "/"
        for p in sorted(path.rglob("*"))
    }


def strict_json(path: pathlib.Path):
    return json.loads(path.read_text(), parse_constant=_refuse)


def _refuse(name):
    raise ValueError(f"not strict JSON: {name}")


def saved_epoch(out) -> int:
    """The epoch of the checkpoint in ``out`` (-1: none)."""
    try:
        return checkpoint.read_meta(out / "checkpoint.npz")["epoch"]
    except ValueError:
        return -1


def _lines(path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def epochs_logged(out):
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line, parse_constant=_refuse)["epoch"] for line in lines]


@pytest.fixture(scope="module")
def xor_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("xor") / "run"
    assert cli.main(["train", *XOR, "--epochs", "5", "--out", str(out)]) == 0
    return out


def copy_run(xor_run, tmp_path) -> pathlib.Path:
    return pathlib.Path(shutil.copytree(xor_run, tmp_path / "run"))


# -- one writer at a time ----------------------------------------------------------------------


@pytest.mark.slow
def test_a_second_resume_of_a_run_in_progress_exits_2_naming_the_holder(tmp_path, env):
    """Two --resume at once: the second is refused (exit 2, the first one's pid) and writes
    nothing; the log holds every epoch once."""
    out = tmp_path / "run"
    args = ["train", *XOR, "--epochs", "400", "--checkpoint-every", "1", "--out", out]
    stopped = start(*args, cwd=tmp_path, env=env, driver=True, STOP_AT="2")
    assert ended(stopped) == 130, stopped.err
    first = start(*args, "--resume", cwd=tmp_path, env=env, driver=True, SLEEP="0.05")
    assert "resuming at epoch 2" in first.stdout.readline()  # it holds the folder now
    second = start("train", "--out", out, "--resume", "--no-progress", cwd=tmp_path, env=env)
    _, err = second.communicate(timeout=300)
    still_running = first.poll() is None
    first.send_signal(signal.SIGINT)
    assert ended(first) == 130, first.err
    assert still_running, "the first resume ended before the second began"
    assert second.returncode == 2, err
    assert f"in use by pid {first.pid} on " in err and err.count("\n") == 1
    stopped_at = checkpoint.read_meta(out / "checkpoint.npz")["epoch"]
    assert epochs_logged(out) == list(range(1, stopped_at + 1))  # each epoch once
    assert not (out / folder.LOCK).exists()


@pytest.mark.slow
def test_two_trains_into_one_folder_at_once_one_runs_the_other_exits_2(tmp_path, env):
    """Two new runs (different learning rates) into one --out at once: one trains, the other is
    refused; the folder holds one run, its config beside its own checkpoint."""
    out = tmp_path / "run"
    args = ["train", *XOR, "--epochs", "400", "--out", out]
    processes = [
        start(*args, "--lr", lr, cwd=tmp_path, env=env, driver=True, SLEEP="0.05")
        for lr in ("0.01", "0.02")
    ]
    deadline = time.monotonic() + 300
    while all(p.poll() is None for p in processes):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    loser = next(p for p in processes if p.poll() is not None)
    winner = next(p for p in processes if p is not loser)
    _, err = loser.communicate()
    still_running = winner.poll() is None
    winner.send_signal(signal.SIGINT)
    assert ended(winner) == 130, winner.err
    assert still_running, "one run ended before the other began"
    assert loser.returncode == 2, err
    assert f"in use by pid {winner.pid}" in err or "already holds a run" in err, err
    config = strict_json(out / "config.json")
    meta = checkpoint.read_meta(out / "checkpoint.npz")
    assert meta["optimizer"]["lr"] == config["settings"]["lr"]
    assert meta["extra"]["run_id"] == config["run_id"]


@pytest.mark.slow
def test_a_held_folder_is_refused_and_released_after_the_run(tmp_path, capsys, one_error):
    out = tmp_path / "run"
    out.mkdir()
    with folder.lock(out):
        assert (out / folder.LOCK).read_text().startswith(f"pid {os.getpid()} on ")
        assert cli.main(["train", *XOR, "--epochs", "2", "--out", str(out)]) == 2
        one_error(f"in use by pid {os.getpid()}")
    assert contents(out) == {}  # released: the lock file is gone
    assert cli.main(["train", *XOR, "--epochs", "2", "--out", str(out)]) == 0
    assert not (out / folder.LOCK).exists()


def test_save_run_into_a_folder_another_process_holds_is_refused_and_writes_nothing(tmp_path):
    """Regression: save_run took no lock. Into a folder a train held before its first write
    (its data loading, its initial loss compiling) it wrote config.json and checkpoint.npz,
    which the run then overwrote one by one: a folder of two runs' files. Now it holds the
    folder's lock while it writes, and a held folder is refused naming the holder."""
    out = tmp_path / "run"
    out.mkdir()
    net = MLP((2, 3, 1), "tanh", "sigmoid", "bce")
    params = net.init(jax.random.key(0))
    with folder.lock(out):
        with pytest.raises(ValueError, match=f"in use by pid {os.getpid()} on "):
            save_run(out, net, params)
        assert sorted(os.listdir(out)) == [folder.LOCK]
    assert save_run(out, net, params) == out  # released: it writes, and releases in turn
    assert sorted(os.listdir(out)) == ["checkpoint.npz", "config.json"]


@pytest.mark.parametrize("left", ["summary.json", "members.jsonl", "members.csv", "chunks"])
def test_a_folder_holding_a_run_s_files_but_its_config_is_refused_writing_nothing(
    left, tmp_path, capsys
):
    """Regression: only config.json, checkpoint.npz or metrics.jsonl marked a folder as taken.
    A folder holding the rest of a run or sweep (its config.json moved or deleted: a sweep's
    members.jsonl, members.csv, chunks/, a run's summary.json) took a new train, sweep or
    save_run, which overwrote those files silently, exit 0. Refused, naming the files."""
    out = tmp_path / "old"
    out.mkdir()
    (out / left).mkdir() if left == "chunks" else (out / left).write_text("kept\n")
    before = contents(out)
    shown = f"{left}/" if left == "chunks" else left
    says = f"--out {out} holds {shown} of another run or sweep (but no config.json)"
    net = MLP((2, 3, 1), "tanh", "sigmoid", "bce")
    with pytest.raises(ValueError, match=re.escape(says)):
        save_run(out, net, net.init(jax.random.key(0)))
    for command in (["train", *XOR], ["sweep", *XOR[:4]]):  # (sweep shows no progress)
        assert cli.main([*command, "--epochs", "1", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and says in err, err
    assert contents(out) == before


def test_two_runs_without_out_started_in_one_second_take_two_folders(tmp_path, capsys, monkeypatch):
    """The default name was the first free one when picked, and the folder made and locked
    only after the initial loss compiled: two runs of one second picked one name, and the
    second exited 2 with "the run folder is in use by pid ..., pick another --out" (no --out
    was given). Another run takes the name between the naming and the first write here."""
    monkeypatch.chdir(tmp_path)
    initial, other = run.trainer._initial, contextlib.ExitStack()

    def meanwhile(run_):
        result = initial(run_)
        run_.out.mkdir(parents=True)  # another process, started in the same second
        other.enter_context(folder.lock(run_.out))
        return result

    monkeypatch.setattr(run.trainer, "_initial", meanwhile)
    with other:
        assert cli.main(["train", *XOR, "--epochs", "2"]) == 0, capsys.readouterr().err
        taken, ours = sorted((tmp_path / "runs").iterdir(), key=lambda p: len(p.name))
        assert ours.name == taken.name + "-2"
        assert contents(taken) == {folder.LOCK: contents(taken)[folder.LOCK]}
        assert (ours / "summary.json").is_file() and not (ours / folder.LOCK).exists()


def test_a_holder_whose_lock_file_was_replaced_leaves_the_new_holders_lock(tmp_path):
    """.lock removed while A holds the folder (by hand, or the folder deleted and made again):
    B locks the new file; A, ending, removed B's lock file, and a third writer took the folder
    while B held it. Now A removes only its own file: the third is refused."""
    with contextlib.ExitStack() as b:
        with folder.lock(tmp_path):
            (tmp_path / folder.LOCK).unlink()
            b.enter_context(folder.lock(tmp_path))
        assert (tmp_path / folder.LOCK).read_text() == f"pid {os.getpid()} on {os.uname()[1]}\n"
        with pytest.raises(ValueError, match="in use by pid"), folder.lock(tmp_path):
            pass
    assert not (tmp_path / folder.LOCK).exists()  # B removed its own


@pytest.mark.parametrize("by", ["hand", "another_run"])
@pytest.mark.slow  # ~2 s: trains (and compiles) a run of its own
def test_a_run_whose_folder_was_made_again_writes_nothing_there(
    by, xor_run, tmp_path, monkeypatch, one_error
):
    """The run folder deleted and made again while a run trained (by hand, or by another run,
    whose files and lock it then holds): the run wrote its checkpoint, log, summary and figures
    into the new folder with exit 0, over the other run's files. Now it stops, exit 2, at its
    next save, and leaves the new folder byte for byte."""
    out, real = tmp_path / "run", run.trainer.fit

    def fit(*args, callback, **kwargs):
        def wrapped(record, state):
            if record["epoch"] == 2:
                shutil.rmtree(out)
                if by == "hand":
                    out.mkdir()
                    (out / "notes.txt").write_text("someone else's\n")
                else:
                    shutil.copytree(xor_run, out)
                    (out / folder.LOCK).write_text("pid 1 on elsewhere\n")
            return callback(record, state)

        return real(*args, callback=wrapped, **kwargs)

    monkeypatch.setattr(run.trainer, "fit", fit)
    args = ["train", *XOR, "--epochs", "4", "--checkpoint-every", "1", "--out", str(out)]
    assert cli.main(args) == 2
    one_error(f"{out}: the run folder was removed, moved or made again")
    expected = {"notes.txt"} if by == "hand" else {*contents(xor_run), folder.LOCK}
    assert set(contents(out)) == expected
    if by == "another_run":
        assert {k: v for k, v in contents(out).items() if k != folder.LOCK} == contents(xor_run)


# Runs `python -m jaxmlp` (the command's entry) in a process of its own after arming ARM:
# "gc" sends SIGINT from inside a garbage-collector callback while the run computes its
# initial loss (as JAX's _xla_gc_callback met Ctrl-C), "import" sends it while jax is imported.
ENTRY = """
import gc, os, runpy, signal, sys
def kill():
    os.kill(os.getpid(), signal.SIGINT)
    sum(range(1000))  # bytecodes: Python runs the handler here
if os.environ["ARM"] == "gc":
    from jaxmlp.run import trainer
    real = trainer._initial
    def initial(run):
        def callback(phase, info):
            if phase == "start":
                gc.callbacks.remove(callback)
                kill()
        gc.callbacks.append(callback)
        gc.collect()
        return real(run)
    trainer._initial = initial
else:
    class Finder:
        def find_spec(self, name, path=None, target=None):
            if name == "jax":
                sys.meta_path.remove(self)
                kill()
    sys.meta_path.insert(0, Finder())
sys.argv = ["jaxmlp", *sys.argv[1:]]
runpy.run_module("jaxmlp", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize("arm", ["gc", "import"])
@pytest.mark.slow
def test_ctrl_c_early_in_a_run_stops_it_with_exit_130_and_one_line(arm, tmp_path, env):
    """gc: the KeyboardInterrupt raised inside JAX's garbage-collector callback was dropped
    ("Exception ignored in: <function _xla_gc_callback ...> KeyboardInterrupt") and the run went
    on to exit 0. import: Ctrl-C while jax was imported printed a traceback (jaxmlp/__init__
    imported everything before the command could handle it)."""
    out = tmp_path / "run"
    argv = ["-c", ENTRY, "train", *XOR, "--epochs", "3000", "--out", out]
    process = subprocess.run(
        [sys.executable, *map(str, argv)], capture_output=True, text=True, env=env | {"ARM": arm},
        timeout=300,
    )  # fmt: skip
    assert process.returncode == 130, process.stderr
    assert process.stderr.count("\n") == 1 and "Traceback" not in process.stderr, process.stderr
    if arm == "gc":  # the first epoch's checkpoint is saved: it resumes
        assert process.stderr.startswith("interrupted at epoch 0/3000: checkpoint saved;")
        assert saved_epoch(out) == 0 and not (out / folder.LOCK).exists()
    else:
        assert process.stderr == "interrupted: nothing was saved\n" and not out.exists()


def test_os_errors_are_one_line_naming_the_path_and_the_problem(
    tmp_path, capsys, one_error, monkeypatch
):
    """Only FileNotFoundError, PermissionError and IsADirectoryError were rewritten: a full disk
    said "[Errno 28] No space left on device" (no file), a dangling symlink as --out
    "[Errno 17] File exists: 'dl'", --out f.txt/sub "[Errno 20] Not a directory"."""
    from jaxmlp import atomic

    (tmp_path / "dl").symlink_to(tmp_path / "gone")
    (tmp_path / "f.txt").write_text("x")
    cases = {
        "dl": f"a symbolic link to {tmp_path / 'gone'}, which does not exist.",
        "f.txt/sub": f"{tmp_path / 'f.txt'} is not a folder.",
    }
    for name, says in cases.items():
        out = tmp_path / name
        assert cli.main(["train", *XOR, "--epochs", "2", "--out", str(out)]) == 2
        one_error(f"error: --out {out}: {says}\n")

    class FullDisk:  # os, whose fsync finds the disk full
        def __getattr__(self, name):
            return getattr(os, name)

        @staticmethod
        def fsync(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic, "os", FullDisk())
    out = tmp_path / "full"
    assert cli.main(["train", *XOR, "--epochs", "2", "--out", str(out)]) == 2
    one_error(f"error: {out / 'config.json'}: No space left on device\n")


# -- refused commands change nothing -------------------------------------------------------------


@pytest.mark.parametrize(
    "case, flags, message",
    [
        ("no config.json", [], "nothing to resume"),
        ("another setting", ["--lr", "0.5"], "--lr 0.5 differs"),
        ("an empty folder", [], "nothing to resume"),
        ("no folder", [], "nothing to resume"),
        ("another run's checkpoint", [], "checkpoint of another run"),
    ],
)
def test_a_refused_resume_leaves_the_folder_byte_for_byte(
    case, flags, message, xor_run, tmp_path, capsys, one_error
):
    out = copy_run(xor_run, tmp_path)
    if case == "no config.json":
        (out / "config.json").unlink()
    elif case == "an empty folder":
        shutil.rmtree(out)
        out.mkdir()
    elif case == "no folder":
        shutil.rmtree(out)
    elif case == "another run's checkpoint":
        other = tmp_path / "other"
        assert cli.main(["train", *XOR, "--epochs", "5", "--lr", "0.01", "--out", str(other)]) == 0
        shutil.copy(other / "checkpoint.npz", out / "checkpoint.npz")
        capsys.readouterr()
    before = contents(out)
    assert cli.main(["train", "--out", str(out), "--resume", *flags]) == 2
    one_error(message)
    assert contents(out) == before


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_a_checkpoint_of_another_run_is_not_evaluated_under_this_runs_config(
    command, xor_run, tmp_path, capsys, one_error
):
    out, other = copy_run(xor_run, tmp_path), tmp_path / "other"
    assert cli.main(["train", *XOR, "--epochs", "5", "--lr", "0.01", "--out", str(other)]) == 0
    shutil.copy(other / "checkpoint.npz", out / "checkpoint.npz")
    capsys.readouterr()
    np.savetxt(tmp_path / "x.csv", [[0.0, 1.0]], delimiter=",", header="x1,x2", comments="")
    inputs = ["--input", str(tmp_path / "x.csv")] if command == "predict" else []
    assert cli.main([command, str(out), *inputs]) == 2
    one_error("checkpoint of another run")


# -- temporary files and atomic writes -----------------------------------------------------------


def test_a_resume_removes_the_temporary_files_of_a_killed_save(xor_run, tmp_path, capsys):
    out = copy_run(xor_run, tmp_path)
    stale = [".checkpoint.npz.a1b2c3d4.tmp", ".summary.json.zz_9yx8w.tmp", ".loss.png.abcdefgh.tmp"]
    others = [".notes.txt.a1b2c3d4.tmp", "mine.tmp", ".checkpoint.npz.tmp"]
    for name in stale + others:
        (out / name).write_bytes(b"half")
    assert cli.main(["train", "--out", str(out), "--resume", "--no-progress"]) == 0
    assert [name for name in stale if (out / name).exists()] == []
    assert all((out / name).read_bytes() == b"half" for name in others)  # not the run's own
    assert strict_json(out / "summary.json")["warnings"] == []


FILL = """
import json, pathlib, resource, signal, sys
from jaxmlp import plots
import matplotlib.figure, matplotlib.backends.backend_agg  # loaded before the limit
out = pathlib.Path(sys.argv[1])
history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    plots.curves(history[:2], out)
except OSError as error:
    sys.exit(f"failed: {error.strerror}")
"""


@pytest.mark.parametrize("lost", ["deleted", "dangling_link"])
def test_a_resume_whose_checkpoint_is_gone_is_refused_not_restarted(
    lost, xor_run, tmp_path, one_error
):
    """checkpoint.npz deleted, or a link to a disk not mounted, beside a log of 5 epochs: the
    resume took the run for one killed before its first save and retrained it from epoch 0,
    exit 0, replacing the link (a run killed so has an empty log, or none)."""
    out = copy_run(xor_run, tmp_path)
    (out / "checkpoint.npz").unlink()
    if lost == "dangling_link":
        (out / "checkpoint.npz").symlink_to(tmp_path / "unmounted" / "checkpoint.npz")
    before = contents(out)
    assert cli.main(["train", "--out", str(out), "--resume", "--epochs", "8"]) == 2
    one_error(f"{out / 'checkpoint.npz'}: ", "metrics.jsonl records 5 epochs", "restore it")
    assert contents(out) == before and (out / "checkpoint.npz").is_symlink() == (lost != "deleted")


@pytest.mark.slow
def test_a_figure_written_past_a_file_size_limit_leaves_the_old_one_whole(xor_run, tmp_path):
    """A full disk, as a file-size limit of 4 KiB: drawing loss.png again fails, and the old
    loss.png (larger than 4 KiB) is whole, with no temporary file beside it."""
    out = copy_run(xor_run, tmp_path)
    before = contents(out)
    assert before["loss.png"] and (out / "loss.png").stat().st_size > 4096
    process = subprocess.run(
        [sys.executable, "-c", FILL, str(out)], capture_output=True, text=True, timeout=300,
        env=os.environ | {"PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    assert process.returncode == 1 and "failed: File too large" in process.stderr, process.stderr
    assert contents(out) == before


# -- devices ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_resume_on_another_device_count_says_once_that_the_bits_will_differ(tmp_path, env):
    """Trained on 8 (host) devices, stopped, resumed on 1: a warning line on stderr, recorded
    in the summary; resuming on the same count says nothing."""
    out = tmp_path / "run"
    args = ["train", "--data", "moons", "--hidden", "8", "--epochs", "3", "--no-progress"]
    eight = env | {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    stopped = start(*args, "--out", out, cwd=tmp_path, env=eight, driver=True, STOP_AT="1")
    assert ended(stopped) == 130, stopped.err
    assert strict_json(out / "config.json")["devices"] == 8
    assert checkpoint.read_meta(out / "checkpoint.npz")["extra"]["devices"] == 8
    resumed = start("train", "--out", out, "--resume", "--no-progress", cwd=tmp_path, env=env)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    warning = f"warning: the run in {out} trained on 8 device(s) and resumes on 1: "
    assert err.count(warning) == 1 and err.count("\n") == 1, err
    summary = strict_json(out / "summary.json")
    assert summary["devices"] == 1 and len(summary["warnings"]) == 1
    assert summary["warnings"][0].startswith(warning)
    # the same count again: nothing new to say
    same = start("train", "--out", out, "--resume", "--no-progress", cwd=tmp_path, env=env)
    _, err = same.communicate(timeout=300)
    assert same.returncode == 0 and "warning" not in err, err


@pytest.mark.slow
def test_a_run_on_more_devices_than_this_machine_has_resumes_with_devices(
    tmp_path, env, capsys, one_error
):
    """Trained with --devices 2, resumed where there is one device: the resume named neither
    the file nor a way on ("devices=2 but only 1 device(s) are available"), and --devices 1
    was refused ("a resumed run keeps its settings"). The count says where a run trains, not
    what it computes (the sums' order aside, which the warning says): it may change. Regression
    too: the extended config.json's command took the resume's --devices 1, its settings 2."""
    out = tmp_path / "run"
    args = ["train", "--data", "moons", "--hidden", "8", "--epochs", "3", "--devices", "2"]
    two = env | {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    assert ended(start(*args, "--no-progress", "--out", out, cwd=tmp_path, env=two)) == 0
    assert len(jax.devices()) == 1
    before = contents(out)
    resume = ["train", "--out", str(out), "--resume", "--epochs", "4", "--no-progress"]
    assert cli.main(resume) == 2
    one_error(f"{out / 'config.json'}: ", "devices 2", "has 1", "--devices 1")
    assert contents(out) == before
    assert cli.main([*resume, "--devices", "1"]) == 0
    warning = f"warning: the run in {out} trained on 2 device(s) and resumes on 1: "
    assert capsys.readouterr().err.startswith(warning)
    config = folder.read_config(out)
    assert config["settings"]["devices"] == 2  # the run's own, as its run_id
    # and its command's (it said --devices 1, the resume's, against the settings' 2)
    assert "--devices 2 " in config["command"] and "--epochs 4 " in config["command"]
    assert saved_epoch(out) == 4 and cli.main(["evaluate", str(out)]) == 0


@pytest.mark.slow
def test_a_resume_on_fewer_devices_is_told_a_count_its_batch_divides_over(tmp_path, env):
    """Trained with --devices 8 (batch 32), resumed where there are 3 devices: the resume said
    "--devices 3 or fewer", and --devices 3 then said "use a batch size of 30 or 33", which a
    resume refuses (it keeps its settings). Both now name --devices 2, which resumes."""
    out = tmp_path / "run"
    args = ["train", "--data", "moons", "--hidden", "8", "--epochs", "1", "--devices", "8"]
    eight = env | {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    assert ended(start(*args, "--no-progress", "--out", out, cwd=tmp_path, env=eight)) == 0
    three = env | {"XLA_FLAGS": "--xla_force_host_platform_device_count=3"}
    resume = ["train", "--out", out, "--resume", "--epochs", "2", "--no-progress"]
    for extra in ([], ["--devices", "3"]):
        refused = start(*resume, *extra, cwd=tmp_path, env=three)
        assert ended(refused) == 2 and refused.err.count("\n") == 1, refused.err
        assert "--devices 2" in refused.err and "batch size of" not in refused.err, refused.err
    resumed = start(*resume, "--devices", "2", cwd=tmp_path, env=three)
    assert ended(resumed) == 0, resumed.err
    assert saved_epoch(out) == 2


# -- divergence ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_targets_whose_loss_overflows_at_the_start_name_the_targets_not_the_lr(tmp_path, one_error):
    """Regression: targets of 1e20 (squared error past float32 at the start) ended "Try a
    lower learning rate (--lr 0.0001)", which cannot help; the error names the targets' span."""
    data = tmp_path / "big.csv"
    data.write_text("x,t\n1,1e20\n2,2e20\n3,3e20\n4,1e20\n")
    args = ["train", "--data", str(data), "--task", "regression", "--hidden", "2", "--epochs", "1"]
    assert cli.main([*args, "--no-progress", "--out", str(tmp_path / "run")]) == 3
    err = one_error("the targets span [1e+20, 3e+20]): no learning rate helps; scale the targets")
    assert "lower learning rate" not in err


@pytest.mark.slow
def test_a_huge_learning_rate_on_digits_stops_with_exit_3(tmp_path, capsys, one_error):
    """lr 1e6: the loss explodes (finite, ~1e5 x its start); the run stops at once, keeps a
    finite, evaluable checkpoint and valid JSON."""
    out = tmp_path / "run"
    args = ["train", "--data", "digits", "--hidden", "16", "--lr", "1e6", "--epochs", "3"]
    assert cli.main([*args, "--no-progress", "--out", str(out)]) == 3
    err = one_error("training diverged at epoch 1: ", "--init-from")
    assert "x the initial loss" in err or "not finite" in err
    summary = strict_json(out / "summary.json")
    assert summary["status"] == "diverged" and summary["kept_epoch"] == 0
    strict_json(out / "config.json")
    results = run.evaluate_run(out)
    assert all(np.isfinite(r["loss"]) for r in results.values())


@pytest.mark.parametrize(
    "scale, reason",
    [
        (np.inf, "the parameters are not finite"),
        (1e30, "the parameters give a non-finite loss on the first 4 training examples"),
    ],
)
def test_an_update_that_overflows_on_the_last_step_is_a_divergence(
    scale, reason, tmp_path, capsys, one_error, monkeypatch
):
    """The last epoch's update makes the parameters Inf, or finite but so large that the loss
    overflows (the epoch's loss, taken before the update, is finite): exit 3, the checkpoint of
    the epoch before is kept, every JSON file is valid."""
    real = run.trainer.fit
    infinite = lambda params: jax.tree.map(lambda a: a * scale, params)  # noqa: E731

    def fit_overflowing_at_the_end(*args, callback, **kwargs):
        def wrapped(record, state):
            if record["epoch"] == 4:
                state = state._replace(params=infinite(state.params))
            return callback(record, state)

        result = real(*args, callback=wrapped, **kwargs)
        state = result.state._replace(params=infinite(result.state.params))
        return result._replace(params=state.params, state=state)

    monkeypatch.setattr(run.trainer, "fit", fit_overflowing_at_the_end)
    out = tmp_path / "run"
    args = ["train", *XOR, "--epochs", "4", "--checkpoint-every", "1", "--out", str(out)]
    assert cli.main(args) == 3
    one_error(f"epoch 4: {reason}", "(epoch 3) is kept")
    assert checkpoint.read_meta(out / "checkpoint.npz")["epoch"] == 3
    assert strict_json(out / "summary.json")["status"] == "diverged"
    assert epochs_logged(out) == [1, 2, 3]
    model = run.load_run(out)
    assert np.isfinite(model.outputs(np.zeros((1, 2)))).all()


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_evaluating_or_predicting_with_non_finite_parameters_exits_2(
    command, xor_run, tmp_path, capsys, one_error, monkeypatch
):
    out = copy_run(xor_run, tmp_path)
    ckpt = checkpoint.load(out / "checkpoint.npz")
    params = [dict(layer) for layer in ckpt.state.params]
    params[0]["w"] = params[0]["w"].at[0, 0].set(np.nan)
    state, meta = ckpt.state._replace(params=params), ckpt.meta["extra"]
    with monkeypatch.context() as patch:  # written as a jaxmlp whose save did not check wrote it
        patch.setattr(checkpoint, "verify", lambda *args, **kwargs: None)
        checkpoint.save(
            out / "checkpoint.npz", state, net=ckpt.net, optimizer=ckpt.optimizer,
            config=ckpt.config, extra=ckpt.extra, extra_meta=meta, run_id=ckpt.meta["run_id"],
        )  # fmt: skip
    np.savetxt(tmp_path / "x.csv", [[0.0, 1.0]], delimiter=",", header="x1,x2", comments="")
    inputs = ["--input", str(tmp_path / "x.csv")] if command == "predict" else []
    args = [command, str(out), *inputs]
    assert cli.main(args) == 2
    one_error("NaN or Inf")


@pytest.mark.slow
def test_the_retry_printed_on_divergence_runs_from_the_last_good_weights(
    tmp_path, capsys, one_error
):
    out = tmp_path / "run"
    args = ["--data", "sine", "--hidden", "4", "--optimizer", "sgd", "--lr", "10", "--epochs", "3"]
    assert cli.main(["train", *args, "--no-progress", "--out", str(out)]) == 3
    err = one_error("with a lower learning rate: jaxmlp train ")
    words = shlex.split(err.split("with a lower learning rate: ", 1)[1])
    assert words[:2] == ["jaxmlp", "train"] and "--lr" in words
    assert cli.main([*words[1:], "--no-progress"]) == 0  # lr 1 trains
    retry = pathlib.Path(words[words.index("--out") + 1])
    assert retry == tmp_path / "run-2"
    config = strict_json(retry / "config.json")
    assert config["settings"]["init_from"] == str(out.resolve())
    kept = checkpoint.load(out / "checkpoint.npz").state.params
    assert config["init_from_params_sha256"] == checkpoint.params_sha256(kept)
    assert config["settings"]["lr"] == 1.0


def test_init_from_a_run_of_another_architecture_exits_2(xor_run, tmp_path, capsys, one_error):
    args = ["train", "--data", "xor", "--hidden", "9", "--init-from", str(xor_run)]
    assert cli.main([*args, "--out", str(tmp_path / "run")]) == 2
    one_error("another architecture")
    assert not (tmp_path / "run").exists()


# -- fault injection -----------------------------------------------------------------------------

KILLS = 20
FAULT_RUN = [*XOR, "--epochs", "150", "--checkpoint-every", "1"]


@pytest.mark.slow
def test_runs_killed_at_random_moments_resume_to_the_uninterrupted_bits(tmp_path, env):
    """>= 20 SIGKILLs at random moments (seeded) of training and resuming, in a few run
    folders, each resumed until it finishes: each ends with the uninterrupted run's
    params_sha256, no temporary or lock file left, every JSON file valid, every epoch logged
    once."""
    reference = start("train", *FAULT_RUN, "--out", tmp_path / "reference", cwd=tmp_path, env=env)
    assert ended(reference) == 0, reference.err
    want = strict_json(tmp_path / "reference" / "summary.json")["params_sha256"]
    rng, kills, folders, killed_at = random.Random(16), 0, [], []
    while kills < KILLS:
        out = tmp_path / f"run{len(folders)}"
        folders.append(out)
        while True:
            resume = ["--resume"] if (out / "config.json").exists() else []
            process = start("train", *FAULT_RUN, *resume, "--out", out, cwd=tmp_path, env=env)
            if kills >= KILLS:  # enough: let it finish
                assert ended(process) == 0, process.err
                break
            if resume and rng.random() < 0.3:  # while it starts, loads and resumes (a new
                # folder's first kill is mid-run: on a loaded machine startup outlasts the delay)
                deadline = time.monotonic() + rng.uniform(1.0, 4.0)
                while process.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.005)
            else:  # while it trains and saves: once its log reaches a random epoch (a delay
                # would not do: 150 XOR epochs take ~0.5 s on an idle machine, several s loaded)
                target = rng.randint(min(_lines(out / "metrics.jsonl") + 1, 149), 149)
                while process.poll() is None and _lines(out / "metrics.jsonl") < target:
                    time.sleep(0.002)
            if process.poll() is not None:
                assert ended(process) == 0, process.err
                break  # finished before its kill
            process.kill()
            ended(process)
            kills += 1
            killed_at.append(saved_epoch(out))
    assert kills >= KILLS
    for out in folders:
        assert strict_json(out / "summary.json")["params_sha256"] == want, out
        names = [p.name for p in out.iterdir()]
        assert [n for n in names if n.endswith(".tmp") or n == ".lock"] == []
        for name in names:
            if name.endswith(".json"):
                strict_json(out / name)
        assert epochs_logged(out) == list(range(1, 151))
    assert len({e for e in killed_at if 0 < e < 150}) >= 2, killed_at  # kills mid-run


# -- a reader that has gone (jaxmlp train ... | head -1) -------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["train", *XOR, "--epochs", "300"], id="train"),
        pytest.param(["train", *XOR[:-1], "--epochs", "300"], id="train_progress"),
        pytest.param(["sweep", *XOR[:-1], "--epochs", "30", "--seeds", "2"], id="sweep"),
    ],
)
@pytest.mark.slow
def test_a_closed_stdout_loses_no_run_and_gives_one_line(args, tmp_path, env):
    """stdout a pipe whose reader has gone (``| head -1`` once it has its line): a write failed
    (EPIPE) and the command stopped with exit 2 and "error: [Errno 32] Broken pipe": a run
    with progress lines at its first epoch (the epoch unsaved), one without once finished (its
    summary written), a sweep after its first chunk. Now the output goes quiet, one warning line
    says so on stderr, and the run ends as without the pipe (exit 0, every epoch)."""
    read, write = os.pipe()
    os.close(read)  # the reader has gone before the first line
    out = tmp_path / "run"
    try:
        process = subprocess.run(
            [sys.executable, "-m", "jaxmlp", *args, "--out", str(out)], stdout=write,
            stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env, timeout=300,
        )  # fmt: skip
    finally:
        os.close(write)
    assert process.returncode == 0, process.stderr
    assert process.stderr.count("\n") == 1, process.stderr
    assert process.stderr.startswith("warning: stdout was closed"), process.stderr
    summary = strict_json(out / "summary.json")
    if args[0] == "train":
        assert (summary["status"], summary["epochs"]) == ("finished", 300)
        assert epochs_logged(out) == list(range(1, 301))
    else:
        assert len((out / "members.jsonl").read_text().splitlines()) == 2


@pytest.mark.slow
def test_a_run_without_stdout_trains_silently(tmp_path, env):
    """stdout closed from the start (``>&-``, as a daemon's): Python's sys.stdout is None, and
    the progress display's ``isatty`` raised AttributeError: a traceback, exit 1, the folder left
    with its config.json alone. Now there is nothing to show: the run trains, exit 0."""
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "jaxmlp",
        "train",
        *XOR[:-1],
        "--epochs",
        "30",
        "--out",
        str(out),
    ]
    process = subprocess.run(  # the shell closes it: a preexec_fn forks a threaded pytest
        ["sh", "-c", 'exec "$0" "$@" >&-', *command],
        stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env, timeout=300,
    )  # fmt: skip
    assert (process.returncode, process.stderr) == (0, "")
    assert strict_json(out / "summary.json")["epochs"] == 30
