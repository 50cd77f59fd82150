"""Shared test helpers."""

import os

import jax
import pytest

# scikit-learn's estimator checks include the array API dispatch check on NumPy inputs only
# when SciPy's array API mode is on, and it must be set before SciPy is first imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

# Tests never write to the user's compilation cache (jaxmlp/run/cache.py); the cache's own test
# points it at a temporary folder.
os.environ["JAXMLP_COMPILE_CACHE"] = "off"

DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


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


@pytest.fixture
def quick_run_env():
    """The environment of an experiment's ``--quick`` run in its own process. A quick run proves
    that the script runs end to end and writes its record and figures; its compiled programs run
    for moments, and compiling them is most of its time, so JAX's own switch for that case
    (``jax_disable_most_optimizations``: XLA's CPU backend at optimisation level 0) makes it
    about a quarter faster. Full runs, whose results are committed, compile as users do."""
    return os.environ | {"JAX_DISABLE_MOST_OPTIMIZATIONS": "1"}


@pytest.fixture
def x64():
    """float64 for the duration of one test (never globally)."""
    with jax.enable_x64(True):
        yield
