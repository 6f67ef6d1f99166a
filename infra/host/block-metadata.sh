#!/bin/sh
# Keeps job containers from the cloud's instance metadata endpoint (169.254.169.254, and AWS's
# IPv6 fd00:ec2::254): a DROP in Docker's DOCKER-USER chain, which sees every packet Docker
# forwards from a container, whatever its network. The host's own traffic (and a runner in a
# container on the host's network, as infra/systemd/slipway-runner.service runs it) does not
# cross that chain, so the runner keeps its role's credentials.
#
#   block-metadata.sh                      install the rules (idempotent: run it at every boot)
#   block-metadata.sh --interface br-x     only for traffic coming from bridge br-x (tests)
#   block-metadata.sh --remove [...]       remove the same rules
#
# The runner checks at start-up that a probe container cannot reach the address
# (SLIPWAY_METADATA_PROBE, runner/metadata_probe.py).
set -eu
ADDRESS="${SLIPWAY_METADATA_ADDRESS:-169.254.169.254}"
ADDRESS6="fd00:ec2::254"
action=install
match=""
while [ $# -gt 0 ]; do
  case "$1" in
    --remove) action=remove ;;
    --interface) match="-i $2"; shift ;;
    *) echo "usage: $0 [--interface NAME] [--remove]" >&2; exit 2 ;;
  esac
  shift
done

rule() {  # rule <iptables|ip6tables> <address>
  tables="$1"; address="$2"
  command -v "$tables" >/dev/null 2>&1 || return 0
  # Docker makes the chain at its start; made here first, Docker uses it as it is.
  "$tables" -n -L DOCKER-USER >/dev/null 2>&1 || "$tables" -N DOCKER-USER
  # shellcheck disable=SC2086 # $match is two words or none
  if "$tables" -C DOCKER-USER $match -d "$address" -j DROP 2>/dev/null; then
    [ "$action" = remove ] && "$tables" -D DOCKER-USER $match -d "$address" -j DROP
  else
    [ "$action" = install ] && "$tables" -I DOCKER-USER 1 $match -d "$address" -j DROP
  fi
  return 0
}

rule iptables "$ADDRESS"
rule ip6tables "$ADDRESS6" || true
