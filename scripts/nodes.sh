#!/usr/bin/env bash
# Nodes of one hub on one Redis, on this machine: the cost of a delivery that
# crosses nodes. Starts redis-server and two hub-server nodes (engine=redis),
# node A pinned to core 0, node B and Redis to core 1 with the load generator.
#
#   scripts/nodes.sh [RUNS] [hub-bench fanout args...]    S subscribers on A, the publisher on B
#   SCENARIO=pairs scripts/nodes.sh [RUNS] [pairs args...]  each pair's askers on A, echoers on B
#   DURABILITY=memory ...: every node stores direct messages (with Redis: inboxes in Redis)
#   CONFIG=file.toml ...: every node reads this config file too (namespaces: a history topic
#       is `--topic feed:x` with `[namespaces.feed] history_size = 100`)
#   SCENARIO=spread scripts/nodes.sh [RUNS] [fanout args...] three nodes (A and C on core 0, B
#       on core 1), the subscribers spread evenly over them, the publisher on A: deliveries per
#       CPU-second of the three nodes and Redis together, against one node.
#
# Prints node A's figure per CPU-second, and per CPU-second of A, B and Redis
# together; then the same scenario on one node (memory engine) for comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}; shift || true
SCENARIO=${SCENARIO:-fanout}
if [ $# -eq 0 ]; then
  if [ "$SCENARIO" = pairs ]; then set -- --pairs 100; else set -- --subscribers 1000 --window 64; fi
fi
BIN=${SERVER_BIN:-target/release/hub-server}
BENCH=${BENCH:-target/release/hub-bench}
DIR=$(mktemp -d)
RPORT=18290; PA=18291; PB=18292; PM=18293; PC=18294
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$DIR"' EXIT
taskset -c 1 redis-server --port $RPORT --bind 127.0.0.1 --save "" --appendonly no --dir "$DIR" >/dev/null 2>&1 &
RPID=$!; PIDS+=($RPID)
hub() { # core port settings...
  local core=$1 port=$2; shift 2
  local sets=()
  for kv in "$@"; do sets+=(--set "$kv"); done
  RUST_LOG=warn taskset -c "$core" "$BIN" ${CONFIG:+--config "$CONFIG"} --bind "127.0.0.1:$port" --set workers=1 --set rate_limit_per_sec=0 \
    --set max_connections=200000 --set connection_rate_per_ip=0 --set max_connections_per_ip=0 \
    --set durability="${DURABILITY:-off}" "${sets[@]}" >/dev/null 2>&1 &
  echo $!
}
REDIS="engine=redis redis_url=redis://127.0.0.1:$RPORT"
# shellcheck disable=SC2086
A=$(hub 0 $PA $REDIS); B=$(hub 1 $PB $REDIS); M=$(hub 0 $PM)
PIDS+=("$A" "$B" "$M")
PORTS="$PA $PB $PM"
if [ "$SCENARIO" = spread ]; then
  # shellcheck disable=SC2086
  C=$(hub 0 $PC $REDIS); PIDS+=("$C"); PORTS="$PORTS $PC"
fi
for port in $PORTS; do
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 0.1; done
done
field() { python3 -c "import json,sys; d=json.loads(sys.stdin.read()); print(round(d.get('$1') or 0))"; }
OTHERS="$B,$RPID"
if [ "$SCENARIO" = pairs ]; then
  PEER=(--peer-url "ws://127.0.0.1:$PB/ws"); UNIT=round_trips; LOSS=lost
elif [ "$SCENARIO" = spread ]; then
  PEER=(--subscriber-urls "ws://127.0.0.1:$PA/ws,ws://127.0.0.1:$PB/ws,ws://127.0.0.1:$PC/ws")
  UNIT=deliveries; LOSS=missing; OTHERS="$B,$C,$RPID"; SCENARIO=fanout
else
  PEER=(--publisher-url "ws://127.0.0.1:$PB/ws"); UNIT=deliveries; LOSS=missing
fi
for run in $(seq 1 "$RUNS"); do
  cross=$(taskset -c 1 "$BENCH" --url "ws://127.0.0.1:$PA/ws" --server-pid "$A" "$SCENARIO" "$@" \
    "${PEER[@]}" --other-pids "$OTHERS" | grep '^{')
  one=$(taskset -c 1 "$BENCH" --url "ws://127.0.0.1:$PM/ws" --server-pid "$M" "$SCENARIO" "$@" | grep '^{')
  echo "run $run: cross-node A $(echo "$cross" | field ${UNIT}_per_server_cpu_s)/s" \
    "all nodes+redis $(echo "$cross" | field ${UNIT}_per_total_cpu_s)/s" \
    "$LOSS $(echo "$cross" | field $LOSS);" \
    "one node $(echo "$one" | field ${UNIT}_per_server_cpu_s)/s"
done
