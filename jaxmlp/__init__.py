"""jaxmlp: the multilayer perceptron of the textbooks, with backpropagation derived by hand.

The public API, in one place.
"""

from jaxmlp import (
    activations,
    checkpoint,
    curvature,
    datasets,
    initializers,
    losses,
    outputs,
    search,
)
from jaxmlp.curvature_check import check_curvature, curvature_matrix, taylor_test_hessian
from jaxmlp.evaluation import evaluate
from jaxmlp.gradient_check import gradcheck
from jaxmlp.gradient_matrix import gradcheck_matrix
from jaxmlp.mlp import MLP
from jaxmlp.optim import Optimizer
from jaxmlp.population import Population, fit_population
from jaxmlp.run import Model, load_run, save_run
from jaxmlp.stopping import NonFiniteValidationLoss
from jaxmlp.taylor import eps_sweep, taylor_test
from jaxmlp.train import Diverged, Result, TrainConfig, TrainState, fit, make_step

__version__ = "0.1.0"

__all__ = [
    "Diverged",
    "MLP",
    "Model",
    "NonFiniteValidationLoss",
    "Optimizer",
    "Population",
    "Result",
    "TrainConfig",
    "TrainState",
    "__version__",
    "activations",
    "check_curvature",
    "checkpoint",
    "curvature",
    "curvature_matrix",
    "datasets",
    "eps_sweep",
    "evaluate",
    "fit",
    "fit_population",
    "gradcheck",
    "gradcheck_matrix",
    "initializers",
    "load_run",
    "losses",
    "make_step",
    "outputs",
    "save_run",
    "search",
    "taylor_test",
    "taylor_test_hessian",
]
