"""Checkpoints (issue 10): the whole TrainState round-trips bitwise through plain arrays; a
resumed fit ends where an uninterrupted one does; writes are atomic; untrusted files (truncated,
foreign, pickled, for another architecture or optimizer) give a ValueError, never code."""

import io
import json
import os
import pathlib
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxmlp
from jaxmlp import MLP, Optimizer, TrainConfig, TrainState, atomic, checkpoint, fit

NET = MLP((2, 5, 3, 1), ("tanh", "prelu"), "sigmoid", "bce")
OPT = Optimizer("adam", lr=1e-2)
CONFIG = TrainConfig(epochs=6, batch_size=8, seed=3, early_stopping=4)


def moons(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2)).astype(np.float32)
    t = (x[:, :1] * x[:, 1:] > 0).astype(np.float32)
    return x, t


def state_after(epochs, config=CONFIG):
    """A TrainState with everything set: trained params, Adam moments, best params."""
    x, t = moons()
    x_val, t_val = moons(16, seed=1)
    cfg = TrainConfig(**{**config.__dict__, "epochs": epochs})
    return fit(NET, x, t, OPT, cfg, x_val=x_val, t_val=t_val).state


def leaves(tree):
    return [np.asarray(a) for a in jax.tree.leaves(tree)]


def assert_same_state(a: TrainState, b: TrainState):
    for name in ("params", "opt_state", "best_params"):
        la, lb = leaves(getattr(a, name)), leaves(getattr(b, name))
        assert len(la) == len(lb), name
        for x, y in zip(la, lb):
            assert x.dtype == y.dtype and x.shape == y.shape, name
            assert x.tobytes() == y.tobytes(), name
    assert jax.tree.structure(a.opt_state) == jax.tree.structure(b.opt_state)
    assert (a.epoch, a.best_val_loss, a.bad_epochs) == (b.epoch, b.best_val_loss, b.bad_epochs)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "checkpoint.npz"
    state = state_after(3)
    extra = {"mean": np.arange(2, dtype=np.float32)}
    checkpoint.save(path, state, net=NET, optimizer=OPT, config=CONFIG, extra=extra)
    return path, state


@pytest.mark.slow
def test_round_trip_is_bitwise(saved):
    path, state = saved
    ckpt = checkpoint.load(path, net=NET, optimizer=OPT)
    assert state.best_params is not None  # the test covers the early-stopping arrays
    assert_same_state(ckpt.state, state)
    assert (ckpt.net, ckpt.optimizer, ckpt.config) == (NET, OPT, CONFIG)
    np.testing.assert_array_equal(ckpt.extra["mean"], [0, 1])
    meta = ckpt.meta
    assert meta["format"] == checkpoint.FORMAT and meta["version"] == checkpoint.VERSION
    assert meta["epoch"] == 3 and meta["rng"]["seed"] == 3 and meta["dtype"] == "float32"
    assert meta["params_sha256"] == checkpoint.params_sha256(state.params)


def test_load_without_net_rebuilds_it(saved):
    path, _ = saved
    assert checkpoint.load(path).net == NET


def test_final_params_are_the_best_ones_with_early_stopping(saved):
    path, state = saved
    ckpt = checkpoint.load(path)
    assert checkpoint.params_sha256(ckpt.final_params) == checkpoint.params_sha256(
        state.best_params
    )


@pytest.mark.parametrize(
    "n, drop_last, weighted",
    [
        (64, False, False),
        (61, False, False),
        pytest.param(61, True, False, marks=pytest.mark.slow),
        pytest.param(61, False, True, marks=pytest.mark.slow),
    ],
    ids=["whole-batches", "partial-last-batch", "drop-last", "sample-weights"],
)
def test_resumed_fit_is_bitwise_the_uninterrupted_one(tmp_path, n, drop_last, weighted):
    """Stop after epoch 2 (the callback saves and stops), load, finish: same bits as 6 epochs
    in one go, best parameters and Adam state included; also with a short last batch (61 = 7 x
    8 + 5), with it dropped, and with sample weights (given again on resume, like the data)."""
    x, t = moons(n)
    x_val, t_val = moons(16, seed=1)
    config = TrainConfig(**{**CONFIG.__dict__, "drop_last": drop_last})
    s = np.arange(n) % 3 if weighted else None
    whole = fit(NET, x, t, OPT, config, x_val=x_val, t_val=t_val, sample_weight=s)
    path = tmp_path / "c.npz"

    def stop_at_2(record, state):
        if state.epoch == 2:
            checkpoint.save(path, state, net=NET, optimizer=OPT, config=config)
            return True
        return False

    fit(NET, x, t, OPT, config, x_val=x_val, t_val=t_val, callback=stop_at_2, sample_weight=s)
    loaded = checkpoint.load(path, net=NET, optimizer=OPT)
    assert loaded.state.epoch == 2 and loaded.config == config
    resumed = fit(
        NET, x, t, OPT, loaded.config, x_val=x_val, t_val=t_val, state=loaded.state, sample_weight=s
    )
    assert_same_state(resumed.state, whole.state)
    assert checkpoint.params_sha256(resumed.params) == checkpoint.params_sha256(whole.params)


@pytest.mark.slow
def test_a_checkpoint_saved_before_drop_last_existed_resumes_dropping(tmp_path):
    """A checkpoint whose train config lacks ``drop_last`` was trained dropping the last
    ``n mod batch_size`` examples: it loads with ``drop_last=True`` (not today's default, which
    would silently change the resumed run), and its config digest is the one it was saved with."""
    config = TrainConfig(**{**CONFIG.__dict__, "drop_last": True})
    path = tmp_path / "c.npz"
    checkpoint.save(path, state_after(2, config), net=NET, optimizer=OPT, config=config)
    meta = meta_of(path) | {"version": 2}  # of the jaxmlp before drop_last: no state_sha256
    del meta["train"]["drop_last"]
    old = rewrite(path, tmp_path / "old.npz", meta=meta, drop=("state_sha256",))
    assert "drop_last" not in meta_of(old)["train"]
    assert checkpoint.load(old, net=NET, optimizer=OPT).config.drop_last is True
    new = TrainConfig(**{**CONFIG.__dict__, "drop_last": False})
    assert checkpoint.config_sha256(NET, OPT, new) != checkpoint.config_sha256(NET, OPT, config)


def test_a_checkpoint_with_settings_now_refused_loads_them_at_their_defaults(tmp_path):
    # tests/data/old_runs/README.md: adam with a momentum and a constant schedule's decay,
    # dropout without hidden layers, saved when Optimizer and MLP accepted and ignored them.
    # They never acted: the checkpoint loads with them at their defaults, its digest holds.
    old = pathlib.Path(__file__).parent / "data" / "old_runs" / "ignored_settings"
    ckpt = checkpoint.load(old / "checkpoint.npz")
    assert ckpt.optimizer == Optimizer("adam", lr=0.01)
    assert ckpt.net == MLP((2, 1), "tanh", "identity", "sse")
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    predicted = jaxmlp.load_run(old).predict(x)  # as the writing jaxmlp predicted
    np.testing.assert_allclose(predicted, [0.01998926, 0.10894478, 0.80025995, 0.88921547])
    edited = meta_of(old / "checkpoint.npz")["optimizer"] | {"momentum": 0.5}
    with pytest.raises(ValueError, match="do not match their recorded digest"):
        checkpoint.load(
            rewrite(old / "checkpoint.npz", tmp_path / "c.npz", meta={"optimizer": edited})
        )


def test_params_sha256_sees_one_bit():
    params = NET.init(jax.random.key(0))
    flipped = [dict(layer) for layer in params]
    w = np.asarray(flipped[1]["w"]).copy()
    w.view(np.uint32)[0, 0] ^= 1  # the last bit of one weight
    flipped[1]["w"] = jnp.asarray(w)
    assert checkpoint.params_sha256(params) != checkpoint.params_sha256(flipped)
    assert checkpoint.params_sha256(params) == checkpoint.params_sha256(NET.init(jax.random.key(0)))


def test_float64_checkpoints_need_x64(tmp_path):
    path = tmp_path / "c64.npz"
    with jax.enable_x64(True):
        net = MLP((2, 3, 1), "tanh", "identity", "sse")
        params = net.init(jax.random.key(0), jnp.float64)
        state = TrainState(params, OPT.build(1).init(params), 1)
        checkpoint.save(path, state, net=net, optimizer=OPT, config=TrainConfig(dtype="float64"))
        assert checkpoint.load(path).state.params[0]["w"].dtype == jnp.float64
    with pytest.raises(ValueError, match="float64.*enable_x64"):
        checkpoint.load(path)


# -- atomic writes ---------------------------------------------------------------------------------


def test_a_failed_write_keeps_the_old_checkpoint(saved, tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.npz"
    path.write_bytes(saved[0].read_bytes())
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(path, saved[1]._replace(epoch=4), net=NET, optimizer=OPT, config=CONFIG)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.npz"]  # no temp file left


def test_a_write_into_a_missing_folder_names_the_file_not_its_temporary(tmp_path):
    # mkstemp's error named the temporary: "No such file or directory: '.../gone/.x.json.
    # k2j4h1bq.tmp'", a file the user never named (a run folder removed while it trained)
    path = tmp_path / "gone" / "x.json"
    with pytest.raises(FileNotFoundError) as error:
        atomic.write_atomic(path, "{}")
    assert error.value.filename == str(path) and ".tmp" not in str(error.value)


def test_write_atomic_respects_the_umask(tmp_path):
    path = tmp_path / "x.json"
    atomic.write_atomic(path, "{}")
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
    assert path.read_text() == "{}"


# -- untrusted files -------------------------------------------------------------------------------


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def meta_of(path) -> dict:
    with np.load(path) as archive:
        return json.loads(archive[checkpoint.META].tobytes())


def rewrite(path, out, drop=(), **changes):
    """A copy of the checkpoint at ``path`` with some metadata changed or arrays replaced, and
    the metadata fields ``drop`` left out."""
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = meta_of(path) | changes.pop("meta", {})
    meta = {k: v for k, v in meta.items() if k not in drop}
    arrays |= changes
    arrays[checkpoint.META] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    out.write_bytes(npz_bytes(**arrays))
    return out


class Payload:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


BAD_CHECKPOINTS = {
    "missing": (lambda p, tmp: tmp / "nope.npz", "no such checkpoint"),
    "empty": (lambda p, tmp: _write(tmp / "e.npz", b""), "not a readable jaxmlp checkpoint"),
    "text": (lambda p, tmp: _write(tmp / "t.npz", b"hello"), "not a readable jaxmlp checkpoint"),
    "truncated": (
        lambda p, tmp: _write(tmp / "h.npz", p.read_bytes()[: len(p.read_bytes()) // 2]),
        "truncated",
    ),
    "one byte short": (
        lambda p, tmp: _write(tmp / "s.npz", p.read_bytes()[:-1]),
        "not a readable jaxmlp checkpoint",
    ),
    "flipped byte": (lambda p, tmp: _flip(p, tmp / "f.npz"), "not a readable jaxmlp checkpoint"),
    "npy": (lambda p, tmp: _npy(tmp / "a.npz"), "not a readable jaxmlp checkpoint"),
    "foreign npz": (
        lambda p, tmp: _write(tmp / "x.npz", npz_bytes(x=np.zeros(3))),
        "not a jaxmlp checkpoint",
    ),
    "bad json": (
        lambda p, tmp: _write(tmp / "j.npz", npz_bytes(__jaxmlp__=np.frombuffer(b"{", np.uint8))),
        "corrupt checkpoint metadata",
    ),
    "other format": (lambda p, tmp: rewrite(p, tmp / "o.npz", meta={"format": "x"}), "format"),
    "newer version": (lambda p, tmp: rewrite(p, tmp / "v.npz", meta={"version": 99}), "newer"),
    "bad epoch": (lambda p, tmp: rewrite(p, tmp / "b.npz", meta={"epoch": -1}), "epoch"),
    "wrong shape": (
        lambda p, tmp: rewrite(p, tmp / "w.npz", **{"params/0/w": np.zeros((3, 5), np.float32)}),
        "do not fit the saved architecture",
    ),
    "opt_state shape": (
        lambda p, tmp: rewrite(p, tmp / "m.npz", **{"opt_state/1": np.zeros(7, np.float32)}),
        "optimizer state does not fit",
    ),
    # issue 16: a checkpoint verifies itself on every load
    "altered params": (
        lambda p, tmp: rewrite(p, tmp / "a.npz", **{"params/0/w": _nudged(p, "params/0/w")}),
        "do not match their recorded SHA-256",
    ),
    "altered hash": (
        lambda p, tmp: rewrite(p, tmp / "h2.npz", meta={"params_sha256": "0" * 64}),
        "do not match their recorded SHA-256",
    ),
    "epoch past the run": (
        lambda p, tmp: rewrite(p, tmp / "e99.npz", meta={"epoch": 99}),
        "epoch 99 is past the run's length of 6 epochs",
    ),
    "nan params": (
        lambda p, tmp: rewrite(p, tmp / "n.npz", **{"params/1/b": np.full(3, np.nan, np.float32)}),
        "params/1/b holds 3 NaN or Inf",
    ),
    "inf best params": (
        lambda p, tmp: rewrite(
            p, tmp / "i.npz", **{"best_params/2/b": np.full(1, np.inf, np.float32)}
        ),
        "best_params/2/b holds 1 NaN or Inf",
    ),
    "nan optimizer state": (
        lambda p, tmp: rewrite(p, tmp / "o2.npz", **{"opt_state/1": _nan_like(p, "opt_state/1")}),
        "opt_state/1 holds",
    ),
    "int params": (
        lambda p, tmp: rewrite(p, tmp / "int.npz", **{"params/0/w": np.zeros((2, 5), np.int32)}),
        "params/0/w has dtype int32; parameters of a float32 run are float32",
    ),
    "complex params": (
        lambda p, tmp: rewrite(p, tmp / "c.npz", **{"params/0/b": np.zeros(5, np.complex64)}),
        "params/0/b has dtype complex64",
    ),
    "altered settings": (
        lambda p, tmp: rewrite(p, tmp / "lr.npz", meta={"optimizer": _other_lr(p)}),
        "do not match their recorded digest",
    ),
    "forged npy header": (lambda p, tmp: _forged(p, tmp / "big.npz"), r"claims shape \(10+,\)"),
}


def _nudged(path, name):
    with np.load(path) as archive:
        return np.nextafter(archive[name], np.float32(np.inf))


def _nan_like(path, name):
    with np.load(path) as archive:
        return np.full_like(archive[name], np.nan)


def _other_lr(path):
    return meta_of(path)["optimizer"] | {"lr": 0.5}


def _forged(path, out):
    """A copy whose params/0/w member claims 10^15 float32 (4 PB) in a few bytes."""
    forged = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        forged, {"descr": "<f4", "fortran_order": False, "shape": (10**15,)}
    )
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(
                info, forged.getvalue() + b"0000" if info.filename == "params/0/w.npy" else data
            )
    return out


def _write(path, data):
    path.write_bytes(data)
    return path


def _flip(path, out):
    """A copy with one byte flipped inside an array's bytes (the zip CRC catches it; a fixed
    offset into the file moved with the metadata's length, into header fields zipfile skips)."""
    data = bytearray(path.read_bytes())
    info = zipfile.ZipFile(path).getinfo("params/0/w.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + info.compress_size - 4] ^= 0xFF
    return _write(out, bytes(data))


def _npy(path):
    with open(path, "wb") as f:
        np.save(f, np.zeros(3))
    return path


@pytest.mark.parametrize("case", BAD_CHECKPOINTS)
def test_bad_checkpoints_are_value_errors(case, saved, tmp_path):
    make, message = BAD_CHECKPOINTS[case]
    bad = make(saved[0], tmp_path)
    with pytest.raises(ValueError, match=message) as error:
        checkpoint.load(bad, net=NET)
    assert str(bad) in str(error.value)  # names the file


def test_another_architecture_is_named(saved):
    other = NET.replace(sizes=(2, 6, 3, 1))
    with pytest.raises(ValueError, match=r"another architecture: sizes \[2, 5, 3, 1\]"):
        checkpoint.load(saved[0], net=other)


def test_another_optimizer_structure_is_refused(saved):
    with pytest.raises(ValueError, match="does not fit optimizer 'sgd'"):
        checkpoint.load(saved[0], optimizer=Optimizer("sgd"))


def test_a_pickle_inside_is_never_run(saved, tmp_path):
    marker = tmp_path / "pwned"
    payload = np.array([Payload(marker)], dtype=object)
    path = rewrite(saved[0], tmp_path / "p.npz", **{"extra/evil": payload})
    with zipfile.ZipFile(path) as z:  # the payload is really in there
        assert "extra/evil.npy" in z.namelist()
    with pytest.raises(ValueError, match="not a readable jaxmlp checkpoint"):
        checkpoint.load(path)
    assert not marker.exists()


# -- the run a checkpoint belongs to (issue 16) ----------------------------------------------------


def test_a_checkpoint_of_another_run_is_refused(saved, tmp_path):
    path = tmp_path / "c.npz"
    run = checkpoint.run_identity(NET, OPT, CONFIG, "data-sha")
    checkpoint.save(path, saved[1], net=NET, optimizer=OPT, config=CONFIG, run_id=run)
    assert checkpoint.load(path, run_id=run).meta["run_id"] == run
    other = checkpoint.run_identity(NET, Optimizer("adam", lr=0.5), CONFIG, "data-sha")
    with pytest.raises(ValueError, match="checkpoint of another run") as error:
        checkpoint.load(path, run_id=other)
    assert str(path) in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(ValueError, match="run id None, expected"):  # saved without an id
        checkpoint.load(saved[0], run_id=run)


def test_the_run_identity_ignores_only_the_length_of_the_run():
    base = checkpoint.run_identity(NET, OPT, CONFIG, "d")
    longer = TrainConfig(**{**CONFIG.__dict__, "epochs": 60})
    assert checkpoint.run_identity(NET, OPT, longer, "d") == base  # an extended run
    other_seed = TrainConfig(**{**CONFIG.__dict__, "seed": 4})
    others = [
        checkpoint.run_identity(NET, OPT, CONFIG, "e"),
        checkpoint.run_identity(NET, Optimizer("adam", lr=1e-3), CONFIG, "d"),
        checkpoint.run_identity(NET, OPT, other_seed, "d"),
        checkpoint.run_identity(NET.replace(dropout=0.1), OPT, CONFIG, "d"),
    ]
    assert base not in others and len(set(others)) == len(others)


def test_max_epoch_bounds_the_epoch(saved):
    assert checkpoint.load(saved[0], max_epoch=3).state.epoch == 3
    with pytest.raises(ValueError, match="epoch 3 is past the run's length of 2 epochs"):
        checkpoint.load(saved[0], max_epoch=2)


def test_stale_temporaries_of_killed_writes_are_removed(saved, tmp_path):
    path = tmp_path / "checkpoint.npz"
    checkpoint.save(path, saved[1], net=NET, optimizer=OPT, config=CONFIG)
    stale = [tmp_path / ".checkpoint.npz.abc123.tmp", tmp_path / ".summary.json.x.tmp"]
    for p in stale:
        p.write_bytes(b"half")
    (tmp_path / "notes.tmp").write_text("mine")  # not a write_atomic temporary
    assert atomic.remove_stale_temporaries(tmp_path) == sorted(stale)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.npz", "notes.tmp"]
    assert checkpoint.load(path).state.epoch == 3


@pytest.mark.slow
def test_a_resume_with_other_sample_weights_or_none_is_refused(tmp_path):
    """The sample weights a run trains on are part of it: its state and checkpoint record their
    SHA-256, and resuming with other weights, with none, or with weights where it had none is
    refused (all-ones weights are not the unweighted run: a mean reduction's bits differ)."""
    x, t = moons(61)
    config = TrainConfig(**{**CONFIG.__dict__, "early_stopping": None})
    s = np.arange(61) % 3

    def saved_at_2(weights):
        path = tmp_path / f"{weights is None}.npz"

        def stop_at_2(record, state):
            checkpoint.save(path, state, net=NET, optimizer=OPT, config=config)
            return state.epoch == 2

        fit(NET, x, t, OPT, config, callback=stop_at_2, sample_weight=weights)
        return checkpoint.load(path, net=NET, optimizer=OPT).state

    weighted, unweighted = saved_at_2(s), saved_at_2(None)
    for state, other in [(weighted, s[::-1]), (weighted, None), (unweighted, np.ones(61))]:
        with pytest.raises(ValueError, match="sample_weight.*differ"):
            fit(NET, x, t, OPT, config, state=state, sample_weight=other)
    resumed = fit(NET, x, t, OPT, config, state=weighted, sample_weight=list(s.astype(float)))
    assert resumed.state.epoch == config.epochs
    assert resumed.state.sample_weight_sha256 == weighted.sample_weight_sha256
    assert jax.tree.map(jnp.copy, weighted).sample_weight_sha256 == weighted.sample_weight_sha256


@pytest.mark.parametrize("name", ["lbfgs", "cg"])
def test_a_solver_state_saved_as_a_tree_says_it_is_from_an_older_jaxmlp(
    name, tmp_path, monkeypatch
):
    """lbfgs and cg once kept their state per layer's array; now as one flat vector. Such a
    checkpoint is refused, saying why: the state layout changed, not that it is corrupt. (It is
    written as the older jaxmlp wrote it, without the check save now makes.)"""
    from jaxmlp import line_search

    net = MLP((2, 3, 1), "tanh", "identity", "mse")
    params = net.init(jax.random.key(0))
    cg = optax.chain(line_search.polak_ribiere(), line_search.linesearch())
    old = (optax.lbfgs() if name == "lbfgs" else cg).init(params)
    finite = lambda a: jnp.nan_to_num(a, posinf=0.0) if jnp.isdtype(a.dtype, "real floating") else a  # noqa: E731
    old = jax.tree.map(finite, old)  # the +inf "best value so far" is finite after a step
    path = tmp_path / f"{name}.npz"
    opt = Optimizer(name)
    state = TrainState(params, old, 1)
    monkeypatch.setattr(checkpoint, "verify", lambda *args, **kwargs: None)
    checkpoint.save(path, state, net=net, optimizer=opt, config=TrainConfig(batch_size="full"))
    monkeypatch.undo()
    with pytest.raises(ValueError, match=f"{name}.*older jaxmlp.*layout changed"):
        checkpoint.load(path, net=net, optimizer=opt)
