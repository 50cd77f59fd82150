"""Files planted in a run folder, or archives built to hurt, as a folder received from someone
else may hold them: a ``.lock`` that is a symbolic link to another file (a resume wrote its pid
over that file), a FIFO where a run keeps ``.lock``, ``summary.json`` or ``metrics.jsonl``
(readers waited on it forever), and an .npz member compressed with bzip2 (400 bytes unpacked to
200 MB: numpy writes stored or deflated members only). Each test failed on the code before its
fix."""

import contextlib
import io
import os
import signal
import zipfile
from types import SimpleNamespace

import numpy as np
import pytest

from jaxmlp import (
    MLP,
    checkpoint,
    cli,
    files,
    load_run,
)
from jaxmlp.run import folder

NET = MLP((2, 3, 1), "tanh", "sigmoid", "bce")


class Blocked(Exception):
    """Not an OSError (as TimeoutError is), which the readers under test may catch."""


@contextlib.contextmanager
def deadline(seconds=20):
    """``Blocked`` where the body blocks longer than ``seconds`` (a read of a FIFO)."""

    def expired(signum, frame):
        raise Blocked(f"blocked over {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_lock_that_links_to_another_file_is_refused_and_the_file_kept(tmp_path):
    # the lock opened .lock through the link and wrote "pid N on HOST" over its target (a
    # resume of a received run folder emptied the file the link named)
    out = tmp_path / "run"
    out.mkdir()
    victim = tmp_path / "notes.txt"
    victim.write_text("precious\n")
    (out / ".lock").symlink_to(victim)
    with (
        pytest.raises(ValueError, match=r"\.lock: not a regular file .*remove it"),
        folder.lock(out),
    ):
        pass
    assert victim.read_text() == "precious\n"
    (out / ".lock").unlink()
    (out / ".lock").symlink_to(tmp_path / "gone")  # a dangling link: its target was created
    with pytest.raises(ValueError, match=r"\.lock: not a regular file"), folder.lock(out):
        pass
    assert not (tmp_path / "gone").exists()


def test_a_lock_that_is_a_hard_link_to_another_file_is_refused_and_the_file_kept(tmp_path):
    # a regular file, so not refused as a symbolic link is: its other name lost its contents
    out = tmp_path / "run"
    out.mkdir()
    victim = tmp_path / "notes.txt"
    victim.write_text("precious\n")
    os.link(victim, out / ".lock")
    with pytest.raises(ValueError, match=r"\.lock: .*hard link"), folder.lock(out):
        pass
    assert victim.read_text() == "precious\n"


def test_a_resume_through_a_planted_lock_link_exits_2_and_keeps_the_file(
    tmp_path, capsys, unfinished_run
):
    out = unfinished_run
    victim = tmp_path / "notes.txt"
    victim.write_text("precious\n")
    (out / ".lock").symlink_to(victim)
    argv = ["train", "--out", str(out), "--resume", "--no-progress"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ".lock: not a regular file" in err, err
    assert victim.read_text() == "precious\n"


@pytest.mark.parametrize("name", [".lock", "summary.json"])
def test_a_fifo_in_a_run_folder_is_not_waited_on(name, tmp_path, unfinished_run):
    # load_run, evaluate and predict of an unfinished run read .lock and summary.json to say
    # how it stands: a FIFO there blocked them forever
    out = unfinished_run
    os.mkfifo(out / name)
    with deadline():
        assert load_run(out).status == "interrupted"
    if name == ".lock":
        with pytest.raises(ValueError, match=r"\.lock: not a regular file"), folder.lock(out):
            pass


def test_a_fifo_as_a_run_file_is_named_not_read(tmp_path, unfinished_run):
    out = unfinished_run
    os.mkfifo(tmp_path / "metrics.jsonl")
    with deadline(), pytest.raises(ValueError, match=r"metrics.jsonl: not a regular file"):
        folder.read_metrics(tmp_path / "metrics.jsonl", 2)
    (out / "config.json").rename(tmp_path / "config.json")
    os.mkfifo(out / "config.json")
    with deadline():
        with pytest.raises(ValueError, match=r"config.json: not a regular file"):
            folder.read_json(out / "config.json")
        with pytest.raises(ValueError, match="not a jaxmlp run folder"):
            load_run(out)


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_checkpoint_that_is_no_file_is_named_so(kind, tmp_path, capsys, unfinished_run):
    # a FIFO or a folder named checkpoint.npz was "no such checkpoint file": it is there
    out = unfinished_run
    (out / "checkpoint.npz").unlink()
    os.mkfifo(out / "checkpoint.npz") if kind == "fifo" else (out / "checkpoint.npz").mkdir()
    says = "not a regular file" if kind == "fifo" else "a folder, not a file"
    with deadline(), pytest.raises(ValueError, match=f"checkpoint.npz: {says}"):
        load_run(out)
    with deadline(), pytest.raises(ValueError, match=f"checkpoint.npz: {says}"):
        checkpoint.read_meta(out / "checkpoint.npz")


def _bzip2_npz(n: int) -> bytes:
    """An .npz whose x.npy member, ``n`` float32 zeros, is compressed with bzip2."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (n,)}
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("x.npy")
        info.compress_type = zipfile.ZIP_BZIP2
        with archive.open(info, "w", force_zip64=True) as member:
            member.write(header.getvalue())
            member.write(bytes(4 * n))
    return buffer.getvalue()


def test_an_npz_member_compressed_otherwise_than_numpy_writes_is_refused(tmp_path):
    # bzip2 unpacks ~500000 to 1 (deflate at most ~1000 to 1): a 400-byte file claiming 200 MB
    # of zeros was read into 200 MB, past every check of the header's size
    path = tmp_path / "bz2.npz"
    path.write_bytes(_bzip2_npz(1000))
    message = r"bz2.npz: .*array 'x' uses compression method 12 \(bzip2\)"
    for read in (files.read_array, checkpoint.read_meta):
        with pytest.raises(ValueError, match=message):
            read(path)
    np.savez_compressed(tmp_path / "ok.npz", x=np.arange(4.0))  # deflated, as numpy writes
    np.testing.assert_array_equal(files.read_array(tmp_path / "ok.npz"), np.arange(4.0))


@pytest.mark.parametrize("mode", [0o777, 0o770], ids=["0o777", "0o770"])
def test_a_compile_cache_folder_others_may_write_is_refused(mode, tmp_path, monkeypatch, capsys):
    # JAX runs the compiled programs it finds in the cache folder: one that others may write
    # (JAXMLP_COMPILE_CACHE=/tmp/shared) was used as it was, so anyone could plant the programs
    # a run computes with
    from jaxmlp.run import cache

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(mode)
    monkeypatch.setenv(cache.ENV, str(shared))
    updates = []
    monkeypatch.setattr(cache, "jax", SimpleNamespace(config=SimpleNamespace(
        update=lambda *args: updates.append(args))))  # fmt: skip
    with pytest.raises(ValueError, match=rf"{shared}: .*writable by others .*chmod go-w"):
        cache.enable()
    assert updates == []
    assert cli.main(["predict", str(tmp_path), "--input", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "writable by others" in err, err
    shared.chmod(0o755)  # the owner's alone to write: used
    assert cache.enable() == shared and updates


def _npy(shape, descr="<f4", data=b"") -> bytes:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return header.getvalue() + data


def test_a_sweep_chunk_whose_header_claims_terabytes_is_not_readable(tmp_path):
    # chunks.read used np.load, not npz.read: a 300-byte chunk claiming 2**40 floats raised
    # MemoryError ("Unable to allocate 4.00 TiB"), a traceback with exit 1 on resume
    from jaxmlp.run import chunks

    path = tmp_path / "00000.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("records.npy", _npy((2**40,)))
        for name in ("identity", "sha256"):
            archive.writestr(f"{name}.npy", _npy((), "<U1", "x".encode("utf-32-le")))
    with pytest.raises(ValueError, match=r"00000.npz: not a readable chunk .*header claims"):
        chunks.read(path, [], 0, "x")
    path.unlink()
    os.mkfifo(path)
    with deadline(), pytest.raises(ValueError, match=r"00000.npz: not a readable chunk"):
        chunks.read(path, [], 0, "x")
