#!/usr/bin/env bash
# Builds the stack's NATS and Prometheus images locally, FROM scratch,
# around Debian's `nats-server` and `prometheus` binaries and the shared
# libraries `ldd` lists for them, so the compose stack runs on a machine
# without registry access. With registry access you need none of this:
# the stack defaults to the official images.
#
#   compose/images.sh            # builds jetpool-nats:local, jetpool-prometheus:local
#   NATS_IMAGE=... PROMETHEUS_IMAGE=... compose/images.sh   # other tags
set -euo pipefail

NATS_IMAGE=${NATS_IMAGE:-jetpool-nats:local}
PROMETHEUS_IMAGE=${PROMETHEUS_IMAGE:-jetpool-prometheus:local}

# image TAG BINARY DEST ENTRYPOINT_JSON: a scratch image with BINARY at
# DEST and its libraries at their own paths.
image() {
  local tag=$1 bin=$2 dest=$3 entry=$4
  [ -x "$bin" ] || { echo "error: $bin is missing (make deps installs it)" >&2; exit 1; }
  local ctx; ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' RETURN
  mkdir -p "$ctx/root$(dirname "$dest")"
  cp -L "$bin" "$ctx/root$dest"
  # Every library the dynamic loader resolves, plus the loader itself.
  ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | while read -r lib; do
    cp -L --parents "$lib" "$ctx/root/"
  done
  cat > "$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
COPY root/ /
ENTRYPOINT $entry
DOCKERFILE
  local out
  out=$(docker build -q -t "$tag" "$ctx" 2>&1) || { echo "$out" >&2; exit 1; }
  echo "built image $tag from $bin"
}

image "$NATS_IMAGE" "$(command -v nats-server || echo /usr/sbin/nats-server)" /nats-server '["/nats-server"]'
# Debian's Prometheus serves its web UI from /usr/share/prometheus/web,
# whose JavaScript libraries weigh 200 MB: the image leaves them out, so
# the HTTP API (all the demo and Grafana use) works and the UI does not.
image "$PROMETHEUS_IMAGE" "$(command -v prometheus || echo /usr/bin/prometheus)" /bin/prometheus \
  '["/bin/prometheus"]'
