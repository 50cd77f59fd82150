"""jaxmlp: the multilayer perceptron of the textbooks, with backpropagation derived by hand.

The public API, in one place.
"""

from jaxmlp import activations, checkpoint, curvature, datasets, initializers, losses, outputs
from jaxmlp.curvature_check import check_curvature, curvature_matrix, taylor_test_hessian
from jaxmlp.gradient_check import gradcheck
from jaxmlp.gradient_matrix import gradcheck_matrix
from jaxmlp.mlp import MLP
from jaxmlp.optim import Optimizer
from jaxmlp.taylor import eps_sweep, taylor_test
from jaxmlp.train import Diverged, Result, TrainConfig, TrainState, evaluate, fit, make_step

__version__ = "0.1.0"

__all__ = [
    "Diverged",
    "MLP",
    "Optimizer",
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
    "gradcheck",
    "gradcheck_matrix",
    "initializers",
    "losses",
    "make_step",
    "outputs",
    "taylor_test",
    "taylor_test_hessian",
]
