"""Populations: P networks of one architecture trained at once, as one compiled program.

Members differ by seed (initial parameters, shuffling, dropout), by numeric optimizer settings
given as arrays (``hyper``: learning rate, momentum, weight decay, clipping norm, and
``init_scale``), and by their rows of the data (cross-validation folds). They share the compiled
epochs of ``fit`` (``jaxmlp.epochs``) under ``jax.vmap``: another value never recompiles, and
member k is ``fit`` with member k's settings: the same initial parameters, keys, shuffles and
update rule, and the same parameters and history up to float rounding. Not bit for bit: XLA:CPU
sums a batched reduction (the bias gradient over a (P, n, h) delta) in another order than an
unbatched one, and its order depends on P, on the chunk and on the sharding, so a last-bit
difference in about half of the steps grows slowly along a run (the bound, for the runs it
measures: tests/test_population.py). What is guaranteed equal is the start (parameters, keys,
shuffles) and the update rule, not the trajectory: under chaotic training (a learning rate near
or past the stability limit, e.g. full-batch SGD at lr 13 on a 2-8-1 tanh net) the last-bit
differences grow exponentially, and the same member in another population size, chunk or
sharding, or solo, can end with materially different parameters, losses, stopping epoch or
divergence; so can Adam near zero loss, whose steps stay ~lr long, hopping about the minimum
(a 1-2-1 tanh fit of 3 points, lr 0.05, 2000 epochs: 0.099 of the parameters apart from its
solo fit, the final losses 1.5e-6 and 1.2e-4; 4.8e-6 at epoch 1000, loss 0.45).
The damped solvers (lm, newton-cg) amplify them as their damping falls: each step solves
``(G + damping I) d = -g``, which multiplies a last-bit difference by up to that system's
condition number (a smooth 3-3-1 tanh regression, 25 full-batch epochs from damping 0.1 down to
~1e-5: a member 1.9e-3 (lm) and 1.1e-2 (newton-cg) of the largest parameter from its solo fit,
the final losses 1.6e-4 and 3e-6 relative apart; after 5 epochs 2.1e-5 and 1.5e-5). So
does lbfgs started near the saddle at 0 (a 3-4-1 tanh regression, ``init_scale`` 1e-3, 6
full-batch epochs: 2.2e-2 of the largest parameter apart on 2 devices in chunks of 2 and on
one, the final losses 7e-3 relative apart; the members started at scale 0.5 to 2, 6e-7).
Early stopping, restore-best, divergence and a curvature solver's stall (lm, newton-cg at their
damping's ceiling; lbfgs, cg where a restarted line search finds no decrease:
``second_order.stuck``) are per member, inside the fused scan: a stopped, stalled or diverged
member is frozen by a mask, the others go on.

>>> import jax.numpy as jnp
>>> from jaxmlp import MLP, Optimizer, TrainConfig, fit_population
>>> x = jnp.array([[0.0, 0], [0, 1], [1, 0], [1, 1]]); t = jnp.array([[0.0], [1], [1], [0]])
>>> net = MLP((2, 3, 1), "sigmoid", "sigmoid", "sse", reduction="sum", init="uniform:0,1")
>>> pop = fit_population(net, x, t, Optimizer("sgd"), TrainConfig(epochs=2000, batch_size="full"),
...                      seeds=[0, 1, 2, 3], hyper={"lr": [0.5, 0.5, 1.0, 1.0]})
>>> len(pop.members), pop.params[0]["w"].shape, [r["lr"] for r in pop.members]
(4, (4, 2, 3), [0.5, 0.5, 1.0, 1.0])
"""

import dataclasses
import functools
import math
import time
from numbers import Integral

import jax
import jax.numpy as jnp
import numpy as np

from jaxmlp import (
    arrays,
    host_threads,
    member_start,
    probe,
    second_order,
    sharding,
    stopping,
    train,
)
from jaxmlp import epochs as ep
from jaxmlp import member_epochs as mep
from jaxmlp import population_checks as checks
from jaxmlp.history import epoch_records, member_columns
from jaxmlp.optim import HYPERPARAMETERS, Optimizer, as_state_of, check_schedule
from jaxmlp.train import Result, TrainConfig, TrainState

SETTINGS = checks.SETTINGS  # the names ``hyper`` takes


@dataclasses.dataclass(frozen=True)
class Population:
    """A trained population of P members.

    Attributes:
      params: the members' parameters stacked on a leading axis of P (each member's best
        parameters with early stopping and ``restore_best``, like ``fit``; a diverged member's
        as its solo fit's ``Diverged.state`` holds them: the last good ones, or the last step's
        whose loss is not finite, ``jaxmlp.probe``).
      history: ``{name: (P, epochs) array}`` for ``train_loss``, ``train_correct``,
        ``val_loss``, ``val_correct`` (counts; views of one ``(P, epochs, names)`` array); NaN
        after a member's last epoch.
      members: one record per member: its settings (``seed``, each ``hyper`` value;
        ``search.grid_search`` adds the ``fold``) and outcome (``epochs`` trained,
        ``stopped_epoch`` (out of patience, or a curvature solver's stall:
        ``second_order.stuck``), ``diverged_epoch`` and ``diverged_step`` (None when it did
        not), and the losses/accuracies of ``params_epoch``, the epoch of ``params`` (the best where
        restore-best restored them, else the last; None where a member diverged: its last
        epoch's), the validation ones those of ``params``, the training ones running values
        (``jaxmlp.history``; ``evaluation.evaluate_members`` gives those of ``params``)).
      state: the members' final ``member_epochs.Member`` carry, stacked.
    """

    params: list
    history: dict
    members: list
    state: mep.Member
    net: object
    n_seen: int
    n_val: int
    optimizer: Optimizer  # as given, and the run's steps: each member's own optimizer state
    total_steps: int

    def member(self, k: int) -> Result:
        """Member k as ``fit`` would return it (a diverged member: its last good parameters,
        as ``Diverged.state`` holds them, also with ``restore_best``), its state one of its own
        optimizer (``optim.as_state_of``), which a ``fit`` with its settings resumes."""
        if isinstance(k, bool) or not isinstance(k, Integral) or not 0 <= k < len(self.members):
            raise ValueError(f"member must be an integer in [0, {len(self.members)}), got {k!r}.")
        pick = lambda tree: jax.tree.map(lambda a: a[k], tree)  # noqa: E731
        end = self.members[k]["epochs"]
        out = {name: self.history[name][k, :end].tolist() for name in self.history}
        x_val = np.empty((self.n_val, 0)) if self.n_val else None
        history = epoch_records(self.net, out, 0, self.members[k]["seconds"], self.n_seen, x_val)
        s = pick(self.state)
        best = s.best_params if float(s.best_val_loss) < math.inf else None
        epochs = self.history["train_loss"].shape[1]  # the run's length: (P, config.epochs)
        own = {n: self.members[k][n] for n in HYPERPARAMETERS if n in self.members[k]}
        own, _ = ep.split_numbers(dataclasses.replace(self.optimizer, **own))
        opt_state = as_state_of(own, self.total_steps, s.params, s.opt_state)
        lengths = {"run_epochs": epochs, "run_steps": self.total_steps}  # its schedule spans
        state = TrainState(s.params, opt_state, end, best, float(s.best_val_loss),
                           int(s.bad_epochs), **lengths)  # fmt: skip
        return Result(pick(self.params), history, state)


def fit_population(
    net,
    x,
    t,
    optimizer: Optimizer | None = None,
    config: TrainConfig | None = None,
    *,
    seeds=None,
    hyper: dict | None = None,
    rows=None,
    x_val=None,
    t_val=None,
    params=None,
    devices: int | None = None,
    chunk: int | None = None,
    workers: int = 1,
    stop=None,
) -> Population:
    """Train P members of ``net`` at once on ``x (n, d)``, ``t`` (as ``fit``).

    Member k is ``fit(net, x, t, optimizer with hyper[.][k], config with seed=seeds[k])``.

    Args:
      seeds: P integer seeds (``config.seed`` for every member when None).
      hyper: ``{name: P numbers}`` for names in ``SETTINGS``: ``lr``, ``momentum`` (sgd,
        momentum, nesterov), ``weight_decay``, ``clip_norm``, and ``init_scale``, which
        multiplies every initial weight and bias (``w`` and ``b``; not a learnable alpha).
        Two values may be equal, not different numbers that the members' dtype makes one.
      rows: ``(train_rows (P, m), val_rows (P, v))``, each member's rows of ``x`` (folds, see
        ``search.kfold_rows``) instead of all of them; ``x_val`` must then be None.
      params: initial parameters stacked on a leading axis of P (``net.init`` per seed else).
      devices: shard the members over this many devices (a ``"members"`` mesh axis; P, or
        each chunk, must divide evenly); one device when None. ``config.devices`` (one run
        data-parallel) must be None.
      chunk: train at most this many members at a time (memory): the same results up to float
        rounding (not bit for bit, and not close under chaotic training: see the module).
        When None, ``ceil(P / workers)``, and on the CPU at most the members whose parameters,
        gradients and optimizer state fit in 8 MiB per device, in chunks of equal size
        (``member_start.chunk_size``: faster, and larger members then train in the same
        chunks, bit for bit, on any number of workers up to the number of chunks).
      workers: train this many chunks at once, each on a host thread of its own (the cores of a
        CPU, which runs a population of tiny members on one core): the same results as its
        chunks one after another, bit for bit. Each chunk is prepared in the calling thread
        and trained under its jax settings; ``stop`` is called in the workers' threads, and
        what it raises in one stops them all at their next call (``host_threads``).
      stop: a callable run before each compiled call of epochs; what it raises ends the training
        there (``jaxmlp sweep``'s Ctrl-C: ``interrupt.check``).

    Memory per member: its parameters and optimizer state (twice the parameters with early
    stopping, for the best ones), twice over (the state a few epochs start from is kept to
    redo them guarded, ``member_epochs.make_member_epochs``), one batch's activations and gradients,
    and 8 bytes of history per epoch (16 with validation); the data are shared.
    """
    optimizer, config = optimizer or Optimizer(), config or TrainConfig()
    with arrays.run_precision(config.dtype):  # (not a wrapper: warnings name the caller)
        arrays.check_given(x, t, x_val, t_val)
        seeds, values = checks.members(seeds, hyper, optimizer, config)
        p = len(seeds)
        checks.check_run(config, chunk, params, p, stop, workers)
        dtype = train.storage_dtype(config.dtype)
        if params is not None:
            checks.check_params(net, params, dtype, values.get("init_scale"))
        x, t = arrays.as_arrays(net, x, t, dtype)
        if x_val is not None:
            x_val, t_val = arrays.as_arrays(net, x_val, t_val, dtype, ("x_val", "t_val"))
        if rows is not None:
            rows = checks.check_rows(rows, p, x.shape[0], x_val)
        has_val = x_val is not None or rows is not None
        if config.early_stopping and not has_val:
            raise ValueError(
                f"early_stopping={config.early_stopping} watches the validation loss: pass x_val "
                "and t_val, or rows."
            )
        n = x.shape[0] if rows is None else rows[0].shape[1]
        batch_size = config.batch(n)
        second_order.check(optimizer, net, batch_size, n)  # as fit: full batch, no dropout, ...
        n_val = 0 if not has_val else (x_val.shape[0] if rows is None else rows[1].shape[1])
        steps = ep.steps_per_epoch(n, batch_size, config.drop_last)
        spec, base = train.step_spec(optimizer, config, steps, checks.optimizer_numbers(values))
        check_schedule(optimizer, spec.total_steps)  # (members always begin their runs)
        numbers = _numbers(base, values, p, dtype)
        patience, has_rows = config.early_stopping, rows is not None
        mesh1 = sharding.data_mesh(1)
        run = mep.make_member_epochs(
            net, spec, n, batch_size, mesh1, has_val, patience, has_rows, config.drop_last
        )
        chunk = min(
            int(chunk or member_start.chunk_size(net, spec, config, p, workers, devices, dtype)), p
        )
        mesh, keys = sharding.members_mesh(devices, p, chunk), member_start.keys(seeds)
        scale = values.get("init_scale")
        data = (x, t, x_val, t_val)

        def chunks():  # each chunk's training, prepared here when its turn comes
            for s in range(0, p, chunk):
                pick = slice(s, s + chunk)  # a slice, not a gather (an op each on the device)
                member_scale = None if scale is None else scale[pick]
                carry = member_start.carry(
                    net, spec, config, keys[pick], member_scale, params, pick, dtype
                )
                member_rows = None if rows is None else (rows[0][pick], rows[1][pick])
                hyper_ = jax.tree.map(lambda a: a[pick], numbers)  # noqa: B023
                args = _placed(mesh, carry, data, member_rows, keys[pick], hyper_)
                per_call = mep.member_epochs_per_call(
                    net, n, config.epochs, len(args[-2]), has_val, carry.best_val_loss.dtype
                )
                yield functools.partial(_train, run, args, per_call, config.epochs)

        done = dict(host_threads.finished(chunks(), workers, stop))
        parts = [
            (stopping.restored(config, carry), history, carry, seconds, ran)
            for carry, history, seconds, ran in (done[i] for i in range(len(done)))
        ]
        n_seen = ep.examples_per_epoch(n, batch_size, config.drop_last)
        probed = (x, t, rows and rows[0])  # the rows each member's last parameters are probed on
        return _assemble(parts, net, optimizer, config, seeds, values, n_seen, n_val, spec, probed)


def _numbers(base: dict, values: dict, p: int, dtype) -> dict:
    """Each of the optimizer's numbers as a (P,) array of ``dtype`` (``arrays.stored``): the
    swept values, else its own."""
    numbers = {name: np.broadcast_to(values.get(name, v), (p,)) for name, v in base.items()}
    return {name: jnp.asarray(a) for name, a in arrays.stored(numbers, dtype).items()}


def _placed(mesh, carry, data, rows, keys, hyper) -> tuple:
    """A chunk's arguments of its compiled epochs (but the epochs), placed on ``mesh`` (one
    device when None)."""
    if mesh is not None:
        split = sharding.members_sharded(mesh)
        carry, keys, hyper, rows = jax.device_put((carry, keys, hyper, rows), split)
        data = jax.device_put(data, sharding.replicated(mesh))
    return carry, *data, *(rows or (None, None)), keys, hyper


def _train(call, args, per_call: int, epochs: int, stop=None):
    """``(carry, history, seconds per epoch, epochs run)`` of one chunk of members trained from
    ``args`` (``_placed``) by ``call`` (the compiled epochs); ``history``: ``{name: (P,
    epochs)}``, NaN after the epochs run. Only compiled calls and NumPy: any thread may run it."""
    carry, keys = args[0], args[-2]
    names = mep.member_outputs(args[3] is not None or args[5] is not None)  # x_val or rows
    dtype = carry.best_val_loss.dtype  # the metrics' (step.metric_dtype)
    # Each call's outputs are copied once, as they are, into their place in one array (no
    # concatenation, no padding) while the next call runs; the names are views of it.
    history = member_columns((len(keys), epochs, len(names)), dtype)
    first, done, start = 0, None, time.perf_counter()
    while first < epochs:
        if stop is not None:
            stop()
        these = np.arange(first, min(first + per_call, epochs), dtype=np.int32)
        carry, out = call(carry, *args[1:], these)
        if done is not None:
            _copy_outputs(history, *done)
        done, first = (out, first), first + len(these)
        if np.asarray(carry.stopped).all():  # every member out of patience or diverged
            break
    _copy_outputs(history, *done)
    seconds = (time.perf_counter() - start) / first
    history[:, first:] = np.nan  # the epochs not run (every member stopped)
    return carry, {name: history[..., j] for j, name in enumerate(names)}, seconds, first


def _copy_outputs(history, out, first: int):
    """A call's outputs ``out (groups, P, c, k)`` (``member_epochs.make_member_epochs``) into
    ``history (P, all epochs, k)`` from epoch ``first`` on, group by group (rows of ``c x k``
    numbers, not a strided copy per name)."""
    out = jax.device_get(out)
    c = out.shape[2]
    for g, group in enumerate(out):
        history[:, first + g * c : first + (g + 1) * c] = group


def _assemble(parts, net, optimizer, config, seeds, values, n_seen, n_val, spec, probed):
    """The chunks' results as one ``Population``, with each member's record; ``probed``: ``(x,
    t, train rows or None)``, where the members' last parameters must evaluate (``probe``)."""
    concat = lambda *a: jnp.concatenate(a) if isinstance(a[0], jax.Array) else np.concatenate(a)  # noqa: E731
    params = jax.tree.map(concat, *[part[0] for part in parts])
    state = jax.tree.map(concat, *[part[2] for part in parts])
    history = parts[0][1]
    if len(parts) > 1:
        history = {k: np.concatenate([part[1][k] for part in parts]) for k in history}
    stop, div = np.asarray(state.stop_epoch), np.asarray(state.diverged_epoch)
    ends = np.where(stop > 0, stop, np.where(div > 0, div - 1, config.epochs))
    counts = [part[2].stopped.shape[0] for part in parts]
    ran = np.repeat([part[4] for part in parts], counts)
    ends = np.minimum(ends, ran)  # a chunk whose members all stopped early ran fewer epochs
    params, state = probe.mark_members(
        net, params, state, *probed, ends, spec.total_steps // config.epochs
    )
    stop, div, step = (
        np.asarray(a) for a in (state.stop_epoch, state.diverged_epoch, state.diverged_step)
    )
    for k in np.flatnonzero(ends < config.epochs):  # NaN after a member's last epoch
        for h in history.values():
            h[k, ends[k] :] = np.nan
    val, ran_to = history.get("val_loss"), np.where(div > 0, 0, ends)
    stopping.warn_non_finite_members(val, ran_to)  # as fit raises
    other = (div > 0) | np.asarray(stopping.patience_ran_out(state, config))  # than a stall
    second_order.warn_stalled_members(
        optimizer, state.opt_state, ends, history["train_loss"], config.epochs, other
    )
    seconds = np.repeat([part[3] for part in parts], counts)
    best = np.asarray(state.best_val_loss)
    classifier = train.is_classifier(net)
    # The epoch of the parameters returned: the best where restored (``_train``), else the last
    # (a diverged member's: its last good ones are within the next).
    restored = stopping.restores(config, best, div)
    kept = stopping.kept_epoch(ends, np.asarray(state.bad_epochs), restored)
    # Python numbers column by column (``tolist``), then one record per member.
    at, ends = np.maximum(kept - 1, 0), ends.tolist()
    lasts = {name: h[np.arange(len(ends)), at].tolist() for name, h in history.items()}

    nothing = [None] * len(ends)

    def last(name, n=1):  # each member's value at its params_epoch (None: it ran no epoch)
        column = lasts.get(name, nothing)
        return [v / n if end and v is not None else None for v, end in zip(column, ends)]

    columns = {"member": range(len(ends)), "seed": seeds}
    columns |= {name: v.tolist() for name, v in values.items()}
    columns |= {
        "epochs": ends,
        "stopped_epoch": [e or None for e in stop.tolist()],
        "diverged_epoch": [e or None for e in div.tolist()],
        "diverged_step": [s or None for s in step.tolist()],
        "params_epoch": [e if e and not d else None for e, d in zip(kept.tolist(), div.tolist())],
        "train_loss": last("train_loss"),
        "train_accuracy": last("train_correct", n_seen) if classifier else nothing,
        "val_loss": last("val_loss"),
        "val_accuracy": last("val_correct", n_val) if classifier else nothing,
        "best_val_loss": [b if b < math.inf else None for b in best.tolist()],
        "seconds": seconds.tolist(),
    }
    members = [dict(zip(columns, row)) for row in zip(*columns.values(), strict=True)]
    return Population(
        params, history, members, state, net, n_seen, n_val, optimizer, spec.total_steps
    )
