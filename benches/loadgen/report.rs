//! What a run reports: server CPU time and memory from `/proc`, latency
//! histograms, and the output (a human table and one JSON line per run).

use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{json, Map, Value};

/// Linux reports process CPU in USER_HZ ticks, 100 per second on every
/// mainstream architecture.
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU seconds (user + system) a process has used, from `/proc/PID/stat`.
pub(crate) fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start after ')'.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}

/// Resident set size in KiB, from `/proc/PID/status`.
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A latency histogram in microseconds that many tasks feed in batches.
#[derive(Debug)]
pub(crate) struct SharedHistogram(Mutex<Histogram<u64>>);

impl SharedHistogram {
    pub(crate) fn new() -> Self {
        // 1 µs to 60 s, 3 significant digits.
        Self(Mutex::new(
            Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds"),
        ))
    }

    pub(crate) fn record_batch(&self, micros: &[u64]) {
        let mut h = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for &us in micros {
            h.saturating_record(us.max(1));
        }
    }

    /// p50, p99, p99.9 and max in milliseconds.
    pub(crate) fn summary(&self) -> Value {
        let h = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let ms = |us: u64| (us as f64) / 1000.0;
        json!({
            "samples": h.len(),
            "p50_ms": ms(h.value_at_quantile(0.50)),
            "p99_ms": ms(h.value_at_quantile(0.99)),
            "p999_ms": ms(h.value_at_quantile(0.999)),
            "max_ms": ms(h.max()),
        })
    }
}

/// Samples a server's CPU (and this process's) over a measured window.
#[derive(Debug)]
pub(crate) struct CpuWindow {
    pid: Option<u32>,
    server_start: Option<f64>,
    self_start: Option<f64>,
}

impl CpuWindow {
    pub(crate) fn start(pid: Option<u32>) -> Self {
        Self {
            pid,
            server_start: pid.and_then(cpu_seconds),
            self_start: cpu_seconds(std::process::id()),
        }
    }

    /// (server CPU seconds, load generator CPU seconds) since `start`.
    pub(crate) fn finish(&self) -> (Option<f64>, Option<f64>) {
        let server = self
            .pid
            .and_then(cpu_seconds)
            .zip(self.server_start)
            .map(|(e, s)| e - s);
        let me = cpu_seconds(std::process::id())
            .zip(self.self_start)
            .map(|(e, s)| e - s);
        (server, me)
    }
}

/// The CPU of other processes a run costs (the other nodes of a hub,
/// Redis), measured over the same window as the server's.
pub(crate) struct OtherCpus(Vec<CpuWindow>);

impl OtherCpus {
    pub(crate) fn start(pids: &[u32]) -> Self {
        Self(
            pids.iter()
                .map(|&pid| CpuWindow::start(Some(pid)))
                .collect(),
        )
    }

    /// Their CPU seconds since `start`; `None` when none was named.
    pub(crate) fn finish(&self) -> Option<Option<f64>> {
        (!self.0.is_empty()).then(|| self.0.iter().map(|w| w.finish().0).sum())
    }
}

/// Adds `others_cpu_s` and `<unit>_per_total_cpu_s` (events per CPU-second
/// of the server and the others together) to `out`, when others were named.
pub(crate) fn report_others(
    out: &mut Map<String, Value>,
    unit: &str,
    events: u64,
    server_cpu: Option<f64>,
    others: Option<Option<f64>>,
) {
    if let Some(others) = others {
        out.insert("others_cpu_s".into(), json!(others));
        let total = server_cpu.zip(others).map(|(s, o)| s + o);
        out.insert(
            format!("{unit}_per_total_cpu_s"),
            json!(per_cpu_second(events, total)),
        );
    }
}

/// Events per server CPU-second, when the server's CPU was measured.
pub(crate) fn per_cpu_second(events: u64, server_cpu: Option<f64>) -> Option<f64> {
    server_cpu.filter(|s| *s > 0.0).map(|s| events as f64 / s)
}

pub(crate) fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Prints a run: an aligned table for people, then one JSON line for scripts.
pub(crate) fn print(scenario: &str, fields: Map<String, Value>) {
    println!("== {scenario}");
    let width = fields.keys().map(String::len).max().unwrap_or(0);
    for (k, v) in &fields {
        let shown = match v {
            Value::Number(n) if n.is_f64() => format!("{:.2}", n.as_f64().unwrap_or_default()),
            other => other.to_string(),
        };
        println!("  {k:width$}  {shown}");
    }
    let mut line = Map::new();
    line.insert("scenario".into(), json!(scenario));
    line.extend(fields);
    println!("{}", Value::Object(line));
}
