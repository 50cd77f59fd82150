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
import functools

import jax
import numpy as np
import optax

from jaxmlp import second_order  # lbfgs, cg, newton-cg, lm: full-batch, curvature
from jaxmlp.numeric import check_int, check_positive, is_real, not_one_of, store_as

FIRST_ORDER = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad")
OPTIMIZERS = (*FIRST_ORDER, *second_order.NAMES)
# Those whose state holds the squared gradient (a second moment, or adagrad's sum): a step
# whose g**2 overflows is not finite for them (``step.finite``).
SQUARES = ("adam", "adamw", "rmsprop", "adagrad")
# Those whose state sums g**2 over the steps: finite squares overflow it in time, and the weight
# then never moves again (g / sqrt(inf) = 0); a step whose new state is not finite is not either.
SUMS = ("adagrad",)
SCHEDULES = ("constant", "step", "exponential", "cosine")
# optax computes eta * decay_rate ** (step / decay_steps) in float32, in a float64 run too: a
# smaller rate is a subnormal there, which XLA:CPU flushes to 0.
DECAY_RATE_MIN = float(np.finfo(np.float32).tiny)
# The numeric settings a population may set per member, as arrays (``build``'s ``hyper``).
HYPERPARAMETERS = ("lr", "momentum", "weight_decay", "clip_norm")
# Which optimizers take a momentum mu, and which options each schedule reads (the rest ignore them).
MOMENTUM_OPTIMIZERS = ("sgd", "momentum", "nesterov")
DEFAULT_MOMENTUM = 0.9  # mu of momentum and nesterov when none is given
SCHEDULE_OPTIONS = {
    "constant": (),
    "step": ("decay_rate", "decay_steps"),
    "exponential": ("decay_rate", "decay_steps"),
    "cosine": (),  # decays over the whole run: its length is the run's
}
# Schedules whose shape is the run's length (``learning_rate``'s ``total_steps``): a run of one
# keeps its epochs, neither extended on resume nor resumed after an edit of its length.
RUN_LENGTH_SCHEDULES = ("cosine",)


def step_checks(optimizer) -> tuple[bool, bool, bool]:
    """``(squares, clips, sums)``: what a step's finiteness covers beyond its loss and gradient
    (``step.step_halves``): the gradient's squares, for an optimizer whose state keeps them
    (``SQUARES``), its global norm, with clipping (which divides by it), and the state the step
    leaves, for one whose state sums the squares (``SUMS``). None: none of them."""
    if optimizer is None:
        return False, False, False
    name = optimizer.name
    return name in SQUARES, optimizer.clip_norm is not None, name in SUMS


def what_is_finite(optimizer=None) -> str:
    """What a step of ``optimizer`` checks is finite, in words (``Diverged``'s message)."""
    squares, clips, sums = step_checks(optimizer)
    more = ["its square, kept in the optimizer's state"] * squares
    more += ["its norm, which clipping divides by"] * clips
    more += ["the sum of the squares, which the optimizer's state keeps"] * sums
    more += ["the parameters its update leaves"] * (getattr(optimizer, "name", "") in FIRST_ORDER)
    return "loss or gradient" + (f" (or {', or '.join(more)})" if more else "")


def extends(schedule: str, before: int, now: int) -> bool:
    """Whether a resume may make a run of ``before`` epochs one of ``now``: more epochs, of a
    schedule whose shape is not the run's length (``RUN_LENGTH_SCHEDULES``)."""
    return now > before and schedule not in RUN_LENGTH_SCHEDULES


def length_fixed(schedule: str, before: int | None, now: int, unit: str = "epochs") -> str | None:
    """Why a run of ``before`` epochs (or steps, ``unit``) on ``schedule`` cannot go on as one of
    ``now`` (None where it can: the same length, ``before`` unknown, or a schedule of the step
    count alone): the schedule's shape is the run's length (``RUN_LENGTH_SCHEDULES``)."""
    if before is not None and now != before and schedule in RUN_LENGTH_SCHEDULES:
        return f"the {schedule} schedule spans the run's {before} {unit}"
    return None


def check_schedule(optimizer, total_steps: int) -> None:
    """A ValueError where ``optimizer``'s schedule would never decay the learning rate within a
    run of ``total_steps`` steps (steps 0 .. total_steps - 1 take eta(step)): step decays first
    at ``warmup_steps + decay_steps``, exponential and cosine at ``warmup_steps + 1``. A
    constant schedule's warmup longer than the run is a ramp, and taken. Checked where a run
    begins (``fit``, ``fit_population``, ``jaxmlp train``), not on resume: a run saved before
    this rule goes on as it began."""
    schedule, warmup = optimizer.schedule, optimizer.warmup_steps
    if schedule == "constant":
        return
    delay = ("decay_steps", optimizer.decay_steps) if schedule == "step" else ("", 1)
    first = warmup + delay[1]
    if first < total_steps:
        return
    sum_ = f"warmup_steps {warmup} + {f'decay_steps {delay[1]}' if delay[0] else '1'}"
    smaller = "decay_steps or warmup_steps" if delay[0] else "warmup_steps"
    raise ValueError(
        f"schedule {schedule!r} would never decay the learning rate: it first decays at step "
        f"{first} ({sum_}), but the run has {total_steps} steps (0..{total_steps - 1}); give "
        f"a smaller {smaller}, more epochs, or schedule 'constant'."
    )


def momentum_used(name: str, momentum):
    """The mu the optimizer ``name`` given ``momentum`` uses (``Optimizer.momentum_used``)."""
    if name in ("momentum", "nesterov") and momentum is None:
        return DEFAULT_MOMENTUM
    return momentum if name in MOMENTUM_OPTIMIZERS else None


@dataclasses.dataclass(frozen=True)
class Optimizer:
    """How parameters move: an optax optimizer by name plus its schedule.

    Args:
      name: one of ``OPTIMIZERS``.
      lr: the learning rate eta (peak rate when warming up).
      momentum: mu for momentum and nesterov (``DEFAULT_MOMENTUM`` when None); sgd uses it
        when given (``momentum_used``).
      weight_decay: L2 coefficient on the weights, >= 0.
      schedule: one of ``SCHEDULES``; step multiplies eta by ``decay_rate`` every ``decay_steps``
        steps, exponential decays smoothly at that rate, cosine decays to 0 over the run.
        ``decay_rate`` is in [``DECAY_RATE_MIN``, 1] (1.175e-38, float32's smallest normal).
      warmup_steps: linear warmup from 0 to ``lr`` first. It and ``decay_steps`` are < 2**31,
        as optax's int32 step count is.
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
            raise not_one_of("optimizer", self.name, OPTIMIZERS)
        if self.schedule not in SCHEDULES:
            raise not_one_of("schedule", self.schedule, SCHEDULES)
        check_positive("lr", self.lr)
        if self.momentum is not None and not (is_real(self.momentum) and 0 <= self.momentum < 1):
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}.")
        if not (is_real(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}.")
        if not (is_real(self.decay_rate) and DECAY_RATE_MIN <= self.decay_rate <= 1):
            raise ValueError(
                f"decay_rate must be in [{DECAY_RATE_MIN:.4g}, 1], got {self.decay_rate!r}: optax "
                "computes the decay in float32, whose smallest normal number that is (a smaller "
                "rate is 0 there, eta 0 from the second step on)."
            )
        for name, low in (("decay_steps", 1), ("warmup_steps", 0)):
            # optax's step count is int32, as fit's total is
            if check_int(name, getattr(self, name), low) >= 2**31:
                raise ValueError(f"{name} must be < 2**31, got {getattr(self, name)}.")
        if self.clip_norm is not None:
            check_positive("clip_norm", self.clip_norm)
        for name in ("lr", "momentum", "weight_decay", "decay_rate", "clip_norm"):
            store_as(self, name, float)  # numpy numbers become Python's: JSON and hashing
        for name in ("decay_steps", "warmup_steps"):
            store_as(self, name, int)
        second_order.check_settings(self)
        for setting, why in unused(self.name, self.schedule).items():
            value, default = getattr(self, setting), DEFAULTS[setting]
            if value != default:
                raise ValueError(
                    f"{setting}={value!r} would be ignored: {why}; leave it at its default "
                    f"({default!r})."
                )

    @property
    def momentum_used(self) -> float | None:
        """The mu its update uses: ``momentum``, or ``DEFAULT_MOMENTUM`` for momentum and
        nesterov when None; None where it has no momentum term (sgd without one, the others)."""
        return momentum_used(self.name, self.momentum)

    def learning_rate(self, total_steps: int, lr=None) -> optax.Schedule:
        """eta as a function of the step count, for a run of ``total_steps`` steps (peak ``lr``
        instead of ``self.lr`` when given, possibly a traced array)."""
        lr = self.lr if lr is None else lr
        decay_steps = max(total_steps - self.warmup_steps, 1)
        if self.schedule == "constant":
            main = optax.constant_schedule(lr)
        elif self.schedule == "cosine":
            main = optax.cosine_decay_schedule(lr, decay_steps)
        else:
            staircase = self.schedule == "step"
            main = optax.exponential_decay(
                lr, self.decay_steps, self.decay_rate, staircase=staircase
            )
        if not self.warmup_steps:
            return main
        warmup = optax.linear_schedule(0.0, lr, self.warmup_steps)
        return optax.join_schedules([warmup, main], [self.warmup_steps])

    def build(self, total_steps: int, hyper: dict | None = None) -> optax.GradientTransformation:
        """The optax transformation for a run of ``total_steps`` steps.

        ``hyper``: numbers used instead of the fields named in ``HYPERPARAMETERS``, possibly
        traced arrays (a population's per-member values; changing them never recompiles). A
        value given there also switches on the term it drives (momentum on sgd, weight decay,
        clipping), so that 0 is one value among others."""
        if self.name in second_order.NAMES:
            return second_order.build(self)
        hyper = hyper or {}
        unknown = set(hyper) - set(HYPERPARAMETERS)
        if unknown:
            raise ValueError(
                f"Unknown hyperparameters: {sorted(unknown)}. They need to be among "
                f"{list(HYPERPARAMETERS)}."
            )
        value = lambda name: hyper.get(name, getattr(self, name))  # noqa: E731
        on = lambda name: name in hyper or bool(getattr(self, name))  # noqa: E731
        lr = self.learning_rate(total_steps, value("lr"))
        mu = DEFAULT_MOMENTUM if value("momentum") is None else value("momentum")
        decay = value("weight_decay")
        base = {
            "sgd": lambda: optax.sgd(lr, momentum=value("momentum") if on("momentum") else None),
            "momentum": lambda: optax.sgd(lr, momentum=mu),
            "nesterov": lambda: optax.sgd(lr, momentum=mu, nesterov=True),
            "adam": lambda: optax.adam(lr),
            "adamw": lambda: optax.adamw(lr, weight_decay=decay, mask=weights_only),
            "rmsprop": lambda: optax.rmsprop(lr),
            "adagrad": lambda: optax.adagrad(lr),
        }[self.name]()
        chain = []
        if "clip_norm" in hyper or self.clip_norm is not None:
            chain.append(optax.clip_by_global_norm(value("clip_norm")))
        if on("weight_decay") and self.name != "adamw":
            chain.append(optax.add_decayed_weights(decay, mask=weights_only))
        return optax.chain(*chain, base) if chain else base


DEFAULTS = {field.name: field.default for field in dataclasses.fields(Optimizer)}


def unused(name: str, schedule: str) -> dict:
    """The settings of ``Optimizer`` that optimizer ``name`` on ``schedule`` ignores, each with
    why: the one rule by which ``Optimizer`` refuses them set (off their ``DEFAULTS``) and the
    command line their flags given (``run.settings.check_used``). An unknown ``name`` or
    ``schedule`` ignores nothing here: ``Optimizer`` names it."""
    why = {}
    if name in OPTIMIZERS and name not in MOMENTUM_OPTIMIZERS:
        users = ", ".join(MOMENTUM_OPTIMIZERS)
        why["momentum"] = f"optimizer {name!r} has no momentum (it applies to {users})"
    for option in ("decay_rate", "decay_steps"):
        if schedule in SCHEDULE_OPTIONS and option not in SCHEDULE_OPTIONS[schedule]:
            users = " and ".join(s for s, options in SCHEDULE_OPTIONS.items() if option in options)
            why[option] = (
                f"schedule {schedule!r} has no {option.replace('_', ' ')} (only {users} use it)"
            )
    return why


def without_unused(record: dict) -> dict:
    """A saved optimizer ``record`` (``dataclasses.asdict``'s, a checkpoint's) with the settings
    its optimizer ignores (``unused``) at their defaults: saved before ``Optimizer`` refused
    them, they never acted (``digests.config_sha256`` hashes them as saved)."""
    if not isinstance(record, dict):
        return record  # (Optimizer names the problem)
    ignored = unused(record.get("name", DEFAULTS["name"]), record.get("schedule", "constant"))
    return record | {setting: DEFAULTS[setting] for setting in ignored}


@functools.partial(jax.jit, static_argnums=(0, 1))
def initial_state(structure: Optimizer, total_steps: int, params):
    """``structure.build(total_steps).init(params)``, compiled once per optimizer structure and
    parameter shapes. ``structure``: the optimizer with placeholder numbers
    (``epochs.split_numbers``): the state holds none, so another learning rate does not compile
    again. Op by op, it and the initial parameters took ~1 ms of a fresh XOR ``fit``; compiled,
    ~0.2 ms with the placement (experiments/BENCHMARKS.md)."""
    return structure.build(total_steps).init(params)


def check_state(structure: Optimizer, total_steps: int, params, opt_state) -> None:
    """A ValueError unless ``opt_state`` is a state of ``structure``'s optimizer on ``params``
    (``initial_state``'s tree structure, shapes and dtypes), naming the damped solver that made
    it where it is one (``second_order.solver_of``): else a jax error deep in the step, or, for
    lm and newton-cg, the other solver's state resumed silently."""
    want = jax.eval_shape(initial_state, structure, total_steps, params)
    if _layout(opt_state) == _layout(want):
        return
    maker = second_order.solver_of(opt_state)
    raise ValueError(
        f"state.opt_state is not a state of optimizer {structure.name!r}"
        f"{f' (it is one of optimizer {maker!r})' if maker else ''}: resume with the optimizer "
        "the state was trained with."
    )


def as_state_of(structure: Optimizer, total_steps: int, params, opt_state):
    """``opt_state`` as a state of ``structure``'s optimizer on ``params``: itself where its
    layout is that one's (``check_state``), else that layout's leaves, each the next leaf of
    ``opt_state`` of its name (the state fields and parameter names on its path), shape and
    dtype, in order. A population member's state is one of an optimizer that switches on, for
    every member, a term that this member's value, 0, leaves off in its own (sgd's momentum
    trace, the weight decay's empty state): what it drops is no input to the member's next
    step. ``opt_state`` as it is where a leaf has no such match (``check_state`` refuses it)."""
    want = jax.eval_shape(initial_state, structure, total_steps, params)
    if _layout(opt_state) == _layout(want):
        return opt_state
    have = jax.tree_util.tree_flatten_with_path(opt_state)[0]
    wanted, treedef = jax.tree_util.tree_flatten_with_path(want)
    taken, i = [], 0
    key = lambda path, a: (_names(path), tuple(a.shape), str(a.dtype))  # noqa: E731
    for path, leaf in wanted:
        while i < len(have) and key(*have[i]) != key(path, leaf):
            i += 1
        if i == len(have):
            return opt_state
        taken.append(have[i][1])
        i += 1
    return jax.tree.unflatten(treedef, taken)


def _names(path) -> tuple:
    """A leaf's path without its positions (in a chain of states, in a list of layers)."""
    return tuple(str(k) for k in path if not isinstance(k, jax.tree_util.SequenceKey))


def _layout(tree):  # structure, shapes and dtypes
    return jax.tree.structure(tree), [(a.shape, a.dtype) for a in jax.tree.leaves(tree)]


def weights_only(params):
    """The mask that selects the ``"w"`` leaves of a params pytree."""
    return [{name: name == "w" for name in layer} for layer in params]
