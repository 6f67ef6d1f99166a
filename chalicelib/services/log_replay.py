"""Sending a finished execution's whole log to a viewer that connected after its end.

API Gateway refuses ``post_to_connection`` to a connection whose ``$connect`` handler is still
running, so the connect handler only asks for the replay; it runs once the connect is done:
in AWS as an asynchronous invocation of the app's ``ws_replay`` function (the Lambda named by
``SLIPWAY_WS_REPLAY_FUNCTION``), elsewhere (the local stack, a long-lived process) on a thread.
Either way the first post is retried for a few seconds while the connection is not yet open.
"""

from __future__ import annotations

import json
import logging
import threading
import time

from chalicelib.adapters import connections, execution_repository, log_store, ws_api
from chalicelib.adapters.aws import client
from chalicelib.adapters.models import ExecutionModel
from chalicelib.domain.log_lines import LogLine, batches, done_message, lines_message, text_lines
from chalicelib.services import outputs
from chalicelib.settings import get_settings

logger = logging.getLogger(__name__)

# How long a replay waits for the connect to complete before giving the viewer up.
_OPEN_WAIT_SECONDS = 5.0


def request(connection_id: str, job_id: str, execution_id: str, endpoint: str) -> None:
    """Have the replay run once the current ``$connect`` has returned; ``endpoint`` is the
    management endpoint of the API the viewer is connected to."""
    function = get_settings().ws_replay_function
    payload = {"connectionId": connection_id, "jobId": job_id, "executionId": execution_id, "endpoint": endpoint}
    if function:
        client("lambda").invoke(FunctionName=function, InvocationType="Event", Payload=json.dumps(payload).encode())
        return
    threading.Thread(target=deliver, args=(connection_id, job_id, execution_id, endpoint), daemon=True).start()


def _stream_text(execution: ExecutionModel, stream: str) -> str:
    output = outputs.stdout(execution) if stream == "stdout" else outputs.stderr(execution)
    if output.text is not None:
        return output.text
    key = execution.stdout_key if stream == "stdout" else execution.stderr_key
    return log_store.read(key).decode("utf-8", errors="replace") if key else ""


def messages(execution: ExecutionModel, max_bytes: int) -> list[str]:
    """The whole log as line batches (stdout, then stderr), then the done message."""
    lines: list[LogLine] = []
    for stream in log_store.STREAMS:
        for text in text_lines(_stream_text(execution, stream)):
            lines.append(LogLine(len(lines) + 1, stream, text))
    messages = [lines_message(batch) for batch in batches(lines, max_bytes)]
    return [*messages, done_message(execution.status, execution.exit_code)]


def _send_first(connection_id: str, data: str, endpoint: str | None) -> bool:
    deadline = time.monotonic() + _OPEN_WAIT_SECONDS
    while True:
        try:
            ws_api.send(connection_id, data, endpoint)
            return True
        except ws_api.ConnectionGone:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)


def deliver(connection_id: str, job_id: str, execution_id: str, endpoint: str | None = None) -> None:
    try:
        execution = execution_repository.get_execution(job_id, execution_id, consistent=True)
        if execution is None:
            ws_api.close(connection_id, endpoint)
            return
        queue = messages(execution, get_settings().ws_message_bytes)
        if _send_first(connection_id, queue[0], endpoint):
            for data in queue[1:]:
                ws_api.send(connection_id, data, endpoint)
            ws_api.close(connection_id, endpoint)
    except ws_api.ConnectionGone:
        pass
    except Exception:
        logger.exception("replay of %s to %s failed", execution_id, connection_id)
    finally:
        connections.forget(connection_id)


def close_viewers(execution: ExecutionModel) -> int:
    """Send the final status to every viewer of an execution no runner will end (its runner went
    silent and the reconciler ended it), then close them; answers how many there were. Needs the
    management endpoint in settings (runners have it); elsewhere viewers close at their TTL."""
    if not get_settings().ws_management_url:
        return 0
    done = done_message(execution.status, execution.exit_code)
    watching = connections.viewers(execution.execution_id)
    for connection_id in watching:
        try:
            ws_api.send(connection_id, done)
            ws_api.close(connection_id)
        except ws_api.ConnectionGone:
            pass
        finally:
            connections.forget(connection_id)
    return len(watching)
