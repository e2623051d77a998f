#!/bin/sh
# Container health for berth: healthy only when the project is mounted at
# /workspace as a git repository, its disk has room, and the CLI runs.
# Prints the failed check, so `docker inspect` shows why a container is unhealthy.
set -u

WORKSPACE="${BERTH_WORKSPACE:-/workspace}"
MAX_DISK_USE_PERCENT=90

fail() {
  echo "unhealthy: $*"
  exit 1
}

is_mount_point() {
  # Field 5 of mountinfo is the mount point; needs no util-linux.
  awk -v dir="$1" '$5 == dir { found = 1 } END { exit !found }' /proc/self/mountinfo
}

disk_use_percent() {
  df -P "$1" | awk 'NR == 2 { sub("%", "", $5); print $5 }'
}

is_mount_point "$WORKSPACE" || fail "$WORKSPACE is not mounted"
git -C "$WORKSPACE" rev-parse --is-inside-work-tree >/dev/null 2>&1 \
  || fail "$WORKSPACE is not a git repository"

used="$(disk_use_percent "$WORKSPACE")"
[ -n "$used" ] || fail "cannot read disk use of $WORKSPACE"
[ "$used" -lt "$MAX_DISK_USE_PERCENT" ] \
  || fail "disk use of $WORKSPACE is ${used}% (limit ${MAX_DISK_USE_PERCENT}%)"

version="$(claude --version 2>&1)" || fail "claude --version failed: $version"

echo "healthy: $WORKSPACE is a git repository, disk ${used}% used, claude $version"
