#!/usr/bin/env bash
# `make compose-demo`: brings up compose/docker-compose.yml on locally built
# images (jetpool:local, and NATS and Prometheus images made from Debian's
# binaries by compose/images.sh), prints the agent pool scaling out for the
# load generator's burst and back to its minimum, as Prometheus saw it and
# as `docker-compose ps` lists it, then takes the stack down and checks that
# nothing is left. Whatever fails is named in one `error:` line, and the
# stack is taken down all the same.
#
# Variables (the Makefile sets JETPOOL_IMAGE): COMPOSE_PROJECT_NAME,
# JETPOOL_IMAGE, NATS_IMAGE, PROMETHEUS_IMAGE, PROMETHEUS_PORT and
# JETPOOL_PORT (free ones by default), DEMO_TASKS, DEMO_RATE, DEMO_WORK,
# DEMO_TIMEOUT.
set -Eeuo pipefail
self=$(realpath "$0")
cd "$(dirname "$0")"

export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-jetpool-demo}
export JETPOOL_IMAGE=${JETPOOL_IMAGE:-jetpool:local}
export NATS_IMAGE=${NATS_IMAGE:-jetpool-nats:local}
export PROMETHEUS_IMAGE=${PROMETHEUS_IMAGE:-jetpool-prometheus:local}
# The group of the Docker socket, granted to jetpool's unprivileged user.
export DOCKER_GID=${DOCKER_GID:-$(stat -c %g /var/run/docker.sock 2>/dev/null || echo 0)}
export DEMO_TASKS=${DEMO_TASKS:-600} DEMO_RATE=${DEMO_RATE:-100/s} DEMO_WORK=${DEMO_WORK:-200ms}
TIMEOUT=${DEMO_TIMEOUT:-180}
P=$COMPOSE_PROJECT_NAME
compose() { docker-compose -f docker-compose.yml "$@"; }
# Indents compose's output, without its "... " progress lines.
show() { tr -d '\r' | { grep -v '\.\.\. *$' || true; } | sed 's/^/   /'; }

# What the script is doing, for the error line.
step="starting"
fail() { echo "error: $*" >&2; exit 1; }
# A command that fails under `set -e` is named, by its line of this file
# (once: not again from the subshell of a command substitution), before the teardown runs.
on_err() {
  local rc=$? where="line $1" cmd
  [ "${FUNCNAME[1]:-main}" != main ] && where="$where, in ${FUNCNAME[1]}()"
  cmd=$(sed -n "$1{s/^ *//;p}" "$self" | cut -c1-100)
  [ "$BASHPID" = "$$" ] && echo "error: $step: \`${cmd:-$BASH_COMMAND}\` failed (exit $rc; $where of ${self##*/})" >&2
  return 0
}
trap 'on_err $LINENO' ERR
trap 'exit 143' TERM
trap 'exit 130' INT

# A free loopback port for each published service.
free_port() {
  local p
  for p in $(shuf -i 20000-60000 -n 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  return 1
}
PROMETHEUS_PORT=${PROMETHEUS_PORT:-$(free_port)} || fail "no free port found for Prometheus"
JETPOOL_PORT=${JETPOOL_PORT:-$(free_port)} || fail "no free port found for jetpool"
export PROMETHEUS_PORT JETPOOL_PORT

# Everything of the project, by compose's label: containers, networks, volumes.
project_filter=(--filter "label=com.docker.compose.project=$P")
leftovers() {
  { docker ps -aq "${project_filter[@]}"
    docker network ls -q "${project_filter[@]}"
    docker volume ls -q "${project_filter[@]}"; } | wc -l
}
if [ "$(leftovers)" != 0 ]; then
  fail "project $P already has containers, networks or volumes; set COMPOSE_PROJECT_NAME"
fi

# agents [-a]: how many containers of the agent service run (with -a: exist),
# by compose's labels in one Docker API list. Not `docker-compose ps`:
# compose v1 lists the containers, then inspects each, and fails outright
# when one is removed in between, which jetpool does at every scale-in.
agents() {
  docker ps "$@" -q "${project_filter[@]}" --filter label=com.docker.compose.service=agent \
    --filter label=com.docker.compose.oneoff=False | wc -l
}

# compose_ps: `docker-compose ps`, indented; listed again (a few times)
# when compose trips over a container removed while it listed (above).
compose_ps() {
  local out _
  for _ in 1 2 3 4 5; do
    if out=$(compose ps 2>&1); then printf '%s\n' "$out" | sed 's/^/   /'; return 0; fi
    case $out in *"No such container"*) sleep 0.2 ;; *) break ;; esac
  done
  fail "docker-compose ps failed: $(printf '%s\n' "$out" | tail -1)"
}

# teardown: `down -v`, again if compose trips over a container removed
# meanwhile, then whatever it left removed by label; fails when anything
# was left, after removing it. Runs on every exit.
teardown() {
  trap - ERR EXIT
  set +e
  local out _ n ok=0
  echo "== docker-compose down -v"
  for _ in 1 2 3; do
    out=$(compose down -v --remove-orphans 2>&1) && { ok=1; break; }
    echo "   (docker-compose down failed: $(printf '%s\n' "$out" | tail -1); once more)"
    sleep 1
  done
  printf '%s\n' "$out" | show
  n=$(leftovers)
  if [ "$ok" = 1 ] && [ "$n" = 0 ]; then
    echo "== nothing left behind (no container, network or volume of project $P)"
    return 0
  fi
  docker ps -aq "${project_filter[@]}" | xargs -r docker rm -f >/dev/null
  docker network ls -q "${project_filter[@]}" | xargs -r docker network rm >/dev/null
  docker volume ls -q "${project_filter[@]}" | xargs -r docker volume rm -f >/dev/null
  if [ "$ok" = 1 ]; then
    echo "error: docker-compose down left $n containers, networks or volumes of project $P (now removed by label; $(leftovers) remain)" >&2
  else
    echo "error: docker-compose down failed three times (project $P's containers, networks and volumes removed by label; $(leftovers) remain)" >&2
  fi
  exit 1
}
trap teardown EXIT

step="building the NATS and Prometheus images"
if [ "$NATS_IMAGE" = jetpool-nats:local ] || [ "$PROMETHEUS_IMAGE" = jetpool-prometheus:local ]; then
  echo "== building local NATS and Prometheus images from Debian's binaries"
  ./images.sh | sed 's/^/   /'
fi
step="bringing the stack up"
echo "== docker-compose up -d (project $P; images $JETPOOL_IMAGE, $NATS_IMAGE, $PROMETHEUS_IMAGE)"
compose up -d 2>&1 | show
echo "   Prometheus: http://127.0.0.1:$PROMETHEUS_PORT   jetpool: http://127.0.0.1:$JETPOOL_PORT/status"
jp=$(docker ps -q "${project_filter[@]}" --filter label=com.docker.compose.service=jetpool | head -1)
[ -n "$jp" ] || fail "the jetpool container is not running"
echo "   jetpool runs as user $(docker inspect --format '{{.Config.User}}' "$jp") with group(s) $(docker inspect --format '{{join .HostConfig.GroupAdd ","}}' "$jp")"

# query EXPR: the first value of a Prometheus instant query, or "-".
query() {
  curl -s --max-time 2 --data-urlencode "query=$1" "http://127.0.0.1:$PROMETHEUS_PORT/api/v1/query" \
    | sed -n 's/.*"value":\[[^,]*,"\([^"]*\)".*/\1/p' | grep . || echo "-"
}

step="watching the pool"
echo "== the agent pool, once a second (Prometheus scrapes jetpool every 2 s)"
printf '%6s %8s %12s %8s %8s %8s\n' "t(s)" pending ack_pending desired ready running
start=$(date +%s); peak=0; shown=0
while :; do
  t=$(( $(date +%s) - start ))
  pending=$(query 'jetpool_consumer_pending_messages{pool="demo"}')
  ackp=$(query 'jetpool_consumer_ack_pending_messages{pool="demo"}')
  desired=$(query 'jetpool_pool_desired_replicas{pool="demo"}')
  ready=$(query 'jetpool_pool_replicas{pool="demo",state="ready"}')
  up=$(agents)
  all=$(agents -a)
  printf '%6s %8s %12s %8s %8s %8s\n' "$t" "$pending" "$ackp" "$desired" "$ready" "$up"
  [ "$up" -gt "$peak" ] && peak=$up
  # Once the pool has reached what jetpool wants at the burst, show it.
  if [ "$shown" = 0 ] && [ "$up" -ge 3 ] && [ "$up" = "${desired%.*}" ]; then
    echo "== docker-compose ps at the peak: jetpool's replicas are the service's containers"
    compose_ps
    shown=1
  fi
  # Back at the minimum: the burst worked off, jetpool wants 1, and the
  # service has one container, running (the drained ones are removed).
  if [ "$peak" -ge 2 ] && [ "$up" = 1 ] && [ "$all" = 1 ] && [ "$pending" = 0 ] && [ "$ackp" = 0 ] \
    && [ "$desired" = 1 ]; then break; fi
  if [ "$t" -gt "$TIMEOUT" ]; then
    compose logs --tail=40 jetpool >&2 || true
    fail "the pool did not scale out and back to 1 within ${TIMEOUT}s (peak $peak; jetpool's log is above)"
  fi
  sleep 1
done
echo "== scaled out to $peak agents for the burst and back to the minimum of 1"
compose_ps
teardown
echo "== done: the pool scaled out to $peak agents for the burst and back to 1; down -v left nothing behind"
