"""chalicelib.domain.image_refs: Docker's reference grammar, and what a pull asks for."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import ValidationError
from chalicelib.domain.image_refs import ImageRef, parse_image

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("busybox", ImageRef("", "busybox")),
        ("library/busybox:1.36", ImageRef("", "library/busybox", "1.36")),
        ("localhost:5000/app", ImageRef("localhost:5000", "app")),
        ("localhost/app:v1", ImageRef("localhost", "app", "v1")),
        ("registry.example.com/team/app@" + DIGEST, ImageRef("registry.example.com", "team/app", None, DIGEST)),
        ("r.example:443/a/b:t@" + DIGEST, ImageRef("r.example:443", "a/b", "t", DIGEST)),
        ("f/a__b.c-d---e", ImageRef("", "f/a__b.c-d---e")),
        ("[::1]:5000/app", ImageRef("[::1]:5000", "app")),
    ],
)
def test_references_docker_accepts(text: str, expected: ImageRef) -> None:
    assert parse_image(text) == expected


def test_a_pull_asks_for_the_digest_else_the_tag_else_latest() -> None:
    assert parse_image("app").pull_tag == "latest"
    assert parse_image("app:3").pull_tag == "3"
    assert parse_image("app:3@" + DIGEST).pull_tag == DIGEST
    assert parse_image("localhost:5000/app@" + DIGEST).name == "localhost:5000/app"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("Slipway/App", "must be lowercase"),
        ("app:", "a tag is"),
        ("app:.x", "a tag is"),
        ("app:" + "t" * 129, "a tag is"),
        ("app@sha256:12", "a digest is"),
        ("app@" + "0" * 64, "a digest is"),
        ("a//b", "path component ''"),
        ("a_-b", "path component"),
        ("-a.example/x", "not a registry"),
        ("x" * 256, "longer than 255"),
        ("", "the name is empty"),
    ],
)
def test_references_docker_refuses_say_why(text: str, why: str) -> None:
    with pytest.raises(ValidationError, match="not a valid image reference") as raised:
        parse_image(text)

    assert why in raised.value.message
    assert raised.value.details == {"field": "image"}
