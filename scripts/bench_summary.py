"""Summarises a hub-bench results file: medians per (target, label) and the hub/ceiling ratios."""
import json
import statistics
import sys
from collections import defaultdict

rows = [json.loads(line) for line in open(sys.argv[1])]
groups = defaultdict(list)
for r in rows:
    groups[(r["target"], r["label"])].append(r)


def med(rs, key, sub=None):
    vals = [(r[key][sub] if sub else r[key]) for r in rs if r.get(key) is not None]
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v, digits=0):
    if v is None:
        return "n/a"
    return f"{v:,.{digits}f}"


print(f"\nSummary ({sys.argv[1]}): medians of {max(len(v) for v in groups.values())} run(s)\n")
print(f"{'target':8} {'run':24} {'per server CPU-s':>18} {'rate/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'p99.9':>8} {'missing/lost':>12}")
for (target, label), rs in sorted(groups.items()):
    s = rs[0]["scenario"]
    if s == "fanout":
        print(f"{target:8} {label:24} {fmt(med(rs, 'deliveries_per_server_cpu_s')):>18} {fmt(med(rs, 'delivered_per_sec')):>12} "
              f"{fmt(med(rs, 'latency', 'p50_ms'), 1):>8} {fmt(med(rs, 'latency', 'p99_ms'), 1):>8} {fmt(med(rs, 'latency', 'p999_ms'), 1):>8} {fmt(med(rs, 'missing')):>12}")
    elif s == "pairs":
        print(f"{target:8} {label:24} {fmt(med(rs, 'round_trips_per_server_cpu_s')):>18} {fmt(med(rs, 'round_trips_per_sec')):>12} "
              f"{fmt(med(rs, 'rtt', 'p50_ms'), 2):>8} {fmt(med(rs, 'rtt', 'p99_ms'), 2):>8} {fmt(med(rs, 'rtt', 'p999_ms'), 2):>8} {fmt(med(rs, 'lost')):>12}")
    elif s == "idle":
        print(f"{target:8} {label:24} KiB/connection {fmt(med(rs, 'kib_per_connection'), 2)}, "
              f"idle server CPU {fmt(med(rs, 'idle_server_cpu_percent'), 2)} % of a core")
    elif s == "flood":
        print(f"{target:8} {label:24} pair RTT p50 {fmt(med(rs, 'rtt', 'p50_ms'), 2)} ms, p99 {fmt(med(rs, 'rtt', 'p99_ms'), 2)} ms, "
              f"lost {fmt(med(rs, 'lost'))}; flooder cut off after {fmt(med(rs, 'cutoff_ms_median'), 1)} ms "
              f"(max {fmt(med(rs, 'cutoff_ms_max'), 1)}) over {fmt(med(rs, 'flood_connections'))} connections")
    elif s == "churn":
        print(f"{target:8} {label:24} cycles/s {fmt(med(rs, 'cycles_per_sec'))}, RSS growth {fmt(med(rs, 'rss_growth_pct'), 1)} %")
    elif s in ("stored", "jetstream"):
        print(f"{target:8} {label:24} {fmt(med(rs, 'acked_per_server_cpu_s')):>18} {fmt(med(rs, 'acked_per_sec')):>12} "
              f"{fmt(med(rs, 'ack_latency', 'p50_ms'), 2):>8} {fmt(med(rs, 'ack_latency', 'p99_ms'), 2):>8} {fmt(med(rs, 'ack_latency', 'p999_ms'), 2):>8} {fmt(med(rs, 'refused')):>12}")
    elif s == "replay":
        print(f"{target:8} {label:24} {fmt(med(rs, 'messages'))} queued messages in {fmt(med(rs, 'replay_ms'), 1)} ms "
              f"(first after {fmt(med(rs, 'first_message_ms'), 2)} ms), server CPU {fmt(med(rs, 'server_cpu_s'), 2)} s")

for label in sorted({l for (t, l) in groups if t == "hub" and l.startswith("fanout-S") and "-at-" not in l}):
    hub = med(groups[("hub", label)], "deliveries_per_server_cpu_s")
    ceiling = med(groups.get(("ceiling", label), []), "deliveries_per_server_cpu_s")
    if hub and ceiling:
        print(f"hub / ceiling, {label}: {hub / ceiling * 100:.0f} %")

for label in sorted({l for (t, l) in groups if t == "jetstream"}):
    hub = med(groups.get(("hub", label), []), "acked_per_server_cpu_s")
    js = med(groups[("jetstream", label)], "acked_per_server_cpu_s")
    if hub and js:
        print(f"hub / jetstream, {label}: {hub / js * 100:.0f} %")
