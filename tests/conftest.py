"""Shared test helpers."""

import concurrent.futures
import inspect
import os
import pathlib
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

# scikit-learn's estimator checks include the array API dispatch check on NumPy inputs only
# when SciPy's array API mode is on, and it must be set before SciPy is first imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

# Tests never write to the user's compilation cache (jaxmlp/run/cache.py); the cache's own test
# points it at a temporary folder.
os.environ["JAXMLP_COMPILE_CACHE"] = "off"

DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


# Each program XLA:CPU compiles keeps its machine code in memory mappings of its own, and a
# process may hold at most vm.max_map_count of them (65530 by default): scikit-learn's estimator
# checks alone leave ~45000 (measured, 2026-12-07), and a worker past the limit crashed with a
# segmentation fault inside a later compile (twice in the clean-clone CI). A module's programs
# are dropped after it once the process holds many (a module may add ~45000 more).
MAPPINGS_KEPT = 10000


@pytest.fixture(autouse=True, scope="module")
def _drop_programs_when_mappings_pile_up():
    yield
    if sys.platform == "linux" and _mappings() > MAPPINGS_KEPT:
        jax.clear_caches()


def _mappings() -> int:
    with open("/proc/self/maps", "rb") as maps:
        return sum(1 for _ in maps)


def require_fashion_mnist():
    """Fashion-MNIST comes from the Debian package ``dataset-fashion-mnist``. In CI (``CI`` set,
    where .ci/run installs it) its absence fails the test; elsewhere the test is skipped with the
    install command as the reason, so the README's test command holds on any fresh machine."""
    if os.path.isdir(DEBIAN_FASHION_MNIST):
        return
    message = f"{DEBIAN_FASHION_MNIST} is missing: apt-get install dataset-fashion-mnist"
    if os.environ.get("CI"):
        pytest.fail(message + " (.ci/run does)")
    pytest.skip(reason=message)


@pytest.fixture
def fashion_mnist_dir():
    """The Debian Fashion-MNIST folder; see ``require_fashion_mnist``."""
    require_fashion_mnist()
    return DEBIAN_FASHION_MNIST


# JAX's switch for programs that cost more to optimise than to run ("jax_disable_most_
# optimizations": XLA's CPU backend at optimisation level 0). Tests whose time is mostly compiling
# programs that then run for moments use it: the values they check are the same mathematics,
# computed without the slow optimisation passes. Never where a test checks a speed, bits or a
# compiled program's structure (benchmarks, bitwise resumes, sharding), nor for the committed full
# runs. (The quick runs of the timing experiments, e.g. backprop_cost, time unoptimised programs:
# their tests check that a verdict is computed and printed, not what it says.)
FAST_COMPILE = "jax_disable_most_optimizations"


@pytest.fixture
def fast_compile():
    """``FAST_COMPILE`` on for one in-process test."""
    before = jax.config.read(FAST_COMPILE)
    jax.config.update(FAST_COMPILE, True)
    yield
    jax.config.update(FAST_COMPILE, before)


# Experiments' quick runs going at once: each uses about one core with FAST_COMPILE.
QUICK_RUNS_AT_ONCE = 2


@pytest.fixture(scope="module")
def quick_run(request, tmp_path_factory):
    """``quick_run(name) -> (subprocess.CompletedProcess, out folder)``: the experiment's
    ``python experiments/<name>.py --quick --out <folder>`` in its own process, with
    ``FAST_COMPILE`` on (a quick run proves that the script runs end to end and writes its
    record, figures and verdict, and most of its time is compiling) and the requesting module's
    ``QUICK_ARGS`` (interpreter flags) and ``QUICK_ENV``. Every run the module's selected tests
    ask for starts when the first one is asked for, ``QUICK_RUNS_AT_ONCE`` at a time, in the
    tests' order, so a test mostly finds its run finished."""
    module = request.module
    names = [
        item.callspec.params["name"]
        for item in request.session.items
        if getattr(item, "module", None) is module and "quick_run" in item.fixturenames
    ]
    env = os.environ | {FAST_COMPILE.upper(): "1"} | getattr(module, "QUICK_ENV", {})
    root = pathlib.Path(__file__).resolve().parents[1]

    def run(name):
        out = tmp_path_factory.mktemp(name)
        argv = [sys.executable, *getattr(module, "QUICK_ARGS", ()), f"experiments/{name}.py"]
        done = subprocess.run(
            [*argv, "--quick", "--out", str(out)],
            cwd=root, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        return done, out

    with concurrent.futures.ThreadPoolExecutor(QUICK_RUNS_AT_ONCE) as pool:
        runs = {name: pool.submit(run, name) for name in dict.fromkeys(names)}
        yield lambda name: runs[name].result()
        for future in runs.values():  # a failed first test (-x) does not wait for the rest
            future.cancel()


@pytest.fixture
def x64():
    """float64 for the duration of one test (never globally)."""
    with jax.enable_x64(True):
        yield


@pytest.fixture
def slow_line():
    """A float64 line fit, ``(net, x, t, params, validation)``: trained by SGD at lr 1e-9 from
    these parameters, its validation loss falls by ~1.3e-10 (6e-9 of itself) every epoch, steps
    below float32's resolution (6e-8) and above float64's."""
    from jaxmlp import MLP

    rng = np.random.default_rng(10)
    x = rng.normal(size=(20, 2))
    t = x @ np.array([[1.0], [2.0]]) + 0.1 * rng.normal(size=(20, 1))
    x_val = rng.normal(size=(10, 2))
    validation = {"x_val": x_val, "t_val": x_val @ np.array([[1.0], [2.0]])}
    params = [{"w": np.array([[0.9], [1.9]]), "b": np.array([0.0])}]
    return MLP((2, 1), "identity", "identity", "mse"), x, t, params, validation


@pytest.fixture
def one_error(capsys):
    """``one_error(*parts)``: the one ``error: ...`` line a command has just written to stderr,
    with no traceback, holding each of ``parts``."""

    def check(*parts) -> str:
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
        for part in parts:
            assert part in err, err
        return err

    return check


@pytest.fixture
def fails(one_error):
    """``fails(argv)``: runs ``jaxmlp argv``, which must exit 2 with one ``error: ...`` line on
    stderr and no traceback (``one_error``); returns that line."""
    from jaxmlp import cli

    def run(argv) -> str:
        assert cli.main(argv) == 2
        return one_error()

    return run


@pytest.fixture
def rows_on_device():
    """``rows_on_device(monkeypatch)``: the row counts of the 2-D arrays made on the device from
    then on (0 for other ranks), a list; a spy on the ways an array gets there (``jnp.asarray``,
    ``jnp.array``, ``device_put``, ``one_hot``); traced ones (abstract) are not counted. The spied
    makers transfer under ``jax.transfer_guard_host_to_device("allow")``, so that a test that
    disallows transfers around its call sees any other one (a NumPy array handed to a compiled
    function, which no spy sees) fail."""
    import jax.numpy as jnp

    def start(monkeypatch) -> list:
        rows = []

        def spy(make):
            def made(*args, **kwargs):
                with jax.transfer_guard_host_to_device("allow"):
                    out = make(*args, **kwargs)
                if isinstance(out, jax.Array) and not isinstance(out, jax.core.Tracer):
                    rows.append(out.shape[0] if out.ndim == 2 else 0)
                return out

            return made

        makers = ((jnp, "asarray"), (jnp, "array"), (jax, "device_put"), (jax.nn, "one_hot"))
        for module, name in makers:
            monkeypatch.setattr(module, name, spy(getattr(module, name)))
        return rows

    return start


@pytest.fixture
def mutant():
    """``mutant(function, old, new)``: ``function`` recompiled from its source with ``old``
    replaced by ``new`` (which must occur once): a mutation of the library's own code, so that
    a check is shown to catch it."""

    def recompiled(function, old: str, new: str):
        source = textwrap.dedent(inspect.getsource(function))
        assert source.count(old) == 1, f"{old!r} is not once in {function.__name__}'s source"
        namespace = dict(function.__globals__)
        exec(compile(source.replace(old, new), "<mutant>", "exec"), namespace)  # noqa: S102
        return namespace[function.__name__]

    return recompiled


@pytest.fixture
def command_handlers(monkeypatch):
    """The ``jaxmlp`` command's signal handlers (``interrupt.install``) for one test, its
    ``PENDING`` and ``RECEIVED`` lists empty; the handlers before it are put back after it."""
    import signal

    from jaxmlp import interrupt

    handlers = {n: signal.getsignal(n) for n in interrupt.SIGNALS}
    monkeypatch.setattr(interrupt, "PENDING", [])
    monkeypatch.setattr(interrupt, "RECEIVED", [])
    interrupt.install()
    yield
    for n, handler in handlers.items():
        signal.signal(n, handler)


@pytest.fixture
def unfinished_run(tmp_path):
    """A run folder of a 2-3-1 net whose checkpoint is at epoch 2 of 5: interrupted, until
    summary.json says the run diverged there (its readers look at .lock and summary.json to
    say whether it runs, diverged or was interrupted)."""
    from jaxmlp import MLP, Optimizer, TrainConfig, TrainState, checkpoint, load_run, save_run
    from jaxmlp.run import folder

    net = MLP((2, 3, 1), "tanh", "sigmoid", "bce")
    params, opt = net.init(jax.random.key(0)), Optimizer()
    out = save_run(tmp_path / "run", net, params)
    state = TrainState(params, opt.build(1).init(params), 2)
    run_id = folder.read_config(out)["run_id"]
    checkpoint.save(out / "checkpoint.npz", state, net=net, optimizer=opt,
                    config=TrainConfig(epochs=5), run_id=run_id)  # fmt: skip
    assert load_run(out).status == "interrupted"
    return out
