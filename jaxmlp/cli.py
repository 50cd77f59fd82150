"""The ``jaxmlp`` command. Each subcommand adds its parser in ``_SUBCOMMANDS``; user errors end
with exit status 2 and one line ``error: ...`` on stderr (``--debug`` shows the traceback)."""

import argparse
import sys

import jaxmlp


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit status 2
        raise UsageError(message)


class UsageError(ValueError):
    """A bad flag or argument on the command line."""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="jaxmlp", description=jaxmlp.__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"jaxmlp {jaxmlp.__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            build_parser().print_help()
            return 0
        return args.run(args) or 0
    except (ValueError, TypeError, OSError) as error:
        if debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2
