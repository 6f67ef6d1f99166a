"""POSTing a webhook: the one place that speaks HTTP to users' receivers."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass


@dataclass(frozen=True)
class HttpOutcome:
    """What one POST got: a status code, or the error that kept it from getting one."""

    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        # As fastlane: any answer below 400 is a delivery (redirects are not followed).
        return self.status_code is not None and self.status_code < 400


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A receiver's redirect is its answer: never re-sent elsewhere (as a GET, without the body)."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def post_json(url: str, body: bytes, headers: dict[str, str], timeout: float) -> HttpOutcome:
    request_headers = {"Content-Type": "application/json", "User-Agent": "slipway-webhooks/1"} | headers
    request = urllib.request.Request(url, data=body, headers=request_headers, method="POST")
    started = time.monotonic()
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(64 * 1024)
            status, error = int(response.status), None
    except urllib.error.HTTPError as exc:
        # urllib raises for every status it does not follow, 3xx included.
        status = int(exc.code)
        error = None if status < 400 else f"HTTP {status} {exc.reason}".strip()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        status, error = None, f"{type(exc).__name__}: {reason}"
    return HttpOutcome(status, error, int((time.monotonic() - started) * 1000))
