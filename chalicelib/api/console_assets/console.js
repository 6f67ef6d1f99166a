// Slipway's web console: one page, hash routes, the REST API through fetch and the live log
// through the API's WebSocket. No build step, no outside resource. Every value from the API is
// put on the page as text (textContent), never as HTML.
(function () {
  'use strict';

  const KEY_STORE = 'slipway.apiKey';
  const FINISHED = ['done', 'failed', 'timedout', 'stopped', 'expired'];
  const STATUSES = ['enqueued', 'pulling', 'running'].concat(FINISHED);
  // Runs the job page's chart covers (GET …/history/?limit=).
  const HISTORY_LIMIT = 200;
  const COLOURS = {
    done: '#1f8a4c', failed: '#c73636', timedout: '#c9761a', stopped: '#6b7280', expired: '#8b5cf6',
    running: '#2563eb', pulling: '#0ea5e9', enqueued: '#94a3b8'
  };
  const view = document.getElementById('view');
  const notice = document.getElementById('notice');
  // What the current page started (timers, sockets), undone when another page is shown.
  let cleanups = [];
  let generation = 0;

  // -- credentials ------------------------------------------------------------------------

  function apiKey() { return sessionStorage.getItem(KEY_STORE) || ''; }

  function showKeyState() {
    document.getElementById('key-state').textContent = apiKey() ? 'key set' : '';
  }

  function askForKey(message) {
    const dialog = document.getElementById('key-dialog');
    dialog.hidden = false;
    if (message) { say(message, true); }
    document.getElementById('key-input').focus();
  }

  document.getElementById('key-button').addEventListener('click', function () { askForKey(); });
  document.getElementById('key-form').addEventListener('submit', function (event) {
    event.preventDefault();
    const value = document.getElementById('key-input').value.trim();
    if (value) { sessionStorage.setItem(KEY_STORE, value); }
    document.getElementById('key-input').value = '';
    document.getElementById('key-dialog').hidden = true;
    notice.replaceChildren();
    showKeyState();
    route();
  });
  document.getElementById('key-forget').addEventListener('click', function () {
    sessionStorage.removeItem(KEY_STORE);
    showKeyState();
  });

  // -- talking to the API ------------------------------------------------------------------

  function headers(extra) {
    const all = Object.assign({ Accept: 'application/json' }, extra || {});
    if (apiKey()) { all['X-Api-Key'] = apiKey(); }
    return all;
  }

  function api(path, options) {
    const opts = Object.assign({}, options || {});
    opts.headers = headers(opts.headers);
    return fetch(path, opts).then(function (response) {
      return response.text().then(function (text) {
        let body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = { error: text }; }
        if (response.status === 401) { askForKey('This API needs a key: ' + ((body && body.error) || 'unauthorized')); }
        if (!response.ok) {
          const error = new Error((body && body.error) || ('HTTP ' + response.status));
          error.status = response.status;
          throw error;
        }
        return body;
      });
    });
  }

  function post(path, body) {
    return api(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body || {})
    });
  }

  function enc(text) { return encodeURIComponent(text); }
  function taskPath(t) { return '/tasks/' + enc(t) + '/'; }
  function jobPath(t, j) { return '/tasks/' + enc(t) + '/jobs/' + enc(j) + '/'; }
  function executionPath(t, j, e) { return jobPath(t, j) + 'executions/' + enc(e) + '/'; }

  // -- small DOM helpers -------------------------------------------------------------------

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      const value = attrs[name];
      if (value === null || value === undefined || value === false) { return; }
      if (name === 'text') { node.textContent = String(value); }
      else if (name === 'on') { Object.keys(value).forEach(function (ev) { node.addEventListener(ev, value[ev]); }); }
      else if (name === 'className') { node.className = value; }
      else { node.setAttribute(name, value === true ? '' : String(value)); }
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) { return; }
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }

  function link(hash, text) { return el('a', { href: '#' + hash, text: text }); }

  function statusBadge(status) { return el('span', { className: 'status ' + status, text: status }); }

  function table(columns, rows, id) {
    const head = el('tr', {}, columns.map(function (c) { return el('th', { text: c }); }));
    const body = rows.length ? rows : [el('tr', {}, [el('td', { colspan: columns.length, className: 'muted', text: 'nothing here yet' })])];
    return el('table', { id: id }, [el('thead', {}, [head]), el('tbody', {}, body)]);
  }

  function cell(content, className) {
    return el('td', { className: className }, [content === null || content === undefined ? '' : (typeof content === 'object' ? content : String(content))]);
  }

  function say(message, isError) {
    notice.replaceChildren(el('div', { className: 'message' + (isError ? ' error' : ''), text: message }));
  }

  function when(iso) { return iso ? iso.replace('T', ' ').replace(/\.\d+$/, '') : ''; }

  function parseIso(iso) { return iso ? Date.parse(iso + 'Z') : NaN; }

  function duration(execution) {
    const start = parseIso(execution.startedAt);
    const end = execution.finishedAt ? parseIso(execution.finishedAt) : (execution.status === 'running' ? Date.now() : NaN);
    if (isNaN(start) || isNaN(end)) { return null; }
    return Math.max(0, (end - start) / 1000);
  }

  function seconds(value) {
    if (value === null) { return ''; }
    if (value < 60) { return value.toFixed(value < 10 ? 2 : 1) + ' s'; }
    return Math.floor(value / 60) + ' min ' + Math.round(value % 60) + ' s';
  }

  function hostOf(execution) {
    const meta = execution.metadata || {};
    if (!meta.docker_host) { return ''; }
    return meta.docker_host + (meta.docker_port ? ':' + meta.docker_port : '');
  }

  function every(ms, action) {
    const timer = setInterval(action, ms);
    cleanups.push(function () { clearInterval(timer); });
  }

  function pager(paging, go) {
    const prev = el('button', { type: 'button', id: 'page-prev', disabled: !paging.hasPrev, text: '← newer', on: { click: function () { go(paging.page - 1); } } });
    const next = el('button', { type: 'button', id: 'page-next', disabled: !paging.hasNext, text: 'older →', on: { click: function () { go(paging.page + 1); } } });
    const where = el('span', { className: 'muted', id: 'page-info', text: 'page ' + paging.page + ' of ' + Math.max(1, paging.pages) + ' · ' + paging.total + ' in all' });
    return el('div', { className: 'pager' }, [prev, where, next]);
  }

  function loaded(name) {
    document.body.dataset.view = name;
    document.body.dataset.loaded = 'true';
  }

  function failed(error) {
    document.body.dataset.loaded = 'error';
    view.replaceChildren(el('p', { className: 'muted', id: 'load-error', text: 'Could not load: ' + error.message }));
  }

  // -- routing -----------------------------------------------------------------------------

  function parseHash() {
    const raw = location.hash.replace(/^#/, '') || '/tasks';
    const [path, query] = raw.split('?');
    const params = new URLSearchParams(query || '');
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    return { parts: parts, params: params };
  }

  function go(hash) { location.hash = hash; }

  function route() {
    cleanups.forEach(function (undo) { try { undo(); } catch (e) { /* already gone */ } });
    cleanups = [];
    generation += 1;
    document.body.dataset.loaded = 'false';
    const { parts, params } = parseHash();
    document.getElementById('nav-tasks').className = parts[0] === 'tasks' ? 'active' : '';
    document.getElementById('nav-farm').className = parts[0] === 'farm' ? 'active' : '';
    if (parts[0] === 'farm') { return farmPage(); }
    if (parts[0] === 'tasks' && parts.length === 1) { return tasksPage(params); }
    if (parts[0] === 'tasks' && parts.length === 2) { return taskPage(parts[1], params); }
    if (parts[0] === 'tasks' && parts[2] === 'jobs' && parts.length === 4) { return jobPage(parts[1], parts[3], params); }
    if (parts[0] === 'tasks' && parts[2] === 'jobs' && parts[4] === 'executions' && parts.length === 6) {
      return executionPage(parts[1], parts[3], parts[5]);
    }
    failed(new Error('no such page: ' + location.hash));
  }

  // The page is still the one that asked (the user may have moved on while a request ran).
  function current(mine) { return mine === generation; }

  // -- tasks -------------------------------------------------------------------------------

  function tasksPage(params) {
    const mine = generation;
    const query = params.get('q') || '';
    const page = parseInt(params.get('page') || '1', 10) || 1;
    const url = query ? '/search/?query=' + enc(query) + '&page=' + page : '/tasks/?page=' + page;
    const input = el('input', { type: 'search', id: 'task-search', placeholder: 'a whole word of a task id', value: query });
    const form = el('form', { className: 'toolbar', id: 'search-form', on: { submit: function (event) {
      event.preventDefault();
      const q = input.value.trim();
      go('/tasks' + (q ? '?q=' + enc(q) : ''));
    } } }, [input, el('button', { type: 'submit', text: 'Search' }), query ? link('/tasks', 'clear') : null]);
    api(url).then(function (body) {
      if (!current(mine)) { return; }
      const rows = body.items.map(function (task) {
        return el('tr', { 'data-task': task.taskId }, [
          cell(link('/tasks/' + enc(task.taskId), task.taskId)),
          cell(task.jobsCount, 'num'),
          cell(when(task.createdAt)),
          cell(when(task.lastModifiedAt))
        ]);
      });
      view.replaceChildren(
        el('h1', { text: query ? 'Tasks matching “' + query + '”' : 'Tasks' }),
        form,
        table(['task', 'jobs', 'created', 'last modified'], rows, 'tasks'),
        pager(body, function (n) { go('/tasks?' + (query ? 'q=' + enc(query) + '&' : '') + 'page=' + n); })
      );
      loaded('tasks');
    }).catch(failed);
  }

  // -- a task's jobs -----------------------------------------------------------------------

  function taskPage(taskId, params) {
    const mine = generation;
    const page = parseInt(params.get('page') || '1', 10) || 1;
    api(taskPath(taskId) + '?page=' + page).then(function (body) {
      if (!current(mine)) { return; }
      const rows = body.jobs.map(function (job) {
        const row = el('tr', { 'data-job': job.id }, [
          cell(link('/tasks/' + enc(taskId) + '/jobs/' + enc(job.id), job.id)),
          cell(''), cell(''), cell(''), cell(''), cell('')
        ]);
        return row;
      });
      view.replaceChildren(
        el('p', {}, [link('/tasks', '← tasks')]),
        el('h1', { text: 'Task ' + taskId }),
        table(['job', 'image', 'command', 'schedule', 'last execution', 'next run'], rows, 'jobs'),
        pager(body.jobsPagination, function (n) { go('/tasks/' + enc(taskId) + '?page=' + n); })
      );
      // Each job's details fill its row (a task's page lists at most jobs_per_page of them).
      const details = body.jobs.map(function (job, index) {
        return api(jobPath(taskId, job.id)).then(function (d) {
          if (!current(mine)) { return; }
          const j = d.job;
          const last = j.executions[0];
          const cells = rows[index].children;
          cells[1].textContent = j.metadata.image || '';
          cells[2].textContent = j.metadata.command || '';
          cells[3].textContent = j.metadata.cron ? j.metadata.cron + (j.metadata.timezone ? ' (' + j.metadata.timezone + ')' : '') : '';
          cells[4].replaceChildren(last ? statusBadge(last.status) : document.createTextNode('none'));
          cells[5].textContent = when(j.nextRunAt);
        }).catch(function () { /* the row keeps its id and link */ });
      });
      Promise.all(details).then(function () { if (current(mine)) { loaded('task'); } });
    }).catch(failed);
  }

  // -- a job -------------------------------------------------------------------------------

  function runDuration(run) {
    // The history gives the duration of ended runs; a running one is drawn as long as it has run.
    if (run.durationSeconds !== null && run.durationSeconds !== undefined) { return run.durationSeconds; }
    return duration(run);
  }

  function coverage(history) {
    const summary = history.summary;
    const older = history.executionCount > summary.runs;
    let text = older ? 'the newest ' + summary.runs + ' of ' + history.executionCount + ' runs'
      : 'all ' + summary.runs + ' run' + (summary.runs === 1 ? '' : 's');
    if (summary.timed) { text += ' · p50 ' + seconds(summary.durationP50) + ' · p90 ' + seconds(summary.durationP90); }
    return text;
  }

  function chart(history) {
    // Oldest on the left (the history route answers them in that order); the bar's height is the
    // run's duration, its colour the outcome.
    const runs = history.executions;
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 600 160');
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('id', 'duration-chart');
    svg.setAttribute('role', 'img');
    svg.setAttribute('data-runs', String(runs.length));
    const longest = Math.max.apply(null, runs.map(function (e) { return runDuration(e) || 0; }).concat([0.001]));
    const width = 600 / Math.max(runs.length, 1);
    runs.forEach(function (execution, index) {
      const d = runDuration(execution);
      const height = d === null ? 4 : Math.max(4, (d / longest) * 140);
      const bar = document.createElementNS(ns, 'rect');
      bar.setAttribute('x', String(index * width + width * 0.1));
      bar.setAttribute('y', String(150 - height));
      bar.setAttribute('width', String(Math.max(1, width * 0.8)));
      bar.setAttribute('height', String(height));
      bar.setAttribute('fill', COLOURS[execution.status] || '#999');
      bar.setAttribute('data-status', execution.status);
      const title = document.createElementNS(ns, 'title');
      title.textContent = execution.executionId + ': ' + execution.status + (d === null ? '' : ', ' + seconds(d));
      bar.appendChild(title);
      svg.appendChild(bar);
    });
    const axis = document.createElementNS(ns, 'line');
    axis.setAttribute('x1', '0'); axis.setAttribute('x2', '600');
    axis.setAttribute('y1', '150'); axis.setAttribute('y2', '150');
    axis.setAttribute('stroke', '#aab');
    svg.appendChild(axis);
    const seen = history.summary.byStatus;
    const legend = el('div', { className: 'legend' }, Object.keys(seen).map(function (status) {
      const swatch = el('i'); swatch.style.background = COLOURS[status] || '#999';
      return el('span', {}, [swatch, status + ' ' + seen[status]]);
    }).concat([el('span', { className: 'muted', text: 'longest ' + seconds(longest) })]));
    const covers = el('p', { className: 'muted', id: 'chart-coverage', 'data-runs': runs.length, text: coverage(history) });
    return el('div', { className: 'chart' }, [svg, legend, covers]);
  }

  function jobActions(taskId, jobId, job, refresh) {
    function act(label, path, body, done) {
      return function () {
        post(jobPath(taskId, jobId) + path, body).then(function (answer) {
          say(done(answer));
          refresh();
        }).catch(function (error) { say(label + ' failed: ' + error.message, true); });
      };
    }
    const buttons = [
      el('button', { type: 'button', id: 'retry-button', className: 'primary', text: 'Retry now',
        on: { click: act('Retry', 'retry/', {}, function (a) { return 'Retry enqueued: execution ' + a.executionId; }) } }),
      el('button', { type: 'button', id: 'stop-button', className: 'danger', text: 'Stop job',
        on: { click: act('Stop', 'stop/', {}, function () { return 'Stop requested: runs stopped, schedule cancelled'; }) } })
    ];
    if (job.metadata.cron) {
      // Suspend keeps the cron but creates no run until resumed (POST …/suspend/, …/resume/).
      buttons.push(el('button', { type: 'button', id: 'suspend-button', text: 'Suspend cron',
        on: { click: act('Suspend', 'suspend/', {}, function () { return 'Cron suspended'; }) } }));
      buttons.push(el('button', { type: 'button', id: 'resume-button', text: 'Resume cron',
        on: { click: act('Resume', 'resume/', {}, function () { return 'Cron resumed'; }) } }));
    }
    const envs = el('textarea', { id: 'override-env', placeholder: 'KEY=value, one a line' });
    const command = el('input', { id: 'override-command', placeholder: job.metadata.command || 'command' });
    const form = el('form', { className: 'overrides', id: 'run-form', on: { submit: function (event) {
      event.preventDefault();
      const env = {};
      envs.value.split('\n').forEach(function (line) {
        const at = line.indexOf('=');
        if (at > 0) { env[line.slice(0, at).trim()] = line.slice(at + 1); }
      });
      const body = { env: env };
      if (command.value.trim()) { body.command = command.value.trim(); }
      act('Run now', 'run/', body, function (a) { return 'Run enqueued: execution ' + (a && a.executionId); })();
    } } }, [
      el('strong', { text: 'Run now with overrides' }),
      el('label', {}, ['env ', envs]), el('label', {}, ['command ', command]),
      el('div', {}, [el('button', { type: 'submit', id: 'run-button', text: 'Run now' })])
    ]);
    return { bar: el('div', { className: 'toolbar' }, buttons), form: form };
  }

  function schedule(job) {
    if (job.metadata.cron) {
      const cron = job.metadata.cron + ' (' + (job.metadata.timezone || 'UTC') + ')';
      return job.scheduled ? cron : cron + ' · not scheduled (stopped)';
    }
    return job.scheduled ? 'once, at ' + when(job.nextRunAt) + ' UTC' : 'not scheduled';
  }

  function jobPage(taskId, jobId, params) {
    const mine = generation;
    const page = parseInt(params.get('page') || '1', 10) || 1;
    const filter = params.get('status') || '';
    const hash = '/tasks/' + enc(taskId) + '/jobs/' + enc(jobId);
    let built = false;
    const parts = {};

    function render(body, history) {
      const job = body.job;
      const shown = job.executions.filter(function (e) { return !filter || e.status === filter; });
      const rows = shown.map(function (e) {
        return el('tr', { 'data-execution': e.executionId, 'data-status': e.status }, [
          cell(link(hash + '/executions/' + enc(e.executionId), e.executionId)),
          cell(statusBadge(e.status)),
          cell(when(e.createdAt)),
          cell(seconds(duration(e)), 'num'),
          cell(e.exitCode === null ? '' : e.exitCode, 'num'),
          cell(hostOf(e)),
          cell(e.metadata.attempt, 'num')
        ]);
      });
      const facts = el('dl', { className: 'facts', id: 'job-facts' }, [
        el('dt', { text: 'image' }), el('dd', { text: job.metadata.image || '' }),
        el('dt', { text: 'command' }), el('dd', { text: job.metadata.command || '' }),
        el('dt', { text: 'schedule' }), el('dd', { text: schedule(job) }),
        el('dt', { text: 'executions' }), el('dd', { text: String(job.executionCount) }),
        el('dt', { text: 'retries' }), el('dd', { text: String(job.metadata.retries) }),
        el('dt', { text: 'timeout' }), el('dd', { text: job.metadata.timeout + ' s' })
      ]);
      const next = (job.nextRuns || []);
      const upcoming = el('ol', { id: 'next-runs' }, next.map(function (iso) { return el('li', { text: when(iso) + ' UTC' }); }));
      const select = el('select', { id: 'status-filter', on: { change: function () {
        go(hash + '?' + (select.value ? 'status=' + enc(select.value) + '&' : '') + 'page=' + page);
      } } }, [el('option', { value: '', text: 'every status' })].concat(STATUSES.map(function (s) {
        return el('option', { value: s, text: s, selected: s === filter });
      })));
      if (!built) {
        const actions = jobActions(taskId, jobId, job, refresh);
        parts.facts = facts; parts.next = upcoming; parts.chart = chart(history);
        parts.table = table(['execution', 'status', 'created', 'duration', 'exit code', 'host', 'attempt'], rows, 'executions');
        parts.pager = pager(job.executionsPagination, function (n) { go(hash + '?' + (filter ? 'status=' + enc(filter) + '&' : '') + 'page=' + n); });
        view.replaceChildren(
          el('p', {}, [link('/tasks/' + enc(taskId), '← task ' + taskId)]),
          el('h1', { text: 'Job ' + jobId }),
          actions.bar, parts.facts,
          el('h2', { text: 'Next runs' }), next.length ? parts.next : el('p', { className: 'muted', id: 'next-runs-none', text: 'none scheduled' }),
          el('h2', { text: 'Durations and outcomes (oldest first)' }), parts.chart,
          el('h2', { text: 'Executions' }), el('div', { className: 'toolbar' }, ['status ', select]),
          parts.table, parts.pager, el('h2', { text: 'Run now' }), actions.form
        );
        built = true;
        return;
      }
      // Later refreshes replace the figures in place (the forms keep what the user typed).
      parts.facts.replaceWith(facts); parts.facts = facts;
      const newChart = chart(history); parts.chart.replaceWith(newChart); parts.chart = newChart;
      const newTable = table(['execution', 'status', 'created', 'duration', 'exit code', 'host', 'attempt'], rows, 'executions');
      parts.table.replaceWith(newTable); parts.table = newTable;
      if (parts.next.isConnected) { parts.next.replaceWith(upcoming); parts.next = upcoming; }
    }

    function refresh() {
      // The page of executions for the table, the job's history (beyond that page) for the chart.
      return Promise.all([
        api(jobPath(taskId, jobId) + '?page=' + page),
        api(jobPath(taskId, jobId) + 'history/?limit=' + HISTORY_LIMIT)
      ]).then(function (answers) {
        if (!current(mine)) { return; }
        render(answers[0], answers[1]);
        loaded('job');
      });
    }
    refresh().catch(failed);
    every(3000, function () { refresh().catch(function () { /* shown at the next success */ }); });
  }

  // -- an execution and its live log -------------------------------------------------------

  function executionPage(taskId, jobId, executionId) {
    const mine = generation;
    const path = executionPath(taskId, jobId, executionId);
    const jobHash = '/tasks/' + enc(taskId) + '/jobs/' + enc(jobId);
    const log = el('pre', { id: 'log' });
    const followState = el('span', { className: 'follow-state', id: 'follow-state', text: 'following' });
    const statusEl = el('span', { id: 'execution-status', text: '…' });
    const facts = el('dl', { className: 'facts', id: 'execution-facts' });
    const download = el('a', { href: path + 'logs/', id: 'download-log', download: executionId + '.log', text: 'download the whole log' });
    const stop = el('button', { type: 'button', id: 'stop-execution', className: 'danger', text: 'Stop this execution', on: { click: function () {
      post(path + 'stop/').then(function () { say('Stop requested'); poll(); })
        .catch(function (error) { say('Stop failed: ' + error.message, true); });
    } } });
    let lastSeq = 0;
    let finished = false;
    let stick = true;
    let socket = null;
    let retry = null;
    const state = { connects: 0, lines: 0, socket: null };
    window.slipwayConsole = state;

    download.addEventListener('click', function (event) {
      // A plain link sends no X-Api-Key: with a key, fetch the text and save it from memory.
      if (!apiKey()) { return; }
      event.preventDefault();
      fetch(download.href, { headers: { 'X-Api-Key': apiKey() } }).then(function (r) { return r.blob(); }).then(function (blob) {
        const url = URL.createObjectURL(blob);
        const a = el('a', { href: url, download: executionId + '.log' });
        document.body.appendChild(a); a.click(); a.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
      });
    });

    // Auto-scroll while the user is at the bottom; scrolling up pauses it, back down resumes.
    log.addEventListener('scroll', function () {
      stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      followState.textContent = stick ? 'following' : 'paused: scrolled up (scroll to the end to follow)';
      log.dataset.autoscroll = stick ? 'on' : 'off';
    });
    log.dataset.autoscroll = 'on';

    function append(line) {
      if (line.seq <= lastSeq) { return; }
      lastSeq = line.seq;
      log.appendChild(el('span', { className: 'line ' + line.stream, text: line.text + '\n' }));
      state.lines += 1;
      if (stick) { log.scrollTop = log.scrollHeight; }
    }

    function showExecution(e) {
      statusEl.replaceChildren(statusBadge(e.status));
      statusEl.dataset.status = e.status;
      facts.replaceChildren(
        el('dt', { text: 'status' }), el('dd', {}, [statusBadge(e.status)]),
        el('dt', { text: 'exit code' }), el('dd', { id: 'exit-code', text: e.exitCode === null ? '' : String(e.exitCode) }),
        el('dt', { text: 'image' }), el('dd', { text: e.image }),
        el('dt', { text: 'command' }), el('dd', { text: e.command }),
        el('dt', { text: 'created' }), el('dd', { text: when(e.createdAt) }),
        el('dt', { text: 'started' }), el('dd', { text: when(e.startedAt) }),
        el('dt', { text: 'finished' }), el('dd', { text: when(e.finishedAt) }),
        el('dt', { text: 'duration' }), el('dd', { text: seconds(duration(e)) }),
        el('dt', { text: 'host' }), el('dd', { text: hostOf(e) }),
        el('dt', { text: 'attempt' }), el('dd', { text: String(e.metadata.attempt) }),
        el('dt', { text: 'error' }), el('dd', { text: FINISHED.indexOf(e.status) >= 0 && e.exitCode === null ? e.error : '' })
      );
      stop.disabled = FINISHED.indexOf(e.status) >= 0;
    }

    function poll() {
      return api(path).then(function (body) {
        if (!current(mine)) { return; }
        showExecution(body.execution);
        if (FINISHED.indexOf(body.execution.status) >= 0 && finished) { document.body.dataset.finished = 'true'; }
      });
    }

    function connect() {
      if (!current(mine)) { return; }
      const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
      const query = apiKey() ? '?apiKey=' + enc(apiKey()) : '';
      socket = new WebSocket(scheme + '://' + location.host + path + 'ws/' + query);
      state.socket = socket;
      state.connects += 1;
      socket.onmessage = function (event) {
        let message;
        try { message = JSON.parse(event.data); } catch (e) { return; }
        (message.lines || []).forEach(append);
        if (message.done) { finished = true; poll(); }
      };
      socket.onclose = function (event) {
        if (!current(mine)) { return; }
        if (event.reason === 'done' || finished) {
          finished = true;
          followState.textContent = 'ended';
          poll();
          return;
        }
        followState.textContent = 'connection lost, reconnecting';
        retry = setTimeout(connect, 2000);
      };
    }
    cleanups.push(function () {
      if (retry !== null) { clearTimeout(retry); }
      if (socket !== null) { socket.onclose = null; socket.close(); }
    });

    poll().then(function () {
      view.replaceChildren(
        el('p', {}, [link(jobHash, '← job ' + jobId)]),
        el('h1', {}, ['Execution ' + executionId + ' ', statusEl]),
        el('div', { className: 'toolbar' }, [stop, download, followState]),
        facts,
        el('h2', { text: 'Log (stdout, stderr in red)' }),
        log
      );
      connect();
      loaded('execution');
    }).catch(failed);
    every(2000, function () { if (!finished) { poll().catch(function () {}); } });
  }

  // -- the farm ----------------------------------------------------------------------------

  function farmPage() {
    const mine = generation;
    function yes(value) { return value ? 'yes' : 'no'; }
    function refresh() {
      return api('/status/').then(function (s) {
        if (!current(mine)) { return; }
        const hosts = s.hosts.map(function (h) {
          return el('tr', { 'data-host': h.id }, [
            cell(h.id), cell(h.pool), cell(yes(h.available)), cell(yes(h.alive)), cell(yes(h.blacklisted)),
            cell(h.circuit), cell(h.running, 'num'), cell(when(h.lastHeartbeatAt)), cell(h.error || '')
          ]);
        });
        const pools = s.pools.map(function (p) {
          return el('tr', {}, [cell(p.name), cell(p.match === '' ? '(every task)' : p.match),
            cell(p.maxRunning === null ? '' : p.maxRunning, 'num'), cell(p.maxRunningPerTask === null ? '' : p.maxRunningPerTask, 'num')]);
        });
        const q = s.queues;
        const queues = Object.keys(q.jobs.pools).map(function (pool) {
          return el('tr', {}, [cell('jobs (' + pool + ')'), cell(q.jobs.pools[pool], 'num')]);
        }).concat([
          el('tr', {}, [cell('jobs dead letters'), cell(q.error.length, 'num')]),
          el('tr', {}, [cell('notifications'), cell(q.notifications.length, 'num')]),
          el('tr', {}, [cell('notifications dead letters'), cell(q.notifications.error, 'num')])
        ]);
        const running = s.containers.running.map(function (c) {
          return el('tr', { 'data-execution': c.executionId }, [
            cell(link('/tasks/' + enc(c.taskId) + '/jobs/' + enc(c.jobId) + '/executions/' + enc(c.executionId), c.executionId)),
            cell(c.taskId), cell(c.jobId), cell(c.host + ':' + c.port), cell(c.pool), cell(when(c.startedAt))
          ]);
        });
        const scheduled = s.jobs.scheduled.map(function (j) {
          return el('tr', {}, [cell(link('/tasks/' + enc(j.taskId) + '/jobs/' + enc(j.jobId), j.taskId + ' / ' + j.jobId)), cell(when(j.nextRunAt))]);
        });
        view.replaceChildren(
          el('h1', { text: 'Farm' }),
          el('p', { className: 'muted', id: 'farm-refreshed', text: s.tasks.count + ' tasks, ' + s.jobs.count + ' jobs · refreshed ' + new Date().toLocaleTimeString() + ' (every 3 s)' }),
          el('h2', { text: 'Hosts' }),
          table(['host', 'pool', 'available', 'alive', 'blacklisted', 'circuit', 'running', 'last heartbeat', 'error'], hosts, 'hosts'),
          el('h2', { text: 'Running containers' }),
          table(['execution', 'task', 'job', 'host', 'pool', 'started'], running, 'running'),
          el('h2', { text: 'Pools' }), table(['pool', 'matches', 'max running', 'max per task'], pools, 'pools'),
          el('h2', { text: 'Queues' }), table(['queue', 'messages'], queues, 'queues'),
          el('h2', { text: 'Scheduled jobs' }), table(['job', 'next run'], scheduled, 'scheduled')
        );
        document.body.dataset.refreshes = String(parseInt(document.body.dataset.refreshes || '0', 10) + 1);
        loaded('farm');
      });
    }
    refresh().catch(failed);
    every(3000, function () { refresh().catch(function () {}); });
  }

  // A key given in the address (?apiKey=…, as the stream pages take it) is kept for this tab.
  const given = new URLSearchParams(location.search).get('apiKey');
  if (given) { sessionStorage.setItem(KEY_STORE, given); }
  showKeyState();
  window.addEventListener('hashchange', function () { notice.replaceChildren(); route(); });
  route();
})();
