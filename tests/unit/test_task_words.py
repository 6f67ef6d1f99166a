"""chalicelib.domain.task_words: whole words of a task id, for the search index."""

from __future__ import annotations

import pytest

from chalicelib.domain.task_words import task_words


@pytest.mark.parametrize(
    ("task_id", "words"),
    [
        ("hello-world", {"hello", "world", "hello-world"}),
        ("Hello-World", {"hello", "world", "hello-world"}),
        ("SEND-WELCOME-MAIL", {"send", "welcome", "mail", "send-welcome-mail"}),
        ("hello", {"hello"}),
        ("test-wrkng", {"test", "wrkng", "test-wrkng"}),
        ("a_b.c:d@e+f=g~h", {"a", "b", "c", "d", "e", "f", "g", "h", "a_b.c:d@e+f=g~h"}),
        ("job42-v2", {"job42", "v2", "job42-v2"}),
        ("a--b__c", {"a", "b", "c", "a--b__c"}),
        ("-edge-", {"edge", "-edge-"}),
        ("2026-01-17", {"2026", "01", "17", "2026-01-17"}),
        ("hello-hello", {"hello", "hello-hello"}),
    ],
)
def test_task_words(task_id, words):
    assert task_words(task_id) == words


def test_a_partial_word_is_not_a_word():
    # api.md: searching "hel" does not find "hello"; "world" finds "hello-world".
    words = task_words("hello-world")

    assert "hel" not in words
    assert "world" in words


def test_every_word_is_lower_case():
    assert all(word == word.lower() for word in task_words("MiXeD-CaSe_Words"))
