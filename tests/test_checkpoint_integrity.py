"""A checkpoint's whole state is verified (``state_sha256``), not only its parameters: edited
best parameters (what an early-stopping run hands back), optimizer state or early-stopping
fields are refused, never used. ``save`` refuses what ``load`` would refuse, writing nothing.
A run whose schedule spans its length cannot be extended by hand-editing config.json's
``extended_from``.
"""

import dataclasses
import json

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

from jaxmlp import MLP, Optimizer, TrainConfig, TrainState, checkpoint, cli, fit

NET = MLP((2, 5, 1), "tanh", "sigmoid", "bce")
OPT = Optimizer("momentum", lr=0.1, momentum=0.9)
CONFIG = TrainConfig(epochs=6, batch_size=8, seed=3, early_stopping=2)


def state(epoch=3, params=None, best=None, opt_state=None):
    """A state with everything set: params, best params, a non-zero momentum, early stopping."""
    params = NET.init(jax.random.key(0)) if params is None else params
    best = NET.init(jax.random.key(1)) if best is None else best
    if opt_state is None:
        moved = lambda a: a + 0.25 if jnp.issubdtype(a.dtype, jnp.floating) else a + 2  # noqa: E731
        opt_state = jax.tree.map(moved, OPT.build(1).init(params))
    return TrainState(params, opt_state, epoch, best, 0.5, 1)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("integrity") / "checkpoint.npz"
    checkpoint.save(path, state(), net=NET, optimizer=OPT, config=CONFIG)
    return path


def rewrite(path, out, drop=(), meta=None, **arrays):
    """A copy of the checkpoint at ``path`` (valid zip CRCs) with metadata fields changed
    (``meta``) or left out (``drop``), or arrays replaced."""
    with np.load(path) as archive:
        contents = {k: archive[k] for k in archive.files}
    old = json.loads(contents.pop(checkpoint.META).tobytes())
    new = {k: v for k, v in (old | (meta or {})).items() if k not in drop}
    contents |= arrays
    contents[checkpoint.META] = np.frombuffer(json.dumps(new).encode(), np.uint8)
    np.savez(out, **contents)
    return out


def array(path, name):
    with np.load(path) as archive:
        return archive[name]


EDITS = {
    # D1: the parameters evaluate, predict and load_run use after early stopping
    "best params zeroed": lambda p: {"best_params/1/w": array(p, "best_params/1/w") * 0},
    "best params dropped": lambda p: {"best_params/0/w": array(p, "params/0/w")},
    # D2: what a resume continues from
    "momentum": lambda p: {"opt_state/1": array(p, "opt_state/1") * 0 + 1.0},
    "best_val_loss": lambda p: {"meta": {"best_val_loss": 0.0}},
    "bad_epochs": lambda p: {"meta": {"bad_epochs": 0}},
    "rng": lambda p: {"meta": {"rng": {"seed": 3, "next_epoch": 2, "rule": "edited"}}},
    "sample weights": lambda p: {"meta": {"sample_weight_sha256": "0" * 64}},
    "digest stripped": lambda p: {"drop": ("state_sha256",)},
}


@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS)
def test_an_edited_state_field_is_refused(edit, saved, tmp_path):
    assert checkpoint.load(saved).state.bad_epochs == 1  # the original loads
    bad = rewrite(saved, tmp_path / "edited.npz", **edit(saved))
    with pytest.raises(ValueError, match="state_sha256") as error:
        checkpoint.load(bad)
    assert str(bad) in str(error.value) and "\n" not in str(error.value)


def test_a_checkpoint_from_before_the_state_digest_loads_as_it_did(saved, tmp_path):
    """Version 2 files have no state_sha256: they load, their best parameters as saved (only
    the parameters' own digest checked, as before)."""
    old = rewrite(saved, tmp_path / "old.npz", drop=("state_sha256",), meta={"version": 2})
    ckpt = checkpoint.load(old, net=NET, optimizer=OPT)
    assert checkpoint.params_sha256(ckpt.final_params) == checkpoint.params_sha256(state()[3])
    assert (ckpt.state.epoch, ckpt.state.best_val_loss, ckpt.state.bad_epochs) == (3, 0.5, 1)
    wrong = rewrite(old, tmp_path / "wrong.npz", meta={"state_sha256": "0" * 64})
    with pytest.raises(ValueError, match="state_sha256"):  # present and wrong: refused
        checkpoint.load(wrong)


def _params(dtype):
    return [{k: np.asarray(a).astype(dtype) for k, a in layer.items()} for layer in state()[0]]


def _nan_params():
    params = _params(np.float32)
    params[1]["b"][0] = np.nan
    return params


UNLOADABLE = {
    "float16 params": (lambda: state(params=_params(np.float16)), CONFIG, "float16"),
    "bfloat16 params": (lambda: state(params=_params(ml_dtypes.bfloat16)), CONFIG, "bfloat16"),
    "float64 params, float32 run": (lambda: state(params=_params(np.float64)), CONFIG, "float64"),
    "epoch past the run": (lambda: state(epoch=9), CONFIG, "epoch 9 is past"),
    "sgd state under momentum": (
        lambda: state(opt_state=Optimizer("sgd").build(1).init(state()[0])),
        CONFIG,
        "does not fit optimizer 'momentum'",
    ),
    "nan params": (lambda: state(params=_nan_params()), CONFIG, "params/1/b holds 1 NaN"),
    "nan best params": (lambda: state(best=_nan_params()), CONFIG, "best_params/1/b holds 1"),
    "best params of another shape": (
        lambda: state(best=MLP((2, 4, 1), "tanh", "sigmoid", "bce").init(jax.random.key(0))),
        CONFIG,
        "best_params do not fit the saved architecture",
    ),
}


@pytest.mark.parametrize("case", UNLOADABLE.values(), ids=UNLOADABLE)
def test_save_refuses_what_load_would_refuse_and_writes_nothing(case, tmp_path):
    make, config, message = case
    path = tmp_path / "checkpoint.npz"
    with pytest.raises(ValueError, match=message) as error:
        checkpoint.save(path, make(), net=NET, optimizer=OPT, config=config)
    assert "cannot save" in str(error.value) and str(path) in str(error.value)
    assert list(tmp_path.iterdir()) == []


def test_a_bfloat16_checkpoint_is_refused_naming_bfloat16(tmp_path, monkeypatch):
    """.npy keeps bfloat16 as raw 2-byte values (|V2); load names what that likely is."""
    path = tmp_path / "checkpoint.npz"
    monkeypatch.setattr(checkpoint, "verify", lambda *args, **kwargs: None)  # an older save
    bf16 = state(params=_params(ml_dtypes.bfloat16))
    checkpoint.save(path, bf16, net=NET, optimizer=OPT, config=CONFIG)
    monkeypatch.undo()
    assert array(path, "params/0/w").dtype.kind == "V"
    with pytest.raises(ValueError, match=r"params/0/b has dtype \|V2 .*bfloat16"):
        checkpoint.load(path)


def test_a_state_of_jax_arrays_round_trips(tmp_path):
    """save's own check passes on every state it is given in the ordinary way."""
    path = tmp_path / "checkpoint.npz"
    s = state()._replace(params=jax.tree.map(jnp.asarray, state()[0]))
    checkpoint.save(path, s, net=NET, optimizer=OPT, config=CONFIG, extra={"m": np.zeros(2)})
    loaded = checkpoint.load(path, net=NET, optimizer=OPT)
    assert loaded.meta["state_sha256"] == checkpoint.state_sha256(
        loaded.meta, {k: v for k, v in np.load(path).items() if k != checkpoint.META}
    )


XOR = [
    "--data", "xor", "--hidden", "3", "--optimizer", "sgd", "--lr", "0.1",
    "--batch-size", "full", "--no-progress",
]  # fmt: skip


@pytest.mark.slow
def test_extended_from_added_by_hand_to_a_cosine_run_is_refused(tmp_path, fails):
    """A cosine schedule spans the run: --resume --epochs 4 is refused, and so is config.json
    given epochs 4 with the extended_from a resume of another schedule writes (it trained a
    trajectory that is neither the 2-epoch run nor a 4-epoch one)."""
    out = tmp_path / "run"
    assert (
        cli.main(["train", *XOR, "--schedule", "cosine", "--epochs", "2", "--out", str(out)]) == 0
    )
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    config = json.loads((out / "config.json").read_text())
    config["settings"]["epochs"] = config["train"]["epochs"] = 4
    config["extended_from"] = 2
    (out / "config.json").write_text(json.dumps(config))
    before["config.json"] = (out / "config.json").read_bytes()
    for argv in (["train", "--out", str(out), "--resume", "--no-progress"], ["evaluate", str(out)]):
        err = fails(argv)
        assert "config.json" in err and "extended_from 2" in err, err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize(
    "extra, named",
    [
        (np.array(["a", None], dtype=object), "object"),  # written with pickle, then unloadable
        (np.array([1.5, 2.0], dtype=ml_dtypes.bfloat16), "bfloat16"),  # read back as raw |V2
    ],
    ids=["object", "bfloat16"],
)
def test_save_refuses_extra_arrays_load_cannot_take_back(extra, named, tmp_path):
    # save wrote them: load then refused the file, an object array as "needs pickle", a
    # bfloat16 one as "altered or mixed from two checkpoints" (its digest of a |V2 array)
    path = tmp_path / "checkpoint.npz"
    with pytest.raises(ValueError, match=rf"cannot save .*extra/m has dtype .*{named}") as error:
        checkpoint.save(path, state(), net=NET, optimizer=OPT, config=CONFIG, extra={"m": extra})
    assert "nothing was written" in str(error.value)
    assert list(tmp_path.iterdir()) == []
    text = np.array(["x", "yy"])  # numbers and strings round-trip
    checkpoint.save(path, state(), net=NET, optimizer=OPT, config=CONFIG, extra={"m": text})
    np.testing.assert_array_equal(checkpoint.load(path).extra["m"], text)


@pytest.mark.slow
def test_a_loaded_state_keeps_the_step_count_a_cosine_schedule_spans(tmp_path):
    # checkpoint.load gave run_steps None, which check_resume cannot check: a cosine run
    # resumed from its checkpoint with another batch size ran its schedule over other steps
    x = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
    t = (x[:, :1] > 0).astype(np.float32)
    opt, config = Optimizer("sgd", lr=0.1, schedule="cosine"), TrainConfig(epochs=4, batch_size=16)
    path = tmp_path / "checkpoint.npz"

    def save_at_two(record, s):
        if s.epoch == 2:
            checkpoint.save(path, s, net=NET, optimizer=opt, config=config)
            return True
        return False

    fit(NET, x, t, opt, config, callback=save_at_two)
    loaded = checkpoint.load(path)
    assert (loaded.state.run_epochs, loaded.state.run_steps) == (4, 16)
    other = dataclasses.replace(config, batch_size=32)  # the same epochs, 8 steps
    with pytest.raises(ValueError, match="cosine schedule spans the run's 16 steps, not 8"):
        fit(NET, x, t, opt, other, state=loaded.state)
    assert fit(NET, x, t, opt, config, state=loaded.state).state.epoch == 4
    unknown = tmp_path / "unknown.npz"  # a state made by hand: its length unknown, as before
    checkpoint.save(unknown, loaded.state._replace(run_steps=None), net=NET, optimizer=opt,
                    config=config)  # fmt: skip
    assert checkpoint.load(unknown).state.run_steps is None


def test_a_version_2_checkpoint_without_its_settings_digest_is_refused(saved, tmp_path):
    """Every version 2 file records config_sha256: one passed off as version 2 without it would
    have its settings (optimizer, train config) read unchecked."""
    forged = rewrite(
        saved, tmp_path / "v2.npz", drop=("state_sha256", "config_sha256"), meta={"version": 2}
    )
    with pytest.raises(ValueError, match="format version 2 .*config_sha256") as error:
        checkpoint.load(forged)
    assert str(forged) in str(error.value)
    genuine = rewrite(saved, tmp_path / "v1.npz", drop=("state_sha256", "config_sha256"),
                      meta={"version": 1})  # fmt: skip
    assert checkpoint.load(genuine).state.epoch == 3  # version 1 had none


@pytest.mark.parametrize("version", [0, -1, True, 2.0, "3", None], ids=repr)
def test_a_checkpoint_version_that_is_no_format_is_refused(version, saved, tmp_path):
    # version 0 or -1 (or True, a bool) passed the check "an int, not newer than 3" and loaded
    # as an older file: without its state digest
    forged = rewrite(saved, tmp_path / "v.npz", drop=("state_sha256",), meta={"version": version})
    with pytest.raises(ValueError, match=r"format version .* is not one"):
        checkpoint.load(forged)


def _swapped(tree):
    """``tree``'s arrays in big-endian byte order (.npy keeps it; jax takes no such array)."""
    return jax.tree.map(lambda a: np.asarray(a).astype(np.asarray(a).dtype.newbyteorder(">")), tree)


def test_an_optimizer_state_of_the_other_byte_order_is_refused_not_a_type_error(saved, tmp_path):
    # the state check compared dtype names ('float32' for '>f4' too): save wrote a big-endian
    # momentum, and load (of that file, or of one edited so) ended in jax's TypeError
    path = tmp_path / "checkpoint.npz"
    swapped = state()._replace(opt_state=_swapped(state()[1]))
    with pytest.raises(ValueError, match=r"does not fit optimizer 'momentum'.*>f4") as error:
        checkpoint.save(path, swapped, net=NET, optimizer=OPT, config=CONFIG)
    assert "nothing was written" in str(error.value) and not path.exists()
    forged = rewrite(saved, tmp_path / "forged.npz", drop=("state_sha256",), meta={"version": 2},
                     **{"opt_state/1": array(saved, "opt_state/1").astype(">f4")})  # fmt: skip
    with pytest.raises(ValueError, match=r"does not fit optimizer 'momentum'.*>f4"):
        checkpoint.load(forged)


def twice(path, out, before, given):
    """A copy of the checkpoint at ``path`` whose metadata text has ``given`` (JSON text of a
    key and value) inserted after its first ``before``: a key written twice, the saved value
    last, which Python's json keeps, so the state digest still matches."""
    with np.load(path) as archive:
        contents = {k: archive[k] for k in archive.files}
    text = contents.pop(checkpoint.META).tobytes().decode()
    assert before in text
    text = text.replace(before, before + given + ", ", 1)
    contents[checkpoint.META] = np.frombuffer(text.encode(), np.uint8)
    np.savez(out, **contents)
    return out


@pytest.mark.parametrize(
    "before, given, key",
    [("{", '"best_val_loss": 0.0', "best_val_loss"), ('"optimizer": {', '"lr": 10.0', "lr")],
)
def test_a_metadata_key_written_twice_is_refused_naming_it(before, given, key, saved, tmp_path):
    """Python's json reads a repeated key's last value, another reader (and a person) the first:
    a checkpoint giving best_val_loss 0.0, or lr 10.0, before its saved value matched its state
    digest and loaded with the saved one. config.json refuses a key written twice; so does a
    checkpoint, by the same rule."""
    forged = twice(saved, tmp_path / "twice.npz", before, given)
    with np.load(forged) as archive:  # as Python reads it, the saved state: its digest matches
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(arrays.pop(checkpoint.META).tobytes())
    assert meta["state_sha256"] == checkpoint.state_sha256(meta, arrays)
    for read in (checkpoint.load, checkpoint.read_meta):
        with pytest.raises(ValueError, match=f"holds the key '{key}' twice") as error:
            read(forged)
        assert str(forged) in str(error.value) and "\n" not in str(error.value)


@pytest.mark.slow
def test_a_run_whose_checkpoint_holds_a_key_twice_is_refused_by_the_commands(tmp_path, fails):
    """evaluate, predict and a resume of such a run exit 2 with one line naming the key."""
    out = tmp_path / "run"
    assert cli.main(["train", *XOR, "--epochs", "2", "--out", str(out)]) == 0
    path = out / "checkpoint.npz"
    twice(path, path, '"optimizer": {', '"lr": 10.0')
    np.save(tmp_path / "x.npy", np.zeros((4, 2), np.float32))
    for argv in (
        ["evaluate", str(out)],
        ["predict", str(out), "--input", str(tmp_path / "x.npy")],
        ["train", "--out", str(out), "--resume", "--epochs", "3", "--no-progress"],
    ):
        err = fails(argv)
        assert "checkpoint.npz" in err and "holds the key 'lr' twice" in err, err
