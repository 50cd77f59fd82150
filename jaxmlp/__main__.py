"""``python -m jaxmlp`` and the ``jaxmlp`` command (``main``).

The signal handlers come first (``interrupt.install``), before JAX is imported: Ctrl-C while
importing is one line and exit 130, not a traceback. A command stopped by a signal ends with
``os._exit`` once its files are saved and its lines flushed: the interpreter's own exit, with
XLA's compiler threads still running, could crash (SIGSEGV) after "interrupted" was printed.
A warning is one line, ``warning: ...``, as an error is one ``error: ...`` line (``one_line``),
not Python's two (the warning's source file and line, then the source line itself).
"""

import os
import sys
import warnings

from jaxmlp import interrupt


def one_line(message, category, filename, lineno, file=None, line=None) -> str:
    """A warning as the command prints it (``warnings.formatwarning``'s signature)."""
    return f"warning: {message}\n"


def main(argv=None) -> int:
    warnings.formatwarning = one_line
    try:
        interrupt.install()
        from jaxmlp import cli

        status = cli.main(argv)
    except KeyboardInterrupt as error:  # while importing, before cli.main's own handling
        print("interrupted", file=sys.stderr)
        status = interrupt.status(error)
    if status >= 128:  # stopped by a signal
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
