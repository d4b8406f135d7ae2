#!/usr/bin/env bash
# Runs a real Prometheus (Debian's package) against a hub-server under a
# benchmark load, then asks Prometheus every query of the Grafana dashboard
# (docs/grafana/signal-hub.json) and checks each one returns data.
#   scripts/dashboard_check.sh               # about 90 s
#   SCREENSHOT=docs/img/x.png scripts/dashboard_check.sh   # also a PNG of
#     Prometheus's own graph of frames delivered per second (headless Chromium)
# Needs: prometheus (apt-get install prometheus); chromium for SCREENSHOT.
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE=${PROFILE:-release}
HUB_PORT=${HUB_PORT:-18191}
PROM_PORT=${PROM_PORT:-19090}
LOAD_SECS=${LOAD_SECS:-40}

command -v prometheus >/dev/null || { echo "needs prometheus: apt-get install prometheus" >&2; exit 2; }
ulimit -n 65536 2>/dev/null || true
if [ "$PROFILE" = release ]; then
  cargo build --release -q -p hub-server -p benches --bins; BIN=target/release
else
  cargo build -q -p hub-server -p benches --bins; BIN=target/debug
fi

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

wait_port() {
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2; return 1
}

RUST_LOG=warn "$BIN/hub-server" --bind "127.0.0.1:$HUB_PORT" --set rate_limit_per_sec=1000 \
  --set max_connections_per_ip=0 --set connection_rate_per_ip=0 \
  --set namespaces.feed.history_size=100 >"$WORK/hub.log" 2>&1 &
HUB_PID=$!; PIDS+=("$HUB_PID"); wait_port "$HUB_PORT"

cat >"$WORK/prometheus.yml" <<EOF
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: signal-hub
    static_configs: [ { targets: ["127.0.0.1:$HUB_PORT"] } ]
EOF
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
PIDS+=("$!"); wait_port "$PROM_PORT"

echo "== load for ${LOAD_SECS}s: fan-out, pairs, churn, a flood of bad frames"
URL="ws://127.0.0.1:$HUB_PORT/ws"
bench() { "$BIN/hub-bench" --url "$URL" --server-pid "$HUB_PID" "$@" >/dev/null 2>&1 || true; }
END=$((SECONDS + LOAD_SECS))
while [ "$SECONDS" -lt "$END" ]; do
  LOAD=()
  bench --duration 5 fanout --subscribers 500 --rate 2000 & LOAD+=("$!")
  bench --duration 5 pairs --pairs 20 & LOAD+=("$!")
  bench churn --cycles 2000 --warmup 0 & LOAD+=("$!")
  bench --duration 3 flood --kind malformed & LOAD+=("$!")
  wait "${LOAD[@]}"
done
sleep 3

echo "== every dashboard query against Prometheus"
python3 - "$PROM_PORT" docs/grafana/signal-hub.json <<'PY'
import json, sys, urllib.parse, urllib.request
port, path = sys.argv[1], sys.argv[2]
dashboard = json.load(open(path))
failed = 0
for panel in dashboard["panels"]:
    for target in panel["targets"]:
        expr = target["expr"].replace("$__rate_interval", "15s")
        expr = expr.replace("$job", ".*").replace("$instance", ".*")
        # Series filtered to "> 0" may rightly be empty; their unfiltered
        # form must exist.
        probe = expr[:-4] if expr.endswith(" > 0") else expr
        url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": probe})
        answer = json.load(urllib.request.urlopen(url))
        result = answer["data"]["result"] if answer["status"] == "success" else []
        values = [float(r["value"][1]) for r in result]
        ok = bool(result)
        failed += not ok
        shown = ", ".join(f"{v:.4g}" for v in values[:3]) or "no data"
        print(f"  {'ok  ' if ok else 'FAIL'} {panel['title']} / {target['legendFormat']}: {shown}")
print(f"{failed} queries without data")
sys.exit(1 if failed else 0)
PY

if [ -n "${SCREENSHOT:-}" ]; then
  echo "== screenshot of Prometheus's graph of frames delivered per second: $SCREENSHOT"
  q() { python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }
  G="http://127.0.0.1:$PROM_PORT/graph?g0.range_input=2m&g0.tab=0"
  G="$G&g0.expr=$(q 'sum(rate(signal_hub_deliveries_total[5s]))')"
  mkdir -p "$(dirname "$SCREENSHOT")"
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$WORK/chromium" --window-size=1200,700 --virtual-time-budget=8000 \
    --screenshot="$SCREENSHOT" "$G" 2>/dev/null
fi
