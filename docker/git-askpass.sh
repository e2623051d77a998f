#!/bin/sh
# GIT_ASKPASS helper: git runs it with the prompt as $1 and reads the answer
# from stdout. The token comes from the container's environment and is only
# ever written to stdout, for git; never to a log, a file or stderr.
set +x -u

case "${1:-}" in
  Username*)
    # GitHub app tokens need this user name; for personal tokens any works.
    printf '%s\n' "${GIT_USERNAME:-x-access-token}"
    ;;
  Password*)
    if [ -z "${GIT_TOKEN:-}" ]; then
      echo "berth-git-askpass: GIT_TOKEN is not set" >&2
      exit 1
    fi
    printf '%s\n' "$GIT_TOKEN"
    ;;
  *)
    # Not a credential prompt (e.g. a host-key question): refuse rather than guess.
    echo "berth-git-askpass: no answer for this prompt" >&2
    exit 1
    ;;
esac
