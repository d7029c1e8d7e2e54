"""How a command ends: an expected failure becomes one plain line on stderr and an exit code.

Exit codes: 0 success, 1 a failed transaction / verification / node or file error,
2 a usage error; 141 (`PIPE_CLOSED_EXIT`) when the reader closed the pipe before the output
ended, unless the command had failed. Warnings and errors always go to stderr as one plain
line, so that with `--json` only machine-readable JSON goes to stdout.
"""

import contextlib
import os
import signal
import sys
from collections.abc import Iterator

import typer

from tianfu.apps.common.errors import BadInput
from tianfu.apps.common.errors import CommandFailed as AppCommandFailed
from tianfu.client import (
    DEFAULT_URL,
    ApiError,
    ClientError,
    ConnectionFailed,
    TxFailed,
    VerificationError,
)
from tianfu.codec import CodecError
from tianfu.crypto import CryptoError


class UsageProblem(Exception):
    """Bad command-line input detected after parsing (exit code 2)."""


class CommandFailed(Exception):
    """A command that ran but did not succeed (exit code 1)."""


_USAGE = (UsageProblem, BadInput)
_PLAIN = (ClientError, CommandFailed, AppCommandFailed, CodecError, CryptoError)
# ValueError: IdentityError and other validation errors of our packages.
_EXPECTED = (*_USAGE, TxFailed, VerificationError, *_PLAIN, OSError, ValueError)


# Appended when no node answers at the URL.
NO_NODE_HINT = (
    " — is a node running there? `tianfu up` (or `make run`) starts a local network;"
    " --url or TIANFU_URL picks another node"
)
# Appended to a 404 that names no resource: the web framework's answer for a path the API
# does not have (a --url with a path, such as http://127.0.0.1:8701/v1).
NO_PATH_HINT = (
    " — the node has no such API path: --url (or TIANFU_URL) is the node's base URL, "
    f"e.g. {DEFAULT_URL}"
)
# Appended to a node's "unknown contract" refusal: where to look, and what activates one.
UNKNOWN_CONTRACT_HINT = (
    " (`tianfu contract list` shows the active contracts; a proposed one runs once enough"
    " organisations' admins approved it: `tianfu gov list`, `tianfu contract approve ID`)"
)


def _error_line(exc: BaseException) -> tuple[str, int]:
    """The stderr line and exit code of an expected failure (the first that applies)."""
    if isinstance(exc, ConnectionFailed) and str(exc).startswith("cannot connect"):
        return f"error: {exc}{NO_NODE_HINT}", 1
    if isinstance(exc, ApiError) and exc.status == 404 and exc.message == "Not Found":
        return f"error: {exc}{NO_PATH_HINT}", 1
    if isinstance(exc, ClientError) and "unknown contract" in str(exc):
        return f"error: {exc}{UNKNOWN_CONTRACT_HINT}", 1
    if isinstance(exc, _USAGE):
        return f"error: {exc}", 2
    if isinstance(exc, TxFailed):
        return f"error: transaction {exc.result.tx_hash} failed: {exc.error}", 1
    if isinstance(exc, VerificationError):
        return f"error: verification failed: {exc}", 1
    if not isinstance(exc, _PLAIN) and isinstance(exc, FileNotFoundError):
        return f"error: no such file: {exc.filename}", 1
    return f"error: {exc}", 1


# The exit code of a command whose reader closed the pipe before the output ended
# (`tianfu block list | head -1`): 128 + SIGPIPE, as a shell reports git, ls or grep killed
# by the signal in the same place. Not 0: the command stopped where it was writing, so what
# it had still to do (and check) was not done.
PIPE_CLOSED_EXIT = 128 + signal.SIGPIPE


def _stdout_to_devnull() -> None:
    """Point the process's stdout at /dev/null, so that flushing what is left of its buffer
    at exit cannot fail again on the closed pipe (a stdout without a file descriptor, as
    under a test runner, is left as it is)."""
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _flush_stdout() -> None:
    """Flush stdout before an exit; a reader already gone is not reported (the exit code
    says what happened): without this, Python's own flush at exit failed on the closed pipe,
    printed 'Exception ignored ... BrokenPipeError' and exited 120 instead."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_to_devnull()


@contextlib.contextmanager
def handle_errors() -> Iterator[None]:
    """Turn every expected failure into one clean line on stderr and an exit code. A reader
    that closed the pipe early (`tianfu block list | head -1`) gets no error line; the exit
    code is `PIPE_CLOSED_EXIT`, or the command's own failure code when it had one."""
    try:
        yield
        sys.stdout.flush()  # a closed pipe shows here, not at the interpreter's exit
    except (typer.Exit, typer.Abort, typer.BadParameter):
        _flush_stdout()
        raise
    except BrokenPipeError:
        _stdout_to_devnull()
        raise typer.Exit(PIPE_CLOSED_EXIT) from None
    except _EXPECTED as exc:
        line, code = _error_line(exc)
        typer.echo(line, err=True)
        _flush_stdout()
        raise typer.Exit(code) from None
