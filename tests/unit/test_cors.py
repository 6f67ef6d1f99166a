"""chalicelib.api.cors: allowed origins and the CORS headers of answers and preflights."""

from __future__ import annotations

from chalicelib.api.cors import allowed_origin, preflight_headers, response_headers
from chalicelib.settings import Settings

ALLOWED = ("https://app.example", "http://localhost:3000")


def test_off_by_default():
    assert Settings().cors_origins == ()
    assert response_headers("https://app.example", ()) == {}
    assert preflight_headers("https://app.example", (), ["GET"], 600) == {}


def test_origins_setting_is_parsed():
    assert Settings.from_env({"SLIPWAY_CORS_ORIGINS": "https://App.example, http://localhost:3000"}).cors_origins == (
        "https://app.example",
        "http://localhost:3000",
    )


def test_an_allowed_origin_is_echoed():
    assert allowed_origin("https://app.example", ALLOWED) == "https://app.example"
    assert allowed_origin("HTTPS://APP.EXAMPLE", ALLOWED) == "HTTPS://APP.EXAMPLE"
    assert allowed_origin("https://evil.example", ALLOWED) is None
    assert allowed_origin(None, ALLOWED) is None
    assert allowed_origin("https://any.example", ("*",)) == "*"


def test_answer_headers():
    headers = response_headers("http://localhost:3000", ALLOWED)

    assert headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert headers["Vary"] == "Origin"
    assert "Idempotent-Replayed" in headers["Access-Control-Expose-Headers"]
    assert response_headers("https://evil.example", ALLOWED) == {"Vary": "Origin"}
    assert response_headers("https://x.example", ("*",))["Access-Control-Allow-Origin"] == "*"


def test_preflight_headers():
    headers = preflight_headers("https://app.example", ALLOWED, ["POST", "GET"], 600)

    assert headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert headers["Access-Control-Allow-Methods"] == "GET, OPTIONS, POST"
    assert "Idempotency-Key" in headers["Access-Control-Allow-Headers"]
    assert "Authorization" in headers["Access-Control-Allow-Headers"]
    assert headers["Access-Control-Max-Age"] == "600"
    assert preflight_headers("https://evil.example", ALLOWED, ["GET"], 600) == {"Vary": "Origin"}
