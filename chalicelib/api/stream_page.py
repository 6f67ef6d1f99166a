"""The HTML page of ``/stream/`` routes: a job's (or one execution's) log, live.

The page opens the WebSocket of the API document (same host, ``…/ws/``), shows each line
once (lines carry sequence numbers, so a reconnect that replays the backlog adds nothing
twice), shows the execution's status, reconnects after a dropped connection and stops for
good on the ``done`` message or close reason.
"""

from __future__ import annotations

import html
import json
from urllib.parse import quote

from chalicelib.services import lookups

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Slipway · __TITLE__</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 1.5rem; background: #fafafa; color: #222; }
 h1 { font-size: 1.1rem; margin: 0 0 .5rem; }
 #meta { margin-bottom: .75rem; font-size: .9rem; }
 #status { font-weight: bold; }
 #log { background: #111; color: #ddd; padding: .75rem; min-height: 12rem; white-space: pre-wrap;
        font: 13px/1.35 ui-monospace, monospace; overflow-wrap: anywhere; }
 #log .stderr { color: #f88; }
</style>
</head>
<body>
<h1>__TITLE__</h1>
<div id="meta">status: <span id="status">connecting</span> · connection: <span id="conn">-</span></div>
<pre id="log"></pre>
<script>
(function () {
  const wsPath = __WS_PATH__;
  const statusUrl = __STATUS_PATH__;
  const log = document.getElementById('log');
  const statusEl = document.getElementById('status');
  const connEl = document.getElementById('conn');
  let lastSeq = 0;
  let finished = false;
  let timeout = null;

  function append(line) {
    if (line.seq <= lastSeq) { return; }
    lastSeq = line.seq;
    const span = document.createElement('span');
    span.className = 'line ' + line.stream;
    span.textContent = line.text + '\\n';
    log.appendChild(span);
  }

  function connect() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    // With API keys on, the page's own ?apiKey= goes on to the WebSocket (browsers cannot set
    // headers on a handshake); Basic credentials the browser holds are sent as they are.
    const apiKey = new URLSearchParams(location.search).get('apiKey');
    const query = apiKey ? '?apiKey=' + encodeURIComponent(apiKey) : '';
    const socket = new WebSocket(scheme + '://' + location.host + wsPath + query);
    window.slipwayStream = { socket: socket, connects: (window.slipwayStream || { connects: 0 }).connects + 1 };
    socket.onopen = function () { connEl.textContent = 'open'; };
    socket.onmessage = function (event) {
      let message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      (message.lines || []).forEach(append);
      if (message.done) {
        finished = true;
        const code = message.exitCode === null ? '' : ' (exit code ' + message.exitCode + ')';
        statusEl.textContent = message.status + code;
      }
    };
    socket.onclose = function (event) {
      connEl.textContent = 'closed';
      if (event.reason === 'done' || finished) {
        finished = true;
        document.body.dataset.finished = 'true';
        return;
      }
      if (timeout !== null) { clearTimeout(timeout); }
      connEl.textContent = 'lost, reconnecting';
      timeout = setTimeout(connect, 2000);
    };
  }
  // The execution's status from the API until the done message gives the final one.
  function pollStatus() {
    if (finished) { return; }
    const headers = { Accept: 'application/json' };
    const key = new URLSearchParams(location.search).get('apiKey');
    if (key) { headers['X-Api-Key'] = key; }
    fetch(statusUrl, { headers: headers })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (body && !finished) { statusEl.textContent = body.execution.status; }
      })
      .catch(function () {})
      .finally(function () { if (!finished) { setTimeout(pollStatus, 2000); } });
  }
  connect();
  pollStatus();
})();
</script>
</body>
</html>
"""


def _render(title: str, ws_path: str, status_path: str) -> str:
    return (
        _PAGE.replace("__TITLE__", html.escape(title))
        .replace("__WS_PATH__", json.dumps(ws_path))
        .replace("__STATUS_PATH__", json.dumps(status_path))
    )


def _execution_path(task_id: str, job_id: str, execution_id: str) -> str:
    return f"/tasks/{quote(task_id, safe='')}/jobs/{quote(job_id, safe='')}/executions/{quote(execution_id, safe='')}/"


def job_page(task_id: str, job_id: str) -> str:
    """The live log of the job's last execution (NotFound for an unknown task or job, or a job
    with no execution yet)."""
    _, execution = lookups.require_latest_execution(task_id, job_id)
    path = f"/tasks/{quote(task_id, safe='')}/jobs/{quote(job_id, safe='')}/ws/"
    return _render(f"{task_id} / {job_id}", path, _execution_path(task_id, job_id, execution.execution_id))


def execution_page(task_id: str, job_id: str, execution_id: str) -> str:
    execution = lookups.require_execution(task_id, job_id, execution_id)
    status_path = _execution_path(task_id, job_id, execution.execution_id)
    return _render(f"{task_id} / {job_id} / {execution_id}", status_path + "ws/", status_path)
