"""Reading an execution's stdout, stderr and combined logs.

An answer goes out inline only when Lambda can carry it: its size is measured as the response
will hold it (``domain/answer_size``), not as the output's byte count, and above
``max_response_body_bytes`` the client is redirected to the object in S3 instead. For ``logs/``
that object is the one the runner stores beside the two streams when together they might not
fit (``logs_key``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.adapters import log_store
from chalicelib.adapters.models import ExecutionModel
from chalicelib.domain.answer_size import LOG_SEPARATOR, text_answer_size
from chalicelib.settings import get_settings


@dataclass(frozen=True)
class Output:
    """The text itself; or, when too large to answer inline, where to download it
    (``redirect_url``), or, for ``logs/`` of a run stored without a combined object, where to
    download each of its parts (``parts``)."""

    text: str | None = None
    redirect_url: str | None = None
    parts: dict[str, str] = field(default_factory=dict)


def _fits(text: str) -> bool:
    return text_answer_size(text) <= get_settings().max_response_body_bytes


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
    text = log_store.read(key).decode("utf-8", errors="replace")
    # Under the limit in bytes, it may still be over it once escaped (non-ASCII, control bytes).
    return Output(text=text) if _fits(text) else Output(redirect_url=log_store.download_url(key))


def stdout(execution: ExecutionModel) -> Output:
    return _stream(execution, "stdout")


def stderr(execution: ExecutionModel) -> Output:
    return _stream(execution, "stderr")


def combined(execution: ExecutionModel) -> Output:
    """stdout + ``-=-`` + stderr: inline when it fits the answer, else a redirect to the
    combined object the runner stored. A run stored before runners made that object, too big
    to answer inline, answers with the links of its two parts."""
    if execution.logs_key:
        return Output(redirect_url=log_store.download_url(execution.logs_key))
    out, err = stdout(execution), stderr(execution)
    if out.text is not None and err.text is not None:
        text = out.text + LOG_SEPARATOR + err.text
        if _fits(text):
            return Output(text=text)
    parts = {
        name: log_store.download_url(key)
        for name, key in (("stdout", execution.stdout_key), ("stderr", execution.stderr_key))
        if key
    }
    return Output(parts=parts)
