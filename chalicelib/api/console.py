"""The web console at ``/ui/``: one self-contained HTML page (its CSS and script inlined, nothing
fetched from elsewhere, no build step), routed in the browser by the URL's ``#`` part.

The page itself holds no data, so it is served without credentials; everything it shows comes
from the API's own routes, called with the API key the user gives it (kept in the tab's
``sessionStorage`` and sent as ``X-Api-Key``; ``?apiKey=`` on the WebSocket, as the stream pages
do). With auth on, a request answered 401 brings up the key prompt.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_ASSETS = Path(__file__).resolve().parent / "console_assets"


@cache
def page() -> str:
    """The page, assembled once per process from ``console_assets/``."""
    shell = (_ASSETS / "console.html").read_text(encoding="utf-8")
    css = (_ASSETS / "console.css").read_text(encoding="utf-8")
    script = (_ASSETS / "console.js").read_text(encoding="utf-8")
    return shell.replace("/*CSS*/", css, 1).replace("/*JS*/", script, 1)
