"""The API over HTTP: JSON in, JSON out, an API error as one exception with the API's message."""

from __future__ import annotations

from typing import Any

import requests

from slipway_cli.config import Config

# Seconds for one request (connect, read): the API answers in well under a second.
TIMEOUT = (10.0, 30.0)


class ApiError(Exception):
    """The API refused the request (4xx/5xx) or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Client:
    def __init__(self, config: Config, session: requests.Session | None = None) -> None:
        self.config = config
        self.session = session or requests.Session()
        self.session.headers.update(config.headers)

    def url(self, path: str, base: str | None = None) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return (base or self.config.url) + path

    def get(self, path: str, base: str | None = None, **params: str) -> Any:
        return self._json(self._send("GET", path, base, params=params or None))

    def post(self, path: str, body: dict[str, Any] | None = None, base: str | None = None) -> Any:
        return self._json(self._send("POST", path, base, json=body))

    def text(self, path: str, base: str | None = None) -> str:
        return self._send("GET", path, base).text

    def ws_url(self, path: str, base: str | None = None) -> str:
        """The WebSocket URL of ``path`` (http → ws, https → wss)."""
        url = self.url(path, base)
        return "ws" + url[len("http") :] if url.startswith("http") else url

    def _send(self, method: str, path: str, base: str | None, **kwargs: Any) -> requests.Response:
        url = self.url(path, base)
        try:
            response = self.session.request(method, url, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            raise ApiError(f"cannot reach {url}: {exc}") from exc
        if response.status_code >= 400:
            raise ApiError(_message(response), response.status_code)
        return response

    @staticmethod
    def _json(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(f"{response.url} answered no JSON: {response.text[:200]!r}") from exc


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "error" in body:
        where = f" ({body['field']})" if body.get("field") else ""
        return f"{response.status_code}: {body['error']}{where}"
    return f"{response.status_code} {response.reason}: {response.text[:200]}"
