#!/usr/bin/env bash
# The Dockerfile's base, debian:bookworm-slim, made from Debian's packages with mmdebstrap when
# podman does not have it yet: no image registry is reachable on the development and CI machines
# (../docs/container.md). Anywhere else podman or Docker pulls the real image and this is not
# needed. ~20 s and ~180 MB of downloads, once.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"
base=docker.io/library/debian:bookworm-slim
podman image exists "$base" && exit 0
echo "make image: making $base from Debian's packages (mmdebstrap)" >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# As the published slim image: no documentation, manual pages or translations (dpkg's path
# filters stay in the image, so later apt-get installs follow them), no package cache.
mmdebstrap --quiet --variant=minbase --include=ca-certificates \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --customize-hook='rm -rf "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*' \
  bookworm "$work/rootfs.tar"
podman import --quiet "$work/rootfs.tar" "$base" >/dev/null
