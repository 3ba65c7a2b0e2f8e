"""The errors a user can cause, and the exit statuses of the ``zsaudio`` command.

A *user error* is a mistake in what was asked for: a bad argument, a missing file or folder,
a label no encoder knows, a model file that does not fit. The library raises
:class:`UserError` (for checks made only by the command-line tool) or, at its own
boundaries, ``ValueError`` and ``FileNotFoundError`` (and their subclasses, e.g.
``zsaudio.assets.AssetNotFoundError``, ``zsaudio.labels.UnknownLabelError``). The command-line
tool reports all of them the same way: ``zsaudio <command>: error: <message>`` on stderr and
exit status :data:`EXIT_USAGE`. Any other exception is a bug and keeps its traceback.

>>> describe_error(FileNotFoundError("no such folder: /x"))
'no such folder: /x'
>>> EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED
(0, 1, 2, 130)
"""

from __future__ import annotations

__all__ = ["EXIT_FAILURE", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "USER_ERRORS", "UserError",
           "describe_error"]

EXIT_OK = 0
"""Everything asked for was done."""
EXIT_FAILURE = 1
"""The command ran, but part of the work failed (e.g. some files could not be decoded; the
others were processed and printed), or the system refused (a folder cannot be written)."""
EXIT_USAGE = 2
"""A user error: bad arguments, missing input files, unknown labels, a mismatched model.
Nothing was done (argparse's own errors use the same status)."""
EXIT_INTERRUPTED = 130
"""Interrupted with Ctrl-C (128 + SIGINT); what was finished is kept (caches are atomic)."""

EXIT_CODES_HELP = (
    "exit status: 0 done; 1 some inputs failed (the others were processed) or the system "
    "refused a read/write; 2 user error (bad arguments, missing files, unknown labels, "
    "mismatched model), nothing done; 130 interrupted"
)
"""The exit statuses in one paragraph (``zsaudio --help`` epilog)."""


class UserError(Exception):
    """A mistake in what the user asked for, found by the command-line tool itself.

    Reported in one line (:func:`describe_error`), with exit status :data:`EXIT_USAGE`.
    """


USER_ERRORS: tuple[type[BaseException], ...] = (UserError, ValueError, FileNotFoundError)
"""Exceptions reported as user errors (one line, :data:`EXIT_USAGE`), subclasses included."""


def describe_error(err: BaseException) -> str:
    """The message of an error for the one-line report: its text, or its type when it has none.

    A message of several lines (an asset not found lists where it looked) keeps its first line
    on the error line; the others follow, indented.

    >>> describe_error(ValueError("bad\\nwhere: here"))
    'bad\\n  where: here'
    >>> describe_error(KeyError("k"))
    "KeyError: 'k'"
    """
    text = str(err).strip() if not isinstance(err, KeyError) else ""
    if not text:
        return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    first, *rest = text.splitlines()
    return "\n".join([first, *("  " + line for line in rest)])
