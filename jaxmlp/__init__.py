"""jaxmlp: the multilayer perceptron of the textbooks, with backpropagation derived by hand.

The public API, in one place. Its names are imported when first used (``__getattr__``), so
that ``import jaxmlp`` itself loads no JAX: the ``jaxmlp`` command installs its signal handlers
before anything heavy is imported (``jaxmlp.__main__``).
"""

import importlib

__version__ = "0.1.0"

# name -> the module that defines it (a submodule: the name is the module)
_WHERE = {
    "Diverged": "jaxmlp.train",
    "MLP": "jaxmlp.mlp",
    "Model": "jaxmlp.run",
    "NonFiniteValidationLoss": "jaxmlp.stopping",
    "Optimizer": "jaxmlp.optim",
    "Population": "jaxmlp.population",
    "Result": "jaxmlp.train",
    "TrainConfig": "jaxmlp.train",
    "TrainState": "jaxmlp.train",
    "activations": None,
    "check_curvature": "jaxmlp.curvature_check",
    "checkpoint": None,
    "curvature": None,
    "curvature_matrix": "jaxmlp.curvature_check",
    "datasets": None,
    "eps_sweep": "jaxmlp.taylor",
    "evaluate": "jaxmlp.evaluation",
    "fit": "jaxmlp.train",
    "fit_population": "jaxmlp.population",
    "gradcheck": "jaxmlp.gradient_check",
    "gradcheck_matrix": "jaxmlp.gradient_matrix",
    "initializers": None,
    "load_run": "jaxmlp.run",
    "losses": None,
    "make_step": "jaxmlp.train",
    "outputs": None,
    "save_run": "jaxmlp.run",
    "search": None,
    "taylor_test": "jaxmlp.taylor",
    "taylor_test_hessian": "jaxmlp.curvature_check",
}

__all__ = sorted([*_WHERE, "__version__"])


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    else:  # a submodule (as importing them all once made every one an attribute)
        try:
            value = importlib.import_module(f"jaxmlp.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"jaxmlp.{name}":
                raise
            raise AttributeError(f"module 'jaxmlp' has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
