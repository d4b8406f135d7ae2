#!/usr/bin/env bash
# Before/after figures: two hub-server builds (or two configs) side by side,
# each pinned to core 0, the load generator on core 1, runs alternating so
# a slow spell of the machine weighs on both sides alike.
#
#   scripts/ab.sh A-BIN B-BIN RUNS [hub-bench scenario args...]
#   A_SET="fsync=interval" scripts/ab.sh target/release/hub-server target/release/hub-server 4 \
#       stored --senders 16 --window 32
#
# A_SET / B_SET: space-separated key=value settings for one side only.
# FIGURE: the report's key to compare (default: its `*_per_server_cpu_s`),
# e.g. FIGURE=cycles_per_sec for churn's wall-clock rate.
# Both sides store on disk in fresh temp directories (durability=disk) unless
# a setting says otherwise. Prints each side's runs and the median ratio B/A
# of the scenario's per-server-CPU-second figure.
set -euo pipefail
cd "$(dirname "$0")/.."
A=$1; B=$2; RUNS=$3; shift 3
[ $# -gt 0 ] || set -- fanout --subscribers 1000 --window 64
BENCH=${BENCH:-target/release/hub-bench}
DA=$(mktemp -d); DB=$(mktemp -d)
start() { # bin port dir settings...
  local bin=$1 port=$2 dir=$3; shift 3
  local sets=()
  for kv in "$@"; do sets+=(--set "$kv"); done
  RUST_LOG=warn taskset -c 0 "$bin" --bind "127.0.0.1:$port" --set workers=1 --set rate_limit_per_sec=0 \
    --set max_connections=200000 --set max_registered=200000 --set max_topics=200000 \
    --set max_subscribers_per_topic=200000 --set connection_rate_per_ip=0 --set max_connections_per_ip=0 \
    --set durability=disk --set "data_dir=$dir" --set inbox_max_messages=100000000 \
    --set inbox_max_bytes=100000000000 "${sets[@]}" >/dev/null 2>&1 &
  echo $!
}
# A previous run's servers may still be draining on these ports: wait for them to go.
for port in 18271 18272; do
  for _ in $(seq 1 150); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break; sleep 0.2; done
done
# shellcheck disable=SC2086
PA=$(start "$A" 18271 "$DA" ${A_SET:-}); PB=$(start "$B" 18272 "$DB" ${B_SET:-})
trap 'kill $PA $PB 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$DA" "$DB"' EXIT
for port in 18271 18272; do
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
done
figure() { # pid port
  taskset -c 1 "$BENCH" --url "ws://127.0.0.1:$2/ws" --server-pid "$1" --duration 5 "${@:3}" | grep '^{' |
    python3 -c 'import json,os,sys; d=json.loads(sys.stdin.read()); f=os.environ.get("FIGURE"); print(round(d[f] if f else next(v for k,v in d.items() if k.endswith("_per_server_cpu_s"))))'
}
ra=(); rb=()
for _ in $(seq 1 "$RUNS"); do
  ra+=("$(figure "$PA" 18271 "$@")"); rb+=("$(figure "$PB" 18272 "$@")")
done
echo "A ${ra[*]}"; echo "B ${rb[*]}"
python3 -c 'import statistics,sys; a=[int(x) for x in sys.argv[1].split()]; b=[int(x) for x in sys.argv[2].split()]; print(f"median A {statistics.median(a):.0f}, B {statistics.median(b):.0f}, B/A {statistics.median(b)/statistics.median(a):.3f}")' "${ra[*]}" "${rb[*]}"
