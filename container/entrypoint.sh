#!/bin/sh
# The image's entry point (docs/container.md). The first argument picks what runs; the rest are
# its flags, and every flag is also an environment variable (POINTILLIST_MOCK_*, SEGMENT_GATEWAY_*).
#   mock [FLAGS]     pointillist-mock serve (the default; flags alone also mean the mock)
#   gateway [FLAGS]  segment-connector gateway
#   demo [FLAGS]     pointillist-mock demo
#   anything else    run as given, e.g. `pointillist-mock verify --db /data/events.db`
# Without arguments, POINTILLIST_ROLE (mock, gateway or demo) picks: a CI service container
# (GitHub Actions `services:`) can set variables but not arguments.
# exec: the server is the container's main process, so SIGTERM (podman/docker stop) reaches it.
set -eu
[ $# -gt 0 ] || set -- "${POINTILLIST_ROLE:-mock}"
case "$1" in
  mock|serve) shift; exec pointillist-mock serve "$@" ;;
  gateway) shift; exec segment-connector gateway "$@" ;;
  demo) shift; exec pointillist-mock demo "$@" ;;
  -*) exec pointillist-mock serve "$@" ;;
  *) exec "$@" ;;
esac
