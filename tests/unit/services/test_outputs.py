"""services.outputs and the views' log texts: every answer fits Lambda's, measured as it holds it."""

from __future__ import annotations

import pytest

from chalicelib.adapters.models import ExecutionModel
from chalicelib.domain.answer_size import LOG_SEPARATOR, json_answer_size, text_answer_size
from chalicelib.domain.statuses import ExecutionStatus
from chalicelib.domain.urls import Urls
from chalicelib.services import outputs, queries
from chalicelib.settings import get_settings
from tests.fakes.installed import Fakes
from tests.fakes.items import JOB, TASK, a_job, an_execution, spec_of

URLS = Urls("http://api.test")
SPEC = spec_of()


def _stored_run(fakes: Fakes, out: bytes, err: bytes, combined: bool = False) -> str:
    """A finished run whose two streams (and, with ``combined``, its logs object) are in S3."""
    job = a_job(SPEC)
    execution = an_execution(SPEC, job, ExecutionStatus.DONE)
    inline = get_settings().inline_output_bytes
    for stream, data in (("stdout", out), ("stderr", err)):
        key = f"logs/{TASK}/{JOB}/{execution.execution_id}/{stream}.log"
        fakes.log_store.objects[key] = data
        setattr(execution, f"{stream}_key", key)
        setattr(execution, f"{stream}_bytes", len(data))
    execution.log = out[-inline:].decode("utf-8", errors="replace")
    execution.error = err[-inline:].decode("utf-8", errors="replace")
    execution.log_truncated, execution.error_truncated = len(out) > inline, len(err) > inline
    if combined:
        execution.logs_key = f"logs/{TASK}/{JOB}/{execution.execution_id}/logs.log"
        fakes.log_store.objects[execution.logs_key] = out + LOG_SEPARATOR.encode() + err
    job.execution_count, job.last_execution_id = 1, execution.execution_id
    fakes.tables.put(job, execution)
    return execution.execution_id


def _execution(fakes: Fakes, execution_id: str) -> ExecutionModel:
    return fakes.tables.stored(JOB, execution_id)


def test_small_logs_are_answered_inline_from_the_two_objects(fakes: Fakes) -> None:
    run = _stored_run(fakes, b"o" * 100_000, b"e" * 70_000)

    answer = outputs.combined(_execution(fakes, run))

    assert answer.text == "o" * 100_000 + LOG_SEPARATOR + "e" * 70_000


def test_logs_too_big_for_one_answer_redirect_to_the_combined_object(fakes: Fakes) -> None:
    run = _stored_run(fakes, b"o" * (4 << 20), b"e" * (3 << 20), combined=True)

    answer = outputs.combined(_execution(fakes, run))

    assert answer.text is None and answer.redirect_url is not None
    key = answer.redirect_url.removeprefix("memory://logs/").split("?")[0]
    assert fakes.log_store.objects[key] == b"o" * (4 << 20) + LOG_SEPARATOR.encode() + b"e" * (3 << 20)


def test_logs_under_the_limit_in_bytes_but_over_it_escaped_are_not_inline(fakes: Fakes) -> None:
    limit = get_settings().max_response_body_bytes
    # 2 MB of control bytes: 12 MB once escaped in the answer.
    run = _stored_run(fakes, b"\x01" * (1 << 20), b"\x02" * (1 << 20), combined=True)

    assert limit > (1 << 21)
    assert outputs.combined(_execution(fakes, run)).redirect_url is not None
    stdout = outputs.stdout(_execution(fakes, run))
    assert stdout.text is None and stdout.redirect_url is not None


def test_a_run_stored_before_the_combined_object_answers_with_links_to_its_parts(fakes: Fakes) -> None:
    run = _stored_run(fakes, b"o" * (4 << 20), b"e" * (3 << 20))

    answer = outputs.combined(_execution(fakes, run))

    assert answer.text is None and answer.redirect_url is None
    assert set(answer.parts) == {"stdout", "stderr"}
    assert all(url.startswith("memory://logs/") for url in answer.parts.values())


@pytest.mark.parametrize("filler", ["\x01", "中", "line\n"])
def test_job_details_with_a_full_page_of_big_logs_fit_one_answer(fakes: Fakes, filler: str) -> None:
    limit = get_settings().max_response_body_bytes
    job = a_job(SPEC)
    per_page = get_settings().executions_per_page
    inline = get_settings().inline_output_bytes
    text = (filler * inline)[:inline]
    for _ in range(per_page):
        execution = an_execution(SPEC, job, ExecutionStatus.DONE)
        execution.log = execution.error = text
        fakes.tables.put(execution)
    job.execution_count = per_page
    fakes.tables.put(job)

    details = queries.job_details(TASK, JOB, 1, URLS)

    assert json_answer_size(details) <= limit
    first = details["job"]["executions"][0]
    if json_answer_size(text) * 2 * per_page > limit:
        assert first["logTruncated"] is True and first["log"].startswith("[cut to fit this answer")
        assert first["url"] + "stdout/" in first["log"].splitlines()[0]
        assert text.endswith(first["log"].split("\n", 1)[1])
    else:
        assert first["log"] == text


def test_execution_details_keep_their_texts_under_the_limit_whatever_the_inline_size(fakes: Fakes) -> None:
    job = a_job(SPEC)
    execution = an_execution(SPEC, job, ExecutionStatus.DONE)
    # As a deployment with SLIPWAY_INLINE_OUTPUT_BYTES raised to 2 MB would store it.
    execution.log = "\x01" * (2 << 20)
    execution.error = "中" * (2 << 20)
    fakes.tables.put(job, execution)

    details = queries.execution_details(TASK, JOB, execution.execution_id, URLS)

    assert json_answer_size(details) <= get_settings().max_response_body_bytes
    assert details["execution"]["logTruncated"] and details["execution"]["errorTruncated"]
    assert text_answer_size(details["execution"]["log"]) > 100_000  # a real share, not emptied
