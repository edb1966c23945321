#!/usr/bin/env bash
# Start a project-owned apt-cacher-ng (port 3149, config in tools/apt-cache/) so that test
# containers download each Debian package once. The test image's apt asks it first and goes
# direct when it does not answer, so a failure here only makes the tests slower.
# PYWEB_APT_CACHE=0 skips it.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
port=3149
say() { printf 'ensure-apt-cache: %s\n' "$*" >&2; }
[ "${PYWEB_APT_CACHE:-1}" = 0 ] && { say "disabled by PYWEB_APT_CACHE=0"; exit 0; }
answers() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; }
answers && { say "apt cache answers on :$port"; exit 0; }
if [ "$(id -u)" != 0 ]; then say "not root: running without an apt cache"; exit 0; fi
if ! [ -x /usr/sbin/apt-cacher-ng ] && command -v apt-get >/dev/null; then
  # policy-rc.d keeps the distribution's own instance (which remaps mirrors) from starting.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq apt-cacher-ng >/dev/null 2>&1
  rc=$?
  rm -f /usr/sbin/policy-rc.d
  [ $rc = 0 ] || { say "could not install apt-cacher-ng: running without an apt cache"; exit 0; }
fi
mkdir -p /var/cache/pyweb-apt-cache /var/log/pyweb-apt-cache
setsid /usr/sbin/apt-cacher-ng -c "$here/apt-cache" >/var/log/pyweb-apt-cache/stdout.log 2>&1 </dev/null &
for _ in $(seq 20); do answers && { say "apt cache started on :$port"; exit 0; }; sleep 0.5; done
say "apt cache did not start: running without it"
exit 0
