"""runner.output.StreamCapture: all of a stream on disk, its tail in memory."""

from __future__ import annotations

import pytest

from runner.output import _SPOOL_BYTES, StreamCapture


@pytest.fixture
def capture_of():
    made = []

    def make(inline_limit):
        capture = StreamCapture(inline_limit)
        made.append(capture)
        return capture

    yield make
    for capture in made:
        capture.close()


def test_a_new_capture_is_empty(capture_of):
    capture = capture_of(10)

    assert (capture.size, capture.truncated, capture.tail_text()) == (0, False, "")
    assert capture.rewound().read() == b""


def test_size_counts_every_byte_written(capture_of):
    capture = capture_of(4)
    for chunk in (b"ab", b"", b"cdef", b"g"):
        capture.write(chunk)

    assert capture.size == 7


def test_output_up_to_the_limit_is_not_truncated(capture_of):
    capture = capture_of(5)
    capture.write(b"12345")

    assert (capture.truncated, capture.tail_text()) == (False, "12345")

    capture.write(b"6")

    assert (capture.truncated, capture.tail_text()) == (True, "23456")


def test_tail_keeps_the_last_bytes_across_many_small_writes(capture_of):
    capture = capture_of(100)
    data = b"".join(f"line {n}\n".encode() for n in range(5000))
    for start in range(0, len(data), 7):
        capture.write(data[start : start + 7])

    assert capture.size == len(data)
    assert capture.truncated
    assert capture.tail_text() == data[-100:].decode()
    assert capture.tail_text().endswith("line 4999\n")


@pytest.mark.parametrize("count", [1, 2, 3, 19, 20, 21, 22, 40, 41, 1001])
def test_tail_is_exact_after_any_number_of_one_byte_writes(capture_of, count):
    capture = capture_of(10)
    data = bytes(ord("a") + n % 26 for n in range(count))
    for byte in data:
        capture.write(bytes([byte]))

    assert capture.tail_text() == data[-10:].decode()
    assert capture.truncated is (count > 10)


def test_a_single_write_larger_than_the_limit_keeps_its_end(capture_of):
    capture = capture_of(8)
    capture.write(b"0123456789abcdefghij")

    assert capture.tail_text() == "cdefghij"


def test_rewound_returns_every_byte_even_past_one_mebibyte(capture_of):
    capture = capture_of(64 * 1024)
    chunk = bytes(range(256)) * 256  # 64 KiB of every byte value
    chunks = 3 * _SPOOL_BYTES // len(chunk) + 1
    for _ in range(chunks):
        capture.write(chunk)

    data = capture.rewound().read()

    assert _SPOOL_BYTES == 1024 * 1024
    assert len(data) == capture.size == chunks * len(chunk) > 3 * _SPOOL_BYTES
    assert data == chunk * chunks
    assert capture._file._rolled  # spilled to a temporary file on disk past 1 MiB


def test_rewound_can_be_read_twice(capture_of):
    capture = capture_of(4)
    capture.write(b"hello world")

    assert capture.rewound().read() == b"hello world"
    assert capture.rewound().read() == b"hello world"


def test_a_character_split_across_writes_is_whole_in_the_tail(capture_of):
    capture = capture_of(100)
    data = "ação ✓ €".encode()
    for byte in data:
        capture.write(bytes([byte]))

    assert capture.tail_text() == "ação ✓ €"
    assert capture.rewound().read() == data


def test_a_tail_starting_inside_a_character_decodes_it_as_a_replacement(capture_of):
    capture = capture_of(4)
    capture.write("€€".encode())  # e2 82 ac e2 82 ac: the last 4 bytes start inside the first €

    assert capture.tail_text() == "\ufffd€"
    assert capture.rewound().read().decode() == "€€"


def test_a_tail_ending_inside_a_character_decodes_it_as_a_replacement(capture_of):
    capture = capture_of(10)
    capture.write("ok €".encode()[:-1])

    assert capture.tail_text() == "ok \ufffd"


def test_invalid_utf8_does_not_raise(capture_of):
    capture = capture_of(10)
    capture.write(b"\xff\xfeok")

    assert capture.tail_text() == "\ufffd\ufffdok"


def test_close_closes_the_file():
    capture = StreamCapture(10)
    capture.write(b"x")
    file = capture.rewound()

    capture.close()

    assert file.closed


def test_an_upload_that_closes_its_file_leaves_the_capture_readable_again(capture_of):
    # boto3's upload closes the file it was given, even when it fails: the retry reads it again.
    capture = capture_of(10)
    data = b"0123456789abcdef\n" * (2 * _SPOOL_BYTES // 17)
    capture.write(data)

    first = capture.rewound()
    assert first.read(100) == data[:100]
    first.close()
    again = capture.rewound()
    assert again.read() == data
    again.seek(5)
    assert again.read(3) == data[5:8]


def test_the_answer_bound_covers_what_the_output_becomes_escaped(capture_of):
    from chalicelib.domain.answer_size import text_answer_size

    capture = capture_of(4)
    for chunk in (b"plain\n", "中文".encode()[:4], "中文".encode()[4:], b"\x01\xff"):
        capture.write(chunk)

    assert capture.answer_bound >= text_answer_size(capture.rewound().read().decode("utf-8", errors="replace"))


def test_the_combined_output_reads_stdout_the_separator_then_stderr_and_can_be_read_again(capture_of):
    from runner.output import combined_output

    stdout, stderr = capture_of(4), capture_of(4)
    big = b"x" * (_SPOOL_BYTES + 10)  # on disk, not in memory
    stdout.write(big)
    stderr.write(b"warn\n")

    first = combined_output(stdout, stderr)
    assert first.read() == big + b"\n-=-\nwarn\n"
    first.close()  # as a finished (or failed) upload does: the captures stay readable
    assert combined_output(stdout, stderr).read() == big + b"\n-=-\nwarn\n"


def test_a_combined_object_is_needed_only_when_the_logs_answer_might_not_fit(capture_of):
    from runner.output import needs_combined_object

    stdout, stderr = capture_of(4), capture_of(4)
    stdout.write(b"a" * 1000)
    stderr.write(b"\x01" * 1000)  # six characters each once escaped

    assert not needs_combined_object(stdout, stderr, 10_000)
    assert needs_combined_object(stdout, stderr, 7_000)


def test_adopting_another_capture_takes_its_bytes_size_and_tail(capture_of):
    capture, other = capture_of(4), StreamCapture(4)
    capture.write(b"short")
    other.write(b"the whole stream")

    capture.adopt(other)

    assert (capture.size, capture.tail_text()) == (16, "ream")
    assert capture.rewound().read() == b"the whole stream"
