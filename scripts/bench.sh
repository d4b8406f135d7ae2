#!/usr/bin/env bash
# The whole Signal Hub benchmark suite, one command, under 10 minutes on 2 cores:
#   scripts/bench.sh            # full sizes, 3 runs each, medians in the summary
#   SMOKE=1 scripts/bench.sh    # tiny sizes, 1 run each: checks the scenarios still work
# The server is pinned to core 0 and the load generator to core 1 (taskset), so
# results read as work per server CPU-second. Loopback only.
# Output: results/bench-<time>.jsonl (one JSON line per run) and a summary table.
set -euo pipefail
cd "$(dirname "$0")/.."

SMOKE=${SMOKE:-0}
PROFILE=${PROFILE:-release}
RUNS=${RUNS:-3}
HUB_PORT=${HUB_PORT:-18181}
CEILING_PORT=${CEILING_PORT:-18182}
if [ "$SMOKE" = 1 ]; then RUNS=1; fi

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true

if [ "$PROFILE" = release ]; then
  cargo build --release -q -p hub-server -p benches --bins
  BIN=target/release
else
  cargo build -q -p hub-server -p benches --bins
  BIN=target/debug
fi
# SERVER_BIN=path/to/an/older/hub-server measures another build of the
# server with this load generator (before/after figures).
SERVER_BIN=${SERVER_BIN:-$BIN/hub-server}

if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  SERVER_PIN=(taskset -c 0); LOAD_PIN=(taskset -c 1)
else
  SERVER_PIN=(); LOAD_PIN=()
fi

mkdir -p results
OUT=results/bench-$(date +%Y%m%d-%H%M%S).jsonl
: > "$OUT"

wait_port() {
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "server on port $1 did not start" >&2; return 1
}

# start_hub [--set key=value ...]: extra settings come last and win.
start_hub() {
  RUST_LOG=warn "${SERVER_PIN[@]}" "$SERVER_BIN" --bind "127.0.0.1:$HUB_PORT" \
    --set workers=1 --set rate_limit_per_sec=0 --set max_connections=200000 \
    --set max_registered=200000 --set max_topics=200000 --set max_subscribers_per_topic=200000 \
    --set connection_rate_per_ip=0 --set max_connections_per_ip=0 \
    --set durability=off "$@" \
    >/dev/null 2>&1 &
  HUB_PID=$!; wait_port "$HUB_PORT"
}

start_ceiling() {
  "${SERVER_PIN[@]}" "$BIN/hub-ceiling" --bind "127.0.0.1:$CEILING_PORT" >/dev/null 2>&1 &
  CEILING_PID=$!; wait_port "$CEILING_PORT"
}

stop_servers() {
  for pid in $HUB_PID $CEILING_PID; do
    kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  done
  HUB_PID=; CEILING_PID=
}
HUB_PID=; CEILING_PID=
trap stop_servers EXIT

# bench TARGET LABEL SCENARIO-ARGS...: one run, its JSON line tagged and saved.
bench() {
  local target=$1 label=$2; shift 2
  local port=$HUB_PORT pid=$HUB_PID
  if [ "$target" = ceiling ]; then port=$CEILING_PORT; pid=$CEILING_PID; fi
  local line
  line=$("${LOAD_PIN[@]}" "$BIN/hub-bench" --url "ws://127.0.0.1:$port/ws" --server-pid "$pid" "$@" | grep '^{')
  echo "$line" | python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); d["target"]=sys.argv[1]; d["label"]=sys.argv[2]; print(json.dumps(d))' "$target" "$label" >> "$OUT"
  echo "  $target $label: $(tail -n1 "$OUT" | cut -c1-160)…"
}

if [ "$SMOKE" = 1 ]; then
  FAN_S=20; FAN_BIG=50; DUR=0.5; PAIRS=5; IDLE=100; CHURN=100; WARM=10
else
  FAN_S=1000; FAN_BIG=5000; DUR=5; PAIRS=100; IDLE=10000; CHURN=50000; WARM=10000
fi

# Hub and ceiling runs alternate, so a slow spell of this (virtualised)
# machine weighs on both sides of the ratio alike. Both servers are up; the
# one not under load is idle.
echo "== fan-out, hub and ceiling alternating; one frame per message, then batched"
start_hub; start_ceiling
for size in "$FAN_S" "$FAN_BIG"; do
  for _ in $(seq 1 "$RUNS"); do
    for target in hub ceiling; do
      bench "$target" "fanout-S$size" --duration "$DUR" fanout --subscribers "$size" --window 64
    done
  done
done
stop_servers
start_hub; start_ceiling
for size in "$FAN_S" "$FAN_BIG"; do
  for _ in $(seq 1 "$RUNS"); do
    for target in hub ceiling; do
      bench "$target" "fanout-S$size-batch" --duration "$DUR" fanout --subscribers "$size" --window 64 --batch
    done
  done
done
stop_servers

echo "== fan-out to a topic with history (history_size=100): kept in memory, then stored on disk"
start_hub --set namespaces.default.history_size=100
for _ in $(seq 1 "$RUNS"); do
  bench hub "fanout-S$FAN_S-history" --duration "$DUR" fanout --subscribers "$FAN_S" --window 64
done
stop_servers
HIST_DIR=$(mktemp -d)
start_hub --set namespaces.default.history_size=100 --set durability=disk --set "data_dir=$HIST_DIR"
for _ in $(seq 1 "$RUNS"); do
  bench hub "fanout-S$FAN_S-history-disk" --duration "$DUR" fanout --subscribers "$FAN_S" --window 64
done
stop_servers
rm -rf "$HIST_DIR"

echo "== idle, each on a fresh server (memory, and CPU over a quiet window)"
IDLE_WINDOW=10000; if [ "$SMOKE" = 1 ]; then IDLE_WINDOW=200; fi
start_hub; bench hub "idle-C$IDLE" idle --connections "$IDLE" --cpu-window-ms "$IDLE_WINDOW"; stop_servers
start_ceiling; bench ceiling "idle-C$IDLE" idle --connections "$IDLE" --cpu-window-ms "$IDLE_WINDOW"; stop_servers

echo "== hub: latency at 50% and 90% of saturation, pairs, churn"
start_hub
SAT=$(python3 - "$OUT" "fanout-S$FAN_S" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rates = [r["offered_per_sec"] for r in rows if r["target"] == "hub" and r["label"] == sys.argv[2]]
print(int(statistics.median(rates)))
PY
)
for pct in 50 90; do
  RATE=$(( SAT * pct / 100 )); [ "$RATE" -lt 1 ] && RATE=1
  bench hub "fanout-S$FAN_S-at-$pct%" --duration "$DUR" fanout --subscribers "$FAN_S" --rate "$RATE"
done
for _ in $(seq 1 "$RUNS"); do
  bench hub "pairs-P$PAIRS" --duration "$DUR" pairs --pairs "$PAIRS"
done
for _ in $(seq 1 "$RUNS"); do
  bench hub "pairs-P$PAIRS-noack" --duration "$DUR" pairs --pairs "$PAIRS" --no-ack
done
stop_servers
start_hub
bench hub "churn-$CHURN" churn --cycles "$CHURN" --warmup "$WARM"
stop_servers

echo "== hub storing direct messages on disk (durability = disk, an fsync per group commit)"
DATA_DIR=$(mktemp -d)
start_hub --set durability=disk --set "data_dir=$DATA_DIR"
for _ in $(seq 1 "$RUNS"); do
  bench hub "pairs-P$PAIRS-durable" --duration "$DUR" pairs --pairs "$PAIRS"
done
REPLAY=10000; if [ "$SMOKE" = 1 ]; then REPLAY=100; fi
for _ in $(seq 1 "$RUNS"); do
  bench hub "replay-$REPLAY" replay --messages "$REPLAY"
done
stop_servers
rm -rf "$DATA_DIR"

if command -v nats-server >/dev/null; then
  echo "== stored sends: hub (fsync per group commit) against NATS JetStream (file store)"
  JS_DIR=$(mktemp -d); HUB_DIR=$(mktemp -d)
  start_hub --set durability=disk --set "data_dir=$HUB_DIR" \
    --set inbox_max_messages=100000000 --set inbox_max_bytes=100000000000
  "${SERVER_PIN[@]}" nats-server -js -sd "$JS_DIR" -a 127.0.0.1 -p "$CEILING_PORT" >/dev/null 2>&1 &
  NATS_PID=$!; wait_port "$CEILING_PORT"
  for _ in $(seq 1 "$RUNS"); do
    bench hub "stored-S16-W32" --duration "$DUR" stored --senders 16 --window 32
    line=$("${LOAD_PIN[@]}" "$BIN/hub-bench" --server-pid "$NATS_PID" --duration "$DUR" jetstream \
      --nats-url "nats://127.0.0.1:$CEILING_PORT" --publishers 16 --window 32 | grep '^{')
    echo "$line" | python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); d["target"]="jetstream"; d["label"]="stored-S16-W32"; print(json.dumps(d))' >> "$OUT"
    echo "  jetstream stored-S16-W32: $(tail -n1 "$OUT" | cut -c1-160)…"
  done
  kill "$NATS_PID" 2>/dev/null || true; wait "$NATS_PID" 2>/dev/null || true
  stop_servers
  rm -rf "$JS_DIR" "$HUB_DIR"
else
  echo "== (nats-server not installed: the JetStream comparison is skipped; apt-get install nats-server)"
fi

echo "== hub with JWT auth on (every client connects with a token)"
start_hub --set jwt_hmac_secret=bench-secret
for _ in $(seq 1 "$RUNS"); do
  bench hub "fanout-S$FAN_S-auth" --jwt-secret bench-secret --duration "$DUR" fanout --subscribers "$FAN_S" --window 64
  bench hub "pairs-P$PAIRS-auth" --jwt-secret bench-secret --duration "$DUR" pairs --pairs "$PAIRS"
done
stop_servers

echo "== hub: a flood of bad input beside a measured pair (rate limit 1000/s, default per-IP caps and abuse cooldown)"
# A fresh server per run: the flooder's IP collects strikes (a longer
# cooldown each), and each run should start from its first.
for _ in $(seq 1 "$RUNS"); do
  for kind in none malformed unknown over-rate binary; do
    start_hub --set rate_limit_per_sec=1000 --set rate_limit_burst=1000 \
      --set connection_rate_per_ip=100 --set max_connections_per_ip=1000
    bench hub "flood-$kind" --duration "$DUR" flood --kind "$kind"
    stop_servers
  done
done

python3 scripts/bench_summary.py "$OUT"
