"""``train``: the run's steps in order (the protocol of ``jaxmlp.run``)."""

import dataclasses
import shlex
import time

from jaxmlp import checkpoint
from jaxmlp import train as _train_module
from jaxmlp.run import data, folder, record, report
from jaxmlp.run.settings import (
    DEFAULTS,
    Run,
    build,
    check_resume,
    check_used,
    merge,
    precision,
)
from jaxmlp.train import Diverged


def train(
    given: dict,
    out=None,
    *,
    resume: bool = False,
    progress: bool = False,
    handle_signals: bool = False,
    echo=print,
) -> dict:
    """Train with the settings ``given`` (the rest from ``DEFAULTS``) into the folder ``out``;
    returns the summary (also written to ``out/summary.json``).

    ``resume``: continue the run in ``out`` from its checkpoint, with its saved settings (a
    given setting that resolves to another value is an error, except more ``epochs``).
    ``progress``: a ``jaxmlp.progress.Progress`` mode: True shows a bar on a terminal and
    periodic plain lines elsewhere. ``handle_signals``: SIGINT /
    SIGTERM save a checkpoint and raise ``RunStopped``.
    Raises ``RunStopped`` (status 3) on divergence, keeping the last good checkpoint.
    """
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"Unknown settings {unknown}; known: {sorted(DEFAULTS)}.")
    started = time.perf_counter()
    out = folder.out_folder(out, given, resume)
    saved = folder.read_config(out) if resume and (out / "config.json").exists() else None
    settings = merge(given, saved)
    if saved is not None and "data" not in given:
        data.check_source(settings, saved["data"], out)
    with precision(settings["dtype"]):
        ds, settings = data.load_data(settings)
        net, optimizer, config, settings = build(settings, ds)
        check_used(given, settings)
        if saved is not None:
            check_resume(given, settings, saved, out)
        run = Run(out, settings, ds, net, optimizer, config)
        if saved is not None and saved["data"]["sha256"] != data.sha256(ds):
            raise ValueError(
                f"the data of {settings['data']!r} differ from those the run in {out} was "
                "trained on (their SHA-256 changed): resume needs the same data."
            )
        if saved is None:
            out.mkdir(parents=True, exist_ok=True)
        if saved is None or settings["epochs"] != saved["settings"]["epochs"]:
            folder.write_config(run)  # a new run, or one extended to more epochs
        return _fit(run, resume, progress, handle_signals, echo, started)


def _fit(run: Run, resume, progress, handle_signals, echo, started) -> dict:
    out, ds, net, config = run.out, run.data, run.net, run.config
    state, history, wall_before = None, [], 0.0
    if resume and (out / "checkpoint.npz").exists():
        ckpt = checkpoint.load(out / "checkpoint.npz", net=net, optimizer=run.optimizer)
        if dataclasses.replace(ckpt.config, epochs=config.epochs) != config:
            raise ValueError(
                f"{out / 'checkpoint.npz'}: saved with {ckpt.config}, but the run's settings "
                f"give {config}."
            )
        extra = ckpt.meta.get("extra") if isinstance(ckpt.meta.get("extra"), dict) else {}
        state, wall_before = ckpt.state, float(extra.get("wall_seconds", 0.0))
        history = folder.read_metrics(out / "metrics.jsonl", state.epoch)
    checkpoint.write_atomic(
        out / "metrics.jsonl", "".join(folder.to_json(r) + "\n" for r in history)
    )
    echo(report.banner(run, state.epoch if state else 0))
    t, t_val = data.targets(net, ds.task, ds.t_train), data.targets(net, ds.task, ds.t_val)
    saver = record.Saver(run, state, wall_before, started)
    with (
        record.Recorder(run, saver, history, progress) as recorder,
        record.signals(recorder.stop, handle_signals),
    ):
        try:
            if state is not None and record.finished(state, config):
                final = _train_module.final_params(state, config)
            else:
                result = fit(
                    net, ds.x_train, t, run.optimizer, config,
                    x_val=ds.x_val, t_val=t_val, state=state, callback=recorder,
                )  # fmt: skip
                state, final = result.state, result.params
        except Diverged as error:
            raise report.diverged(error, run, saver.epoch, saver.wall_seconds()) from None
    if saver.epoch != state.epoch:  # a signal after the callback's decision, or a late finish
        saver.save(state)
    if recorder.stop:
        raise report.RunStopped(
            f"interrupted at epoch {state.epoch}/{config.epochs}: checkpoint saved; continue "
            f"with: jaxmlp train --out {shlex.quote(str(out))} --resume",
            128 + recorder.stop[0],
        )
    summary = report.summarize(run, state, final, history, saver.wall_seconds())
    echo(report.closing(summary, out))
    return summary


fit = _train_module.fit  # module attribute: tests replace it to inject failures
