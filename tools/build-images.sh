#!/usr/bin/env bash
# Build the systemd test images pyweb-test:<platform> used by Molecule and the demo.
#
#   tools/build-images.sh [debian12] [debian13]     (default: both)
#
# Base image: the official Debian image when a registry answers, else a debootstrap
# (minbase) import, cached as pyweb-base:<suite>. The test image is rebuilt only when its
# recipe (Dockerfile, helper files, extra CA certificates) changed: its hash is a label.
#
# PYWEB_EXTRA_CA: a PEM bundle or a directory of .crt files that the image should trust
#   (default: the controller's system bundle, so pip inside works behind an intercepting
#   proxy); set it to "none" to trust only Debian's CAs.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
recipe_dir=$here/images
say() { printf 'build-images: %s\n' "$*" >&2; }

suite_of() {
  case "$1" in
    debian12) echo bookworm ;;
    debian13) echo trixie ;;
    *) say "unknown platform '$1' (known: debian12 debian13)"; exit 2 ;;
  esac
}

base_image() {  # prints the name of a usable base image for the suite
  local suite=$1 dir
  if docker image inspect "pyweb-base:$suite" >/dev/null 2>&1; then
    echo "pyweb-base:$suite"; return
  fi
  if [ "${PYWEB_NO_PULL:-}" != 1 ] && timeout 60 docker pull -q "debian:$suite" >/dev/null 2>&1; then
    docker tag "debian:$suite" "pyweb-base:$suite"
    echo "pyweb-base:$suite"; return
  fi
  command -v debootstrap >/dev/null || { say "no registry and no debootstrap: run tools/ensure-docker.sh"; exit 1; }
  say "no registry answers: building the $suite base with debootstrap (about 30 s)"
  dir=$(mktemp -d /var/tmp/pyweb-rootfs.XXXXXX)
  trap 'rm -rf "$dir"' RETURN
  debootstrap --variant=minbase "$suite" "$dir" >/tmp/pyweb-debootstrap-$suite.log 2>&1 || {
    say "debootstrap failed; see /tmp/pyweb-debootstrap-$suite.log"; tail -5 "/tmp/pyweb-debootstrap-$suite.log" >&2; exit 1; }
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  tar -C "$dir" -c . | docker import - "pyweb-base:$suite" >/dev/null
  echo "pyweb-base:$suite"
}

build_context() {  # fills $1 with the Docker build context
  local ctx=$1 ca=${PYWEB_EXTRA_CA:-/etc/ssl/certs/ca-certificates.crt}
  cp "$recipe_dir/Dockerfile" "$recipe_dir/apt-proxy-detect" "$ctx/"
  mkdir -p "$ctx/ca"
  if [ "$ca" != none ]; then
    if [ -d "$ca" ]; then
      find "$ca" -maxdepth 1 -name '*.crt' -exec cp {} "$ctx/ca/" \;
    elif [ -f "$ca" ]; then
      cp "$ca" "$ctx/ca/extra-bundle.crt"
    else
      say "PYWEB_EXTRA_CA=$ca is neither a file nor a directory"; exit 2
    fi
  fi
}

build_one() {
  local platform=$1 suite base ctx hash current
  suite=$(suite_of "$platform")
  ctx=$(mktemp -d)
  build_context "$ctx"
  base=$(base_image "$suite")
  hash=$( (cd "$ctx" && find . -type f -print0 | sort -z | xargs -0 sha256sum; \
           docker image inspect -f '{{.Id}}' "$base") | sha256sum | cut -c1-16)
  current=$(docker image inspect -f '{{index .Config.Labels "pyweb.recipe"}}' "pyweb-test:$platform" 2>/dev/null || true)
  if [ "$current" = "$hash" ]; then
    say "pyweb-test:$platform is up to date ($hash)"
  else
    say "building pyweb-test:$platform from $base (recipe $hash)"
    docker build -q --build-arg "BASE=$base" --label "pyweb.recipe=$hash" \
      -t "pyweb-test:$platform" "$ctx" >/tmp/pyweb-build-$platform.log 2>&1 || {
        say "docker build failed; see /tmp/pyweb-build-$platform.log"; tail -20 "/tmp/pyweb-build-$platform.log" >&2; rm -rf "$ctx"; exit 1; }
  fi
  rm -rf "$ctx"
}

platforms=("$@")
[ ${#platforms[@]} -gt 0 ] || platforms=(debian12 debian13)
for p in "${platforms[@]}"; do build_one "$p"; done
