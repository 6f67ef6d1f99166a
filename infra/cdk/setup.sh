#!/usr/bin/env bash
# Installs the AWS CDK CLI pinned in infra/cdk/package.json into infra/cdk/node_modules,
# idempotently (nothing is done when the pinned version is already there), and first Node.js and
# npm from the system's packages (apt) when they are missing.
# Used by the infra tests (session fixture), by `python -m infra.local.deployed` and by operators
# before `cdk synth` / `cdk deploy`. Prints the path of the `cdk` executable on stdout.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "Node.js >= 18 and npm are needed (no apt-get here to install them)" >&2
    exit 1
  fi
  printf '\033[1m[setup]\033[0m installing Node.js and npm (apt)\n' >&2
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
CDK="$HERE/node_modules/.bin/cdk"
want="$(node -e 'process.stdout.write(require(process.argv[1]).devDependencies["aws-cdk"])' "$HERE/package.json")"
have="$(node -e 'try { process.stdout.write(require(process.argv[1]).version) } catch (e) {}' \
  "$HERE/node_modules/aws-cdk/package.json" 2>/dev/null || true)"
if [ ! -x "$CDK" ] || [ "$have" != "$want" ]; then
  command -v npm >/dev/null 2>&1 || { echo "npm is needed (Node.js >= 18)" >&2; exit 1; }
  printf '\033[1m[setup]\033[0m installing the AWS CDK CLI %s into infra/cdk/node_modules\n' "$want" >&2
  # No lock file: the CLI has no dependencies, and the exact version is pinned in package.json.
  npm install --prefix "$HERE" --no-package-lock --no-audit --no-fund --loglevel=error >&2
fi
echo "$CDK"
