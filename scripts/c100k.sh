#!/usr/bin/env bash
# C100k: CONNECTIONS (default 100,000) idle connections on one hub-server,
# spread over SOURCES loopback source addresses (default 4: one address has
# about 28,000 ephemeral ports), each registered and subscribed to its own
# topic; reports the server's memory per connection and fails above
# MAX_KIB (default 8).
#   scripts/c100k.sh
#   CONNECTIONS=19000 SOURCES=1 scripts/c100k.sh   # what a 20,000-descriptor machine allows
# Needs an open-file hard limit above CONNECTIONS for both processes
# (`ulimit -Hn`; raise it in /etc/security/limits.conf or with prlimit).
set -euo pipefail
cd "$(dirname "$0")/.."

CONNECTIONS=${CONNECTIONS:-100000}
SOURCES=${SOURCES:-4}
MAX_KIB=${MAX_KIB:-8}
PORT=${PORT:-18791}
need=$((CONNECTIONS + 1000))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
  echo "c100k: the open-file hard limit is $hard; $CONNECTIONS connections need $need per process." >&2
  echo "       Raise it (as root: prlimit --pid \$\$ --nofile=$need:$need, or limits.conf), or set CONNECTIONS." >&2
  exit 2
fi
ulimit -n "$need"
sysctl -q -w net.ipv4.ip_local_port_range="10000 65000" 2>/dev/null || true

cargo build --release -q -p hub-server -p benches --bins
RUST_LOG=warn target/release/hub-server --bind "127.0.0.1:$PORT" --set workers=1 \
  --set rate_limit_per_sec=0 --set durability=off --set connection_rate_per_ip=0 \
  --set max_connections_per_ip=0 --set max_connections=$need --set max_registered=$need \
  --set max_topics=$need >/dev/null 2>&1 &
HUB=$!
trap 'kill $HUB 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
line=$(target/release/hub-bench --url "ws://127.0.0.1:$PORT/ws" --server-pid "$HUB" --connect-concurrency 512 \
  idle --connections "$CONNECTIONS" --sources "$SOURCES" --cpu-window-ms 5000 | grep '^{')
echo "$line"
python3 - "$line" "$MAX_KIB" <<'PY'
import json, sys
d, limit = json.loads(sys.argv[1]), float(sys.argv[2])
kib = d["kib_per_connection"]
print(f"{d['connections']} idle connections: {kib:.2f} KiB each (limit {limit}), idle CPU {d['idle_server_cpu_percent']:.1f} %")
sys.exit(0 if kib <= limit else 1)
PY
