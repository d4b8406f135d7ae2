#!/usr/bin/env python3
"""Writes docs/grafana/signal-hub.json, the Grafana dashboard of a hub's
/metrics (docs/METRICS.md). Edit the panels here, not the JSON: run
`python3 scripts/gen_dashboard.py` and commit both."""
import json
import pathlib
import re

DS = {"type": "prometheus", "uid": "${datasource}"}
# Every node's series summed, so the same dashboard fits one node or many.
SUM = "sum without (instance, job)"


def panel(title, targets, unit="short", x=0, y=0, w=12, h=8, kind="timeseries", stack=False):
    custom = {"lineWidth": 1, "fillOpacity": 10}
    if stack:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    return {
        "type": kind,
        "title": title,
        "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit, "custom": custom}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"},
                    "tooltip": {"mode": "multi"}},
        "targets": [
            {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": chr(65 + i)}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def quantiles(metric):
    return [
        (f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket[$__rate_interval])))",
         f"p{int(q * 100) if q < 0.999 else 99.9}")
        for q in (0.5, 0.9, 0.99, 0.999)
    ]


panels = [
    panel("Connections and addresses", [
        (f"{SUM} (signal_hub_connections)", "connections"),
        (f"{SUM} (signal_hub_registered)", "registered addresses"),
        (f"{SUM} (signal_hub_topics)", "topics"),
    ], x=0, y=0),
    panel("Connects per second", [
        (f"{SUM} (rate(signal_hub_connections_total[$__rate_interval]))", "accepted"),
        (f"{SUM} (rate(signal_hub_evictions_total[$__rate_interval]))", "evicted"),
    ], unit="ops", x=12, y=0),
    panel("Publications, fan-outs and deliveries per second", [
        (f"{SUM} (rate(signal_hub_publications_total[$__rate_interval]))", "publications"),
        (f"{SUM} (rate(signal_hub_fanout_recipients_count[$__rate_interval]))", "fan-outs"),
        (f"{SUM} (rate(signal_hub_deliveries_total[$__rate_interval]))", "frames delivered"),
    ], unit="ops", x=0, y=8),
    panel("Delivery latency (publication in → frame to socket)",
          quantiles("signal_hub_delivery_latency_seconds"), unit="s", x=12, y=8),
    panel("Fan-out size (recipients per fan-out)",
          quantiles("signal_hub_fanout_recipients") + [
              ("sum(rate(signal_hub_fanout_recipients_sum[$__rate_interval])) / "
               "sum(rate(signal_hub_fanout_recipients_count[$__rate_interval]))", "mean"),
          ], x=0, y=16),
    panel("Outbound queue depth (frames when the writer wakes)",
          quantiles("signal_hub_outbound_queue_frames"), x=12, y=16),
    panel("Frame size", [
        ("histogram_quantile(0.5, sum by (le) (rate(signal_hub_inbound_frame_size_bytes_bucket[$__rate_interval])))", "in p50"),
        ("histogram_quantile(0.99, sum by (le) (rate(signal_hub_inbound_frame_size_bytes_bucket[$__rate_interval])))", "in p99"),
        ("histogram_quantile(0.5, sum by (le) (rate(signal_hub_outbound_frame_size_bytes_bucket[$__rate_interval])))", "out p50"),
        ("histogram_quantile(0.99, sum by (le) (rate(signal_hub_outbound_frame_size_bytes_bucket[$__rate_interval])))", "out p99"),
    ], unit="bytes", x=0, y=24),
    panel("Session closes by code", [
        ("sum by (code, reason) (rate(signal_hub_session_closes_total[$__rate_interval])) > 0",
         "{{code}} {{reason}}"),
    ], unit="ops", x=12, y=24, stack=True),
    panel("Refusals by error code", [
        ("sum by (code) (rate(signal_hub_refusals_total[$__rate_interval])) > 0", "{{code}}"),
        (f"{SUM} (rate(signal_hub_rate_limited_total[$__rate_interval]))", "rate limited frames"),
    ], unit="ops", x=0, y=32, stack=True),
    panel("Slow consumers, heartbeat timeouts, expirations", [
        (f"{SUM} (rate(signal_hub_slow_consumers_total[$__rate_interval]))", "slow consumers"),
        (f"{SUM} (rate(signal_hub_heartbeat_timeouts_total[$__rate_interval]))", "heartbeat timeouts"),
        (f"{SUM} (rate(signal_hub_registrations_expired_total[$__rate_interval]))", "registrations expired"),
    ], unit="ops", x=12, y=32),
    panel("Durable inboxes and history", [
        (f"{SUM} (rate(signal_hub_inbox_stored_total[$__rate_interval]))", "stored/s"),
        (f"{SUM} (rate(signal_hub_inbox_expired_total[$__rate_interval]))", "expired/s"),
        (f"{SUM} (signal_hub_history_bytes)", "history bytes"),
    ], x=0, y=40),
    panel("Between nodes (Redis engine)", [
        (f"{SUM} (rate(signal_hub_broker_published_total[$__rate_interval]))", "written to Redis"),
        (f"{SUM} (rate(signal_hub_broker_received_total[$__rate_interval]))", "received"),
        (f"{SUM} (rate(signal_hub_broker_dropped_total[$__rate_interval]))", "dropped"),
    ], unit="ops", x=12, y=40),
    panel("Process memory (RSS) per node", [
        ("process_resident_memory_bytes", "{{instance}}"),
    ], unit="bytes", x=0, y=48, w=8),
    panel("Process CPU per node", [
        ("rate(process_cpu_seconds_total[$__rate_interval])", "{{instance}}"),
    ], unit="percentunit", x=8, y=48, w=8),
    panel("Open files per node", [
        ("process_open_fds", "{{instance}} open"),
        ("process_max_fds", "{{instance}} limit"),
    ], x=16, y=48, w=8),
]
# Every series is narrowed to the jobs and instances picked at the top
# (all by default), so one Prometheus may scrape several hubs.
SELECT = '{job=~"$job",instance=~"$instance"}'
for i, p in enumerate(panels, 1):
    p["id"] = i
    for target in p["targets"]:
        target["expr"] = re.sub(r"\b((?:signal_hub|process)_[a-z_]+)\b(?![{(])",
                                lambda m: m.group(1) + SELECT, target["expr"])


def variable(name, label, query):
    return {"name": name, "label": label, "type": "query", "datasource": DS,
            "query": {"query": query, "refId": name}, "definition": query,
            "multi": True, "includeAll": True, "allValue": ".*",
            "current": {"text": "All", "value": "$__all"}, "refresh": 2, "hide": 0, "sort": 1}

dashboard = {
    "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource",
                  "pluginId": "prometheus", "pluginName": "Prometheus"}],
    "title": "Signal Hub",
    "uid": "signal-hub",
    "tags": ["signal-hub"],
    "timezone": "browser",
    "schemaVersion": 39,
    "version": 1,
    "refresh": "5s",
    "time": {"from": "now-15m", "to": "now"},
    "templating": {"list": [
        {"name": "datasource", "label": "Prometheus", "type": "datasource",
         "query": "prometheus", "current": {}, "hide": 0},
        variable("job", "job", "label_values(signal_hub_connections, job)"),
        variable("instance", "instance",
                 'label_values(signal_hub_connections{job=~"$job"}, instance)'),
    ]},
    "panels": panels,
}

out = pathlib.Path(__file__).resolve().parent.parent / "docs" / "grafana" / "signal-hub.json"
out.write_text(json.dumps(dashboard, indent=2) + "\n")
print(f"wrote {out.name}: {len(panels)} panels")
