"""How a run ends: ``Diverged`` (a step, or the parameters the last one left, not finite), and
early stopping with restore-best, the one rule of ``fit`` (and of a population's members,
``member_epochs``, which apply it per member inside the compiled scan): an epoch whose
validation loss is below the best so far is the new best, any other counts against the
patience; once ``early_stopping`` epochs in a row were no better the run stops, and with
``restore_best`` it returns the best epoch's parameters, whatever ended the run. A validation loss
that is not finite is no better than any, with a warning (``warn_non_finite_val``)."""

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp import probe
from jaxmlp.optim import step_checks, what_is_finite


class Diverged(ArithmeticError):
    """A step that is not finite (``step.finite``; ``what`` says what it checked). ``state``
    holds the parameters before it (inside epoch ``epoch``): the last good ones, unless the
    update of a curvature solver's step before overflowed them (the message says so; a
    first-order step checks the parameters it leaves, ``step.finite``); ``history`` and
    ``state.epoch`` the finished epochs. Or (``probed`` examples) the parameters the last step
    left give a non-finite loss (``jaxmlp.probe``): ``state``, ``history`` are the run's end's.
    ``start``: why the loss at a run's starting parameters is not finite (``probe.start_reason``),
    at its first step: then no lower learning rate is advised. ``reason``: what was not finite,
    in words."""

    def __init__(self, epoch, step, state, history: list, optimizer=None, probed=0, start=None):
        self.what = what_is_finite(optimizer)
        self.reason = probe.reason(probed, step, f"the {self.what} of step {step} is not finite")
        self.reason += f": {start}" * bool(start)
        overflowed = not probed and not all(
            np.isfinite(a).all() for a in jax.tree.leaves(state.params)
        )
        super().__init__(
            (f"training diverged at epoch {epoch}: {self.reason}" if probed else
             f"training diverged: non-finite {self.what} at epoch {epoch}, step {step}")
            + ("; the update of the step before overflowed the parameters" * overflowed)
            + (f": {start}" if start else "; try a lower learning rate"
               + (", or standardised inputs" * any(step_checks(optimizer))))
        )  # fmt: skip
        self.epoch, self.step, self.state, self.history = epoch, step, state, history


def advance(state, record, params, opt_state, config):
    """The state after the epoch of ``record``, and the early-stopping bookkeeping."""
    state = state._replace(params=params, opt_state=opt_state, epoch=record["epoch"])
    if config.early_stopping and record["val_loss"] is not None:
        if record["val_loss"] < state.best_val_loss:
            best = jax.tree.map(jnp.copy, params)
            state = state._replace(best_params=best, best_val_loss=record["val_loss"], bad_epochs=0)
        else:
            state = state._replace(bad_epochs=state.bad_epochs + 1)
    return state


def patience_ran_out(state, config) -> bool:
    """Whether ``config.early_stopping`` epochs in a row were no better than the best."""
    return bool(config.early_stopping) and state.bad_epochs >= config.early_stopping


def final_params(state, config):
    """The parameters a run returns at ``state``: the best ones when early stopping restores
    them, else the latest."""
    return state.best_params if restores(config, state.best_val_loss) else state.params


def params_epoch(state, config) -> int:
    """The epoch of ``final_params`` (``kept_epoch`` of ``state``)."""
    restored = restores(config, state.best_val_loss)
    return int(kept_epoch(state.epoch, state.bad_epochs, restored))


def kept_epoch(epoch, bad_epochs, restored):
    """The epoch of the parameters a run returns after ``epoch``: the best epoch, ``epoch -
    bad_epochs`` (each epoch after it counted one against the patience, ``advance``), where it
    ``restored`` the best parameters; else ``epoch``. Numbers, or arrays of a population's
    members (``population._assemble``: each member's, as its solo fit's ``params_epoch``)."""
    return np.where(restored, epoch - bad_epochs, epoch)


def restores(config, best_val_loss, diverged_epoch=0):
    """Whether a run returns its best parameters rather than its latest: early stopping with
    ``restore_best``, once an epoch's validation loss was finite (``best_val_loss`` below inf:
    ``advance`` keeps best parameters from then on), unless the run diverged (``diverged_epoch``
    not 0: it keeps its last good parameters, as ``Diverged.state`` holds them). Numbers, or
    arrays of a population's members (NumPy, or jax: ``restored``, ``population._assemble``)."""
    on = bool(config.early_stopping and config.restore_best)
    return on & (best_val_loss < math.inf) & (diverged_epoch == 0)


def restored(config, carry):
    """A population's parameters (of its ``member_epochs.Member`` carry): each member's best
    where restore-best restores them (``restores``), else its last."""
    found = restores(config, carry.best_val_loss, carry.diverged_epoch)
    if not np.any(found):
        return carry.params
    return jax.tree.map(
        lambda b, a: jnp.where(found.reshape(-1, *[1] * (a.ndim - 1)), b, a),
        carry.best_params,
        carry.params,
    )


def warn_non_finite_members(val, ends) -> None:
    """``warn_non_finite_val`` for the first member whose validation loss ``val (P,
    epochs)`` was not finite in an epoch it ran (before ``ends``), naming all such members."""
    if val is None:
        return
    ran = np.arange(val.shape[1]) < np.asarray(ends)[:, None]
    members = np.flatnonzero((~np.isfinite(val) & ran).any(axis=1)).tolist()
    if members:
        k = members[0]
        records = [{"epoch": e + 1, "val_loss": float(v)} for e, v in enumerate(val[k, : ends[k]])]
        warn_non_finite_val(records, f"member {k} (of members {members}): ")


class NonFiniteValidationLoss(RuntimeWarning):
    """An epoch's validation loss is not finite (``warn_non_finite_val``)."""


def warn_non_finite_val(history, who: str = "") -> None:
    """The rule for a validation loss that is not finite (Inf or NaN, say of validation inputs
    that overflow, or of parameters on their way to diverging): no better than any, so early
    stopping counts the epoch against its patience and restores no parameters while no epoch's
    loss was finite. It is not a training step's, so no ``Diverged``: ``fit`` and
    ``fit_population`` (per member: a member runs as its solo fit) warn, once, naming the first
    such epoch of ``history`` (its records). ``jaxmlp train`` stops such a run as diverged
    (``run.record.divergence``) and reports it itself."""
    if not history or history[0]["val_loss"] is None:
        return
    for record in history:
        value = record["val_loss"]
        if not math.isfinite(value):
            warnings.warn(
                f"{who}the validation loss of epoch {record['epoch']} is {float(value)!r}: not "
                "finite, no better than any (early stopping counts it against its patience and "
                "restores no parameters while none was finite; jaxmlp train stops such a run as "
                "diverged). Look for extreme values in the validation inputs, or lower the "
                "learning rate.",
                NonFiniteValidationLoss,
                stacklevel=4,
            )
            return
