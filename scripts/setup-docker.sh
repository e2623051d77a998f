#!/usr/bin/env bash
# Makes a Docker engine answer on this machine and gives it the base image that
# docker/Dockerfile builds FROM, without any image registry:
#   1. installs docker.io and debootstrap from Debian when missing (needs root);
#   2. starts dockerd in the background when no engine answers;
#   3. builds the base image with debootstrap and `docker import`.
# Idempotent: each step is skipped when its result is already there.
set -euo pipefail

BASE_IMAGE="${BERTH_BASE_IMAGE:-debian:bookworm-slim}"
SUITE="${BERTH_BASE_SUITE:-bookworm}"
# What the workspace image needs from Debian; baked into the base so that
# building docker/Dockerfile needs no network for them.
PACKAGES="ca-certificates,curl,git,bash,procps,nodejs,openssh-client,less"

log() { printf 'setup-docker: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

engine_answers() { docker info >/dev/null 2>&1; }

install_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "installing ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
}

start_engine() {
  engine_answers && { log "engine answers"; return 0; }
  [ -n "${DOCKER_HOST:-}" ] && { log "DOCKER_HOST=$DOCKER_HOST does not answer"; return 1; }
  log "starting dockerd"
  as_root sh -c 'cd / && nohup dockerd >/var/log/berth-dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do
    engine_answers && { log "engine answers"; return 0; }
    sleep 1
  done
  log "dockerd did not answer within 60 s; see /var/log/berth-dockerd.log"
  return 1
}

build_base_image() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "base image $BASE_IMAGE is there"
    return 0
  fi
  local root
  root="$(mktemp -d /tmp/berth-rootfs.XXXXXX)"
  trap 'as_root rm -rf "$root"' RETURN
  log "debootstrap $SUITE into $root (a few minutes)"
  as_root debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" >/tmp/berth-debootstrap.log 2>&1 \
    || { log "debootstrap failed; see /tmp/berth-debootstrap.log"; return 1; }
  # Keep the image small, as the -slim images are.
  as_root rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc "$root"/usr/share/man "$root"/usr/share/locale
  as_root tar -C "$root" -c . | docker import \
    --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'LABEL berth.base=debootstrap' \
    - "$BASE_IMAGE" >/dev/null
  log "base image $BASE_IMAGE built"
}

install_packages
start_engine
build_base_image
