"""The CLI's exit codes. A finished execution exits with its container's code; the ends that
have no container code of their own get codes of their own (documented in the README)."""

from __future__ import annotations

# The CLI itself: an API error (unknown job, refused body), a connection that failed.
ERROR = 1
# Click's code for a wrong command line.
USAGE = 2
# The execution ran past its timeout and was killed (GNU timeout's code).
TIMED_OUT = 124
# The execution failed before or outside its container: an image that cannot be pulled, a
# runner that vanished, a job that expired before it started (docker run's daemon-error code).
INFRASTRUCTURE = 125
# The execution was stopped (a stop request, a forbid tick skipped): a command interrupted.
STOPPED = 130


def for_outcome(status: str, exit_code: int | None) -> int:
    """The CLI's exit code for an execution that ended ``status`` with ``exit_code``."""
    if status == "timedout":
        return TIMED_OUT
    if status == "stopped":
        return STOPPED
    if status == "expired":
        return INFRASTRUCTURE
    if status == "done":
        return exit_code or 0
    if status == "failed":
        # A container that exited 0 yet failed (it cannot, but never report success for a failure).
        return exit_code if exit_code else INFRASTRUCTURE
    return ERROR
