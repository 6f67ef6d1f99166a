"""The CLI's commands, one module per group: run (run, run-now), logs, listing (ls, get,
search), actions (stop, retry, suspend, resume), farm (status), cron (cron explain)."""
