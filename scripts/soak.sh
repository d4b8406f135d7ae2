#!/usr/bin/env bash
# Soak: connection churn, fan-out and stored direct sends to recipients that
# keep dropping, all at once against one hub-server storing on disk, for
# SOAK_SECS (default 600). Samples the server's RSS every SAMPLE_SECS and
# checks, at the end:
#   - nothing acknowledged was lost (hub-bench durable: every message the hub
#     answered `accepted`/`queued` reached its recipient);
#   - RSS is flat after the warm-up: the last minute's median is within
#     RSS_GROWTH_PCT (default 15) of the median of the minute after WARMUP_SECS
#     (default 180: the allocator's high-water mark settles in about 3 minutes).
# Run it alone on the machine: a load generator starved of CPU reads slowly,
# and the hub then cuts its subscribers as slow consumers (as it should).
#   scripts/soak.sh                  # 10 minutes
#   SOAK_SECS=120 WARMUP_SECS=30 scripts/soak.sh
# Output: results/soak-<time>.csv (seconds, RSS KiB) and a summary; exit 1
# when a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."

SOAK_SECS=${SOAK_SECS:-600}
WARMUP_SECS=${WARMUP_SECS:-180}
SAMPLE_SECS=${SAMPLE_SECS:-10}
RSS_GROWTH_PCT=${RSS_GROWTH_PCT:-15}
PORT=${PORT:-18691}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cargo build --release -q -p hub-server -p benches --bins
BIN=target/release
DATA=$(mktemp -d)
mkdir -p results
CSV=results/soak-$(date +%Y%m%d-%H%M%S).csv
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT

RUST_LOG=warn "$BIN/hub-server" --bind "127.0.0.1:$PORT" --set durability=disk --set "data_dir=$DATA" \
  --set rate_limit_per_sec=0 --set connection_rate_per_ip=0 --set max_connections_per_ip=0 \
  >"$DATA/hub.log" 2>&1 &
HUB=$!; PIDS+=("$HUB")
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

URL="ws://127.0.0.1:$PORT/ws"
bench() { "$BIN/hub-bench" --url "$URL" --server-pid "$HUB" "$@"; }
echo "== soak for ${SOAK_SECS}s: churn, fan-out (500 subscribers, 200/s), stored sends (20 pairs, 20/s each, recipients dropping every 3 s)"
bench --duration "$SOAK_SECS" fanout --subscribers 500 --rate 200 >"$DATA/fanout.txt" 2>&1 & FANOUT=$!
bench --duration "$SOAK_SECS" durable --pairs 20 --rate 20 >"$DATA/durable.txt" 2>&1 & DURABLE=$!
(
  end=$((SECONDS + SOAK_SECS))
  while [ "$SECONDS" -lt "$end" ]; do
    bench churn --cycles 2000 --warmup 0 --concurrency 8 >/dev/null 2>&1 || true
  done
) & CHURN=$!
PIDS+=("$FANOUT" "$DURABLE" "$CHURN")

echo "seconds,rss_kib" >"$CSV"
start=$SECONDS
while kill -0 "$DURABLE" 2>/dev/null; do
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$HUB/status")
  echo "$((SECONDS - start)),$rss" >>"$CSV"
  sleep "$SAMPLE_SECS"
done
wait "$CHURN" || true
durable_ok=0; wait "$DURABLE" || durable_ok=$?
fanout_ok=0; wait "$FANOUT" || fanout_ok=$?

echo "== stored sends"; grep '^{' "$DATA/durable.txt" || tail -5 "$DATA/durable.txt"
echo "== fan-out"
grep '^{' "$DATA/fanout.txt" | python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print({k: d[k] for k in ("published","acked","delivered","missing")}, "p99", d["latency"]["p99_ms"], "ms")' \
  || tail -5 "$DATA/fanout.txt"
echo "== the hub's own count"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^signal_hub_(connections_total|slow_consumers_total|heartbeat_timeouts_total|deliveries_total|inbox_stored_total|session_closes_total\{code="(1000|1006|4001|4002|4003)")' || true
missing=$(grep '^{' "$DATA/fanout.txt" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["missing"])' || echo -1)
python3 - "$CSV" "$WARMUP_SECS" "$RSS_GROWTH_PCT" "$durable_ok" "$fanout_ok" "$missing" <<'PY'
import csv, statistics, sys
path, warmup, limit, durable = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
fanout, missing = int(sys.argv[5]), int(sys.argv[6])
rows = [(int(r["seconds"]), int(r["rss_kib"])) for r in csv.DictReader(open(path))]
print("== RSS over time (MiB)")
for t, rss in rows[:: max(1, len(rows) // 20)]:
    print(f"  {t:5d} s  {rss / 1024:8.1f}")
after = [r for t, r in rows if warmup <= t < warmup + 60]
last = [r for t, r in rows if t >= rows[-1][0] - 60]
base, end = statistics.median(after or [rows[0][1]]), statistics.median(last)
growth = 100 * (end / base - 1)
print(f"RSS median after warm-up {base / 1024:.1f} MiB, last minute {end / 1024:.1f} MiB: {growth:+.1f} % (limit {limit} %)")
failed = False
if growth > limit:
    print("FAIL: RSS grew after the warm-up"); failed = True
if durable != 0:
    print("FAIL: acknowledged stored messages were lost (see above)"); failed = True
if fanout != 0 or missing != 0:
    print(f"FAIL: the fan-out did not run through (exit {fanout}, {missing} frames missing)"); failed = True
print("soak: " + ("FAILED" if failed else "passed"))
sys.exit(1 if failed else 0)
PY
