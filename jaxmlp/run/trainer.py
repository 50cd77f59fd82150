"""``train``: the run's steps in order (the protocol of ``jaxmlp.run``)."""

import contextlib
import dataclasses
import math
import pathlib
import shlex
import sys
import time
import warnings

import numpy as np

from jaxmlp import checkpoint, second_order, sharding
from jaxmlp import train as _train_module
from jaxmlp.arrays import precision, storage_dtype, stored
from jaxmlp.epochs import steps_per_epoch
from jaxmlp.evaluation import evaluate
from jaxmlp.optim import check_schedule
from jaxmlp.progress import say
from jaxmlp.resume import finished
from jaxmlp.run import data, folder, opening, record, report
from jaxmlp.run.settings import (
    DEFAULTS,
    Run,
    build,
    check_devices,
    check_resume,
    check_used,
    layer_activations,
    merge,
    own_spellings,
)
from jaxmlp.stopping import NonFiniteValidationLoss
from jaxmlp.train import Diverged, TrainState


def train(
    given: dict,
    out=None,
    *,
    resume: bool = False,
    progress: bool = False,
    handle_signals: bool = False,
    echo=say,
    warn=None,
) -> dict:
    """Train with the settings ``given`` (the rest from ``DEFAULTS``) into the folder ``out``;
    returns the summary (also written to ``out/summary.json``).

    ``resume``: continue the run in ``out`` from its checkpoint, with its saved settings (a
    given setting that resolves to another value is an error, except more ``epochs``).
    ``progress``: a ``jaxmlp.progress.Progress`` mode: True shows a bar on a terminal and
    periodic plain lines elsewhere. ``handle_signals``: SIGINT / SIGTERM save a checkpoint and
    raise ``RunStopped``. ``warn``: where warnings go (default: a line on stderr). Raises
    ``RunStopped`` (status 3) on divergence (``record.divergence``), keeping the last good
    checkpoint.

    The folder is locked (``folder.lock``) from the first read of a resumed run, or the first
    write of a new one, to the end; a command refused before training leaves it as it was.
    """
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"Unknown settings {unknown}; known: {sorted(DEFAULTS)}.")
    given = resolved_init_from(given)
    warn = warn or (lambda line: print(line, file=sys.stderr))
    started = time.perf_counter()
    named, out = out is not None, folder.out_folder(out, given, resume)
    with contextlib.ExitStack() as held:
        if resume:
            held.enter_context(folder.lock(out))
        saved = folder.read_saved(out, sweep=False) if resume else None
        given = own_spellings(given, saved)
        settings = merge(given, saved)
        if saved is not None and "data" not in given:
            data.check_source(settings, saved, out, resume=True)
        held.enter_context(precision(settings["dtype"]))
        ds, settings = data.load_data(settings, saved and saved["data"])
        check_used(given, settings)  # first: the flag named, not the Optimizer's or MLP's error
        if saved is not None:  # then a changed setting, before build refuses what it leaves unused
            check_resume(given, settings, saved, out, built=False)
            check_devices(given, settings, out, len(ds.x_train))
        net, optimizer, config, settings = build(settings, ds)
        if saved is not None:  # and those build resolves, once resolved
            check_resume(given, settings, saved, out, built=True)
        run = Run(out, settings, ds, net, optimizer, config)
        _check_fit(run, new=saved is None)
        if saved is not None:
            data.check_same(ds, saved["data"], out, "resume")
        # a run killed before its first save starts over: as a new run, its facts recomputed
        if saved is not None and (out / "checkpoint.npz").exists():
            state, facts = _resumed(run, saved, warn)
            folder.remove_temporaries(out)
            if settings["epochs"] != saved["settings"]["epochs"]:  # extended to more epochs
                folder.extend_config(run, saved, facts["length"])
            if not finished(state, config):  # an earlier end's (finished, diverged): stale now
                (out / "summary.json").unlink(missing_ok=True)
        else:
            state, facts = _initial(run)
            facts["devices"] = _devices(run, facts["warnings"], warn)
            if saved is None:
                out = folder.claim(out, given, named)
                run = run._replace(out=out)
                held.enter_context(folder.lock(out))
                folder.out_folder(out, given, resume)  # a run another process began meanwhile
            else:
                folder.remove_temporaries(out)
            folder.write_config(run, facts)
        return _fit(run, state, facts, progress, handle_signals, echo, warn, started)


def _check_fit(run: Run, new: bool) -> None:
    """What ``fit`` refuses before its first step, checked before the folder is written (a run
    refused there would leave a folder that can be neither rerun nor resumed): a run too long
    for the step counters (``step_spec``), a number the dtype cannot hold (``stored``), what
    a curvature solver cannot train (``second_order.check``: its losses, mini-batches,
    dropout), and for a ``new`` run a schedule that would never decay
    (``optim.check_schedule``)."""
    n = len(run.data.x_train)
    second_order.check(run.optimizer, run.net, run.config.batch(n), n)
    steps = steps_per_epoch(n, run.config.batch(n), run.config.drop_last)
    spec, numbers = _train_module.step_spec(run.optimizer, run.config, steps)
    stored(numbers, storage_dtype(run.config.dtype))
    if new:
        check_schedule(run.optimizer, spec.total_steps)


def _initial(run: Run) -> tuple[TrainState, dict]:
    """A new run's state at epoch 0 (from ``init_from``'s weights or the seed) and its facts:
    the initial loss (for the divergence rule); ``train`` adds the device count (``_devices``)."""
    ds, net, config = run.data, run.net, run.config
    start = init_weights(run.settings, net)
    params = _train_module.initial_params(net, config, start)
    n = len(ds.x_train)
    steps = steps_per_epoch(n, config.batch(n), config.drop_last)
    state = TrainState(params, run.optimizer.build(steps * config.epochs).init(params), 0)
    t = data.targets(net, ds.task, ds.t_train)
    facts = {
        "run_id": folder.run_id(run, checkpoint.VERSION),  # as config.json records it
        "initial_loss": float(evaluate(net, params, ds.x_train, t)["loss"]),
        "warnings": [],
    }
    if start is not None:
        facts["init_from_params_sha256"] = checkpoint.params_sha256(start)
    return state, facts


def resolved_init_from(given: dict) -> dict:
    """``given`` with its ``init_from`` (if any) an absolute path, as config.json records it
    (a resume from another working folder starts from the same run)."""
    if given.get("init_from") is None:
        return given
    return given | {"init_from": str(pathlib.Path(given["init_from"]).resolve())}


def init_weights(settings: dict, net, kind: str = "run") -> list | None:
    """The weights a run (or every member of a sweep: ``kind``) of ``settings`` starts from:
    those of the run ``init_from`` names (``_weights_of``: verified, of ``net``'s architecture
    and init, finite), or None (the seed's)."""
    if settings.get("init_from") is None:
        return None
    return _weights_of(pathlib.Path(settings["init_from"]), net, kind)


def _weights_of(run_dir: pathlib.Path, net, kind: str) -> list:
    """The last good weights of the run in ``run_dir``, for a net of ``net``'s architecture
    (its activations spelt as one or per layer alike: ``relu`` is ``relu,relu`` for 2 layers),
    drawn by its init (a run keeps the init its weights were drawn by: named, not as an
    architecture)."""
    if not (run_dir / "checkpoint.npz").is_file():
        raise ValueError(f"--init-from {run_dir}: no run there (no checkpoint.npz).")
    source = checkpoint.read_meta(run_dir / "checkpoint.npz")["architecture"]
    act, drawn = source.get("activation"), source.get("init")
    hidden = {"hidden": net.sizes[1:-1]}
    with contextlib.suppress(ValueError, TypeError):  # (not the same: load names what differs)
        if layer_activations(hidden | {"activation": act}) == list(net.hidden_activations):
            net = net.replace(activation=act if isinstance(act, str) else tuple(act))
    if drawn != net.init_scheme:
        text = {None: "None (each layer's default)"}
        raise ValueError(
            f"--init-from {run_dir}: its weights were drawn by --init {text.get(drawn, drawn)}, "
            f"this {kind} has {text.get(net.init_scheme, net.init_scheme)}: a run that starts "
            "from another's weights keeps the init that drew them "
            f"({f'pass --init {drawn}' if drawn else 'drop --init'})."
        )
    if (run_dir / "config.json").is_file():  # checked as every reader of a run folder checks it
        params = opening.load_checkpoint(run_dir, folder.read_config(run_dir), net=net).final_params
    else:
        params = checkpoint.load(run_dir / "checkpoint.npz", net=net).final_params
    if not all(np.isfinite(np.asarray(a)).all() for layer in params for a in layer.values()):
        raise ValueError(f"--init-from {run_dir}: its parameters hold NaN or Inf.")
    return params


def _resumed(run: Run, saved: dict, warn) -> tuple[TrainState, dict]:
    """The resumed run's state (its checkpoint's) and facts (``run_id`` and ``initial_loss``:
    config.json's, which ``read_config`` and ``load_checkpoint`` checked; ``length``: the
    checkpoint's run's epochs; ``wall_before``: the state is the checkpoint's; ``history``: its
    epochs' records, checked whole); warns once
    where the device count changed (the bits of the result then differ from an uninterrupted
    run: the gradients' sums go over other devices in another order)."""
    out, config = run.out, run.config
    facts = {
        "run_id": saved.get("run_id"),
        "initial_loss": saved.get("initial_loss"),
    }
    ckpt = opening.load_checkpoint(out, saved, net=run.net, optimizer=run.optimizer)
    extra = ckpt.meta.get("extra") if isinstance(ckpt.meta.get("extra"), dict) else {}
    if "initial_loss" not in extra and run.settings.get("init_from") is None:
        _check_initial_loss(run, saved)  # a checkpoint from before checkpoints recorded it
    facts["length"] = ckpt.config.epochs  # of the run it saved: load_checkpoint checked it
    if dataclasses.replace(ckpt.config, epochs=config.epochs, devices=config.devices) != config:
        raise ValueError(
            f"{out / 'checkpoint.npz'}: saved with {ckpt.config}, but the run's settings "
            f"give {config}."
        )
    facts["warnings"] = list(extra.get("warnings") or [])
    facts["devices"] = _devices(run, facts["warnings"], warn)
    before = extra.get("devices")  # the count of the process that saved the checkpoint
    if before is not None and before != facts["devices"]:
        message = (
            f"warning: the run in {out} trained on {before} device(s) and resumes on "
            f"{facts['devices']}: its result will not be bitwise that of an uninterrupted run "
            f"(run it on {before} device(s) for that)."
        )
        warn(message)
        facts["warnings"].append(message)
    facts["wall_before"] = float(extra.get("wall_seconds", 0.0))
    facts["history"] = folder.read_metrics(out / "metrics.jsonl", ckpt.state.epoch, extra)
    return ckpt.state, facts


def _devices(run: Run, recorded: list, warn) -> int:
    """The number of devices the run trains on here: its ``config.devices``, else ``fit``'s
    choice (``sharding.default_devices``); a choice of fewer than all is said (``warn``) and
    kept in ``recorded`` (once: a resumed run's record may hold it), as summary.json's
    warnings."""
    if run.config.devices is not None:
        return run.config.devices
    n = len(run.data.x_train)
    devices, message = sharding.default_devices(run.config.batch(n), n)
    if message is not None:
        _say(warn, recorded, message)
    return devices


def _said(warn, recorded: list):
    """A ``warnings.showwarning`` that says a warning of the training (a stalled solver's, say)
    as ``_say`` does."""

    def show(message, category, filename, lineno, file=None, line=None):
        _say(warn, recorded, message)

    return show


def _say(warn, recorded: list, message) -> None:
    """Say ``warning: message`` as a line (``warn``) and keep it, once, in ``recorded``:
    summary.json's warnings."""
    line = f"warning: {message}"
    warn(line)
    if line not in recorded:
        recorded.append(line)


def _check_initial_loss(run: Run, saved: dict) -> None:
    """A ValueError unless config.json's ``initial_loss`` (``saved``) is the loss of the run's
    initial parameters, recomputed (to a relative 1e-4: another machine may round otherwise;
    the divergence rule's factor is 1e4)."""
    recorded, now = saved.get("initial_loss"), _initial(run)[1]["initial_loss"]
    a, b = (v if v is not None and math.isfinite(v) else None for v in (recorded, now))
    if a != b and (a is None or b is None or not math.isclose(a, b, rel_tol=1e-4)):
        raise ValueError(
            f"{run.out / 'config.json'}: its initial_loss {recorded!r} is not the {now!r} of "
            f"the run's initial parameters {folder.EDITED}"
        )


def _fit(run: Run, state, facts, progress, handle_signals, echo, warn, started) -> dict:
    out, ds, net, config = run.out, run.data, run.net, run.config
    on_disk = "wall_before" in facts  # the state is that of the checkpoint
    history = facts.get("history", [])
    echo(report.banner(run, state.epoch))
    t, t_val = data.targets(net, ds.task, ds.t_train), data.targets(net, ds.task, ds.t_val)
    kept = {k: facts[k] for k in ("run_id", "initial_loss", "devices", "warnings")}
    saver = record.Saver(
        run, state if on_disk else None, facts.get("wall_before", 0.0), started, kept
    )
    with (
        record.Recorder(run, saver, history, progress, facts["initial_loss"]) as recorder,
        record.signals(recorder.stop, handle_signals),
        warnings.catch_warnings(),  # the divergence rule reports a non-finite val loss itself
    ):
        warnings.simplefilter("ignore", NonFiniteValidationLoss)
        warnings.showwarning = _said(warn, facts["warnings"])
        if not on_disk:
            recorder.save(state)  # epoch 0: a run always has a checkpoint
        try:
            if finished(state, config) or recorder.stop:  # stop: a signal came before
                folder.drop_unsaved(out / "metrics.jsonl", state.epoch)  # (no save will)
                final = _train_module.final_params(state, config)
            else:
                on = dataclasses.replace(config, devices=facts["devices"])  # warned: _devices
                result = fit(
                    net, ds.x_train, t, run.optimizer, on,
                    x_val=ds.x_val, t_val=t_val, state=state, callback=recorder,
                )  # fmt: skip
                state, final = result.state, result.params
        except Diverged as error:
            recorder.diverged = (error.epoch, error.reason)
        if recorder.diverged is None and saver.epoch != state.epoch:
            recorder.save(state)  # a signal after the callback's decision, or a late finish
    if recorder.diverged is not None:
        epoch, reason = recorder.diverged
        raise report.diverged(run, epoch, reason, saver.epoch, saver.wall_seconds())
    if recorder.stop and not finished(state, config):
        raise report.RunStopped(
            f"interrupted at epoch {state.epoch}/{config.epochs}: checkpoint saved; continue "
            f"with: jaxmlp train --out {shlex.quote(str(out))} --resume",
            128 + recorder.stop[0],
        )
    # a signal once training finished stops nothing: the run is complete, its summary (seconds)
    # is written, and a signal meanwhile is noted as well (a second one stops at once)
    wall, said = saver.wall_seconds(), facts["warnings"]
    with record.signals(recorder.stop, handle_signals):
        summary = report.summarize(run, state, final, history, wall, said, devices=facts["devices"])
    if recorder.stop:
        warn(report.late_signal(summary, recorder.stop[0]))
    echo(report.closing(summary, out))
    return summary


fit = _train_module.fit  # module attribute: tests replace it to inject failures
