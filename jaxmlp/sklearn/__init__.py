"""scikit-learn estimators on the functional core: ``MLPClassifier`` and ``MLPRegressor``.

Imported explicitly, ``from jaxmlp.sklearn import MLPClassifier``; needs the optional extra
``pip install 'jaxmlp[sklearn]'``. Parameters and behaviour are ``sklearn.neural_network``'s
(README.md lists what still differs); gradients come from jaxmlp's hand backprop (or
``jax.grad``), steps from optax, prediction from a jitted ``MLP.apply``. The trained network is
``net_`` (an ``MLP``); ``coefs_[l] (fan_in, fan_out)`` and ``intercepts_[l] (fan_out,)`` are its
weights as NumPy arrays in the dtype of X (float64 work runs with x64 on, float32 work with it
off: ``arrays.precision``), and can be set to warm-start from given weights. ``params_`` is
their jaxmlp pytree.

How scikit-learn's model maps onto jaxmlp's (cost = the mean over examples of the loss):

    targets     output    jaxmlp loss, per example                    out_activation_
    binary      sigmoid   bce  -t log y - (1 - t) log(1 - y)          "logistic"
    multiclass  softmax   cross_entropy  -sum_k t_k log y_k           "softmax"
    multilabel  sigmoid   bce, summed over the labels                 "logistic"
    regression  identity  squared_error  sse  1/2 sum_k (y_k - t_k)^2 "identity"
                          absolute_error mae  mean_k |y_k - t_k|
                          huber          huber mean_k huber_1(y_k - t_k)
    counts      exp       poisson        poisson sum_k (y_k - t_k log y_k "exp"
                                         + t_k log t_k - t_k)

squared_error sums over the K outputs: it is the cost whose gradient scikit-learn follows
(its output delta is y - t), while the loss it reports also averages over the outputs, K times
smaller than the cost it descends (its issue #8349). The solvers descend that cost too, and
``loss_``, ``loss_curve_``, ``best_loss_`` and the ``tol`` stop use scikit-learn's reported
number (``_solvers.reported_scale``), so that training stops on its iteration; a
classifier's reported loss is scikit-learn's log loss of probabilities clipped to [eps, 1 - eps]
(``_solvers.reported``), its gradient the unclipped y - t in both.
alpha adds alpha / (2 n_b) sum_l |w_l|^2 to the cost of a batch of n_b examples (weights only),
as in scikit-learn; ``_solvers`` says how each solver is built from optax.

>>> import numpy as np
>>> x = np.array([[0.0, 0], [0, 1], [1, 0], [1, 1]] * 25); y = np.array([0, 1, 1, 0] * 25)
>>> clf = MLPClassifier((16,), "tanh", learning_rate_init=0.05, random_state=0).fit(x, y)
>>> clf.predict([[0, 1], [1, 1]]).tolist(), clf.out_activation_
([1, 0], 'logistic')
"""

try:
    import sklearn  # noqa: F401  (first: a missing scikit-learn fails here, with the hint)
except ImportError as e:  # pragma: no cover - exercised by a test that hides sklearn
    raise ImportError("jaxmlp.sklearn needs scikit-learn: pip install 'jaxmlp[sklearn]'") from e

from jaxmlp.sklearn._estimators import MLPClassifier, MLPRegressor
from jaxmlp.sklearn._search import PopulationSearchCV

__all__ = ["MLPClassifier", "MLPRegressor", "PopulationSearchCV"]
