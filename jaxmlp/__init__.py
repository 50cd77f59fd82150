"""jaxmlp: the multilayer perceptron of the textbooks, with backpropagation derived by hand.

The public API, in one place.
"""

from jaxmlp import activations, checkpoint, datasets, initializers, losses, outputs
from jaxmlp.mlp import MLP
from jaxmlp.optim import Optimizer
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
    "checkpoint",
    "datasets",
    "evaluate",
    "fit",
    "initializers",
    "losses",
    "make_step",
    "outputs",
]
