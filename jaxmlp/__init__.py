"""jaxmlp: the multilayer perceptron of the textbooks, with backpropagation derived by hand.

The public API, in one place.
"""

from jaxmlp import activations, initializers, losses, outputs
from jaxmlp.mlp import MLP

__version__ = "0.1.0"

__all__ = [
    "MLP",
    "__version__",
    "activations",
    "initializers",
    "losses",
    "outputs",
]
