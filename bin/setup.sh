# Sourced by bin/serve and bin/test: makes this machine ready, idempotently.
#  - a virtualenv in .venv with requirements-dev.txt (reinstalled when the file changes)
#  - this project installed editable in it, for the `slipway` CLI (the console script of pyproject.toml)
#  - the local AWS emulator's own virtualenv in .local/emulator-venv (requirements-emulator.txt:
#    MiniStack pins a botocore of its own, so it is kept apart from the service's packages)
#  - a running Docker Engine (installed and started when missing)
#  - chromium and chromium-driver, for the page tests
#  - tmux, for the test that types Ctrl-C into `slipway run -f` (tests/cli)
#  - the local test images (built from Debian's busybox-static: no registry is needed)
#  - Debian's docker-registry and apache2-utils (htpasswd), for the private-registry tests
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$ROOT/.local"
mkdir -p "$STATE"
log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  if [ ! -f "$STATE/apt-updated" ]; then as_root apt-get update -qq >/dev/null && touch "$STATE/apt-updated"; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_venv() {
  local stamp="$ROOT/.venv/.requirements.sha"
  local want; want="$(cat "$ROOT/requirements.txt" "$ROOT/requirements-dev.txt" | sha256sum | cut -d' ' -f1)"
  if [ ! -x "$ROOT/.venv/bin/python" ]; then
    log "creating the virtualenv"
    python3 -m venv "$ROOT/.venv"
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing Python dependencies"
    "$ROOT/.venv/bin/pip" install -q --disable-pip-version-check -r "$ROOT/requirements-dev.txt"
    echo "$want" > "$stamp"
  fi
}

ensure_cli() {
  # The `slipway` console script: this checkout, editable. Keyed on the checkout's path too, so
  # a virtualenv shared by several checkouts points at the one that last set it up.
  local stamp="$ROOT/.venv/.cli.sha"
  local want; want="$( (cat "$ROOT/pyproject.toml"; echo "$ROOT") | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || [ ! -x "$ROOT/.venv/bin/slipway" ]; then
    log "installing the slipway CLI"
    "$ROOT/.venv/bin/pip" install -q --disable-pip-version-check --no-deps --no-build-isolation -e "$ROOT"
    echo "$want" > "$stamp"
  fi
}

ensure_emulator_venv() {
  local venv="$STATE/emulator-venv" stamp="$STATE/emulator-venv/.requirements.sha"
  local want; want="$(sha256sum "$ROOT/requirements-emulator.txt" | cut -d' ' -f1)"
  if [ ! -x "$venv/bin/python" ]; then
    log "creating the local AWS emulator's virtualenv"
    python3 -m venv "$venv"
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing the local AWS emulator (MiniStack)"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$ROOT/requirements-emulator.txt"
    echo "$want" > "$stamp"
  fi
}

ensure_docker() {
  if docker info >/dev/null 2>&1; then return; fi
  if ! command -v dockerd >/dev/null 2>&1; then
    log "installing the Docker Engine"
    apt_install docker.io
  fi
  if ! docker info >/dev/null 2>&1; then
    log "starting dockerd"
    # A pid file left by a dockerd that died with its session blocks a new one.
    if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
      as_root rm -f /var/run/docker.pid
    fi
    as_root sh -c "nohup dockerd >'$STATE/dockerd.log' 2>&1 &"
    for _ in $(seq 1 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
    docker info >/dev/null 2>&1 || { log "dockerd did not start; see $STATE/dockerd.log"; exit 1; }
  fi
}

ensure_chromium() {
  # Headless Chromium and its driver, for the tests that open the live-log pages.
  if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    log "installing chromium and chromium-driver"
    apt_install chromium chromium-driver
  fi
}

ensure_tmux() {
  if ! command -v tmux >/dev/null 2>&1; then
    log "installing tmux"
    apt_install tmux
  fi
}

ensure_registry_tools() {
  # A local registry with htpasswd auth (tests/integration/test_registries.py); not started here.
  if ! command -v docker-registry >/dev/null 2>&1 || ! command -v htpasswd >/dev/null 2>&1; then
    log "installing docker-registry and apache2-utils"
    apt_install docker-registry apache2-utils
  fi
}

ensure_test_images() {
  "$ROOT/bin/build-test-images"
}

ensure_venv
ensure_cli
ensure_emulator_venv
ensure_docker
[ "${SLIPWAY_SKIP_CHROMIUM:-}" = 1 ] || ensure_chromium
ensure_tmux
ensure_registry_tools
ensure_test_images
export PATH="$ROOT/.venv/bin:$PATH"
