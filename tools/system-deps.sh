#!/usr/bin/env bash
# What `make test` and `make demo` need beyond Python and make, from Debian's packages: installed
# here when running as root (as CI does), otherwise one line naming the missing piece and the
# command that installs it, before any test runs.
#   test: chromium (browser tests), curl (README examples), node and npm (the Node SDK test)
#   demo: node and npm (analytics.js for the shop page, installed from web/'s lock file)
#   image: podman (builds and runs the image, no Docker daemon), runc (the runtime that works
#          here: crun fails on hybrid cgroups), uidmap (podman's user namespaces), mmdebstrap
#          (the base image from Debian's packages, as no image registry is reachable here)
set -euo pipefail
target="${1:?usage: system-deps.sh test|demo|image}"
missing=()   # commands
packages=()  # Debian packages that provide them
want() { command -v "$1" >/dev/null 2>&1 || { missing+=("$1"); packages+=("$2"); }; }
if [ "$target" = test ]; then
  want chromium chromium
  want curl curl
  want node nodejs
  want npm npm
fi
if [ "$target" = demo ]; then
  want node nodejs
  want npm npm
fi
if [ "$target" = image ]; then
  want podman podman
  want runc runc
  want newuidmap uidmap
  want mmdebstrap mmdebstrap
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "make $target: installing ${packages[*]} (apt-get)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
  exit 0
fi
echo "make $target: missing ${missing[*]}; install with: sudo apt-get install -y ${packages[*]}" >&2
exit 1
