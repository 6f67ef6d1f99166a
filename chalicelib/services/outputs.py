"""Reading an execution's stdout, stderr and combined logs."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.adapters import log_store
from chalicelib.adapters.models import ExecutionModel
from chalicelib.settings import get_settings

LOG_SEPARATOR = "\n-=-\n"


@dataclass(frozen=True)
class Output:
    """Either the text itself, or (when too large to answer inline) where to download it."""

    text: str | None = None
    redirect_url: str | None = None


def _stream(execution: ExecutionModel, stream: str) -> Output:
    inline, truncated, key, size = (
        (execution.log, execution.log_truncated, execution.stdout_key, execution.stdout_bytes)
        if stream == "stdout"
        else (execution.error, execution.error_truncated, execution.stderr_key, execution.stderr_bytes)
    )
    if not truncated or not key:
        return Output(text=inline or "")
    if (size or 0) > get_settings().max_response_body_bytes:
        return Output(redirect_url=log_store.download_url(key))
    return Output(text=log_store.read(key).decode("utf-8", errors="replace"))


def stdout(execution: ExecutionModel) -> Output:
    return _stream(execution, "stdout")


def stderr(execution: ExecutionModel) -> Output:
    return _stream(execution, "stderr")


def combined(execution: ExecutionModel) -> Output:
    """stdout + ``-=-`` + stderr; when either is too large, a redirect to stdout's object."""
    out, err = stdout(execution), stderr(execution)
    if out.text is None or err.text is None:
        return out if out.text is None else err
    return Output(text=out.text + LOG_SEPARATOR + err.text)
