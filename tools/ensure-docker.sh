#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info`.
#  - One already answers (a laptop, a hosted CI runner): do nothing.
#  - None answers and we are root on Debian/Ubuntu: install Debian's docker.io (and debootstrap,
#    which the image builder needs where no registry is reachable), start dockerd in the
#    background (there may be no systemd as PID 1), and wait until it answers.
#  - Otherwise: say what is missing and fail.
set -euo pipefail

log=${PYWEB_DOCKERD_LOG:-/var/log/pyweb-dockerd.log}
wait_s=${PYWEB_DOCKERD_WAIT:-60}

say() { printf 'ensure-docker: %s\n' "$*" >&2; }

if docker info >/dev/null 2>&1; then
  say "a Docker engine already answers; nothing to do"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  say "no Docker engine answers and this is not root: start one (or add yourself to the docker group) and run again"
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    say "no dockerd and no apt-get: install a Docker engine for this OS by hand"
    exit 1
  fi
  say "installing docker.io and debootstrap from the distribution"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io debootstrap >/dev/null
fi

# A systemd host starts the engine itself.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl start docker || true
fi

if ! docker info >/dev/null 2>&1; then
  # A dockerd left over from an earlier session was ended without cleaning up.
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
  fi
  if [ -S /var/run/docker.sock ] && ! pgrep -x dockerd >/dev/null 2>&1; then
    rm -f /var/run/docker.sock
  fi
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    say "starting dockerd in the background (log: $log)"
    setsid dockerd >"$log" 2>&1 < /dev/null &
  fi
fi

for _ in $(seq "$wait_s"); do
  if docker info >/dev/null 2>&1; then
    say "Docker engine answers ($(docker version --format '{{.Server.Version}}'))"
    exit 0
  fi
  sleep 1
done

say "dockerd did not answer within ${wait_s}s; last lines of $log:"
tail -n 20 "$log" >&2 || true
exit 1
