#!/usr/bin/env bash
# The address directory's load on each primary of a Redis Cluster: three
# cluster-mode redis-servers (core 1), two hub-server nodes on them (core 0),
# connect churn on node A with a new address every cycle while node B holds
# idle connections whose leases renew every second. Prints, per primary, the
# scripts it ran, their time inside Redis and its CPU, and each one's share.
#
#   scripts/cluster_load.sh [CYCLES] [IDLE]       (defaults 20000, 2000)
#   SERVER_BIN=path/to/older/hub-server scripts/cluster_load.sh   (A/B)
#   SET="redis_directory_shards=1" scripts/cluster_load.sh        (one slot)
set -euo pipefail
cd "$(dirname "$0")/.."
CYCLES=${1:-20000}; IDLE=${2:-2000}
BIN=${SERVER_BIN:-target/release/hub-server}
BENCH=${BENCH:-target/release/hub-bench}
DIR=$(mktemp -d)
PORTS=(18311 18312 18313); PA=18315; PB=18316
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$DIR"' EXIT
for p in "${PORTS[@]}"; do
  mkdir -p "$DIR/$p"
  taskset -c 1 redis-server --port "$p" --bind 127.0.0.1 --save "" --appendonly no \
    --cluster-enabled yes --cluster-config-file "$DIR/$p/nodes.conf" --dir "$DIR/$p" >/dev/null 2>&1 &
  PIDS+=($!)
done
for p in "${PORTS[@]}"; do
  for _ in $(seq 1 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
done
redis-cli --cluster create "${PORTS[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes >/dev/null
for _ in $(seq 1 200); do
  ok=0
  for p in "${PORTS[@]}"; do redis-cli -p "$p" cluster info | grep -q cluster_state:ok && ok=$((ok + 1)); done
  [ "$ok" = 3 ] && break; sleep 0.05
done
URL="redis-cluster://127.0.0.1:${PORTS[0]}?node=127.0.0.1:${PORTS[1]}&node=127.0.0.1:${PORTS[2]}"
hub() { # port
  local sets=()
  for kv in ${SET:-}; do sets+=(--set "$kv"); done
  RUST_LOG=warn taskset -c 0 "$BIN" --bind "127.0.0.1:$1" --set workers=1 --set rate_limit_per_sec=0 \
    --set max_connections=200000 --set connection_rate_per_ip=0 --set max_connections_per_ip=0 \
    --set durability=off --set engine=redis --set "redis_url=$URL" \
    --set registration_ttl_ms=4000 "${sets[@]}" >/dev/null 2>&1 &
  echo $!
}
A=$(hub $PA); B=$(hub $PB); PIDS+=("$A" "$B")
for port in $PA $PB; do
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 0.1; done
done
snapshot() { # port -> "scripts usec cpu"
  redis-cli -p "$1" info all | tr -d '\r' | python3 -c '
import sys
calls = usec = cpu = 0
for line in sys.stdin:
    if line.startswith(("cmdstat_evalsha:", "cmdstat_eval:")):
        f = dict(kv.split("=") for kv in line.split(":", 1)[1].split(","))
        calls += int(f["calls"]); usec += int(f["usec"])
    elif line.startswith(("used_cpu_user:", "used_cpu_sys:")):
        cpu += float(line.split(":")[1])
print(calls, usec, cpu)'
}
declare -A BEFORE
for p in "${PORTS[@]}"; do BEFORE[$p]=$(snapshot "$p"); done
taskset -c 1 "$BENCH" --url "ws://127.0.0.1:$PB/ws" idle --connections "$IDLE" --settle-ms 1000 \
  --cpu-window-ms 15000 >/dev/null &
IDLER=$!
sleep 1
taskset -c 1 "$BENCH" --url "ws://127.0.0.1:$PA/ws" --server-pid "$A" churn --cycles "$CYCLES" \
  --warmup 1000 --fresh-addresses | grep '^{' | python3 -c '
import json, sys; d = json.loads(sys.stdin.read())
print("churn on A: %.0f cycles/s, %.0f per A CPU-s" % (d["cycles_per_sec"], d["cycles_per_server_cpu_s"]))'
wait "$IDLER" || true
echo "primary  scripts  share   script-ms  cpu-s  share"
ROWS=()
for p in "${PORTS[@]}"; do
  read -r c0 u0 t0 <<< "${BEFORE[$p]}"; read -r c1 u1 t1 <<< "$(snapshot "$p")"
  ROWS+=("$p $((c1 - c0)) $((u1 - u0)) $(python3 -c "print($t1 - $t0)")")
done
printf '%s\n' "${ROWS[@]}" | python3 -c '
import sys
rows = [l.split() for l in sys.stdin if l.strip()]
calls = sum(int(r[1]) for r in rows) or 1; cpu = sum(float(r[3]) for r in rows) or 1
for port, c, u, t in rows:
    print(f"{port}  {int(c):7d}  {int(c) / calls:5.0%}  {int(u) / 1000:9.0f}  {float(t):5.2f}  {float(t) / cpu:5.0%}")'
