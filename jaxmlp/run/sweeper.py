"""``sweep``: many runs of one network as one population (``jaxmlp sweep``), written to one folder.

The protocol is a run's (``jaxmlp.run``), with members in place of one net:

    settings (+ seeds, value lists, folds) -> data -> (net, optimizer, config) -> members
    -> chunks of ``fit_population`` -> run folder

The settings resolve by the run's own rules (``settings.merge``, ``data.load_data``,
``settings.build``); a swept setting holds its list of values. The members are
``search.plan(grid, seeds, folds)`` (grid point, then seed, then fold); they train ``chunk`` at
a time (``workers`` chunks at once on host threads: ``host_threads``, each chunk's results
those of it alone), and each finished chunk is saved atomically as ``chunks/NNNNN.npz`` (its
members' records and loss curves, the sweep's run_id and length, their SHA-256), so ``resume``
skips the chunks on disk and ends with the results of an uninterrupted sweep: a chunk always
holds the same members, trained by the same program. Another ``--chunk`` trains them in
populations of another size: the same results up to float rounding only
(``jaxmlp.population``), which chaotic (large learning-rate) training can grow into materially
different ones. A chunk of another sweep, or changed, is refused; a sweep holds its folder's
lock (``folder.lock``) as a run does.

    OUT/config.json      every setting, resolved (swept ones as lists), the data's fingerprint
    OUT/chunks/*.npz     the finished chunks
    OUT/members.jsonl    one record per member: its settings and results (also members.csv)
    OUT/summary.json     one row per grid point (``sweep_report``), the success rule, figures
    OUT/*.png            final loss and success rate against each swept value, loss curves
"""

import contextlib
import dataclasses
import functools
import sys
import time

import jax
import numpy as np

from jaxmlp import checkpoint, host_threads, interrupt, progress, search, second_order
from jaxmlp import population_checks as checks
from jaxmlp.arrays import precision, storage_dtype
from jaxmlp.epochs import steps_per_epoch
from jaxmlp.evaluation import evaluate_members
from jaxmlp.numeric import check_int, is_real
from jaxmlp.optim import check_schedule
from jaxmlp.population import SETTINGS as SWEPT
from jaxmlp.population import fit_population
from jaxmlp.run import chunks, data, folder, report, sweep_folds, sweep_report
from jaxmlp.run.place import CHUNKS
from jaxmlp.run.settings import (
    DEFAULTS,
    Run,
    as_flag,
    build,
    check_resume,
    check_used,
    command_line,
    merge,
    own_spellings,
    sweep_seeds,
)
from jaxmlp.run.sweep_report import FINAL
from jaxmlp.run.trainer import init_weights, resolved_init_from
from jaxmlp.train import is_classifier

# A sweep's own settings beside the run's: None seeds are [seed]; chunk None splits the P
# members into equal chunks of at most CHUNK.
SWEEP_DEFAULTS = {"seeds": None, "folds": None, "chunk": None, "init_scale": 1.0}
CHUNK = 256
MAX_MEMBERS = search.MAX_MEMBERS  # a sweep's most members, as a grid search's


def sweep(
    given: dict, out=None, *, resume: bool = False, workers: int = 1, echo=progress.say
) -> dict:
    """Train the members of ``given`` into the folder ``out``; returns the summary (also in
    ``out/summary.json``).

    ``given``: run settings (``DEFAULTS``), where ``lr``, ``momentum``, ``weight_decay``,
    ``clip_norm`` and ``init_scale`` may be lists (each value a grid axis), and ``seeds`` (the
    members' seeds: initial parameters, shuffling, dropout; ``seed`` still draws the data, its
    split and the folds), ``folds`` (k-fold cross-validation, each fold a member) and
    ``chunk`` (members trained at a time, and saved). ``resume``: continue the sweep in ``out``.
    ``workers``: train this many chunks at once, each on a host thread of its own (the cores of
    a CPU; each chunk's memory at once), each saved as it finishes: every chunk's results are
    those of it trained alone, so the folder's files (but timings) and run_id do not depend on
    it, and a resume may take another.
    """
    workers = check_int("--workers", workers, 1)
    unknown = sorted(set(given) - set(DEFAULTS) - set(SWEEP_DEFAULTS))
    if unknown:
        raise ValueError(f"Unknown settings {unknown}; known: {sorted(DEFAULTS | SWEEP_DEFAULTS)}.")
    given = resolved_init_from(given)
    started = time.perf_counter()
    named, out = out is not None, folder.out_folder(out, given, resume)
    with contextlib.ExitStack() as held:
        if resume:
            held.enter_context(folder.lock(out))
        saved = folder.read_saved(out, sweep=True) if resume else None  # checked
        given = own_spellings(given, saved)  # an --init that draws as the sweep's did: its own
        if (out / CHUNKS).exists() and not (out / CHUNKS).is_dir():  # before a chunk trains
            raise ValueError(
                f"{out / CHUNKS}: exists and is not a folder (a sweep keeps its chunks there): "
                "move it away, or pick another --out."
            )
        if resume:  # what a killed write left (the lock is held: no write is under way)
            folder.remove_temporaries(out)
        run, grid, members, start, folds = _plan(given, saved, out, held)
        if not resume:  # one process writes the folder; made after every check has passed
            out = folder.claim(out, given, named)
            run = run._replace(out=out)
            held.enter_context(folder.lock(out))
            folder.out_folder(out, given, resume)  # a sweep another process began meanwhile
        run_id = saved["run_id"] if saved else folder.run_id(run)  # a resumed one may be older
        wall = chunks.Wall(started)  # (its earlier processes' time: that of the chunks read)
        try:  # a signal is acted on between the compiled calls of a chunk's epochs and between
            # chunks (interrupt.check: the chunk under way is abandoned), or where Python raises it
            records, curves = _train(run, grid, members, start, folds, run_id, wall, echo, workers)
            interrupt.check()
            summary = sweep_report.write(run, grid, records, curves, wall, echo)
        except KeyboardInterrupt as error:
            saved = (out / "config.json").exists()
            raise SweepInterrupted(out, saved, interrupt.status(error)) from None
    if late := interrupt.take():  # while the report was written: every member is trained
        print(report.late_signal(None, late[0]), file=sys.stderr)
    return summary


class SweepInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM while a sweep trained into ``out`` (or wrote its report); ``saved``: a
    chunk finished there (so ``--resume`` continues it); ``status``: the exit status."""

    def __init__(self, out, saved: bool, status: int = 130):
        super().__init__(out, saved)
        self.out, self.saved, self.status = out, saved, status


def _plan(given: dict, saved: dict | None, out, held) -> tuple:
    """``(run, grid, members, start, folds)`` of the sweep ``given`` (resuming ``saved``), checked
    (``start``: ``_start``; ``folds``: ``sweep_folds.fold_data``'s); enters its precision."""
    given = _as_lists(given)
    settings = merge(given, saved)
    settings |= {name: settings.get(name, v) for name, v in SWEEP_DEFAULTS.items()}
    if saved is not None and "data" not in given:
        data.check_source(settings, saved, out, resume=True)
    if saved is not None:
        sweep_folds.check_resume(saved, out)
    held.enter_context(precision(settings["dtype"]))
    if settings["folds"] is not None:  # the folds hold out their own validation rows
        # (resuming a sweep without folds, check_resume names --folds)
        if settings["val_fraction"] and (saved is None or saved["settings"].get("folds")):
            raise ValueError("--folds hold out their own validation rows: drop --val-fraction.")
        settings["val_fraction"] = 0.0
    ds, settings = data.load_data(settings, saved and saved["data"], keep_raw=True)
    ds, raw = data.split_raw(ds)  # the inputs as read: the folds standardise them (fold_data)
    grid, settings = _grid(settings, ds)
    base = settings | {name: DEFAULTS[name] for name in grid if name in DEFAULTS}
    folds_watch = {"early_stopping": None} if settings["folds"] else {}  # val: the folds
    check_used(given, base | folds_watch)  # a flag the sweep would ignore is refused, as by train
    same = {k: v for k, v in given.items() if k != "epochs"}  # the sweep's own, as train's
    if saved is not None:  # a changed setting first, before build refuses what it leaves unused
        check_resume(same, settings, saved, out, built=False)
        epochs = given.get("epochs", saved["settings"]["epochs"])
        if epochs != saved["settings"]["epochs"]:  # (its chunks hold members trained to it)
            raise ValueError(
                f"--epochs {epochs} differs from the {saved['settings']['epochs']} of the sweep "
                f"in {out}: a sweep resumes with its own length (drop --epochs, or start a new "
                "sweep)."
            )
    net, optimizer, config, resolved = build(base | folds_watch, ds)
    config = dataclasses.replace(config, early_stopping=settings["early_stopping"])
    kept = ("output", "loss", "activation", *(() if "momentum" in grid else ("momentum",)))
    settings |= {name: resolved[name] for name in kept}  # momentum: the mu used (build)
    if saved is not None:  # and those build resolves, once resolved
        check_resume(same, settings, saved, out, built=True)
    run = Run(out, settings, ds, net, optimizer, config)
    if saved is not None:
        data.check_same(ds, saved["data"], out, "resume")
    members = search.plan(grid, settings["seeds"], settings["folds"])
    n, steps = _member_steps(settings["folds"], len(ds.x_train), config)
    second_order.check(optimizer, net, config.batch(n), n)  # fit_population's: before the folder
    check_schedule(optimizer, steps * config.epochs)
    hyper = {name: [m[name] for m in members] for name in grid}  # as fit_population checks them
    checks.members([m["seed"] for m in members], hyper, optimizer, config)
    folds = sweep_folds.fold_data(settings, ds, net, raw) if settings["folds"] else None
    return run, grid, members, _start(settings, net, saved, out), folds


def _member_steps(folds: int | None, n: int, config) -> tuple[int, int]:
    """Each member's training rows, its fold's (``search.kfold_rows``, whose shapes every fold
    shares) or all ``n``, and its steps an epoch (``steps_per_epoch``), as ``fit_population``'s."""
    rows = n if folds is None else search.kfold_rows(n, folds)[0].shape[1]
    return rows, steps_per_epoch(rows, config.batch(rows), config.drop_last)


def _start(settings: dict, net, saved: dict | None, out) -> list | None:
    """The weights every member starts from (its weights and biases times its ``init_scale``,
    as ``fit_population`` scales given parameters): those of the run ``init_from`` names
    (``trainer.init_weights``), or None (each seed's); a resumed sweep's must be the ones it
    began from (config.json's ``init_from_params_sha256``), so that its chunks are those of an
    uninterrupted sweep."""
    start = init_weights(settings, net, "sweep")
    if start is None or saved is None:
        return start
    recorded = saved.get("init_from_params_sha256")
    if recorded is None:
        raise ValueError(
            f"{out / 'config.json'}: records no init_from_params_sha256 (the sweep was begun "
            "by a jaxmlp that ignored --init-from: its members started from their seeds' "
            "weights): start a new sweep."
        )
    if checkpoint.params_sha256(start) != recorded:
        raise ValueError(
            f"--init-from {settings['init_from']}: its weights changed since the sweep began "
            f"(config.json records their SHA-256 {recorded}): restore that run, or start a "
            "new sweep."
        )
    return start


def _as_lists(given: dict) -> dict:
    """``given`` with each swept setting a list of floats (one number becomes a list): finite
    numbers (``numeric.is_real``), never a string or a bool that ``float`` would read as one
    (each once: ``_grid``)."""
    lists = {}
    for name in SWEPT:
        if name in given:
            v = given[name]
            many = isinstance(v, list | tuple)
            wrong = [x for x in (v if many else [v]) if not is_real(x)]
            if wrong:
                raise ValueError(
                    f"{name} must be a finite number or a list of them, got {wrong[0]!r}"
                    f"{f' in {v!r}' if many else ''}."
                )
            v = [float(x) for x in v] if many else [float(v)]
            if not v:
                raise ValueError(f"{as_flag(name)} needs at least one value.")
            lists[name] = v[0] if len(v) == 1 and name != "init_scale" else v
    return given | lists


def _grid(settings: dict, ds) -> tuple[dict, dict]:
    """The swept settings ``{name: values}``, each value once in the members' dtype, and the
    settings with seeds, folds, chunk resolved and checked."""
    grid = {name: settings[name] for name in SWEPT if isinstance(settings[name], list)}
    dtype = storage_dtype(settings["dtype"])  # that of the members' numbers (arrays.stored)
    for name, values in grid.items():
        search.check_once(as_flag(name), values, dtype=dtype)
    if grid.get("init_scale") == [1.0]:
        del grid["init_scale"]
        settings = settings | {"init_scale": 1.0}
    member_seeds = sweep_seeds(settings["seeds"], settings["seed"])
    folds = settings["folds"]
    if folds is not None:
        search.kfold_rows(len(ds.x_train), folds, settings["seed"])  # checks folds
        sweep_folds.check_classes(settings, ds)
    p = search.count_members(grid, member_seeds, folds, "sweep")
    if settings["devices"] is not None:
        raise ValueError("a sweep trains its members on one device: drop --devices.")
    chunk = settings["chunk"]
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1):
        raise ValueError(f"--chunk must be an integer >= 1, got {chunk!r}.")
    if chunk is None:  # CHUNK at most, in chunks of one size (one compiled program)
        chunk = -(-p // -(-p // CHUNK))
    chunk = min(chunk, p)
    return grid, settings | {"seeds": member_seeds, "chunk": chunk}


def _config(run: Run, grid: dict, n_members: int, start: list | None) -> dict:
    """config.json: the run's record with the sweep's command line and plan (and the SHA-256
    of the weights ``start`` of ``init_from``, as a run's)."""
    record = folder.config_record(run)
    if start is not None:
        record["init_from_params_sha256"] = checkpoint.params_sha256(start)
    seeds, seed = run.settings["seeds"], run.settings["seed"]  # [seed]: no --seeds (a count)
    shown = len(seeds) if seeds == list(range(len(seeds))) else None if seeds == [seed] else seeds
    command = command_line(run.settings | {"seeds": shown}, run.out)
    record["command"] = "jaxmlp sweep" + command.removeprefix("jaxmlp train")
    record["sweep"] = {
        "members": n_members,
        "grid": grid,
        "order": "grid point (product of the grid's lists, in their order), then seed, then fold",
        "success": sweep_report.SUCCESS_RULE,
    }
    if sweep_folds.standardized(run.settings):
        record["sweep"]["standardizer"] = sweep_folds.RULE
    return record


def _train(
    run: Run, grid, members, start, fold_data, run_id, wall, echo, workers=1
) -> tuple[list, dict]:
    """Each chunk's ``(records, curves)``, read back from ``chunks/`` (of the sweep ``run_id``,
    its length and ``start``; ``wall``, a ``chunks.Wall``, takes their times, gives those saved)
    or trained, ``workers`` at a time (from ``start``: ``_start``; on ``fold_data``,
    ``sweep_folds.fold_data``'s), each saved here as it finishes."""
    settings, ds, net, config = run.settings, run.data, run.net, run.config
    chunk, p = settings["chunk"], len(members)
    n_chunks = -(-p // chunk)
    axes = search.axes(grid, settings["seeds"], settings["folds"])
    echo(
        f"{ds.name}: {p} members ({axes}) of MLP {'-'.join(map(str, net.sizes))}, "
        f"{config.epochs} epochs, {n_chunks} chunks of {chunk} -> {run.out}"
    )
    folds, n = settings["folds"], len(ds.x_train)
    if folds and n % folds:
        echo(sweep_folds.left_over(folds, n))
    identity = {"run_id": run_id, "epochs": config.epochs}
    if sweep_folds.standardized(settings):  # (chunks of the older rule are another sweep's)
        identity["standardizer"] = sweep_folds.RULE
    if start is not None:  # (config.json's record of it lies outside its run_id)
        identity["init_from_params_sha256"] = checkpoint.params_sha256(start)
    identity = folder.to_json(identity)
    starts = range(0, p, chunk)
    parts = [(c, members[first : first + chunk], first) for c, first in enumerate(starts)]
    path = lambda c: run.out / CHUNKS / f"{c:05d}.npz"  # noqa: E731
    found = {c: chunks.read(path(c), part, first, identity, wall)
             for c, part, first in parts if path(c).exists()}  # fmt: skip
    missing = [(c, part, first) for c, part, first in parts if c not in found]

    def jobs():  # each missing chunk's training, taken here as a worker comes free
        for _, part, first in missing:
            interrupt.check()
            yield functools.partial(_timed, run, grid, part, first, start, fold_data)

    with contextlib.closing(host_threads.finished(jobs(), workers, interrupt.check)) as done:
        for i, (trained, seconds) in done:
            c, part, first = missing[i]
            folder.check_held(run.out)  # the folder locked, not one made again meanwhile
            if not (run.out / "config.json").exists():  # the settings trained: keep them
                folder.write_json(run.out / "config.json", _config(run, grid, p, start))
            path(c).parent.mkdir(exist_ok=True)
            chunks.write(path(c), *trained, identity, wall.seconds())
            found[c] = chunks.read(path(c), part, first, identity)  # the records as JSON gives them
            echo(f"chunk {c + 1}/{n_chunks}: {len(part)} members in {seconds:.1f} s")
    records = _success(run, [r for c in range(n_chunks) for r in found[c][0]])
    curves = {k: np.concatenate([found[c][1][k] for c in range(n_chunks)]) for k in found[0][1]}
    return records, {"epoch": chunks.curve_epochs(config.epochs)} | curves


def _timed(*args) -> tuple[tuple[list, dict], float]:
    """``_fit_chunk(*args)`` and its seconds (on a worker's thread: under this thread's jax
    settings, the run's precision among them, ``host_threads``)."""
    began = time.perf_counter()
    return _fit_chunk(*args), time.perf_counter() - began


def _fit_chunk(
    run: Run, grid: dict, part: list, first: int, start, folds, stop=interrupt.check
) -> tuple[list, dict]:
    """``(records, curves)`` of the members ``part``, trained as one population of ``chunk``
    members (each from the weights ``start`` where given; on their ``folds``, a
    ``sweep_folds.Folds``, where given): a short last chunk is padded with copies of its last
    member (dropped after), so that every chunk runs the one compiled program; ``stop``:
    ``fit_population``'s (a signal, or another worker's error, abandons the chunk)."""
    settings, ds, net, config = run.settings, run.data, run.net, run.config
    padded = part + [part[-1]] * (settings["chunk"] - len(part))
    x, t, rows = ds.x_train, data.targets(net, ds.task, ds.t_train), None
    if folds is not None:
        x, t, rows = folds.x, folds.t, folds.rows([m["fold"] for m in padded])
    stack = lambda a: np.broadcast_to(a, (len(padded), *np.shape(a)))  # noqa: E731
    params = None if start is None else jax.tree.map(stack, start)
    pop = fit_population(
        net, x, t, run.optimizer, config,
        seeds=[m["seed"] for m in padded],
        hyper={name: [m[name] for m in padded] for name in grid},
        rows=rows, x_val=ds.x_val, t_val=data.targets(net, ds.task, ds.t_val), params=params,
        stop=stop,  # a signal abandons the chunk (its resume trains it whole)
    )  # fmt: skip
    has_val = ds.x_val is not None or bool(settings["folds"])
    marks = chunks.curve_epochs(config.epochs) - 1
    names = chunks.CURVES if has_val else chunks.CURVES[:1]
    curves = {k: pop.history[k][: len(part), marks] for k in names}
    # the returned (restored best) parameters on each member's training rows
    train_rows = None if rows is None else rows[0]
    final = evaluate_members(net, pop.params, x, t, train_rows)["accuracy"]
    final = [None] * len(part) if final is None else final[: len(part)].tolist()
    results = [r | {FINAL: a} for r, a in zip(pop.members[: len(part)], final, strict=True)]
    return _chunk_records(run, results, part, first), curves


def _chunk_records(run: Run, results: list, part: list, first: int) -> list[dict]:
    """One record per member of the chunk: its settings, then ``fit_population``'s results
    (``success`` is given where the chunks are read back: ``_success``)."""
    fixed = {name: run.settings[name] for name in SWEPT}
    records = []
    for k, (m, result) in enumerate(zip(part, results, strict=True)):
        record = {"member": first + k, "seed": m["seed"], "fold": m["fold"]}
        record |= {name: m.get(name, fixed[name]) for name in SWEPT}
        record |= {key: v for key, v in result.items() if key not in ("member", "seed", *SWEPT)}
        records.append(record)
    return records


def _success(run: Run, records: list[dict]) -> list[dict]:
    """``records`` with each member's ``success`` by ``SUCCESS_RULE``, given here to the
    chunks of an earlier process too: none for a regression, also where its output counts an
    accuracy (a sigmoid's y and t on one side of 0.5), which decides no class."""
    classifier = is_classifier(run.net) and run.data.task != "regression"
    return [r | {"success": sweep_report.success(r, classifier)} for r in records]
