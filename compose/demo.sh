#!/usr/bin/env bash
# `make demo`: a local nats-server with JetStream, jetpool running the demo
# pool (policies/demo), a burst of tasks, and a live view of the pool
# scaling out and back to zero. Everything it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${JETPOOL_BIN:-target/x86_64-unknown-linux-gnu/release/jetpool}

# free_port FIRST: the first port from FIRST up that nothing listens on.
free_port() {
  local p=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}
PORT=${DEMO_NATS_PORT:-$(free_port 14222)}
HTTP=${DEMO_LISTEN:-127.0.0.1:$(free_port 19464)}
TASKS=${DEMO_TASKS:-600}
WORK=${DEMO_WORK:-200ms}
NATS_URL="nats://127.0.0.1:$PORT"
export NATS_URL

work=$(mktemp -d)
nats_pid=""; jet_pid=""
cleanup() {
  [ -n "$jet_pid" ] && kill -TERM "$jet_pid" 2>/dev/null && wait "$jet_pid" 2>/dev/null || true
  ids=$(docker ps -aq --filter label=jetpool.managed=true --filter label=jetpool.pool=demo)
  [ -n "$ids" ] && docker rm -f $ids >/dev/null || true
  [ -n "$nats_pid" ] && kill "$nats_pid" 2>/dev/null && wait "$nats_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  echo "error: port $PORT is in use; set DEMO_NATS_PORT to a free port" >&2; exit 1
fi
echo "== starting nats-server with JetStream on $NATS_URL"
nats-server -js -a 127.0.0.1 -p "$PORT" -sd "$work/js" >"$work/nats.log" 2>&1 &
nats_pid=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done

echo "== creating stream DEMO and consumer demo-agents"
"$BIN" load --stream DEMO --subject demo.tasks --count 0 --consumer demo-agents >/dev/null

echo "== starting jetpool (logs: $work/jetpool.log; metrics: http://$HTTP/metrics)"
"$BIN" run --policies policies/demo --listen "$HTTP" >"$work/jetpool.log" 2>&1 &
jet_pid=$!
for _ in $(seq 50); do curl -sf "http://$HTTP/status" >/dev/null && break; sleep 0.2; done

echo "== publishing $TASKS tasks of $WORK each"
"$BIN" load --stream DEMO --subject demo.tasks --count "$TASKS" --work "$WORK"

# metric NAME: the demo pool's value of NAME in the last scrape.
metric() { printf '%s\n' "$scrape" | awk -v m="$1" 'index($1, m"{") == 1 && index($1, "pool=\"demo\"") {v=$2} END {print v}'; }
printf '%6s %8s %12s %8s %8s  %s\n' "t(s)" pending ack_pending desired running reason
start=$(date +%s); seen_out=0
while :; do
  t=$(( $(date +%s) - start ))
  scrape=$(curl -s "http://$HTTP/metrics" || true)
  pending=$(metric jetpool_consumer_pending_messages)
  ackp=$(metric jetpool_consumer_ack_pending_messages)
  desired=$(metric jetpool_pool_desired_replicas)
  running=$(docker ps -q --filter label=jetpool.pool=demo | wc -l)
  status=$(curl -s "http://$HTTP/status" || true)
  reason=$(printf '%s' "$status" | sed -n 's/.*"reason":"\([^"]*\)".*/\1/p' | cut -c1-140)
  printf '%6s %8s %12s %8s %8s  %s\n' "$t" "${pending:-?}" "${ackp:-?}" "${desired:-?}" "$running" "$reason"
  [ "$running" -gt 0 ] && seen_out=1
  if [ "$seen_out" = 1 ] && [ "$running" = 0 ] && [ "${pending:-1}" = 0 ] && [ "${ackp:-1}" = 0 ]; then break; fi
  if [ "$t" -gt 180 ]; then echo "error: the demo did not finish within 180 s; see $work/jetpool.log" >&2; cat "$work/jetpool.log" >&2; exit 1; fi
  sleep 1
done
echo "== done: the pool scaled out for the burst, worked it off, and scaled back to zero"
echo "   scale events: $(curl -s "http://$HTTP/metrics" | grep '^jetpool_scale_events_total' | tr '\n' ' ')"
