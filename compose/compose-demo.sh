#!/usr/bin/env bash
# `make compose-demo`: brings up compose/docker-compose.yml on locally built
# images (jetpool:local, and NATS and Prometheus images made from Debian's
# binaries by compose/images.sh), prints the agent pool scaling out for the
# load generator's burst and back to its minimum, as Prometheus saw it and
# as `docker-compose ps` lists it, then takes the stack down and checks that
# nothing is left.
set -euo pipefail
cd "$(dirname "$0")"

export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-jetpool-demo}
export JETPOOL_IMAGE=${JETPOOL_IMAGE:-jetpool:local}
export NATS_IMAGE=${NATS_IMAGE:-jetpool-nats:local}
export PROMETHEUS_IMAGE=${PROMETHEUS_IMAGE:-jetpool-prometheus:local}
export DEMO_TASKS=${DEMO_TASKS:-600} DEMO_RATE=${DEMO_RATE:-100/s} DEMO_WORK=${DEMO_WORK:-200ms}
TIMEOUT=${DEMO_TIMEOUT:-180}
P=$COMPOSE_PROJECT_NAME
compose() { docker-compose -f docker-compose.yml "$@"; }
# Indents compose's output, without its "... " progress lines.
show() { { grep -v '\.\.\. *$' || true; } | sed 's/^/   /'; }

# A free loopback port for each published service.
free_port() {
  local p
  for p in $(shuf -i 20000-60000 -n 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  echo "error: no free port found" >&2; exit 1
}
export PROMETHEUS_PORT=${PROMETHEUS_PORT:-$(free_port)} JETPOOL_PORT=${JETPOOL_PORT:-$(free_port)}

leftovers() {
  { docker ps -aq --filter "label=com.docker.compose.project=$P"
    docker network ls -q --filter "label=com.docker.compose.project=$P"
    docker volume ls -q --filter "label=com.docker.compose.project=$P"; } | wc -l
}
if [ "$(leftovers)" != 0 ]; then
  echo "error: project $P already has containers, networks or volumes; set COMPOSE_PROJECT_NAME" >&2; exit 1
fi

cleanup() {
  echo "== docker-compose down -v"
  compose down -v --remove-orphans 2>&1 | show
  local n; n=$(leftovers)
  if [ "$n" = 0 ]; then echo "== nothing left behind (no container, network or volume of project $P)"
  else echo "error: $n containers, networks or volumes of project $P are left" >&2; exit 1; fi
}
trap cleanup EXIT

if [ "$NATS_IMAGE" = jetpool-nats:local ] || [ "$PROMETHEUS_IMAGE" = jetpool-prometheus:local ]; then
  echo "== building local NATS and Prometheus images from Debian's binaries"
  ./images.sh | sed 's/^/   /'
fi
echo "== docker-compose up -d (project $P; images $JETPOOL_IMAGE, $NATS_IMAGE, $PROMETHEUS_IMAGE)"
compose up -d 2>&1 | show
echo "   Prometheus: http://127.0.0.1:$PROMETHEUS_PORT   jetpool: http://127.0.0.1:$JETPOOL_PORT/status"

# query EXPR: the first value of a Prometheus instant query, or "-".
query() {
  curl -s --max-time 2 --data-urlencode "query=$1" "http://127.0.0.1:$PROMETHEUS_PORT/api/v1/query" \
    | sed -n 's/.*"value":\[[^,]*,"\([^"]*\)".*/\1/p' | grep . || echo "-"
}
agents_up() { compose ps agent 2>/dev/null | awk 'NR > 2 && / Up /' | wc -l; }

echo "== the agent pool, once a second (Prometheus scrapes jetpool every 2 s)"
printf '%6s %8s %12s %8s %8s %8s\n' "t(s)" pending ack_pending desired ready "ps Up"
start=$(date +%s); peak=0; shown=0
while :; do
  t=$(( $(date +%s) - start ))
  pending=$(query 'jetpool_consumer_pending_messages{pool="demo"}')
  ackp=$(query 'jetpool_consumer_ack_pending_messages{pool="demo"}')
  desired=$(query 'jetpool_pool_desired_replicas{pool="demo"}')
  ready=$(query 'jetpool_pool_replicas{pool="demo",state="ready"}')
  up=$(agents_up)
  printf '%6s %8s %12s %8s %8s %8s\n' "$t" "$pending" "$ackp" "$desired" "$ready" "$up"
  [ "$up" -gt "$peak" ] && peak=$up
  # Once the pool has reached what jetpool wants at the burst, show it.
  if [ "$shown" = 0 ] && [ "$up" -ge 3 ] && [ "$up" = "${desired%.*}" ]; then
    echo "== docker-compose ps at the peak: jetpool's replicas are the service's containers"
    compose ps 2>&1 | sed 's/^/   /'
    shown=1
  fi
  if [ "$shown" = 1 ] && [ "$up" = 1 ] && [ "$pending" = 0 ] && [ "$ackp" = 0 ] && [ "$desired" = 1 ]; then break; fi
  if [ "$t" -gt "$TIMEOUT" ]; then
    echo "error: the pool did not scale out and back within ${TIMEOUT}s; jetpool's log:" >&2
    compose logs --tail=40 jetpool >&2; exit 1
  fi
  sleep 1
done
echo "== scaled out to $peak agents for the burst and back to the minimum of 1"
compose ps 2>&1 | sed 's/^/   /'
