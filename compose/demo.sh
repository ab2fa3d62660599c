#!/usr/bin/env bash
# `make demo`: a local nats-server with JetStream, jetpool running the demo
# pool (policies/demo), a burst of tasks, and a live view of the pool
# scaling out and back to zero. Everything it starts is stopped on exit;
# whatever fails is named in one `error:` line first.
#
# Variables (the Makefile sets the first two):
#   JETPOOL_BIN     the jetpool binary (the static one `make image` builds)
#   JETPOOL_IMAGE   the agents' image (default jetpool:local, as in the policy)
#   DEMO_POOL       the pool's name (default demo, as in the policy)
#   DEMO_NATS_PORT, DEMO_LISTEN   NATS's port, jetpool's HTTP address (free ones)
#   DEMO_TASKS, DEMO_WORK, DEMO_TIMEOUT   the burst, and how long to wait for it
set -Eeuo pipefail
self=$(realpath "$0")
cd "$(dirname "$0")/.."

BIN=${JETPOOL_BIN:-target/x86_64-unknown-linux-gnu/release/jetpool}
IMAGE=${JETPOOL_IMAGE:-jetpool:local}
POOL=${DEMO_POOL:-demo}
TASKS=${DEMO_TASKS:-600}
WORK=${DEMO_WORK:-200ms}
TIMEOUT=${DEMO_TIMEOUT:-180}

# What the script is doing, for the error line.
step="starting"
fail() { echo "error: $*" >&2; exit 1; }
# A command that fails under `set -e` is named, by its line of this file
# (once: not again from the subshell of a command substitution), before the clean-up runs.
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

# free_port FIRST: the first port from FIRST up that nothing listens on.
free_port() {
  local p=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=${DEMO_NATS_PORT:-$(free_port 14222)}
HTTP=${DEMO_LISTEN:-127.0.0.1:$(free_port 19464)}
NATS_URL="nats://127.0.0.1:$PORT"
export NATS_URL

# The pool's containers (jetpool's labels), every one or the running ones.
pool_filter=(--filter label=jetpool.managed=true --filter "label=jetpool.pool=$POOL")
[ -x "$BIN" ] || fail "the jetpool binary $BIN is missing (make static builds it; or set JETPOOL_BIN)"
docker image inspect "$IMAGE" >/dev/null 2>&1 || fail "the agent image $IMAGE is missing (make image IMAGE=$IMAGE builds it)"
# jetpool owns every container labelled with its pool's name: another
# pool of that name (a second demo, the compose stack's "demo" replicas)
# would be adopted, scaled in and, at exit here, removed.
if [ -n "$(docker ps -aq --filter "label=jetpool.pool=$POOL")" ]; then
  fail "containers labelled jetpool.pool=$POOL already exist (another demo, or the compose stack's pool?); stop them or set DEMO_POOL"
fi
if listening "$PORT"; then fail "port $PORT is in use; set DEMO_NATS_PORT to a free port"; fi

work=$(mktemp -d)
nats_pid=""; jet_pid=""
cleanup() {
  trap - ERR
  set +e
  [ -n "$jet_pid" ] && kill -TERM "$jet_pid" 2>/dev/null && wait "$jet_pid" 2>/dev/null
  docker ps -aq "${pool_filter[@]}" | xargs -r docker rm -f >/dev/null
  [ -n "$nats_pid" ] && kill "$nats_pid" 2>/dev/null && wait "$nats_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# The demo pool's policy, with the pool's name and image when they are not
# the file's own (a test's unique pool, CI's image).
policies=policies/demo
if [ "$POOL" != demo ] || [ "$IMAGE" != jetpool:local ]; then
  mkdir "$work/policies"
  sed -e "s|^name = \"demo\"|name = \"$POOL\"|" -e "s|^image = \"jetpool:local\"|image = \"$IMAGE\"|" \
    policies/demo/demo.toml > "$work/policies/demo.toml"
  if ! grep -q "^name = \"$POOL\"" "$work/policies/demo.toml" || ! grep -q "^image = \"$IMAGE\"" "$work/policies/demo.toml"; then
    fail "cannot set the pool's name and image in a copy of policies/demo/demo.toml (has its format changed?)"
  fi
  policies=$work/policies
fi

step="starting nats-server"
echo "== starting nats-server with JetStream on $NATS_URL"
nats-server -js -a 127.0.0.1 -p "$PORT" -sd "$work/js" >"$work/nats.log" 2>&1 &
nats_pid=$!
for _ in $(seq 100); do listening "$PORT" && break; sleep 0.1; done
listening "$PORT" || fail "nats-server does not answer on port $PORT: $(tail -1 "$work/nats.log")"

step="creating the stream"
echo "== creating stream DEMO and consumer demo-agents"
"$BIN" load --stream DEMO --subject demo.tasks --count 0 --consumer demo-agents >/dev/null

step="starting jetpool"
echo "== starting jetpool (logs: $work/jetpool.log; metrics: http://$HTTP/metrics)"
"$BIN" run --policies "$policies" --listen "$HTTP" >"$work/jetpool.log" 2>&1 &
jet_pid=$!
for _ in $(seq 100); do curl -sf "http://$HTTP/status" >/dev/null && break; sleep 0.2; done
curl -sf "http://$HTTP/status" >/dev/null || { tail -20 "$work/jetpool.log" >&2; fail "jetpool does not answer on http://$HTTP/status (its log is above)"; }

step="publishing the burst"
echo "== publishing $TASKS tasks of $WORK each"
"$BIN" load --stream DEMO --subject demo.tasks --count "$TASKS" --work "$WORK"

step="watching the pool"
# metric NAME: the demo pool's value of NAME in the last scrape.
metric() { printf '%s\n' "$scrape" | awk -v m="$1" -v p="pool=\"$POOL\"" 'index($1, m"{") == 1 && index($1, p) {v=$2} END {print v}'; }
printf '%6s %8s %12s %8s %8s  %s\n' "t(s)" pending ack_pending desired running reason
start=$(date +%s); seen_out=0
while :; do
  t=$(( $(date +%s) - start ))
  scrape=$(curl -s "http://$HTTP/metrics" || true)
  pending=$(metric jetpool_consumer_pending_messages)
  ackp=$(metric jetpool_consumer_ack_pending_messages)
  desired=$(metric jetpool_pool_desired_replicas)
  running=$(docker ps -q "${pool_filter[@]}" | wc -l)
  status=$(curl -s "http://$HTTP/status" || true)
  reason=$(printf '%s' "$status" | sed -n 's/.*"reason":"\([^"]*\)".*/\1/p' | cut -c1-140)
  printf '%6s %8s %12s %8s %8s  %s\n' "$t" "${pending:-?}" "${ackp:-?}" "${desired:-?}" "$running" "$reason"
  [ "$running" -gt 0 ] && seen_out=1
  if [ "$seen_out" = 1 ] && [ "$running" = 0 ] && [ "${pending:-1}" = 0 ] && [ "${ackp:-1}" = 0 ]; then break; fi
  if [ "$t" -gt "$TIMEOUT" ]; then
    tail -40 "$work/jetpool.log" >&2
    fail "the pool did not scale out and back to zero within ${TIMEOUT}s (jetpool's log is above)"
  fi
  if ! kill -0 "$jet_pid" 2>/dev/null; then
    tail -40 "$work/jetpool.log" >&2
    fail "jetpool exited while the demo ran (its log is above)"
  fi
  sleep 1
done
echo "== done: the pool scaled out for the burst, worked it off, and scaled back to zero"
echo "   scale events: $(curl -s "http://$HTTP/metrics" | grep '^jetpool_scale_events_total' | tr '\n' ' ')"
