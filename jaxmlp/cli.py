"""The ``jaxmlp`` command: ``train``, ``sweep``, ``evaluate``, ``predict``, ``datasets``,
``gradcheck``.

A thin layer over ``jaxmlp.run``: flags become settings, results become lines. Exit status 0 on
success; 2 with one line ``error: ...`` on stderr for every user error (unknown names, bad flags,
bad values, bad files, a net or batch too large for memory), no traceback (``--debug`` shows
it); 1 when ``gradcheck`` finds a failing cell; 3 when training diverges; 128 + the signal
number (130 for SIGINT, 143 for SIGTERM) when a signal stopped a command (a run after saving
its checkpoint).
"""

import argparse
import shlex
import sys
import traceback

import jax

import jaxmlp
from jaxmlp import cli_flags as flags
from jaxmlp import interrupt, run

EXIT_USAGE = 2
EXIT_DIVERGED = 3


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):  # whole flag names only: --chunk is no --chunk-steps
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def error(self, message):  # one line, exit status 2
        raise UsageError(message)


class UsageError(ValueError):
    """A bad flag or argument on the command line."""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="jaxmlp", description=jaxmlp.__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"jaxmlp {jaxmlp.__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    train = commands.add_parser(
        "train",
        help="train a network and save the run",
        description="Train an MLP and write config.json, metrics.jsonl, checkpoint.npz, "
        "summary.json and PNG figures into --out. Exit status 2: a bad input, or --out in use "
        "by another process; 3: training diverged (a loss, gradient or optimizer state not "
        "finite, or a training loss over 1e4 x the initial loss: the last finite checkpoint "
        "is kept and a retry with "
        "--init-from printed); 130 (Ctrl-C) or 143 (SIGTERM): interrupted (the checkpoint is "
        "saved; continue with --resume).",
    )
    for flag, kind, metavar, text in flags.TRAIN_FLAGS:
        train.add_argument(flag, type=kind, metavar=metavar, help=flags.help_text(flag, text))
    flags.header_flags(train, "--data")
    train.add_argument("--out", metavar="DIR", help="run folder (default: runs/<time>-<data>)")
    train.add_argument(
        "--resume", action="store_true", help="continue the run in --out, with its settings"
    )
    train.add_argument(
        "--no-progress", action="store_true",
        help="no progress display (default: a bar on a terminal, else a line every ~10 s)",
    )  # fmt: skip
    train.set_defaults(run=_train)

    evaluate = commands.add_parser(
        "evaluate", help="loss and accuracy of a saved run",
        description="Loss and accuracy of a saved run on its data or other data. A multilabel "
        "run's accuracy is per label (the share of correct labels, 1 - the Hamming loss), not "
        "the share of rows with every label right (scikit-learn's accuracy_score).",
    )  # fmt: skip
    evaluate.add_argument("run_dir", metavar="RUN_DIR")
    evaluate.add_argument("--data", metavar="NAME|PATH", help="other data (default: the run's)")
    evaluate.add_argument(
        "--data-dir", metavar="DIR",
        help="the folder of Fashion-MNIST's IDX files, for --data fashion-mnist or a run of it "
        "(default: the run's)",
    )  # fmt: skip
    evaluate.add_argument(
        "--label-column", type=flags.column, metavar="INDEX|NAME",
        help="with --data FILE.csv: its label column (default: the run's, by name)",
    )  # fmt: skip
    flags.header_flags(evaluate, "--data")
    evaluate.add_argument("--encoding", metavar="CODEC", help="with --data FILE.csv: its encoding")
    evaluate.add_argument("--json", action="store_true", help="print JSON")
    evaluate.set_defaults(run=_evaluate)

    predict = commands.add_parser("predict", help="predictions of a saved run")
    predict.add_argument("run_dir", metavar="RUN_DIR")
    predict.add_argument(
        "--input", required=True, metavar="FILE",
        help=".csv (its header names the columns), .npz (its array x, or its only array "
        "whatever its name) or .npy",
    )  # fmt: skip
    predict.add_argument(
        "--output",
        metavar="FILE",
        help=".csv, .json or .npz, by extension (default: CSV to stdout)",
    )
    flags.header_flags(predict, "--input")
    predict.add_argument(
        "--encoding", metavar="CODEC", help="--input FILE.csv's text encoding (default utf-8)"
    )
    predict.set_defaults(run=_predict)

    listing = commands.add_parser("datasets", help="the named data sets")
    listing.set_defaults(run=_datasets)

    check = commands.add_parser(
        "gradcheck", help="hand backprop against autodiff and finite differences, every cell",
        description="Check the hand backprop of every activation x (output, loss) pair x depth "
        "1-4 against autodiff and finite differences (minutes). Exit status 0: every cell "
        "passes; 1: a cell fails; 2: a bad input (--json is checked before the matrix runs).",
    )  # fmt: skip
    check.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    check.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    check.add_argument(
        "--curvature", action="store_true",
        help="also check the hand curvature (Hv by the R-operator, Gauss-Newton, the Hessian's "
        "diagonal, the input Hessian) against jax in float64, every cell (minutes)",
    )  # fmt: skip
    check.set_defaults(run=_gradcheck)
    sweep = _add_sweep(commands)
    for sub in (train, sweep, evaluate, predict):
        sub.add_argument(
            "--no-compile-cache", action="store_true",
            help="compile afresh: do not read or write compiled programs in "
            f"{run.cache.folder() or 'the cache folder'} (also: {run.cache.ENV}=off)",
        )  # fmt: skip
    for sub in (train, evaluate, predict, listing, check, sweep):
        sub.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    return parser


def _add_sweep(commands):
    """``jaxmlp sweep``: train's flags (one value each), value lists for the settings a
    population varies per member, ``--seeds``, ``--folds`` and ``--chunk``."""
    swept = ["--" + name.replace("_", "-") for name in run.SWEPT]
    sweep = commands.add_parser(
        "sweep",
        help="train many seeds and hyperparameter values as populations into one folder",
        description="Train every member (each value of the value lists x each seed x each fold) "
        "of one network as populations, and write config.json, members.jsonl, members.csv, "
        "summary.json and PNG figures into --out. Value lists (comma-separated) sweep "
        f"{', '.join(swept)}; every other setting takes one value. Exit status 2: a bad input; "
        "130 (Ctrl-C) or 143 (SIGTERM): interrupted (finished chunks are saved; continue with "
        "--resume).",
    )
    lists = ("--data", "--data-dir", "--label-column", "--hidden", "--activation", "--init")

    def single(flag, kind):
        def parse(text):
            if "," in text:
                raise argparse.ArgumentTypeError(
                    f"{flag} takes one value in a sweep, got {text!r}; value lists sweep "
                    f"{', '.join(swept)} and --seeds"
                )
            return kind(text)

        return parse

    for flag, kind, metavar, text in flags.TRAIN_FLAGS:
        if flag in ("--devices", "--checkpoint-every", "--chunk-steps"):
            continue  # one device; each chunk of members is saved
        if flag in swept:
            sweep.add_argument(flag, metavar=f"{metavar}[,...]", help=flags.help_text(flag, text))
        else:
            kind = kind if flag in lists else single(flag, kind)
            sweep.add_argument(flag, type=kind, metavar=metavar, help=flags.help_text(flag, text))
    flags.header_flags(sweep, "--data")
    sweep.add_argument(
        "--init-scale", metavar="S[,...]", help="multiply initial weights and biases (default: 1)"
    )
    sweep.add_argument(
        "--seeds", metavar="N|S1,S2,...",
        help="the members' seeds (initial parameters, shuffling, dropout): N for 0..N-1, or a "
        f"list (default: --seed; {run.sweeper.MAX_MEMBERS} members at most); --seed still "
        "draws the data, its split and the folds",
    )  # fmt: skip
    sweep.add_argument(
        "--folds", type=flags.integer, metavar="K",
        help="K-fold cross-validation: K folds of n // K rows of a --seed-shuffled order (the "
        "n mod K rows left over are in none: no member trains or validates on them)",
    )  # fmt: skip
    sweep.add_argument(
        "--chunk",
        type=flags.integer,
        metavar="N",
        help="members trained (and saved) at a time (default: equal chunks of at most 256)",
    )
    sweep.add_argument(
        "--workers", type=flags.integer, default=1, metavar="N",
        help="train up to N chunks at once, each on a host thread (CPU cores; N chunks' memory), "
        "each saved as it finishes (default 1): a chunk's results are those of it trained alone, "
        "so N changes no result, file or run id, and --resume may take another",
    )  # fmt: skip
    sweep.add_argument("--out", metavar="DIR", help="sweep folder (default: runs/<time>-<data>)")
    sweep.add_argument(
        "--resume", action="store_true", help="continue the sweep in --out, with its settings"
    )
    sweep.set_defaults(run=_sweep)
    return sweep


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug, args = "--debug" in argv, None
    try:
        args = build_parser().parse_args(flags.negative_values(argv))
        if args.command is None:  # a usage error: say what the commands are
            build_parser().print_help(sys.stderr)
            return EXIT_USAGE
        if getattr(args, "no_compile_cache", None) is not None:  # the commands that compile
            run.cache.enable(not args.no_compile_cache)
        if args.command in ("train", "sweep"):
            interrupt.check()  # they act on a later signal at their own safe points
        else:
            interrupt.raising()
        return args.run(args) or 0
    except (ValueError, TypeError, OSError, KeyError) as error:
        if debug:
            traceback.print_exc()
        return _fail(error)
    except (MemoryError, jax.errors.JaxRuntimeError) as error:  # XLA's: RESOURCE_EXHAUSTED
        if not isinstance(error, MemoryError) and "RESOURCE_EXHAUSTED" not in str(error):
            raise  # no user error
        if debug:
            traceback.print_exc()
        said = str(error).rstrip(".")
        return _fail(MemoryError(f"out of memory: {said}; a smaller network (--hidden), batch "
                                 "(--batch-size) or sweep chunk (--chunk) needs less"))  # fmt: skip
    except KeyboardInterrupt as error:
        if debug:
            traceback.print_exc()
        print(_interrupted(args), file=sys.stderr)
        return interrupt.status(error)


def _interrupted(args) -> str:
    """The line of a command interrupted before its own handling (train's and sweep's, before
    their first save): a resumed folder is as it was, and resumes."""
    command = getattr(args, "command", None)
    if command not in ("train", "sweep"):
        return "interrupted"
    if not (args.resume and args.out):
        return "interrupted: nothing was saved"
    kept = "its checkpoint" if command == "train" else "its finished chunks"
    return (
        f"interrupted before the {command} resumed: nothing new was saved, and {args.out} is as "
        f"it was ({kept} kept); continue with: jaxmlp {command} --out "
        f"{shlex.quote(str(args.out))} --resume"
    )


def _fail(error: BaseException) -> int:
    message = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    if isinstance(error, OSError) and error.strerror and (error.filename or error.filename2):
        # a failed os.replace(temporary, path) names the temporary file first: name the user's
        message = f"{error.filename2 or error.filename}: {error.strerror}"
    message = " ".join(message.split()) or type(error).__name__
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


# -- the subcommands -------------------------------------------------------------------------------


def _train(args) -> int:
    given = {
        flag[2:].replace("-", "_"): getattr(args, flag[2:].replace("-", "_"))
        for flag, *_ in flags.TRAIN_FLAGS
    }
    given = {name: value for name, value in given.items() if value is not None}
    if args.header is not None:
        given["header"] = args.header
    progress = not args.no_progress  # a bar on a terminal, else a plain line every few seconds
    try:
        run.train(given, args.out, resume=args.resume, progress=progress, handle_signals=True)
    except run.RunStopped as stopped:
        prefix = "error: " if stopped.status == EXIT_DIVERGED else ""
        print(f"{prefix}{stopped}", file=sys.stderr)
        return stopped.status
    return 0


def _sweep(args) -> int:
    given = {
        name: getattr(args, name)
        for name in [flag[2:].replace("-", "_") for flag, *_ in flags.TRAIN_FLAGS]
        + [*run.SWEPT, "folds", "chunk"]
        if getattr(args, name, None) is not None
    }
    for name in run.SWEPT:
        if name in given:
            given[name] = run.value_list("--" + name.replace("_", "-"), given[name])
    if args.seeds is not None:
        given["seeds"] = run.seed_list(args.seeds)
    if args.header is not None:
        given["header"] = args.header
    try:
        run.sweep(given, args.out, resume=args.resume, workers=args.workers)
    except run.SweepInterrupted as stop:
        hint = "no chunk had finished: nothing was saved"
        if stop.saved:
            hint = "the finished chunks are saved; continue with: jaxmlp sweep --out "
            hint += f"{shlex.quote(str(stop.out))} --resume"
        print(f"interrupted: {hint}", file=sys.stderr)
        return stop.status
    return 0


def _evaluate(args) -> int:
    model = run.load_run(args.run_dir)
    results = run.evaluate_run(
        args.run_dir, args.data, args.data_dir, label_column=args.label_column,
        header=args.header, encoding=args.encoding, model=model,
    )  # fmt: skip
    if args.json:
        facts = ("epoch", "epochs", "status", "early_stopped", "params_epoch")
        checkpoint = {name: getattr(model, name) for name in facts}
        print(run.to_json(results | {"checkpoint": checkpoint}, indent=2))
        return _noted(args.run_dir, model)
    print(f"{'split':<6} {'n':>7} {'loss':>12} {'accuracy':>9}")
    for split, r in results.items():
        accuracy = "-" if r["accuracy"] is None else f"{r['accuracy']:.4f}"
        print(f"{split:<6} {r['n']:>7} {r['loss']:>12.6g} {accuracy:>9}")
    return _noted(args.run_dir, model)


def _predict(args) -> int:
    run.check_output(args.output, args.input, args.run_dir)
    model = run.load_run(args.run_dir)
    columns, labels, y = run.predict_run(
        args.run_dir, args.input, header=args.header, encoding=args.encoding, model=model,
    )  # fmt: skip
    classes = model.class_names() if model.task in ("binary", "multiclass") else model.classes
    run.write_predictions(columns, labels, y, path=args.output, classes=classes)
    return _noted(args.run_dir, model)


def _noted(run_dir, model) -> int:
    """After an answer from ``model`` (the run's ``load_run``): a line on stderr where its run
    is unfinished or stopped early, naming the checkpoint's epoch and that of its parameters
    (``run.status.note``)."""
    note = run.status.note(run_dir, model)
    if note is not None:
        print(note, file=sys.stderr)
    return 0


def _datasets(args) -> int:
    del args
    rows = run.describe_datasets()
    print(
        f"{'name':<14} {'task':<11} {'train':>6} {'test':>6} {'features':>8} {'classes':>7}  source"
    )
    for r in rows:
        print(
            f"{r['name']:<14} {r['task']:<11} {r['n_train']:>6} {r['n_test']:>6} "
            f"{r['n_features']:>8} {r['n_classes'] or '-':>7}  {r['source']}"
        )
    return 0


def _gradcheck(args) -> int:
    """The matrix of every activation x (output, loss) pair x depth 1-4 (with ``--curvature``,
    its curvature cells too); exit 0 only if every cell passes, 1 otherwise. ``--json`` is
    checked first: the matrix takes minutes."""
    if args.json is not None:  # '' too: the current folder, refused (not no --json)
        run.status.check_free(args.json, "--json", "the report")
    report = run.gradcheck_matrix(args.dtype, args.curvature)
    print(report)
    if args.json is not None:
        run.write_json(args.json, report.to_dict())
    return 0 if report.ok else 1
