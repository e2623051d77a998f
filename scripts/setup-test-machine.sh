#!/usr/bin/env bash
# Everything the test suites need on a fresh Debian machine, as root: git and
# tmux (the end-to-end tests drive a real terminal), then a Docker engine with
# berth's base image (scripts/setup-docker.sh). Idempotent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for tool in git tmux; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup-test-machine: installing ${missing[*]}" >&2
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

bash "$here/setup-docker.sh"
bash "$here/setup-podman.sh"
