"""What ``fit`` may start from (``jaxmlp.resume``): a warm start's ``params`` or a resumed
``state``, each checked against the run's settings, and the caller's arrays left whole."""

import json
import os
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest

from jaxmlp import MLP, Optimizer, TrainConfig, fit

RNG = np.random.default_rng(1)
X = RNG.normal(size=(60, 3)).astype(np.float32)
Y = ((X[:, 0] + 0.8 * RNG.normal(size=60)) > 0).astype(int)
X_VAL = RNG.normal(size=(30, 3)).astype(np.float32)
Y_VAL = ((X_VAL[:, 0] + 0.8 * RNG.normal(size=30)) > 0).astype(int)
NET = MLP((3, 8, 2), "tanh", "softmax", "cross_entropy")
SGD = Optimizer("sgd", lr=0.1)


def leaves(tree):
    return [np.asarray(a) for a in jax.tree.leaves(tree)]


OTHER_DEVICES = r"""
import json
import numpy as np, jax
assert jax.device_count() == 8, jax.devices()
from jaxmlp import MLP, Optimizer, TrainConfig, fit

x = np.random.default_rng(0).normal(size=(48, 4)).astype(np.float32)
y = (x[:, 0] > 0).astype(int)
net, sgd = MLP((4, 8, 2), "tanh", "softmax", "cross_entropy"), Optimizer("sgd")
config = lambda epochs, devices: TrainConfig(epochs=epochs, batch_size=16, devices=devices)
arrays = lambda r: jax.tree.leaves((r.params, r.state.params, r.state.opt_state))
deleted = lambda leaves: any(a.is_deleted() for a in leaves)
out = {}
p0 = net.init(jax.random.key(0))  # on device 0: a warm start onto all 8
fit(net, x, y, sgd, config(2, None), params=p0)
out["warm 1->8"] = deleted(jax.tree.leaves(p0))
for before, after in ((8, 1), (1, 8), (8, 4), (1, 1), (8, 8)):
    r = fit(net, x, y, sgd, config(2, before))
    kept = [a.copy() for a in arrays(r)]  # (np.asarray would keep a host copy: no alias)
    fit(net, x, y, sgd, config(4, after), state=r.state)
    out[f"resume {before}->{after}"] = deleted(arrays(r)) or not all(
        np.array_equal(a, np.asarray(b)) for a, b in zip(kept, arrays(r))
    )
print(json.dumps(out))
"""


@pytest.mark.slow
def test_a_warm_start_or_resume_on_other_devices_leaves_the_callers_arrays_whole():
    # device_put(a, replicated over 8, may_alias=False) reused a's buffer as shard 0, which the
    # run then donated: the caller's params or state were deleted
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8")
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([str(pathlib.Path(__file__).parents[1]), *sys.path])
    done = subprocess.run([sys.executable, "-W", "error", "-c", OTHER_DEVICES], env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out == dict.fromkeys(out, False), out


@pytest.mark.parametrize(("before", "after"), [("float32", "float64"), ("float64", "float32")])
def test_a_state_of_another_dtype_than_the_configs_is_refused(before, after):
    with jax.enable_x64(True):
        r = fit(NET, X, Y, SGD, TrainConfig(epochs=2, batch_size=8, dtype=before))
        with pytest.raises(ValueError, match=f"state.params are {before}.*{after} run"):
            fit(NET, X, Y, SGD, TrainConfig(epochs=4, batch_size=8, dtype=after), state=r.state)


def test_an_early_stopped_state_resumes_as_the_finished_run_it_is():
    net, adam = MLP((3, 32, 2), "tanh", "softmax", "cross_entropy"), Optimizer("adam", lr=0.1)
    config = TrainConfig(epochs=40, batch_size=8, early_stopping=3)
    r = fit(net, X, Y, adam, config, x_val=X_VAL, t_val=Y_VAL)
    assert len(r.history) < 40 and r.state.bad_epochs == 3
    again = fit(net, X, Y, adam, config, x_val=X_VAL, t_val=Y_VAL, state=r.state)
    assert again.history == []
    assert again.state.epoch == r.state.epoch
    for a, b in zip(leaves(again.params), leaves(r.params), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("lr", [1e9, 1e12])  # the ceiling reached at epoch 1, or started at
def test_a_stalled_damped_state_resumes_as_the_finished_run_it_is(lr):
    # lm whose damping reached its ceiling stops there, as early stopping does; resumed from
    # that state, fit ran one more epoch (a no-op step: the history, steps and epoch grew),
    # so every `jaxmlp train --resume` of such a run added an epoch the uninterrupted run has not
    x = np.linspace(-1, 1, 16, dtype=np.float32)[:, None]
    net, lm = MLP((1, 4, 1), "tanh", "identity", "mse"), Optimizer("lm", lr=lr)
    config = TrainConfig(epochs=20, batch_size="full")
    with pytest.warns(UserWarning, match="ceiling"):
        r = fit(net, x, np.sin(3 * x), lm, config)
    assert r.state.epoch == len(r.history) < 20
    again = fit(net, x, np.sin(3 * x), lm, config, state=r.state)
    assert again.history == [] and again.state.epoch == r.state.epoch
    for a, b in zip(leaves(again.state), leaves(r.state), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_schedule_spanning_the_run_is_not_resumed_on_another_length():
    cosine = Optimizer("sgd", lr=0.3, schedule="cosine")
    r10 = fit(NET, X, Y, cosine, TrainConfig(epochs=10, batch_size=8))
    for epochs in (20, 12):
        with pytest.raises(ValueError, match="cosine schedule spans the run's 10 epochs"):
            fit(NET, X, Y, cosine, TrainConfig(epochs=epochs, batch_size=8), state=r10.state)
    half = fit(NET, X, Y, cosine, TrainConfig(epochs=10, batch_size=8), callback=lambda r, s: True)
    with pytest.raises(ValueError, match="cosine schedule spans the run's 10 epochs"):
        fit(NET, X, Y, cosine, TrainConfig(epochs=5, batch_size=8), state=half.state)
    rest = fit(NET, X, Y, cosine, TrainConfig(epochs=10, batch_size=8), state=half.state)
    for a, b in zip(leaves(rest.params), leaves(r10.params), strict=True):
        np.testing.assert_array_equal(a, b)
    # a schedule of the step count alone extends, as the command line's resume does
    r = fit(NET, X, Y, SGD, TrainConfig(epochs=2, batch_size=8))
    assert len(fit(NET, X, Y, SGD, TrainConfig(epochs=4, batch_size=8), state=r.state).history) == 2


@pytest.mark.parametrize(
    ("batch_size", "rows", "drop_last", "steps"),
    [(16, 60, False, 40), (4, 60, False, 150), (8, 40, False, 50), (8, 60, True, 70)],
)
def test_a_schedule_spanning_the_run_is_not_resumed_on_another_number_of_steps(
    batch_size, rows, drop_last, steps
):
    # Same epochs, another batch size (or training set): the cosine's length is the run's
    # steps. Resumed at epoch 5 of 10 with batch 16 (4 steps an epoch, 40 in all), its 80 steps
    # taken were past the end: 5 epochs at lr 0 that moved nothing, with exit 0.
    cosine = Optimizer("sgd", lr=0.3, schedule="cosine")
    half = fit(NET, X, Y, cosine, TrainConfig(epochs=10, batch_size=8),
               callback=lambda r, s: r["epoch"] == 5)  # fmt: skip
    config = TrainConfig(epochs=10, batch_size=batch_size, drop_last=drop_last)
    with pytest.raises(ValueError, match=f"cosine schedule spans the run's 80 steps, not {steps}"):
        fit(NET, X[:rows], Y[:rows], cosine, config, state=half.state)
    assert fit(NET, X, Y, cosine, TrainConfig(epochs=10, batch_size=8), state=half.state).history


def test_params_and_state_together_are_refused():
    r = fit(NET, X, Y, SGD, TrainConfig(epochs=2, batch_size=8))
    with pytest.raises(ValueError, match="params and state: give one of them"):
        fit(NET, X, Y, SGD, TrainConfig(epochs=4, batch_size=8), params=r.params, state=r.state)


def test_a_state_past_the_runs_length_is_refused_and_one_at_its_end_returns_at_once():
    r = fit(NET, X, Y, SGD, TrainConfig(epochs=4, batch_size=8))
    with pytest.raises(ValueError, match="epoch 4 is past the run's length of 2 epochs"):
        fit(NET, X, Y, SGD, TrainConfig(epochs=2, batch_size=8), state=r.state)
    done = fit(NET, X, Y, SGD, TrainConfig(epochs=4, batch_size=8), state=r.state)
    assert done.history == [] and done.state.epoch == 4


def test_val_fraction_with_a_validation_set_is_refused():
    with pytest.raises(ValueError, match="x_val and t_val or val_fraction, not both"):
        fit(NET, X, Y, SGD, TrainConfig(epochs=1, val_fraction=0.2), x_val=X_VAL, t_val=Y_VAL)


def test_arguments_of_the_wrong_kind_are_named():
    config = TrainConfig(epochs=1, batch_size=8)
    r = fit(NET, X, Y, SGD, config)
    with pytest.raises(TypeError, match=r"state must be a TrainState.*pass result.state"):
        fit(NET, X, Y, SGD, TrainConfig(epochs=2, batch_size=8), state=r)
    with pytest.raises(TypeError, match=r"optimizer must be an Optimizer.*got 'sgd'.*"):
        fit(NET, X, Y, "sgd", config)
    with pytest.raises(TypeError, match="must be an Optimizer or None, got a TrainConfig"):
        fit(NET, X, Y, config, SGD)
    with pytest.raises(TypeError, match="config must be a TrainConfig or None, got an Optimizer"):
        fit(NET, X, Y, None, SGD)
