"""Optimizers by name, all from optax (none written here), with schedules, L2 weight decay and
clipping.

    sgd       w <- w - eta g                         (optax.sgd)
    momentum  v <- g + mu v;  w <- w - eta v          (optax.sgd(momentum=mu), heavy ball)
    nesterov  v <- g + mu v;  w <- w - eta (g + mu v) (optax.sgd(momentum=mu, nesterov=True))
    adam, adamw, rmsprop, adagrad                     (optax's, default hyperparameters)

Momentum conventions. optax keeps v <- g + mu v and steps w <- w - eta v; scikit-learn and Keras
keep v <- mu v - eta g and step w <- w + v. With a constant eta the two are the same iteration
(v_keras = -eta v_optax). They differ when eta changes: optax multiplies the whole velocity by
the current eta, Keras keeps each past gradient at the eta it was taken with.

L2 weight decay adds ``weight_decay * w`` to the gradient of the weights ``w`` only (not biases or
PReLU slopes), the gradient of (weight_decay / 2) |w|^2; adamw applies it decoupled, as optax does.
"""

import dataclasses
from numbers import Integral, Real

import optax

from jaxmlp import second_order  # lbfgs, cg, newton-cg, lm: full-batch, curvature

FIRST_ORDER = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad")
OPTIMIZERS = (*FIRST_ORDER, *second_order.NAMES)
SCHEDULES = ("constant", "step", "exponential", "cosine")


@dataclasses.dataclass(frozen=True)
class Optimizer:
    """How parameters move: an optax optimizer by name plus its schedule.

    Args:
      name: one of ``OPTIMIZERS``.
      lr: the learning rate eta (peak rate when warming up).
      momentum: mu for momentum and nesterov (0.9 when None); sgd uses it when given.
      weight_decay: L2 coefficient on the weights, >= 0.
      schedule: one of ``SCHEDULES``; step multiplies eta by ``decay_rate`` every ``decay_steps``
        steps, exponential decays smoothly at that rate, cosine decays to 0 over the run.
      warmup_steps: linear warmup from 0 to ``lr`` first.
      clip_norm: clip gradients to this global norm when given.
    """

    name: str = "adam"
    lr: float = 1e-3
    momentum: float | None = None
    weight_decay: float = 0.0
    schedule: str = "constant"
    decay_rate: float = 0.1
    decay_steps: int = 1000
    warmup_steps: int = 0
    clip_norm: float | None = None

    def __post_init__(self):
        if self.name not in OPTIMIZERS:
            raise ValueError(
                f"Unknown optimizer: {self.name!r}. It needs to be one of {list(OPTIMIZERS)}."
            )
        if self.schedule not in SCHEDULES:
            raise ValueError(
                f"Unknown schedule: {self.schedule!r}. It needs to be one of {list(SCHEDULES)}."
            )
        _positive("lr", self.lr)
        if self.momentum is not None and not (_is_real(self.momentum) and 0 <= self.momentum < 1):
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}.")
        if not (_is_real(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}.")
        if not (_is_real(self.decay_rate) and 0 < self.decay_rate <= 1):
            raise ValueError(f"decay_rate must be in (0, 1], got {self.decay_rate!r}.")
        _check_int("decay_steps", self.decay_steps, 1)
        _check_int("warmup_steps", self.warmup_steps, 0)
        if self.clip_norm is not None:
            _positive("clip_norm", self.clip_norm)
        second_order.check_settings(self)

    def learning_rate(self, total_steps: int) -> optax.Schedule:
        """eta as a function of the step count, for a run of ``total_steps`` steps."""
        decay_steps = max(total_steps - self.warmup_steps, 1)
        if self.schedule == "constant":
            main = optax.constant_schedule(self.lr)
        elif self.schedule == "cosine":
            main = optax.cosine_decay_schedule(self.lr, decay_steps)
        else:
            staircase = self.schedule == "step"
            main = optax.exponential_decay(
                self.lr, self.decay_steps, self.decay_rate, staircase=staircase
            )
        if not self.warmup_steps:
            return main
        warmup = optax.linear_schedule(0.0, self.lr, self.warmup_steps)
        return optax.join_schedules([warmup, main], [self.warmup_steps])

    def build(self, total_steps: int) -> optax.GradientTransformation:
        """The optax transformation for a run of ``total_steps`` steps."""
        if self.name in second_order.NAMES:
            return second_order.build(self)
        lr = self.learning_rate(total_steps)
        mu = 0.9 if self.momentum is None else self.momentum
        base = {
            "sgd": lambda: optax.sgd(lr, momentum=self.momentum or None),
            "momentum": lambda: optax.sgd(lr, momentum=mu),
            "nesterov": lambda: optax.sgd(lr, momentum=mu, nesterov=True),
            "adam": lambda: optax.adam(lr),
            "adamw": lambda: optax.adamw(lr, weight_decay=self.weight_decay, mask=weights_only),
            "rmsprop": lambda: optax.rmsprop(lr),
            "adagrad": lambda: optax.adagrad(lr),
        }[self.name]()
        chain = []
        if self.clip_norm is not None:
            chain.append(optax.clip_by_global_norm(self.clip_norm))
        if self.weight_decay and self.name != "adamw":
            chain.append(optax.add_decayed_weights(self.weight_decay, mask=weights_only))
        return optax.chain(*chain, base) if chain else base


def weights_only(params):
    """The mask that selects the ``"w"`` leaves of a params pytree."""
    return [{name: name == "w" for name in layer} for layer in params]


def _is_real(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _positive(name, value):
    if not (_is_real(value) and value > 0):
        raise ValueError(f"{name} must be a number > 0, got {value!r}.")


def _check_int(name, value, low, extra=""):
    """A ValueError unless ``value`` is an integer (not a bool) >= ``low``; ``extra`` names the
    other values allowed."""
    if not (isinstance(value, Integral) and not isinstance(value, bool) and value >= low):
        raise ValueError(
            f"{name} must be an integer >= {low}{' ' + extra if extra else ''}, got {value!r}."
        )
