"""The ``gensr`` command's error boundary: which exceptions are the user's
mistake (one line, exit code 2), which say the job could not be done here and
now (one line, exit code 1), and how anything else is reported (a bug: a line
saying so, then the traceback)."""
from __future__ import annotations

import sys
import traceback
from typing import Optional

from ..sr_core.image_io import ImageFileError
from ..weights.errors import GenSRError, HubDownloadError, HubOfflineError

USAGE_EXIT, FAILED_EXIT, BUG_EXIT = 2, 1, 1


class UsageError(GenSRError, ValueError):
    """A mistake in the command line or in what it names: reported as one line, exit code 2."""


class CommandFailed(GenSRError):
    """The command ran but could not finish its job (e.g. training diverged): one line, exit code 1."""


# Could not be done now, through no mistake in the command: no network, a cut download.
_FAILURES = (CommandFailed, HubOfflineError, HubDownloadError)
# The user's mistakes: a bad option value, a missing, unreadable or damaged file,
# an unknown model name. OS errors here are those about a path the user gave.
_MISTAKES = (GenSRError, ImageFileError, FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)


def one_line(e: BaseException) -> str:
    """The message of ``e`` on one line; OS errors as 'PATH: reason'."""
    if isinstance(e, OSError) and e.strerror and e.filename is not None and not isinstance(e, GenSRError):
        text = f"{e.filename}: {e.strerror}"
    else:
        text = str(e) or type(e).__name__
    return " ".join(text.split())


def report(command: str, e: BaseException) -> Optional[int]:
    """Print ``e`` for ``gensr COMMAND`` and return the exit code, or None for a
    BaseException that is not an error (SystemExit) and goes on up."""
    if isinstance(e, KeyboardInterrupt):
        print(f"gensr {command}: interrupted", file=sys.stderr)
        return 130
    if not isinstance(e, Exception):  # SystemExit (argparse, --help), GeneratorExit: not errors
        return None
    if isinstance(e, _FAILURES):
        print(f"gensr {command}: error: {one_line(e)}", file=sys.stderr)
        return FAILED_EXIT
    if isinstance(e, _MISTAKES):
        print(f"gensr {command}: error: {one_line(e)}", file=sys.stderr)
        return USAGE_EXIT
    print(f"gensr {command}: internal error: this is a bug in GenSR; please report it with the traceback below",
          file=sys.stderr)
    traceback.print_exception(type(e), e, e.__traceback__, file=sys.stderr)
    return BUG_EXIT
