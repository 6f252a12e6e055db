"""Every way a command can end, turned into one line on stderr and an exit code.

- 0 done, 1 a user error or a failed run, 2 a usage error (wrong option or value),
  130 interrupted, 141 stdout closed early (``shopflow status | head``: quietly).
- An unreachable endpoint names the endpoint and, for the local stack, how to start one.
- With ``--debug`` (or SHOPFLOW_DEBUG=1) nothing is caught: the traceback is the point.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import click

from shopflow_cli.output import UserError, error_line

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141


class PipeClosedError(Exception):
    """stdout's reader went away; not an OSError, so that Click leaves it to us."""


def run_guarded(command: Callable[[], Any], *, debug: bool) -> int:
    try:
        result = command()
        _flush_stdout()
    except (BrokenPipeError, PipeClosedError):
        return _quiet_after_broken_pipe()
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    except click.UsageError as usage:
        if debug:
            raise
        return _usage_error(usage)
    except click.ClickException as problem:
        if debug:
            raise
        error_line(f"shopflow: {problem.format_message()}")
        return int(problem.exit_code)
    except (click.Abort, KeyboardInterrupt):
        # Whatever the command started has been stopped on the way out.
        error_line("shopflow: interrupted")
        return EXIT_INTERRUPTED
    except UserError as problem:
        if debug:
            raise
        error_line(f"shopflow: {problem.message}")
        return problem.code
    except Exception as problem:
        if debug:
            raise
        error_line(f"shopflow: {describe(problem)}")
        return 1
    return int(result or 0) if isinstance(result, int) else 0


def _usage_error(usage: click.UsageError) -> int:
    command = usage.ctx.command_path if usage.ctx is not None else "shopflow"
    error_line(f"{command}: {usage.format_message()} (see '{command} --help')")
    return EXIT_USAGE


def describe(problem: BaseException) -> str:
    """One line for an exception that is not a user error: what failed, and what to do."""
    from botocore import exceptions as aws

    if isinstance(problem, aws.EndpointConnectionError | aws.ConnectionClosedError):
        endpoint = str(getattr(problem, "kwargs", {}).get("endpoint_url", "the endpoint"))
        return (
            f"cannot reach {endpoint}: the local stack has stopped or is not answering "
            "(start one with 'shopflow up')"
            if endpoint.startswith(("http://127.0.0.1", "http://localhost"))
            else f"cannot reach {endpoint}: {problem}"
        )
    if isinstance(problem, aws.ReadTimeoutError | aws.ConnectTimeoutError):
        return f"the AWS endpoint did not answer in time: {problem}"
    if isinstance(problem, aws.NoCredentialsError):
        return (
            "no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID, "
            "or use the local stack)"
        )
    if isinstance(problem, aws.NoRegionError):
        return "no AWS region set (set AWS_REGION or AWS_DEFAULT_REGION)"
    if isinstance(problem, aws.ClientError):
        error = problem.response.get("Error", {})
        operation = getattr(problem, "operation_name", "an AWS call")
        return f"{operation} refused: {error.get('Code', '?')}: {error.get('Message', problem)}"
    if isinstance(problem, FileNotFoundError | PermissionError | IsADirectoryError):
        return f"{problem.strerror or problem}: {problem.filename}"
    if isinstance(problem, TimeoutError | RuntimeError | OSError | ValueError):
        return str(problem) or type(problem).__name__
    return (
        f"unexpected {type(problem).__name__}: {problem} "
        "(rerun as 'shopflow --debug ...' for the traceback)"
    )


def _flush_stdout() -> None:
    if sys.stdout is not None:
        sys.stdout.flush()


def _quiet_after_broken_pipe() -> int:
    # The reader went away (``| head``): say nothing, and point stdout at /dev/null so the
    # interpreter's own flush at exit does not complain about the closed pipe either.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_BROKEN_PIPE
