#!/usr/bin/env bash
# The fault suite: two nodes of one hub on one Redis, each reaching Redis
# through a fault proxy (`hub-faults proxy`: delay, loss, partition, cut);
# users (`hub-faults workload`) send stored messages, acknowledge, watch and
# ping through it all and record every operation into a history; faults are
# injected on a schedule; the checker (`hub-faults check`) reads the history
# and fails on a broken guarantee (see benches/faults/check.rs).
#
#   scripts/faults.sh                            # the small run CI makes (about 45 s)
#   SENDING=120 DRAIN=30 USERS=20 scripts/faults.sh   # a longer one
#   SCENARIO=failover scripts/faults.sh          # two nodes through Sentinel: the
#                                                # primary SIGKILLed, back as a replica,
#                                                # a manual failover back to it
#   SCENARIO=disk scripts/faults.sh              # one node storing on disk: slow
#                                                # commits, SIGKILL and restart
#
# Settings (environment): SENDING (seconds of sending, 28), DRAIN (seconds
# for queued messages to be handed over, 15), USERS (6), RATE (sends per
# second per user, 10), PROFILE (debug or release, debug), BIN_DIR (where
# hub-server and hub-faults are; built when unset), SERVER_BIN (another
# hub-server build to run, e.g. an older one), KEEP=1 (keep the run's
# directory: history, faults, node logs, report).
set -euo pipefail
cd "$(dirname "$0")/.."
SENDING=${SENDING:-28}; DRAIN=${DRAIN:-15}; USERS=${USERS:-6}; RATE=${RATE:-10}
SCENARIO=${SCENARIO:-redis}
PROFILE=${PROFILE:-debug}
if [ -z "${BIN_DIR:-}" ]; then
  flags=(-q -p hub-server -p benches --bin hub-server --bin hub-faults --features hub-server/faults)
  [ "$PROFILE" = release ] && flags+=(--release)
  cargo build "${flags[@]}"
  BIN_DIR=target/$PROFILE
fi
SERVER=${SERVER_BIN:-$BIN_DIR/hub-server}
command -v redis-server >/dev/null || { echo "redis-server is needed (apt-get install redis-server)"; exit 2; }

DIR=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "run kept in $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup EXIT
# The topic every user publishes to and keeps recovering (benches/faults/feed.rs).
printf '[namespaces.feed]\nhistory_size = 500\n' >"$DIR/hub.toml"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() { # port what
  for _ in $(seq 1 200); do listening "$1" && return 0; sleep 0.05; done
  echo "$2 never listened"; exit 2
}

# Node $1 (a or b) of the hub on Redis at URL $2, listening on ${HTTP[$1]}:
# short leases, so that a node cut off or paused loses its addresses within
# the run.
TTL_MS=3000
declare -A NODE HTTP CONTROL
redis_node() { # name url
  "$SERVER" --config "$DIR/hub.toml" --bind "127.0.0.1:${HTTP[$1]}" --set engine=redis \
    --set "redis_url=$2" --set redis_prefix=faults: --set durability=memory \
    --set "registration_ttl_ms=$TTL_MS" --set redis_command_timeout_ms=1000 --set workers=1 \
    --set rate_limit_per_sec=0 --set connection_rate_per_ip=0 --set max_connections_per_ip=0 \
    --set log_format=json >"$DIR/node-$1.log" 2>&1 &
  NODE[$1]=$!
  pids+=($!)
}
# Waits until nodes a and b are ready; the workload's URLs.
nodes_ready() {
  for n in a b; do
    wait_for "${HTTP[$n]}" "node $n"
    for _ in $(seq 1 200); do
      curl -fs "http://127.0.0.1:${HTTP[$n]}/ready" >/dev/null 2>&1 && break
      sleep 0.05
    done
  done
  URLS=(--url "ws://127.0.0.1:${HTTP[a]}/ws" --url "ws://127.0.0.1:${HTTP[b]}/ws")
}

case "$SCENARIO" in
  redis)
REDIS=$(port)
redis-server --port "$REDIS" --bind 127.0.0.1 --save "" --appendonly no --dir "$DIR" \
  --logfile "$DIR/redis.log" &
pids+=($!)
wait_for "$REDIS" redis-server

for n in a b; do
  proxy=$(port); CONTROL[$n]=$(port); HTTP[$n]=$(port)
  "$BIN_DIR/hub-faults" proxy --listen "127.0.0.1:$proxy" --target "127.0.0.1:$REDIS" \
    --control "127.0.0.1:${CONTROL[$n]}" 2>>"$DIR/proxy-$n.log" &
  pids+=($!)
  wait_for "${CONTROL[$n]}" "the proxy of node $n"
  redis_node "$n" "redis://127.0.0.1:$proxy"
done
nodes_ready
    ;;
  failover)
# A primary, its replica and three sentinels (quorum 2); the nodes reach
# Redis through Sentinel, which names the new primary after a failover.
PRIMARY=$(port); REPLICA=$(port)
# Two picks in a row may name one port: the replica must not be its primary.
while [ "$REPLICA" = "$PRIMARY" ]; do REPLICA=$(port); done
until_true() { # what command...
  local what=$1; shift
  for _ in $(seq 1 600); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "faults.sh: $what never happened"
  # What Redis said, for whoever reads the CI log (the run's folder goes).
  for log in "$DIR"/redis-*.log "$DIR"/sentinel-*.log; do
    [ -f "$log" ] && { echo "--- $log"; tail -n 15 "$log"; }
  done
  exit 2
}
# The server answering on port $1 is process $2 (not another that took
# the port between its pick and the start).
answers_as() { redis-cli -p "$1" info server | grep -q "^process_id:$2[[:space:]]"; }
redis_at() { # port [redis-server args...]
  local p=$1; shift
  redis-server --port "$p" --bind 127.0.0.1 --save "" --appendonly no --dir "$DIR" \
    --logfile "$DIR/redis-$p.log" "$@" &
  local pid=$!
  pids+=("$pid")
  echo "$pid" >"$DIR/redis-$p.pid"
  wait_for "$p" "redis-server on $p"
  until_true "redis-server $pid answering on $p" answers_as "$p" "$pid"
}
redis_at "$PRIMARY"
redis_at "$REPLICA" --replicaof 127.0.0.1 "$PRIMARY"
synced() { redis-cli -p "$1" info replication | grep -q master_link_status:up; }
until_true "the replica's sync" synced "$REPLICA"
SENTINELS=()
for i in 1 2 3; do
  s=$(port); SENTINELS+=("$s")
  printf 'port %s\nbind 127.0.0.1\ndir %s\nsentinel monitor hub 127.0.0.1 %s 2\nsentinel down-after-milliseconds hub 1000\nsentinel failover-timeout hub 5000\n' \
    "$s" "$DIR" "$PRIMARY" >"$DIR/sentinel-$i.conf"
  redis-server "$DIR/sentinel-$i.conf" --sentinel --logfile "$DIR/sentinel-$i.log" &
  pids+=($!)
  wait_for "$s" "sentinel $i"
done
sees_replica() { redis-cli -p "$1" sentinel replicas hub | grep -q "$REPLICA"; }
for s in "${SENTINELS[@]}"; do until_true "sentinel $s seeing the replica" sees_replica "$s"; done
primary_is() { redis-cli -p "${SENTINELS[0]}" sentinel get-master-addr-by-name hub | grep -qx "$1"; }
URL="redis-sentinel://127.0.0.1:${SENTINELS[0]}?sentinelServiceName=hub&node=127.0.0.1:${SENTINELS[1]}&node=127.0.0.1:${SENTINELS[2]}"
for n in a b; do
  HTTP[$n]=$(port)
  redis_node "$n" "$URL"
done
nodes_ready
    ;;
  disk)
# One node storing on disk (the memory engine), each commit and sync 50 ms
# late (a slow fsync); it is SIGKILLed and started again on the same data.
HTTP_PORT=$(port)
disk_node() {
  HUB_FAULT_COMMIT_DELAY_MS=50 "$SERVER" --config "$DIR/hub.toml" --bind "127.0.0.1:$HTTP_PORT" \
    --set durability=disk --set "data_dir=$DIR/data" --set workers=1 \
    --set rate_limit_per_sec=0 --set connection_rate_per_ip=0 --set max_connections_per_ip=0 \
    --set log_format=json >>"$DIR/node.log" 2>&1 &
  NODE=$!
  pids+=($!)
  wait_for "$HTTP_PORT" "the node"
}
disk_node
URLS=(--url "ws://127.0.0.1:$HTTP_PORT/ws")
    ;;
  *) echo "SCENARIO is redis, failover or disk, not $SCENARIO"; exit 2 ;;
esac

"$BIN_DIR/hub-faults" workload "${URLS[@]}" \
  --users "$USERS" --seconds "$SENDING" --drain-seconds "$DRAIN" --rate "$RATE" \
  --history "$DIR/history.jsonl" &
WORKLOAD=$!
pids+=($!)
for _ in $(seq 1 100); do [ -s "$DIR/history.start" ] && break; sleep 0.05; done
START=$(cat "$DIR/history.start")

fault() { # what begin(true|false)
  local now; now=$(date +%s%3N)
  printf '{"t":%d,"op":"fault","what":"%s","begin":%s}\n' $((now - START)) "$1" "$2" >>"$DIR/faults.jsonl"
  echo "faults.sh: $(( (now - START) / 1000 )) s: $1 $([ "$2" = true ] && echo begins || echo ends)"
}
control() { # node command
  exec 3<>"/dev/tcp/127.0.0.1/${CONTROL[$1]}"; echo "$2" >&3; read -r -t 5 answer <&3 || true; exec 3>&-
  [ "${answer:-}" = ok ] || { echo "proxy of node $1 answered '${answer:-nothing}' to '$2'"; exit 2; }
}

case "$SCENARIO" in
  redis)
# The schedule, within the sending time; every fault is over before the drain.
sleep 3
fault "node a partitioned from redis (nothing passes, no reset)" true
control a hold; sleep 5; control a pass
fault "node a partitioned from redis (nothing passes, no reset)" false
sleep 1
# While the users are on both nodes: what node b's users publish meanwhile
# never reaches node a over pub/sub (a recovery on a must not pretend it did).
fault "node a's redis connections cut" true
control a cut; sleep 2; control a pass
fault "node a's redis connections cut" false
sleep 2
fault "node b's redis 100 ms away with 10 % of segments retransmitted" true
control b "delay 100"; control b "loss 10"; sleep 4; control b pass
fault "node b's redis 100 ms away with 10 % of segments retransmitted" false
sleep 2
fault "node a paused past its lease (SIGSTOP)" true
kill -STOP "${NODE[a]}"; sleep $(( TTL_MS / 1000 + 2 )); kill -CONT "${NODE[a]}"
fault "node a paused past its lease (SIGSTOP)" false
sleep 1
fault "node b's redis connections cut" true
control b cut; sleep 2; control b pass
fault "node b's redis connections cut" false

    ;;
  failover)
# The schedule, within the sending time; every fault is over before the drain.
sleep 4
fault "the primary SIGKILLed: the sentinels promote its replica" true
kill -9 "$(cat "$DIR/redis-$PRIMARY.pid")"
until_true "the promotion" primary_is "$REPLICA"
fault "the primary SIGKILLed: the sentinels promote its replica" false
sleep 2
fault "the old primary back, empty, as a replica of the new one" true
redis_at "$PRIMARY" --replicaof 127.0.0.1 "$REPLICA"
until_true "the old primary's sync" synced "$PRIMARY"
fault "the old primary back, empty, as a replica of the new one" false
# The old primary stays up as a primary until the sentinels reconfigure it;
# what it took meanwhile would be dropped (docs/RELIABILITY.md).
sleep 3
fault "a failover back to it (SENTINEL FAILOVER), the old primary up" true
redis-cli -p "${SENTINELS[0]}" sentinel failover hub >/dev/null
until_true "the failover back" primary_is "$PRIMARY"
fault "a failover back to it (SENTINEL FAILOVER), the old primary up" false
    ;;
  disk)
# The schedule, within the sending time; every fault is over before the drain.
fault "every store commit 50 ms late (a slow disk)" true
sleep 4
fault "the node SIGKILLed, started again on its data" true
kill -9 "$NODE"; wait "$NODE" 2>/dev/null || true; disk_node
fault "the node SIGKILLed, started again on its data" false
sleep 5
fault "the node paused (SIGSTOP) for 4 s" true
kill -STOP "$NODE"; sleep 4; kill -CONT "$NODE"
fault "the node paused (SIGSTOP) for 4 s" false
sleep 4
fault "the node SIGKILLed, started again on its data" true
kill -9 "$NODE"; wait "$NODE" 2>/dev/null || true; disk_node
fault "the node SIGKILLed, started again on its data" false
sleep 2
fault "every store commit 50 ms late (a slow disk)" false

    ;;
esac

wait "$WORKLOAD"
# An older session may look alive until its lease runs out and the node
# that held it hears so: a lease, a command timeout, and the sweep.
status=0
"$BIN_DIR/hub-faults" check --eviction-ms $(( ${TTL_MS:-3000} + 4000 )) \
  "$DIR/history.jsonl" "$DIR/faults.jsonl" >"$DIR/report.json" || status=$?
cat "$DIR/report.json"
exit "$status"
