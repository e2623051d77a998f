#!/usr/bin/env bash
# Makes Podman answer on a Docker-compatible socket, next to the Docker engine
# that scripts/setup-docker.sh set up, so the engine suites run against both:
#   1. installs podman and catatonit (and socat, sshd for the engine-address tests) when missing;
#   2. starts `podman system service` in the background when its socket does not answer;
#   3. copies the base image from Docker into Podman (no registry needed).
# Idempotent: each step is skipped when its result is already there. Debian, as root.
#
# What to know about Podman 4.3 (Debian 12) here:
# - Without systemd it falls back to cgroupfs and file events by itself, but
#   never runs healthchecks (it schedules them with systemd timers).
# - It gives containers nofile and nproc of 1048576 unless told otherwise, and
#   a process without CAP_SYS_RESOURCE (as here) cannot raise its hard limits
#   that far: a container created without explicit Ulimits for both fails to
#   start ("error setting rlimit type 7"). berth always passes both.
set -euo pipefail

SOCKET="${BERTH_PODMAN_SOCKET:-/run/podman/podman.sock}"
# The base of docker/Dockerfile, made for Docker by setup-docker.sh. The workspace
# image is copied by test/integration/podman.test.ts itself, fresh from Docker's build.
IMAGES="${BERTH_PODMAN_IMAGES:-debian:bookworm-slim}"
LOG=/var/log/berth-podman.log

log() { printf 'setup-podman: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Podman's own remote client: no curl needed on a fresh machine.
socket_answers() { timeout 10 podman --remote --url "unix://$SOCKET" version >/dev/null 2>&1; }

install_packages() {
  local missing=()
  command -v podman >/dev/null 2>&1 || missing+=(podman)
  # berth's containers run with Init: true; Podman's init is catatonit, which podman only recommends.
  [ -x /usr/libexec/podman/catatonit ] || missing+=(catatonit)
  command -v socat >/dev/null 2>&1 || missing+=(socat)
  [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "installing ${missing[*]}"
  as_root apt-get update -qq
  # Recommends are for rootless use (slirp4netns, fuse-overlayfs, uidmap); root needs none of them.
  # A policy-rc.d answering 101 keeps the packages' services (sshd) from starting: the tests start their own.
  local policy=/usr/sbin/policy-rc.d own_policy=false status=0
  if [ ! -e "$policy" ]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' >$policy && chmod +x $policy"
    own_policy=true
  fi
  DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || status=$?
  if $own_policy; then as_root rm -f "$policy"; fi
  return "$status"
}

start_service() {
  socket_answers && { log "podman answers on $SOCKET"; return 0; }
  log "starting podman system service on $SOCKET"
  as_root mkdir -p "$(dirname "$SOCKET")"
  as_root rm -f "$SOCKET"
  # From /: conmon inherits the working directory, and fails when that folder (a CI clone, say) is deleted.
  as_root sh -c "cd / && nohup podman system service --time=0 unix://$SOCKET >$LOG 2>&1 &"
  for _ in $(seq 1 30); do
    socket_answers && { log "podman answers on $SOCKET"; return 0; }
    sleep 1
  done
  log "podman did not answer within 30 s; see $LOG"
  return 1
}

copy_images() {
  local image
  for image in $IMAGES; do
    if as_root podman image exists "$image"; then
      log "podman has $image"
      continue
    fi
    docker image inspect "$image" >/dev/null 2>&1 || { log "docker has no $image to copy"; return 1; }
    log "copying $image from docker to podman"
    docker save "$image" | as_root podman load -q >/dev/null
  done
}

install_packages
start_service
copy_images
