"""runner/execution.py ``_read_the_rest`` on a real ended container: whatever the follower left
out (its end, or a chunk in the middle), the stored capture becomes Docker's whole log, and live
viewers get what they had not seen."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from chalicelib.settings import Settings
from runner.docker_engine import ContainerSpec, DockerEngine
from runner.execution import ExecutionRun
from runner.output import StreamCapture
from tests.conftest import TEST_IMAGE

LINE = b"0123456789abcdef\n"
LINES = 4096  # 68 KiB of stdout


@pytest.fixture(scope="module")
def ended() -> tuple[DockerEngine, str]:
    engine = DockerEngine()
    container_id = engine.create(
        ContainerSpec(image=TEST_IMAGE, argv=["sh", "-c", f"yes 0123456789abcdef | head -n {LINES}; echo bad >&2"])
    )
    engine.start(container_id)
    assert engine.wait(container_id, 60) == 0
    yield engine, container_id
    engine.remove(container_id)


def _settle(engine: DockerEngine, container_id: str, captured: bytes, **settings: int) -> tuple[bytes, list[bytes]]:
    capture = StreamCapture(1024)
    capture.write(captured)
    fed: list[bytes] = []
    holder = SimpleNamespace(
        engine=engine,
        container_id=container_id,
        settings=Settings(**settings),
        _notify=lambda stream, chunk: fed.append(chunk),
    )
    try:
        ExecutionRun._read_the_rest(holder, (("stdout", capture),))  # type: ignore[arg-type]
        return capture.rewound().read(), fed
    finally:
        capture.close()


def test_a_capture_missing_its_end_is_completed_and_viewers_get_the_end(ended: tuple[DockerEngine, str]) -> None:
    whole = LINE * LINES
    stored, fed = _settle(*ended, whole[:50_000])

    assert stored == whole
    assert b"".join(fed) == whole[50_000:]


def test_a_capture_missing_a_chunk_in_the_middle_is_replaced_by_the_whole_log(ended: tuple[DockerEngine, str]) -> None:
    whole = LINE * LINES
    gapped = whole[:20_000] + whole[24_096:]  # 4 KiB left out mid-stream

    stored, fed = _settle(*ended, gapped)

    assert stored == whole
    assert b"".join(fed) == whole[len(gapped) :]


def test_an_output_over_the_recheck_bound_is_not_read_again(ended: tuple[DockerEngine, str]) -> None:
    whole = LINE * LINES
    stored, fed = _settle(*ended, whole[:50_000], output_recheck_max_bytes=10_000)

    assert stored == whole[:50_000]
    assert fed == []
