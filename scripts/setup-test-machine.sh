#!/usr/bin/env bash
# Everything the test suites need on a fresh Debian machine, as root: git,
# tmux (the end-to-end tests drive a real terminal) and iproute2 (ip and ss:
# the host firewall suite makes network namespaces of its own), then a Docker
# engine with berth's base image (scripts/setup-docker.sh) and Podman
# (scripts/setup-podman.sh). Idempotent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
# command:package
for needed in git:git tmux:tmux ip:iproute2 ss:iproute2; do
  command -v "${needed%%:*}" >/dev/null 2>&1 || missing+=("${needed##*:}")
done
# One package for two commands is installed once.
if [ "${#missing[@]}" -gt 0 ]; then mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u); fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup-test-machine: installing ${missing[*]}" >&2
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

bash "$here/setup-docker.sh"
bash "$here/setup-podman.sh"
